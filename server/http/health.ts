/**
 * The health check. It stays open: it tells counts, not names. It answers 503 while the store takes
 * nothing, so that a load balancer or supervisor watching it sees it: `degraded` while the store is
 * unavailable for a while (no descriptors or disk space left, say) and recovers on its own,
 * `failing` once it failed for good and every document is refused until the server is restarted.
 */
import { Hono } from 'hono';
import { type DocumentStore, StoreUnavailableError, type StoreWriteError } from '../../persistence/document-store.js';
import type { SyncEngine } from '../sync/engine.js';
import { VERSION } from '../version.js';

/** The route of `/healthz`. */
export function healthRoutes(store: DocumentStore, engine: SyncEngine): Hono {
  const startedAt = Date.now();
  let storeFailure: StoreWriteError | null = null;
  store.onFailure((error) => {
    storeFailure = error;
  });
  store.onRecovery(() => {
    storeFailure = null;
  });
  return new Hono().get('/healthz', (c) => {
    const unavailable = storeFailure instanceof StoreUnavailableError;
    return c.json(
      {
        status: storeFailure === null ? 'ok' : unavailable ? 'degraded' : 'failing',
        ...(storeFailure === null ? {} : { error: unavailable ? storeFailure.message : `${storeFailure.message}; restart the server` }),
        version: VERSION,
        uptime: Math.round((Date.now() - startedAt) / 1000),
        rooms: engine.rooms.size,
        connections: engine.connectionCount,
      },
      storeFailure === null ? 200 : 503,
    );
  });
}
