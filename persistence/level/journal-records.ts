/**
 * The records of the store's journal (`journal.ts`), as pure functions over bytes. A record: body
 * length (u32 LE), CRC-32 of the body (u32 LE), body: varuint sequence number, varstring document
 * name, then the update's bytes. Reading stops at the first record that is incomplete or fails its
 * checksum: the tail of a write cut short by a crash.
 */
import { crc32 } from 'node:zlib';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** One append as the journal holds it. */
export interface JournalRecord {
  readonly seq: number;
  readonly name: string;
  readonly update: Uint8Array;
}

const HEADER_BYTES = 8;

/** The records as the journal writes them, one after the other (the inverse of `readRecords`). */
export function encodeRecords(records: readonly JournalRecord[]): Uint8Array {
  const encoder = encoding.createEncoder();
  for (const { seq, name, update } of records) {
    const body = encoding.createEncoder();
    encoding.writeVarUint(body, seq);
    encoding.writeVarString(body, name);
    encoding.writeUint8Array(body, update);
    const bytes = encoding.toUint8Array(body);
    encoding.writeUint32(encoder, bytes.length);
    encoding.writeUint32(encoder, crc32(bytes));
    encoding.writeUint8Array(encoder, bytes);
  }
  return encoding.toUint8Array(encoder);
}

/** The complete, intact records at the start of `bytes` (it stops at the first that is not), and the bytes they span. */
export function readRecords(bytes: Uint8Array): { records: JournalRecord[]; length: number } {
  const records: JournalRecord[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    const length = view.getUint32(offset, true);
    const checksum = view.getUint32(offset + 4, true);
    const start = offset + HEADER_BYTES;
    if (length === 0 || start + length > bytes.length) break;
    const body = bytes.subarray(start, start + length);
    if (crc32(body) !== checksum) break;
    try {
      const decoder = decoding.createDecoder(body);
      const seq = decoding.readVarUint(decoder);
      const name = decoding.readVarString(decoder);
      records.push({ seq, name, update: new Uint8Array(body.subarray(decoder.pos)) });
    } catch {
      break; // a body that passed its checksum but does not decode: written by something else
    }
    offset = start + length;
  }
  return { records, length: offset };
}
