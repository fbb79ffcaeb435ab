/**
 * Who may read `/metrics`, and on which port. Metrics hold counts, never a document's name or
 * content, but a server that asks for tokens must not publish them by accident:
 *
 * - A metrics token (`--metrics-token`), when given, is asked for wherever `/metrics` is served.
 * - On the metrics port (`--metrics-port`, loopback only), `/metrics` is always served.
 * - On the main port, it is served with a metrics token; without one, only if the server runs
 *   open (no `--auth-secret`). A server that asks for tokens and has neither a metrics token nor
 *   a metrics port serves `/metrics` nowhere, and says so at start and in each refusal.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../errors.js';
import type { ServerConfig } from '../config.js';

/** Where `/metrics` is asked for: the main port, or the metrics port. */
export type MetricsPlace = 'main' | 'metrics-port';

/** The settings the rules depend on. */
export type MetricsAccessConfig = Pick<ServerConfig, 'authSecret' | 'metricsToken' | 'metricsPort'>;

/** Where and to whom `/metrics` is served, for the start log; `closed` when nowhere (worth a warning). */
export interface MetricsAccessSummary {
  readonly message: string;
  readonly closed: boolean;
}

/** Whether `/metrics` is served on the main port (with the token, if one is given). */
function servedOnMain(config: MetricsAccessConfig): boolean {
  return config.metricsToken !== null || config.authSecret === null;
}

/** Where and to whom `/metrics` is served, for the start log; `metricsUrl` is the metrics port's, if any. */
export function describeMetricsAccess(config: MetricsAccessConfig, metricsUrl: string | null): MetricsAccessSummary {
  const who = config.metricsToken === null ? 'to anyone' : 'with the metrics token';
  const places = [...(servedOnMain(config) ? ['/metrics of the main port'] : []), ...(metricsUrl === null ? [] : [metricsUrl])];
  if (places.length === 0) {
    return {
      message: 'metrics: /metrics is not served: with --auth-secret it needs --metrics-token (METRICS_TOKEN) or --metrics-port (METRICS_PORT)',
      closed: true,
    };
  }
  return { message: `metrics: served at ${places.join(' and ')}, ${who}`, closed: false };
}

/**
 * Refuses (throws `HttpError`) a request for `/metrics` at `place` that the rules above do not
 * let in; `authorization` is its `Authorization` header. A missing or wrong token is a 401
 * (`token-missing`, `token-invalid`); the main port of a server that asks for tokens, without a
 * metrics token, a 403 (`metrics-closed`) that says where metrics are served instead.
 */
export function checkMetricsAccess(config: MetricsAccessConfig, place: MetricsPlace, authorization: string | undefined): void {
  if (place === 'main' && !servedOnMain(config)) {
    throw new HttpError(
      403,
      'metrics-closed',
      config.metricsPort === null
        ? 'with --auth-secret, /metrics is not served: set --metrics-token (METRICS_TOKEN) or --metrics-port (METRICS_PORT)'
        : 'with --auth-secret, /metrics is served only on the loopback metrics port (--metrics-port), or here with --metrics-token',
    );
  }
  if (config.metricsToken !== null) checkBearer(config.metricsToken, authorization);
}

/** Refuses (401) a request whose `Authorization` header is not `Bearer <token>`. */
function checkBearer(token: string, authorization: string | undefined): void {
  const match = authorization === undefined ? null : /^Bearer +(\S+) *$/i.exec(authorization);
  if (match === null) throw new HttpError(401, 'token-missing', '/metrics needs the metrics token: Authorization: Bearer <token>');
  // Compared as digests, so that the time taken tells nothing of the token, its length included.
  if (!timingSafeEqual(digest(match[1]!), digest(token))) throw new HttpError(401, 'token-invalid', 'the metrics token is wrong');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
