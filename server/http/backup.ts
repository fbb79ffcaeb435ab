/**
 * `GET /api/admin/backup`: every document of the server as one archive (`backup/archive.ts`),
 * streamed while clients go on editing. Each document is read through its room, as of one moment
 * (`Room.snapshot`: every update applied before the read is stored and in it, none after), so
 * what was acknowledged to a client before the backup read the document is in the archive.
 * Documents are read one after another: the archive is not one moment for all of them.
 *
 * Needs a token with `"admin": true` covering every document (`"doc": "*"`); without
 * `--auth-secret` the server is open and anyone may. `?versions=false` leaves the history out.
 * A failure midway cuts the stream before its end record, which a reader reports as truncated.
 */
import { type Context, Hono } from 'hono';
import * as Y from 'yjs';
import { applyStoredDocument } from '../../persistence/compaction.js';
import type { DocumentStore } from '../../persistence/document-store.js';
import type { VersionRecord } from '../../persistence/versions.js';
import { requestToken } from '../auth/access.js';
import { ArchiveWriter, type DocumentEntry } from '../backup/archive.js';
import { HttpError } from '../errors.js';
import type { Logger } from '../logger.js';
import { VERSION } from '../version.js';
import type { DocumentsApi } from './document-request.js';

export const BACKUP_PATH = '/api/admin/backup';
/** Documents listed from the store at a time. */
const PAGE = 100;

/** The backup route (see the top of this file). */
export function backupRoutes(api: DocumentsApi, logger: Logger): Hono {
  return new Hono().get(BACKUP_PATH, async (c: Context) => {
    const query = new URL(c.req.url).searchParams;
    const grant = await api.access.authenticate(requestToken(query, c.req.header('authorization')));
    if (!grant.admin || grant.doc !== '*') {
      throw new HttpError(403, 'not-admin', 'a backup needs a token with "admin": true for every document ("doc": "*")');
    }
    const withVersions = query.get('versions') !== 'false';
    const chunks = archiveOf(api, withVersions, logger);
    const body = new ReadableStream<Uint8Array>({
      // Pulled: the next document is read only once the client took the last one.
      async pull(controller) {
        try {
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (error) {
          logger.error({ err: error }, 'a backup failed: its archive was cut short, and the client told');
          controller.error(error);
        }
      },
      async cancel() {
        await chunks.return(undefined);
      },
    });
    return c.body(body, 200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
  });
}

/** The archive's bytes, record by record. */
async function* archiveOf(api: DocumentsApi, withVersions: boolean, logger: Logger): AsyncGenerator<Uint8Array> {
  const started = performance.now();
  const writer = new ArchiveWriter();
  yield writer.start({ server: VERSION, createdAt: new Date().toISOString() });
  let documents = 0;
  let versions = 0;
  for (let after: string | undefined; ; ) {
    const page = await api.store.list({ limit: PAGE, ...(after === undefined ? {} : { after }) });
    for (const { name } of page) {
      const entry = await readDocument(api, name);
      // Deleted since it was listed.
      if (entry === null) continue;
      yield writer.document(entry);
      documents++;
      if (!withVersions) continue;
      for (const record of await readVersions(api.store, name)) {
        const { data, ...info } = record;
        yield writer.version({ document: name, info, data });
        versions++;
      }
    }
    if (page.length < PAGE) break;
    after = page.at(-1)!.name;
  }
  yield writer.end();
  logger.info({ documents, versions, ms: Math.round(performance.now() - started) }, `backed up ${documents} document(s) and ${versions} version(s)`);
}

/** The document as of now, through its room; null if it does not exist (any more). */
async function readDocument(api: DocumentsApi, name: string): Promise<DocumentEntry | null> {
  try {
    return await api.engine.withRoom(name, async (room) => {
      if (room.deletedAt !== null || room.deleting || !room.exists) return null;
      const { state, head } = await room.snapshot();
      return { name, head, capturedAt: Date.now(), state };
    });
  } catch (error) {
    // Every room slot busy with a connected document: this one is not loaded, so nobody writes
    // it here, and the store's read is the document as of one moment.
    if (!(error instanceof HttpError && error.code === 'too-many-documents')) throw error;
    const stored = await api.store.load(name);
    if (stored.deletedAt !== null || stored.head === 0) return null;
    const doc = new Y.Doc();
    applyStoredDocument(doc, stored);
    const state = Y.encodeStateAsUpdate(doc);
    doc.destroy();
    return { name, head: stored.head, capturedAt: Date.now(), state };
  }
}

/**
 * The document's versions with their data, a chain whose every base is in it: the history may
 * fold a version into another between two reads, and then the versions are read again.
 */
async function readVersions(store: DocumentStore, name: string): Promise<VersionRecord[]> {
  for (let attempt = 1; ; attempt++) {
    const records: VersionRecord[] = [];
    for (const info of await store.listVersions(name)) {
      const record = await store.readVersion(name, info.id);
      if (record !== null) records.push(record);
    }
    const ids = new Set(records.map((record) => record.id));
    if (records.every((record) => record.base === null || ids.has(record.base))) return records;
    if (attempt === 3) throw new Error(`the versions of "${name}" kept changing while they were read`);
  }
}
