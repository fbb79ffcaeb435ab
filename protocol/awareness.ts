/**
 * Awareness (presence) updates of y-protocols, decoded strictly: a count, then per client its id,
 * clock and state as JSON.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { errorMessage, ProtocolError } from './errors.js';

/** One client's presence in an awareness update. */
export interface AwarenessEntry {
  readonly clientId: number;
  readonly clock: number;
  /** The parsed state; `null` means the client removed its state. */
  readonly state: Record<string, unknown> | null;
}

/**
 * The longest presence state (its JSON) a client may publish: a name, a colour and a cursor take a
 * few hundred characters, and every joining client receives every state.
 */
export const MAX_PRESENCE_STATE_LENGTH = 16 * 1024;

/**
 * Decodes an awareness update. Each state must parse to an object or `null`, at most
 * `MAX_PRESENCE_STATE_LENGTH` long, without a `__proto__` key. Throws `ProtocolError('invalid-awareness')`.
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
    throw new ProtocolError('invalid-awareness', `awareness update does not decode: ${errorMessage(error)}`);
  }
  return entries;
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
 * JSON.parse makes `__proto__` an own property, harmless here, but a client that merges states
 * into a prototype-bearing object would be polluted; no honest client sends such a key.
 */
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new Error('"__proto__" is not allowed as a key');
  return value;
}
