/**
 * The y-websocket wire protocol, as pure functions over bytes.
 *
 * Every message is one WebSocket message: a varUint message type, then its payload. Types 0 to 3
 * are y-websocket's own (sync, awareness, auth, query awareness); 100 and 101 are this server's
 * additions, sent only to clients that opt in with the `ack=1` query parameter, because the
 * official client logs a warning for every message type it does not know.
 *
 * Decoding is strict: every read is bounds-checked, the whole payload must be consumed, and a Yjs
 * update or awareness update is decoded in full before it is handed on, so a malformed message is
 * refused as a whole and nothing of it is applied.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { type AwarenessEntry, decodeAwarenessUpdate } from './awareness.js';
import { ProtocolError } from './errors.js';
import { type UpdateStarts, validateStateVector, validateUpdate } from './yjs-update.js';
import type { UpdateScanner } from './yjs-internals.js';

/** The message types (the first varUint of every message), y-websocket's own first. */
export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;
/** Ours: the sender's updates are durably stored. Payload: varUint count, varUint8Array state vector. */
export const MESSAGE_SAVED = 100;
/** Ours: something went wrong that the client should know of. Payload: varString code, varString message. */
export const MESSAGE_ERROR = 101;

/** The subtypes of a sync message. */
export const SYNC_STEP_1 = 0;
export const SYNC_STEP_2 = 1;
export const SYNC_UPDATE = 2;

/** y-protocols' auth message subtype for "permission denied". */
const AUTH_PERMISSION_DENIED = 0;

/** A message a client may send, decoded (see `decodeClientMessage`). */
export type ClientMessage =
  | { readonly type: 'sync-step-1'; readonly stateVector: Uint8Array }
  | { readonly type: 'sync-step-2'; readonly update: Uint8Array; readonly starts: UpdateStarts }
  | { readonly type: 'update'; readonly update: Uint8Array; readonly starts: UpdateStarts }
  | { readonly type: 'awareness'; readonly update: Uint8Array; readonly entries: readonly AwarenessEntry[] }
  | { readonly type: 'query-awareness' };

/**
 * Decodes one client message. Throws `ProtocolError` for anything that is not a complete, valid
 * message. `scanner` holds the state of decoding an update: the caller's own, reused.
 */
export function decodeClientMessage(frame: Uint8Array, scanner?: UpdateScanner): ClientMessage {
  if (frame.length === 0) throw new ProtocolError('empty-message', 'empty message');
  const decoder = decoding.createDecoder(frame);
  const messageType = read(decoder, decoding.readVarUint, 'message type');
  let message: ClientMessage;
  switch (messageType) {
    case MESSAGE_SYNC:
      message = decodeSync(decoder, scanner);
      break;
    case MESSAGE_AWARENESS: {
      const update = read(decoder, decoding.readVarUint8Array, 'awareness update');
      message = { type: 'awareness', update, entries: decodeAwarenessUpdate(update) };
      break;
    }
    case MESSAGE_QUERY_AWARENESS:
      message = { type: 'query-awareness' };
      break;
    default:
      throw new ProtocolError('unknown-message-type', `unknown message type ${messageType}`);
  }
  if (decoding.hasContent(decoder)) {
    throw new ProtocolError('trailing-bytes', `${frame.length - decoder.pos} unexpected bytes after the message`);
  }
  return message;
}

function decodeSync(decoder: decoding.Decoder, scanner: UpdateScanner | undefined): ClientMessage {
  const syncType = read(decoder, decoding.readVarUint, 'sync message type');
  const payload = read(decoder, decoding.readVarUint8Array, 'sync payload');
  switch (syncType) {
    case SYNC_STEP_1:
      validateStateVector(payload);
      return { type: 'sync-step-1', stateVector: payload };
    case SYNC_STEP_2:
      return { type: 'sync-step-2', update: payload, starts: validateUpdate(payload, scanner) };
    case SYNC_UPDATE:
      return { type: 'update', update: payload, starts: validateUpdate(payload, scanner) };
    default:
      throw new ProtocolError('unknown-sync-type', `unknown sync message type ${syncType}`);
  }
}

/** Reads one field, turning lib0's out-of-bounds errors into a `ProtocolError`. */
function read<T>(decoder: decoding.Decoder, reader: (d: decoding.Decoder) => T, what: string): T {
  try {
    return reader(decoder);
  } catch {
    throw new ProtocolError('truncated', `message ends inside the ${what}`);
  }
}

/** Whether `message` is a sync step 1 with an empty state vector: what a client that holds nothing sends first. */
export function isInitialSyncStep1(message: Uint8Array): boolean {
  return message.length === 4 && message[0] === MESSAGE_SYNC && message[1] === SYNC_STEP_1 && message[2] === 1 && message[3] === 0;
}

// Encoders: each builds one complete message.

/** Sync step 1: the sender's state vector, asking for what it lacks. */
export function encodeSyncStep1(stateVector: Uint8Array): Uint8Array {
  return encodeSync(SYNC_STEP_1, stateVector);
}

/** Sync step 2: what the other side lacks, answering a step 1. */
export function encodeSyncStep2(update: Uint8Array): Uint8Array {
  return encodeSync(SYNC_STEP_2, update);
}

/** A sync update: one Yjs update, as it happens. */
export function encodeUpdate(update: Uint8Array): Uint8Array {
  return encodeSync(SYNC_UPDATE, update);
}

function encodeSync(syncType: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  encoding.writeVarUint(encoder, syncType);
  encoding.writeVarUint8Array(encoder, payload);
  return encoding.toUint8Array(encoder);
}

/** An awareness message carrying one awareness update. */
export function encodeAwareness(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
}

/** y-protocols' "permission denied" auth message; the official client logs the reason. */
export function encodePermissionDenied(reason: string): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AUTH);
  encoding.writeVarUint(encoder, AUTH_PERMISSION_DENIED);
  encoding.writeVarString(encoder, reason);
  return encoding.toUint8Array(encoder);
}

/**
 * "Saved": the first `count` update-bearing messages this connection sent are durably stored,
 * and the stored document covers `stateVector`. A client is saved when, for every client id in
 * its own state vector, the stored clock is at least its own.
 */
export function encodeSaved(count: number, stateVector: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SAVED);
  encoding.writeVarUint(encoder, count);
  encoding.writeVarUint8Array(encoder, stateVector);
  return encoding.toUint8Array(encoder);
}

/** "Error": a code (`storage-failed`, `read-only`, ...) and a message for people. */
export function encodeError(code: string, message: string): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_ERROR);
  encoding.writeVarString(encoder, code);
  encoding.writeVarString(encoder, message);
  return encoding.toUint8Array(encoder);
}

/** Decodes a "saved" message's payload (after the message type), for clients of this server. */
export function decodeSaved(decoder: decoding.Decoder): { count: number; stateVector: Map<number, number> } {
  const count = decoding.readVarUint(decoder);
  const stateVector = Y.decodeStateVector(decoding.readVarUint8Array(decoder));
  return { count, stateVector };
}
