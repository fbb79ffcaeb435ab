/**
 * What every route under `/api/documents/<name>` starts from: the document named by the raw path
 * (decoded exactly once, as an upgrade's is: a URL parser would resolve `%2e%2e` and the like),
 * the rest of the path, the token's grant, and the loaded room, held for the request.
 */
import type { Context } from 'hono';
import type { IncomingMessage } from 'node:http';
import type { DocumentStore } from '../../persistence/document-store.js';
import { DocumentNameError, parseDocumentName } from '../../protocol/document-name.js';
import { type Access, type Grant, requestToken } from '../auth/access.js';
import type { ServerConfig } from '../config.js';
import type { AddressedRequest } from './client-address.js';
import { HttpError } from '../errors.js';
import type { EngineMember, SyncEngine } from '../sync/engine.js';
import type { RequestOrigin } from '../sync/request-member.js';
import type { Room } from '../sync/room.js';
import { storeRefusal } from './store-refusal.js';

/** Where the documents API lives. */
export const DOCUMENTS_PREFIX = '/api/documents';

/** A binary response: bytes (Yjs's are never on a SharedArrayBuffer) as `application/octet-stream`. */
export function binaryResponse(c: Context, data: Uint8Array, headers: Record<string, string> = {}): Response {
  // A headers object of its own each time: the Node adapter adds Content-Length to the one it gets.
  return c.body(data as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-type': 'application/octet-stream' });
}

/** What the documents API needs. */
export interface DocumentsApi {
  readonly store: DocumentStore;
  readonly engine: SyncEngine;
  readonly access: Access;
  readonly config: Pick<ServerConfig, 'maxMessageSize' | 'maxNameLength'>;
  /** The client address of a request: its socket's, or what a trusted proxy says. */
  readonly clientAddress: (request: AddressedRequest) => string;
}

/** One request under `/api/documents/<name>`: its document, the rest of its path, and who sent it. */
export interface DocumentRequest {
  readonly c: Context;
  readonly name: string;
  readonly rest: readonly string[];
  readonly grant: Grant;
  readonly origin: RequestOrigin;
}

/** Reads a request under `/api/documents/`; `HttpError` 400 for a bad name, 401 for a bad token. */
export async function documentRequest(c: Context, api: DocumentsApi): Promise<DocumentRequest> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const target = incoming?.url ?? new URL(c.req.url).pathname;
  const queryStart = target.indexOf('?');
  const path = queryStart < 0 ? target : target.slice(0, queryStart);
  const [raw = '', ...rest] = path.slice(DOCUMENTS_PREFIX.length + 1).split('/');
  let name: string;
  try {
    name = parseDocumentName(raw, api.config.maxNameLength);
  } catch (error) {
    if (error instanceof DocumentNameError) throw new HttpError(400, error.code, `${error.message} (a "/" in a name is written %2F here)`);
    throw error;
  }
  const grant = await api.access.authenticate(requestToken(new URL(c.req.url).searchParams, c.req.header('authorization')));
  const origin = { remoteAddress: incoming === undefined ? 'unknown' : api.clientAddress(incoming), identity: grant.identity };
  // A trailing slash names the same resource.
  if (rest.at(-1) === '') rest.pop();
  return { c, name, rest, grant, origin };
}

/** Runs `body` with the document's loaded room; store outages become 503s. */
export function withRoom<T>(api: DocumentsApi, name: string, body: (room: Room<EngineMember>) => Promise<T>): Promise<T> {
  return api.engine.withRoom(name, body).catch(storeRefusal);
}

/** Like `withRoom`, for a document that exists: 404 for one never written, 410 for a deleted one. */
export function withDocument<T>(api: DocumentsApi, name: string, body: (room: Room<EngineMember>) => Promise<T>): Promise<T> {
  return withRoom(api, name, async (room) => {
    if (room.deletedAt !== null || room.deleting) throw new HttpError(410, 'deleted', `the document "${name}" was deleted`);
    if (!room.exists) throw new HttpError(404, 'no-document', `there is no document "${name}"`);
    return body(room);
  });
}

/** Refuses a method the resource does not have with 405, saying which it has. */
export function allow(c: Context, methods: readonly string[]): void {
  if (methods.includes(c.req.method)) return;
  c.header('allow', methods.join(', '));
  throw new HttpError(405, 'method-not-allowed', `${c.req.path} takes ${methods.join(', ')}`);
}
