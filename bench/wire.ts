/**
 * The two wire dialects the servers speak, reduced to what a benchmark client sends and reads.
 *
 * - `y-websocket`: one document per socket, chosen by the URL path; messages are
 *   `[varUint type][...]` with sync (0) carrying `[varUint step][varUint8Array payload]`.
 * - `hocuspocus`: every message is prefixed by `[varString documentName]`, the client must send an
 *   auth message first, and the sync types are the same (plus 4, a sync reply).
 *
 * Parsing is by hand over the frame bytes (no decoder objects) because readers parse hundreds of
 * thousands of frames and must stay cheaper than the server they measure.
 */
import * as encoding from 'lib0/encoding';

export type Dialect = 'y-websocket' | 'hocuspocus';

/** What an incoming frame is, as far as a benchmark client cares. */
export enum FrameKind {
  SyncStep1 = 0,
  SyncStep2 = 1,
  Update = 2,
  Other = 3,
}

/** The result of `parseFrame`: the kind, and for sync messages where their payload lies. */
export interface ParsedFrame {
  kind: FrameKind;
  payloadStart: number;
  payloadEnd: number;
}

const messageSync = 0;
const messageAuth = 2;
const messageSyncReply = 4;
const syncStep1 = 0;
const syncStep2 = 1;
const syncUpdate = 2;

/** An empty state vector and an empty update, as Yjs encodes them. */
const emptyStateVector = new Uint8Array([0]);
export const emptyUpdate = new Uint8Array([0, 0]);

function header(dialect: Dialect, doc: string, type: number): encoding.Encoder {
  const encoder = encoding.createEncoder();
  if (dialect === 'hocuspocus') encoding.writeVarString(encoder, doc);
  encoding.writeVarUint(encoder, type);
  return encoder;
}

function syncMessage(dialect: Dialect, doc: string, step: number, payload: Uint8Array): Uint8Array {
  const encoder = header(dialect, doc, messageSync);
  encoding.writeVarUint(encoder, step);
  encoding.writeVarUint8Array(encoder, payload);
  return encoding.toUint8Array(encoder);
}

/** The messages a client sends right after the socket opens: auth (hocuspocus) and sync step 1. */
export function openingMessages(dialect: Dialect, doc: string, stateVector = emptyStateVector): Uint8Array[] {
  const messages: Uint8Array[] = [];
  if (dialect === 'hocuspocus') {
    const auth = header(dialect, doc, messageAuth);
    encoding.writeVarUint(auth, 0); // auth submessage "token"
    encoding.writeVarString(auth, '');
    messages.push(encoding.toUint8Array(auth));
  }
  messages.push(syncMessage(dialect, doc, syncStep1, stateVector));
  return messages;
}

/** Sync step 2 carrying `update` (the reply to the server's step 1). */
export function syncStep2Message(dialect: Dialect, doc: string, update: Uint8Array = emptyUpdate): Uint8Array {
  return syncMessage(dialect, doc, syncStep2, update);
}

/** An update message carrying one Yjs update. */
export function updateMessage(dialect: Dialect, doc: string, update: Uint8Array): Uint8Array {
  return syncMessage(dialect, doc, syncUpdate, update);
}

/** Reads a varUint at `pos`; returns the value and stores the next position in `cursor[0]`. */
function readVarUint(bytes: Uint8Array, cursor: number[]): number {
  let pos = cursor[0]!;
  let value = 0;
  let shift = 1;
  for (;;) {
    if (pos >= bytes.length) throw new RangeError('truncated varUint in frame');
    const byte = bytes[pos++]!;
    value += (byte & 0x7f) * shift;
    if (byte < 0x80) break;
    shift *= 128;
  }
  cursor[0] = pos;
  return value;
}

const cursor = [0];

/**
 * Classifies an incoming frame. The returned object is reused by the next call: copy what you keep.
 * Frames this harness does not care about (awareness, auth replies, sync status) are `Other`.
 */
export function parseFrame(dialect: Dialect, frame: Uint8Array, out: ParsedFrame): ParsedFrame {
  cursor[0] = 0;
  out.kind = FrameKind.Other;
  if (dialect === 'hocuspocus') {
    const nameLength = readVarUint(frame, cursor);
    cursor[0]! += nameLength;
  }
  const type = readVarUint(frame, cursor);
  if (type !== messageSync && !(dialect === 'hocuspocus' && type === messageSyncReply)) return out;
  const step = readVarUint(frame, cursor);
  if (step !== syncStep1 && step !== syncStep2 && step !== syncUpdate) return out;
  const length = readVarUint(frame, cursor);
  if (cursor[0]! + length > frame.length) throw new RangeError('truncated sync payload in frame');
  out.kind = step === syncStep1 ? FrameKind.SyncStep1 : step === syncStep2 ? FrameKind.SyncStep2 : FrameKind.Update;
  out.payloadStart = cursor[0]!;
  out.payloadEnd = cursor[0]! + length;
  return out;
}

/** A fresh `ParsedFrame` to pass to `parseFrame`. */
export const newParsedFrame = (): ParsedFrame => ({ kind: FrameKind.Other, payloadStart: 0, payloadEnd: 0 });
