/**
 * The y-websocket wire protocol, as pure functions over bytes.
 *
 * Every frame carries one message: a varUint message type, then its payload. Types 0 to 3 are
 * y-websocket's own (sync, awareness, auth, query awareness); 100 and 101 are this server's
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

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;
/** Ours: the sender's updates are durably stored. Payload: varUint count, varUint8Array state vector. */
export const MESSAGE_SAVED = 100;
/** Ours: something went wrong that the client should know of. Payload: varString code, varString message. */
export const MESSAGE_ERROR = 101;

export const SYNC_STEP_1 = 0;
export const SYNC_STEP_2 = 1;
export const SYNC_UPDATE = 2;

/** y-protocols' auth message subtype for "permission denied". */
const AUTH_PERMISSION_DENIED = 0;

export type ClientMessage =
  | { readonly type: 'sync-step-1'; readonly stateVector: Uint8Array }
  | { readonly type: 'sync-step-2'; readonly update: Uint8Array; readonly starts: UpdateStarts }
  | { readonly type: 'update'; readonly update: Uint8Array; readonly starts: UpdateStarts }
  | { readonly type: 'awareness'; readonly update: Uint8Array; readonly entries: readonly AwarenessEntry[] }
  | { readonly type: 'query-awareness' };

/** Per client whose structs an update carries: the clock of its first struct (see `validateUpdate`). */
export type UpdateStarts = ReadonlyMap<number, number>;

export interface AwarenessEntry {
  readonly clientId: number;
  readonly clock: number;
  /** The parsed state; `null` means the client removed its state. */
  readonly state: Record<string, unknown> | null;
}

export type ProtocolErrorCode =
  | 'empty-message'
  | 'truncated'
  | 'unknown-message-type'
  | 'unknown-sync-type'
  | 'trailing-bytes'
  | 'invalid-update'
  | 'invalid-state-vector'
  | 'invalid-awareness';

