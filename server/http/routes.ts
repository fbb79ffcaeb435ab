/**
 * The HTTP API: health and the document list.
 *
 * With a secret set, the document list needs a token like a WebSocket does (the `token` query
 * parameter, or `Authorization: Bearer <token>`), and lists only the documents that token covers:
 * `doc: "*"` lists every document, `doc: "team/*"` those under `team/`, a name just that one.
 * The health check stays open: it tells counts, not names. It answers 503 while the store takes
 * nothing, so that a load balancer or supervisor watching it sees it: `degraded` while the store is
 * unavailable for a while (no descriptors or disk space left, say) and recovers on its own,
 * `failing` once it failed for good and every document is refused until the server is restarted.
 * With the store working, it says `degraded` with 200 while the bus to other instances is down
 * (Redis out of reach): this instance serves its clients and stores their updates, and only
 * other instances' changes reach them late, so a load balancer should keep sending it clients.
 */
import { Hono } from 'hono';
import { type DocumentStore, StoreUnavailableError, StoreWriteError } from '../../persistence/document-store.js';
import { covers, requestToken, type Access } from '../auth/access.js';
import { HttpError } from '../errors.js';
import type { BusHealth } from '../sync/bus.js';
import type { SyncEngine } from '../sync/engine.js';
import { VERSION } from '../version.js';

const HEALTHY_BUS: BusHealth = { problem: null, dropped: 0 };

/** The routes of `/healthz` and `/api/`; `busHealth` says how the bus to other instances fares. */
export function apiRoutes(store: DocumentStore, engine: SyncEngine, access: Access, busHealth: () => BusHealth = () => HEALTHY_BUS): Hono {
  const startedAt = Date.now();
  let storeFailure: StoreWriteError | null = null;
  store.onFailure((error) => {
    storeFailure = error;
  });
  store.onRecovery(() => {
    storeFailure = null;
  });
  return new Hono()
    .get('/healthz', (c) => {
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
    })
    .get('/api/documents', async (c) => {
      const grant = await access.authenticate(requestToken(new URL(c.req.url).searchParams, c.req.header('authorization')));
      const documents = await store.list().catch((error: unknown) => {
        if (error instanceof StoreUnavailableError) throw new HttpError(503, 'storage-unavailable', 'the store is unavailable for now; try again shortly');
        if (error instanceof StoreWriteError) throw new HttpError(503, 'storage-failed', 'the store failed; the server must be restarted');
        throw error;
      });
      return c.json({ documents: documents.filter((document) => covers(grant, document.name)) });
    });
}
