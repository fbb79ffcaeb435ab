/**
 * The health check. It stays open: it tells counts, not names. It answers 503 while the store takes
 * nothing, so that a load balancer or supervisor watching it sees it: `degraded` while the store is
 * unavailable for a while (no descriptors or disk space left, say) and recovers on its own,
 * `failing` once it failed for good and every document is refused until the server is restarted.
 * With the store working, it says `degraded` with 200 while the bus to other instances is down
 * (Redis out of reach): this instance serves its clients and stores their updates, and only
 * other instances' changes reach them late, so a load balancer should keep sending it clients.
 */
import { Hono } from 'hono';
import { type DocumentStore, StoreUnavailableError, type StoreWriteError } from '../../persistence/document-store.js';
import type { BusHealth } from '../sync/bus.js';
import type { SyncEngine } from '../sync/engine.js';
import { VERSION } from '../version.js';

const HEALTHY_BUS: BusHealth = { problem: null, dropped: 0 };

/** The route of `/healthz`; `busHealth` says how the bus to other instances fares. */
export function healthRoutes(store: DocumentStore, engine: SyncEngine, busHealth: () => BusHealth = () => HEALTHY_BUS): Hono {
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
    const bus = busHealth();
    return c.json(
      {
        status: storeFailure === null ? (bus.problem === null ? 'ok' : 'degraded') : unavailable ? 'degraded' : 'failing',
        ...(storeFailure === null ? {} : { error: unavailable ? storeFailure.message : `${storeFailure.message}; restart the server` }),
        ...(bus.problem === null ? {} : { bus: bus.problem }),
        ...(bus.dropped === 0 ? {} : { busMessagesDropped: bus.dropped }),
        version: VERSION,
        uptime: Math.round((Date.now() - startedAt) / 1000),
        rooms: engine.rooms.size,
        connections: engine.connectionCount,
      },
      storeFailure === null ? 200 : 503,
    );
  });
}