/** A frame that does not follow the protocol. The connection that sent it is closed with code 1007. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Decodes one client frame. Throws `ProtocolError` for anything that is not a complete, valid message. */
export function decodeClientMessage(frame: Uint8Array): ClientMessage {
  if (frame.length === 0) throw new ProtocolError('empty-message', 'empty message');
  const decoder = decoding.createDecoder(frame);
  const messageType = read(decoder, decoding.readVarUint, 'message type');
  let message: ClientMessage;
  switch (messageType) {
    case MESSAGE_SYNC:
      message = decodeSync(decoder);
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

function decodeSync(decoder: decoding.Decoder): ClientMessage {
  const syncType = read(decoder, decoding.readVarUint, 'sync message type');
  const payload = read(decoder, decoding.readVarUint8Array, 'sync payload');
  switch (syncType) {
    case SYNC_STEP_1:
      validateStateVector(payload);
      return { type: 'sync-step-1', stateVector: payload };
    case SYNC_STEP_2:
      return { type: 'sync-step-2', update: payload, starts: validateUpdate(payload) };
    case SYNC_UPDATE:
      return { type: 'update', update: payload, starts: validateUpdate(payload) };
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

/** What decoding the last update in `validateUpdate` saw beyond its structs (see `ScanningDecoder`). */
const scan = {
  /** The byte reader: where Yjs's decoding stopped. */
  reader: null as decoding.Decoder | null,
  /** The client of each list of structs so far. */
  clients: new Set<number>(),
  /** A client whose structs are listed twice, or null. */
  listedTwice: null as number | null,
};

/**
 * Yjs's v1 update decoder, noting in `scan` its byte reader and the client of each list of structs
 * (Yjs reads that client once per list, with `readClient`).
 */
class ScanningDecoder extends Y.UpdateDecoderV1 {
  constructor(reader: decoding.Decoder) {
    super(reader);
    scan.reader = reader;
  }

  override readClient(): number {
    const client = super.readClient();
    if (scan.clients.has(client)) scan.listedTwice ??= client;
    scan.clients.add(client);
    return client;
  }
}

/**
 * Decodes a Yjs update (v1) in full, structs and delete set, without applying it, and returns where
 * each client's structs start (what `Y.parseUpdateMeta` calls `from`, without decoding it again).
 * Throws `ProtocolError('invalid-update')` if it does not decode, if bytes follow its end, if it
 * lists one client's structs in two places (Yjs writes each client once, and reads only the last),
 * or if a client's deleted ranges overlap or are out of order.
 * A room may store and broadcast the update's bytes as they are (see `Room.integrate`), so they
 * must hold nothing that applying it would ignore.
 */
export function validateUpdate(update: Uint8Array): UpdateStarts {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  scan.clients.clear();
  scan.listedTwice = null;
  try {
    decoded = Y.decodeUpdateV2(update, ScanningDecoder);
  } catch (error) {
    throw new ProtocolError('invalid-update', `update does not decode: ${describe(error)}`);
  }
  // lib0 reads single bytes without a bounds check, so a truncated update can decode past its end
  // instead of throwing, into structs with undefined fields; those fail the checks below too.
  const trailing = update.length - scan.reader!.pos;
  if (trailing < 0) throw new ProtocolError('invalid-update', 'update ends inside its own encoding');
  if (trailing > 0) throw new ProtocolError('invalid-update', `${trailing} unexpected bytes after the update`);
  if (scan.listedTwice !== null) throw new ProtocolError('invalid-update', `update lists the structs of client ${scan.listedTwice} twice`);
  // Each client's structs are one run (none is listed twice), so its first struct is its start.
  const starts = new Map<number, number>();
  for (const struct of decoded.structs) {
    if (!isClock(struct.id.client) || !isClock(struct.id.clock) || !(struct.length > 0)) {
      throw new ProtocolError('invalid-update', 'update holds a malformed struct');
    }
    if (!starts.has(struct.id.client)) starts.set(struct.id.client, struct.id.clock);
  }
  // Yjs walks every struct a deleted range spans, once per range, even when it is deleted already:
  // one range repeated 50,000 times over 20,000 deleted characters (200 KB) cost 2.5 s of CPU.
  // Yjs writes each client's ranges sorted and merged, so a range that is not past the one
  // before it is refused.
  for (const [client, ranges] of decoded.ds.clients) {
    let end = 0;
    for (const { clock, len } of ranges) {
      if (clock < end) throw new ProtocolError('invalid-update', `update deletes from client ${client}'s clock ${clock} again, or out of order`);
      end = clock + len;
    }
  }
  return starts;
}

function validateStateVector(stateVector: Uint8Array): void {
  try {
    const decoder = decoding.createDecoder(stateVector);
    const clients = decoding.readVarUint(decoder);
    for (let i = 0; i < clients; i++) {
      decoding.readVarUint(decoder);
      decoding.readVarUint(decoder);
    }
    if (decoding.hasContent(decoder)) throw new Error('unexpected bytes after the state vector');
  } catch (error) {
    throw new ProtocolError('invalid-state-vector', `state vector does not decode: ${describe(error)}`);
  }
}

/** Encodes awareness entries as an awareness update (the inverse of `decodeAwarenessUpdate`). */
export function encodeAwarenessUpdate(entries: readonly AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const { clientId, clock, state } of entries) {
    encoding.writeVarUint(encoder, clientId);
    encoding.writeVarUint(encoder, clock);
    encoding.writeVarString(encoder, JSON.stringify(state));
  }
  return encoding.toUint8Array(encoder);
}

/**
 * The longest presence state (its JSON) a client may publish: a name, a colour and a cursor take a
 * few hundred characters. Every joining client receives every state.
 */
export const MAX_PRESENCE_STATE_LENGTH = 16 * 1024;

/**
 * Decodes an awareness update: a count, then per client its id, clock and state as JSON.
 * Each state must parse to an object or `null`, and be at most `MAX_PRESENCE_STATE_LENGTH` long.
 */
export function decodeAwarenessUpdate(update: Uint8Array): AwarenessEntry[] {
  const entries: AwarenessEntry[] = [];
  try {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const json = decoding.readVarString(decoder);
      if (json.length > MAX_PRESENCE_STATE_LENGTH) throw new Error(`state of client ${clientId} is longer than ${MAX_PRESENCE_STATE_LENGTH} characters`);
      const state: unknown = JSON.parse(json, refuseProtoKeys);
      if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
        throw new Error(`state of client ${clientId} is not an object`);
      }
      entries.push({ clientId, clock, state: state as Record<string, unknown> | null });
    }
    if (decoding.hasContent(decoder)) throw new Error('unexpected bytes after the awareness update');
  } catch (error) {
    throw new ProtocolError('invalid-awareness', `awareness update does not decode: ${describe(error)}`);
  }
  return entries;
}

/**
 * JSON.parse makes `__proto__` an own property, harmless here, but a client or plugin that merges
 * states with Object.assign or a spread into a prototype-bearing object would be polluted; no
 * honest client sends such a key, so it is refused at the door.
 */
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new Error('"__proto__" is not allowed as a key');
  return value;
}

function isClock(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Encoders: each builds one complete frame.

export function encodeSyncStep1(stateVector: Uint8Array): Uint8Array {
  return encodeSync(SYNC_STEP_1, stateVector);
}

export function encodeSyncStep2(update: Uint8Array): Uint8Array {
  return encodeSync(SYNC_STEP_2, update);
}

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
