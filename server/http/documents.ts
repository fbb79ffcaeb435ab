/**
 * The documents API: `/api/documents/<name>` and what is under it (see docs/api.md).
 *
 *   GET    /api/documents                      the documents a token covers, in pages
 *   GET    /api/documents/<name>               the content, in a format (`?format=`, or `Accept`)
 *   PUT    /api/documents/<name>               replaces the editor's content, as an edit
 *   DELETE /api/documents/<name>               deletes it for good (admin)
 *   GET    /api/documents/<name>/state-vector  the stored state vector
 *   POST   /api/documents/<name>/updates       applies a Yjs update, answered once stored
 *   ...    /api/documents/<name>/versions      the history (`versions-api.ts`)
 *
 * `<name>` is one path segment: a name with `/` in it has it percent-encoded (`team%2Fnotes`). The
 * path is read raw, as an upgrade's is, so the name is decoded exactly once. Every write takes the
 * WebSocket path (see `sync/request-write.ts`).
 */
import { type Context, Hono } from 'hono';
import * as Y from 'yjs';
import type { ListOptions } from '../../persistence/document-store.js';
import { UpdateScanner } from '../../protocol/yjs-internals.js';
import { authorize, authorizeAdmin, covers, requestToken } from '../auth/access.js';
import { HttpError } from '../errors.js';
import { checkWritable, writeUpdate } from '../sync/request-write.js';
import { readBody, readText } from './body.js';
import { contentResponse, converting, docOf, importFormat } from './content.js';
import { conversions } from './conversions.js';
import {
  allow,
  binaryResponse,
  type DocumentRequest,
  type DocumentsApi,
  DOCUMENTS_PREFIX,
  documentRequest,
  withDocument,
  withRoom,
} from './document-request.js';
import { storeRefusal } from './store-refusal.js';
import { versionRoutes } from './versions-api.js';

/** The most documents one page of the list holds, and how many it holds unless asked. */
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;

/** The routes of the documents API (see the top of this file). */
export function documentRoutes(api: DocumentsApi): Hono {
  const scanner = new UpdateScanner();
  const versions = versionRoutes(api, scanner);
  return new Hono().get(DOCUMENTS_PREFIX, (c) => listDocuments(c, api)).all(`${DOCUMENTS_PREFIX}/*`, (c) => converting(() => route(c)));

  async function route(c: Context): Promise<Response> {
    const request = await documentRequest(c, api);
    const [resource, ...more] = request.rest;
    if (resource === undefined) return documentResource(request, api, scanner);
    if (resource === 'state-vector' && more.length === 0) {
      allow(c, ['GET']);
      authorize(request.grant, request.name, 'ro');
      return withDocument(api, request.name, async (room) => binaryResponse(c, Y.encodeStateVector(room.doc)));
    }
    if (resource === 'updates' && more.length === 0) {
      allow(c, ['POST']);
      authorize(request.grant, request.name, 'rw');
      const update = await readBody(c.req.raw, api.config.maxMessageSize);
      return withRoom(api, request.name, async (room) => {
        const stateVector = await writeUpdate(room, update, request.origin, { create: false }, scanner);
        return binaryResponse(c, stateVector);
      });
    }
    if (resource === 'versions') return versions(request);
    throw new HttpError(404, 'not-found', `nothing at ${c.req.path}`);
  }
}

/** `/api/documents/<name>` itself: read, replace, delete. */
async function documentResource(request: DocumentRequest, api: DocumentsApi, scanner: UpdateScanner): Promise<Response> {
  const { c, name, grant, origin } = request;
  allow(c, ['GET', 'HEAD', 'PUT', 'DELETE']);
  if (c.req.method === 'GET' || c.req.method === 'HEAD') {
    authorize(grant, name, 'ro');
    return withDocument(api, name, async (room) => contentResponse(c, (await room.snapshot()).state));
  }
  if (c.req.method === 'PUT') {
    authorize(grant, name, 'rw');
    const format = importFormat(c.req.header('content-type'));
    const { parseDocument, replaceContent } = await conversions();
    const content = parseDocument(await readText(c.req.raw, api.config.maxMessageSize), format);
    return withRoom(api, name, async (room) => {
      const created = !room.exists;
      checkWritable(room, { create: true });
      const { state } = await room.snapshot();
      const update = replaceContent(docOf(state), content);
      if (update !== null) {
        // What the content was is kept as a version first, so that the replacement can be undone.
        if (!created) await api.engine.history.take(room, { kind: 'auto', label: 'Before the content was replaced', unlessCurrent: true });
        await writeUpdate(room, update, origin, { create: true }, scanner);
      } else if (room.deletedAt !== null) await writeUpdate(room, emptyContent(), origin, { create: true }, scanner);
      return c.json({ name, created, changed: update !== null }, created ? 201 : 200);
    });
  }
  authorizeAdmin(grant, name);
  return withDocument(api, name, async (room) => {
    await room.delete();
    api.engine.history.forget(name);
    return c.body(null, 204);
  });
}

/** `GET /api/documents`: the documents the token covers, in name order, `limit` at a time after `cursor`. */
async function listDocuments(c: Context, api: DocumentsApi): Promise<Response> {
  const query = new URL(c.req.url).searchParams;
  const grant = await api.access.authenticate(requestToken(query, c.req.header('authorization')));
  const limit = pageSize(query.get('limit'));
  const cursor = query.get('cursor');
  const after = cursor === null ? undefined : decodeCursor(cursor);
  const prefix = query.get('prefix') ?? '';
  // The token's cover narrows the listing, so that a page is never cut short by filtering.
  const scope = grant.doc.endsWith('*') ? grant.doc.slice(0, -1) : grant.doc;
  const narrowed = scope.startsWith(prefix) ? scope : prefix.startsWith(scope) ? prefix : null;
  if (narrowed === null) return c.json({ documents: [], next: null });
  const options: ListOptions = { prefix: narrowed, limit: limit + 1, ...(after === undefined ? {} : { after }) };
  const listed = await api.store.list(options).catch(storeRefusal);
  const documents = listed.filter((document) => covers(grant, document.name)).slice(0, limit);
  const next = listed.length > limit ? encodeCursor(documents.at(-1)!.name) : null;
  return c.json({ documents, next });
}

/**
 * An update that creates a deleted document again with no content to write: an empty paragraph in
 * the editor's content, from a client of its own. Only a write takes the deletion mark away.
 */
function emptyContent(): Uint8Array {
  const fresh = new Y.Doc();
  fresh.getXmlFragment('prosemirror').insert(0, [new Y.XmlElement('paragraph')]);
  return Y.encodeStateAsUpdate(fresh);
}

function pageSize(text: string | null): number {
  if (text === null) return DEFAULT_PAGE;
  const size = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(size >= 1 && size <= MAX_PAGE)) throw new HttpError(400, 'invalid-limit', `limit must be a whole number from 1 to ${MAX_PAGE}`);
  return size;
}

/** A page's cursor: the last name of the page before, opaque to clients. */
function encodeCursor(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const name = /^[\w-]*$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (name === '') throw new HttpError(400, 'invalid-cursor', 'cursor must be the "next" of a page of this list');
  return name;
}
