/** The HTTP API: health and the document list. */
import { Hono } from 'hono';
import type { DocumentStore } from '../../persistence/document-store.js';
import type { SyncEngine } from '../sync/engine.js';
import { VERSION } from '../version.js';

export function apiRoutes(store: DocumentStore, engine: SyncEngine): Hono {
  const startedAt = Date.now();
  return new Hono()
    .get('/healthz', (c) =>
      c.json({
        status: 'ok',
        version: VERSION,
        uptime: Math.round((Date.now() - startedAt) / 1000),
        rooms: engine.rooms.size,
        connections: engine.connectionCount,
      }),
    )
    .get('/api/documents', async (c) => c.json({ documents: await store.list() }));
}
