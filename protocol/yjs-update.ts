/**
 * Yjs updates and state vectors as they arrive from the network: decoded in full, without a
 * document, before anything applies them.
 */
import * as decoding from 'lib0/decoding';
import { errorMessage, ProtocolError } from './errors.js';
import { type ScannedUpdate, UpdateScanner } from './yjs-internals.js';

/** Per client whose structs an update carries: the clock of its first struct (see `validateUpdate`). */
export type UpdateStarts = ReadonlyMap<number, number>;

/**
 * Decodes a Yjs update (v1) in full, structs and delete set, without applying it, and returns where
 * each client's structs start (what `Y.parseUpdateMeta` calls `from`, without decoding it again).
 * Throws `ProtocolError('invalid-update')` if it does not decode, if bytes follow its end, if it
 * lists one client's structs in two places (Yjs writes each client once, and reads only the last),
 * or if a client's deleted ranges overlap or are out of order.
 *
 * The server may store and broadcast the update's bytes as they are, so they must hold nothing
 * that applying it would ignore. `scanner` holds the scan's state: pass one of the caller's own.
 */
export function validateUpdate(update: Uint8Array, scanner: UpdateScanner = new UpdateScanner()): UpdateStarts {
  let scanned: ScannedUpdate;
  try {
    scanned = scanner.scan(update);
  } catch (error) {
    throw new ProtocolError('invalid-update', `update does not decode: ${errorMessage(error)}`);
  }
  // lib0 reads single bytes without a bounds check, so a truncated update can decode past its end
  // instead of throwing, into structs with undefined fields; those fail the checks below too.
  const trailing = update.length - scanned.end;
  if (trailing < 0) throw new ProtocolError('invalid-update', 'update ends inside its own encoding');
  if (trailing > 0) throw new ProtocolError('invalid-update', `${trailing} unexpected bytes after the update`);
  if (scanned.listedTwice !== null) throw new ProtocolError('invalid-update', `update lists the structs of client ${scanned.listedTwice} twice`);
  // Each client's structs are one run (none is listed twice), so its first struct is its start.
  const starts = new Map<number, number>();
  for (const struct of scanned.structs) {
    if (!isClock(struct.id.client) || !isClock(struct.id.clock) || !(struct.length > 0)) {
      throw new ProtocolError('invalid-update', 'update holds a malformed struct');
    }
    if (!starts.has(struct.id.client)) starts.set(struct.id.client, struct.id.clock);
  }
  // Yjs walks every struct a deleted range spans, once per range, even when it is deleted already,
  // so a range repeated many times costs CPU out of all proportion to its bytes. Yjs writes each
  // client's ranges sorted and merged: a range that is not past the one before it is refused.
  for (const [client, ranges] of scanned.ds.clients) {
    let end = 0;
    for (const { clock, len } of ranges) {
      if (clock < end) throw new ProtocolError('invalid-update', `update deletes from client ${client}'s clock ${clock} again, or out of order`);
      end = clock + len;
    }
  }
  return starts;
}

/** Throws `ProtocolError('invalid-state-vector')` unless `stateVector` is exactly one encoded state vector. */
export function validateStateVector(stateVector: Uint8Array): void {
  try {
    const decoder = decoding.createDecoder(stateVector);
    const clients = decoding.readVarUint(decoder);
    for (let i = 0; i < clients; i++) {
      decoding.readVarUint(decoder);
      decoding.readVarUint(decoder);
    }
    if (decoding.hasContent(decoder)) throw new Error('unexpected bytes after the state vector');
  } catch (error) {
    throw new ProtocolError('invalid-state-vector', `state vector does not decode: ${errorMessage(error)}`);
  }
}

function isClock(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
