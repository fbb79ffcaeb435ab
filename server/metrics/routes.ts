/**
 * The routes of `/metrics` (Prometheus text, as `access.ts` allows) and `/readyz` (for load
 * balancers: 200 when ready, 503 while starting, draining or while the store takes nothing; see
 * `readiness.ts`). Both tell counts and states, never a document's name, so, like `/healthz`,
 * they answer requests for any host name.
 */
import { Hono } from 'hono';
import { HttpError } from '../errors.js';
import { checkMetricsAccess, type MetricsAccessConfig, type MetricsPlace } from './access.js';
import type { ServerMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';

/** The paths these routes serve, which the host check lets through. */
export const METRICS_PATHS: ReadonlySet<string> = new Set(['/metrics', '/readyz']);

/** What the routes serve, and where they are mounted (`place`: the main port or the metrics port). */
export interface MetricsRouteOptions {
  readonly metrics: ServerMetrics;
  readonly readiness: Readiness;
  readonly config: MetricsAccessConfig;
  readonly place: MetricsPlace;
}

/** `GET /metrics` and `GET /readyz`. Refusals are thrown as `HttpError`, for the app's error handler. */
export function metricsRoutes({ metrics, readiness, config, place }: MetricsRouteOptions): Hono {
  return new Hono()
    .get('/metrics', async (c) => {
      try {
        checkMetricsAccess(config, place, c.req.header('authorization'));
      } catch (error) {
        // A 401 says how to authenticate (RFC 6750); the app's error handler answers it.
        if (error instanceof HttpError && error.status === 401) c.header('www-authenticate', 'Bearer realm="metrics"');
        throw error;
      }
      const text = await metrics.render();
      return c.body(text, 200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
    })
    .get('/readyz', (c) => {
      const state = readiness.state;
      c.header('cache-control', 'no-store');
      if (state === 'ready') return c.json({ status: state }, 200);
      return c.json({ status: state, reason: readiness.reason }, 503);
    });
}
