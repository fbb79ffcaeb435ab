/**
 * The messages of the Redis bus, as bytes: a version, a kind, the publishing instance, then the
 * kind's fields, every integer a lib0 varUint and every byte string length-prefixed.
 *
 * ```
 * version 1 (u8) | kind (u8) | origin (string)
 *   updates   1: head (varUint) | count (varUint) | count x update (bytes, a Yjs update v1)
 *   presence  2: connection (varUint) | flags (u8: 1 identity follows, 2 read-write) | [identity (string)]
 *                | address (string) | awareness update (bytes)
 *   want      3: (nothing: asks the other holders for their presence)
 *   heartbeat 4: (nothing: on the instances' channel, the origin is alive)
 * ```
 *
 * Every byte heard is untrusted: `decodeBusMessage` reads each field within bounds, refuses bytes
 * after the last field, decodes every Yjs update and awareness update in full, and throws
 * `BusMessageError` for anything else; it never returns a message that applying could choke on.
 * A message of another version is refused the same way (instances of different versions on one
 * bus drop each other's messages, and catch up from the store).
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { decodeAwarenessUpdate } from '../../protocol/awareness.js';
import { errorMessage } from '../../protocol/errors.js';
import { validateUpdate } from '../../protocol/yjs-update.js';
import type { PresenceOwner } from '../sync/bus.js';

/** The format this code writes and reads. */
export const BUS_FORMAT_VERSION = 1;

/** Longest instance id, connection address or identity carried, in UTF-16 units. */
export const MAX_BUS_STRING = 1024;

const KIND = { updates: 1, presence: 2, want: 3, heartbeat: 4 } as const;
const IDENTITY = 1;
const READ_WRITE = 2;

export type BusMessage =
  | { readonly kind: 'updates'; readonly origin: string; readonly head: number; readonly updates: readonly Uint8Array[] }
  | { readonly kind: 'presence'; readonly origin: string; readonly owner: PresenceOwner; readonly update: Uint8Array }
  | { readonly kind: 'want'; readonly origin: string }
  | { readonly kind: 'heartbeat'; readonly origin: string };

/** A message heard on the bus that is not one (see the top of this file). */
export class BusMessageError extends Error {
  override readonly name = 'BusMessageError';
}

export function encodeBusMessage(message: BusMessage): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeUint8(encoder, BUS_FORMAT_VERSION);
  encoding.writeUint8(encoder, KIND[message.kind]);
  encoding.writeVarString(encoder, message.origin);
  switch (message.kind) {
    case 'updates':
      encoding.writeVarUint(encoder, message.head);
      encoding.writeVarUint(encoder, message.updates.length);
      for (const update of message.updates) encoding.writeVarUint8Array(encoder, update);
      break;
    case 'presence': {
      const { connection, identity, mode, address } = message.owner;
      encoding.writeVarUint(encoder, connection);
      encoding.writeUint8(encoder, (identity === null ? 0 : IDENTITY) | (mode === 'rw' ? READ_WRITE : 0));
      if (identity !== null) encoding.writeVarString(encoder, identity);
      encoding.writeVarString(encoder, address);
      encoding.writeVarUint8Array(encoder, message.update);
      break;
    }
    case 'want':
    case 'heartbeat':
      break;
  }
  return encoding.toUint8Array(encoder);
}

/** Decodes a message heard on the bus; throws `BusMessageError` for anything but a whole, valid one. */
export function decodeBusMessage(bytes: Uint8Array): BusMessage {
  try {
    const decoder = decoding.createDecoder(bytes);
    const version = byte(decoder);
    if (version !== BUS_FORMAT_VERSION) throw new BusMessageError(`format version ${version}; this instance reads ${BUS_FORMAT_VERSION}`);
    const kind = byte(decoder);
    const origin = text(decoder);
    if (origin.length === 0) throw new BusMessageError('an empty origin');
    let message: BusMessage;
    switch (kind) {
      case KIND.updates:
        message = { kind: 'updates', origin, ...updates(decoder) };
        break;
      case KIND.presence:
        message = { kind: 'presence', origin, ...presence(decoder, origin) };
        break;
      case KIND.want:
        message = { kind: 'want', origin };
        break;
      case KIND.heartbeat:
        message = { kind: 'heartbeat', origin };
        break;
      default:
        throw new BusMessageError(`unknown kind ${kind}`);
    }
    if (decoding.hasContent(decoder)) throw new BusMessageError(`${bytes.length - decoder.pos} unexpected bytes after the message`);
    return message;
  } catch (error) {
    if (error instanceof BusMessageError) throw error;
    throw new BusMessageError(`does not decode: ${errorMessage(error)}`);
  }
}

function updates(decoder: decoding.Decoder): { head: number; updates: Uint8Array[] } {
  const head = decoding.readVarUint(decoder);
  const count = decoding.readVarUint(decoder);
  // Each update takes at least one byte: a count past what is left is a lie, not an allocation to make.
  if (count > decoder.arr.length - decoder.pos) throw new BusMessageError(`${count} updates announced in fewer bytes`);
  if (count > head) throw new BusMessageError(`${count} updates cannot end at position ${head}`);
  const list: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    // A copy: the message's buffer is the client library's, and the room may keep an update.
    const update = decoding.readVarUint8Array(decoder).slice();
    try {
      validateUpdate(update);
    } catch (error) {
      throw new BusMessageError(`update ${i + 1} of ${count}: ${errorMessage(error)}`);
    }
    list.push(update);
  }
  return { head, updates: list };
}

function presence(decoder: decoding.Decoder, instance: string): { owner: PresenceOwner; update: Uint8Array } {
  const connection = decoding.readVarUint(decoder);
  const flags = byte(decoder);
  if ((flags & ~(IDENTITY | READ_WRITE)) !== 0) throw new BusMessageError(`unknown presence flags ${flags}`);
  const identity = (flags & IDENTITY) === 0 ? null : text(decoder);
  const address = text(decoder);
  const update = decoding.readVarUint8Array(decoder).slice();
  try {
    decodeAwarenessUpdate(update);
  } catch (error) {
    throw new BusMessageError(`presence: ${errorMessage(error)}`);
  }
  return { owner: { instance, connection, identity, mode: (flags & READ_WRITE) === 0 ? 'ro' : 'rw', address }, update };
}

/** One byte, within bounds (lib0's `readUint8` reads past the end as undefined). */
function byte(decoder: decoding.Decoder): number {
  if (decoder.pos >= decoder.arr.length) throw new BusMessageError('ends early');
  return decoding.readUint8(decoder);
}

function text(decoder: decoding.Decoder): string {
  const value = decoding.readVarString(decoder);
  if (value.length > MAX_BUS_STRING) throw new BusMessageError(`a string of ${value.length} characters, more than ${MAX_BUS_STRING}`);
  return value;
}
