/**
 * The HTTP API: health and the document list.
 *
 * With a secret set, the document list needs a token like a WebSocket does (the `token` query
 * parameter, or `Authorization: Bearer <token>`), and lists only the documents that token covers:
 * `doc: "*"` lists every document, `doc: "team/*"` those under `team/`, a name just that one.
 * The health check stays open: it tells counts, not names. It answers 503 once the store has failed
 * (a full disk, say): from then on every document is refused until the server is restarted, and a
 * load balancer or supervisor watching it must see that.
 */
import { Hono } from 'hono';
import type { DocumentStore } from '../../persistence/document-store.js';
import { covers, requestToken, type Access } from '../auth/access.js';
import type { SyncEngine } from '../sync/engine.js';
import { VERSION } from '../version.js';

/** The routes of `/healthz` and `/api/`. */
export function apiRoutes(store: DocumentStore, engine: SyncEngine, access: Access): Hono {
  const startedAt = Date.now();
  let storeFailure: Error | null = null;
  store.onFailure((error) => {
    storeFailure = error;
  });
  return new Hono()
    .get('/healthz', (c) =>
      c.json(
        {
          status: storeFailure === null ? 'ok' : 'failing',
          ...(storeFailure === null ? {} : { error: `${storeFailure.message}; restart the server` }),
          version: VERSION,
          uptime: Math.round((Date.now() - startedAt) / 1000),
          rooms: engine.rooms.size,
          connections: engine.connectionCount,
        },
        storeFailure === null ? 200 : 503,
      ),
    )
    .get('/api/documents', async (c) => {
      const grant = await access.authenticate(requestToken(new URL(c.req.url).searchParams, c.req.header('authorization')));
      const documents = await store.list();
      return c.json({ documents: documents.filter((document) => covers(grant, document.name)) });
    });
}
