/**
 * The metrics port (`--metrics-port`): a plain HTTP listener on 127.0.0.1 only, apart from the
 * main port, serving `/metrics`, `/readyz` and `/healthz` and nothing else, so that a scraper on
 * the same machine (or a sidecar) reads them without a token and without their being reachable
 * from elsewhere. It stays open while the server drains, so `/readyz` says so until the end.
 */
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The only interface the metrics port listens on. */
export const METRICS_HOST = '127.0.0.1';

/** The listener of the metrics port (see the top of this file). */
export class MetricsListener {
  private readonly server: Server;

  /** Serves `routes` (mounted at `/`), answering refusals as the main port does, and anything else with 404. */
  constructor(
    routes: readonly Hono[],
    private readonly port: number,
    logger: Logger,
    onRefused: (refusal: HttpError) => void,
  ) {
    const app = new Hono();
    app.onError((error, c) => {
      if (error instanceof HttpError) {
        onRefused(error);
        return c.json(error.toJSON(), error.status);
      }
      logger.error({ err: error, path: c.req.path }, 'metrics request failed');
      return c.json({ error: 'internal', message: 'internal server error' }, 500);
    });
    app.notFound((c) => c.json({ error: 'not-found', message: `nothing at ${c.req.path}: this port serves /metrics, /readyz and /healthz` }, 404));
    for (const route of routes) app.route('/', route);
    this.server = createAdaptorServer({ fetch: app.fetch }) as Server;
  }

  /** Starts listening on `METRICS_HOST`; resolves with the bound address (rejects if the port is taken). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, METRICS_HOST, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and closes every connection. */
  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}
