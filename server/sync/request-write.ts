/**
 * An update written over HTTP (`POST .../updates`, and the edits `PUT` and restores make): the same
 * path as a connection's update (decode, checks, limits, intake, store, broadcast), answered once
 * it is stored. What a connection would be closed for, the request is refused for, with the
 * status that says why; an update that cannot be integrated in full is refused before anything of
 * it is applied, since no second message will complete it.
 */
import * as Y from 'yjs';
import { ProtocolError } from '../../protocol/errors.js';
import { validateUpdate } from '../../protocol/yjs-update.js';
import type { UpdateScanner } from '../../protocol/yjs-internals.js';
import { HttpError } from '../errors.js';
import type { RoomMember } from './member.js';
import { RequestMember, type RequestOrigin, type RequestRefusal } from './request-member.js';
import type { Room } from './room.js';
import { missingDependency } from './update-check.js';

/** How a write treats a deleted document. */
export interface WriteOptions {
  /** Create the document again if it was deleted (a deliberate `PUT`); otherwise such a write is refused (410). */
  readonly create: boolean;
}

/**
 * Applies `update` to `room`'s document as `origin` wrote it; resolves with the document's state
 * vector once it is stored. Throws `HttpError`: 400 for an update that does not decode or breaks the
 * document, 409 for one that needs edits the document lacks, 410 for a deleted document, 413 past
 * the document size limit, 429 past the address's update time, 503 while the room reloads or if
 * the store failed (then the update may not be stored).
 */
export async function writeUpdate<M extends RoomMember>(
  room: Room<M | RequestMember>,
  update: Uint8Array,
  origin: RequestOrigin,
  options: WriteOptions,
  scanner: UpdateScanner,
): Promise<Uint8Array> {
  let starts: ReturnType<typeof validateUpdate>;
  try {
    starts = validateUpdate(update, scanner);
  } catch (error) {
    if (error instanceof ProtocolError) throw new HttpError(400, error.code, `the update was not applied: ${error.message}`);
    throw error;
  }
  checkWritable(room, options);
  const missing = missingDependency(room.doc, update);
  if (missing !== null) throw new HttpError(409, 'missing-dependencies', `the update was not applied: ${missing}; send the edits it builds on too`);
  if (room.deletedAt !== null) room.revive();
  const member = new RequestMember(room.name, origin);
  room.receive(member, { type: 'update', update, starts });
  if (member.refusal !== null) throw refusalError(member.refusal);
  await room.drain();
  if (room.failed) throw new HttpError(503, 'storage-failed', 'the document failed while the update was stored; it may not be stored');
  return Y.encodeStateVector(room.doc);
}

/** Throws unless a write may go to `room` now (see `writeUpdate`). */
export function checkWritable(room: Pick<Room<RoomMember>, 'failed' | 'deleting' | 'deletedAt'>, options: WriteOptions): void {
  if (room.failed) throw new HttpError(503, 'document-reloading', 'the document is reloading; try again');
  if (room.deleting || (room.deletedAt !== null && !options.create)) {
    throw new HttpError(410, 'deleted', 'the document was deleted; PUT its content to create it again');
  }
}

/** What a connection would have been closed for, as the request's refusal. */
function refusalError({ code, reason }: RequestRefusal): HttpError {
  switch (code) {
    case 'document-too-large':
      return new HttpError(413, code, `the update was not applied: ${reason}`);
    case 'update-time-exceeded':
      return new HttpError(429, code, `the update was not applied: ${reason}`);
    case 'invalid-update':
      return new HttpError(400, code, 'the update was not applied: it breaks the document');
    case 'update-too-slow':
      return new HttpError(400, code, `the update was not applied: ${reason}`);
    default:
      return new HttpError(503, code, `the update may not be stored: ${reason}`);
  }
}
