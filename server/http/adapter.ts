/**
 * Hono's Node adapter (`@hono/node-server`), loaded at the first plain HTTP request rather than at
 * startup.
 *
 * Why: the adapter extends the global `Request` and `Response` when it is imported, and touching
 * either makes Node load its fetch implementation (undici): about 3.5 MiB resident (measured: the
 * server's RSS before any connection, 63.7 -> 60.2 MiB), kept for the life of the process. A
 * server that only syncs over WebSockets (the upgrade gate never involves Hono) does not need it;
 * the first page, API call or health check loads it once, for a few milliseconds.
 */
import type { getRequestListener } from '@hono/node-server';
import type { RequestListener } from 'node:http';

/** What the adapter serves requests with: a Hono app's `fetch`. */
export type FetchHandler = Parameters<typeof getRequestListener>[0];

/**
 * A request listener that serves every request with `fetch` through Hono's Node adapter, loading
 * the adapter at the first request. If it cannot be loaded, requests are answered 500 and the
 * error goes to `onError`; the next request tries again.
 */
export function lazyRequestListener(fetch: FetchHandler, onError: (error: unknown) => void): RequestListener {
  let listener: Promise<RequestListener> | null = null;
  return (incoming, outgoing) => {
    listener ??= import('@hono/node-server').then(({ getRequestListener }) => getRequestListener(fetch));
    listener.then(
      (handle) => handle(incoming, outgoing),
      (error: unknown) => {
        listener = null;
        onError(error);
        if (!outgoing.headersSent) outgoing.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        outgoing.end(JSON.stringify({ error: 'internal', message: 'internal server error' }));
      },
    );
  };
}
