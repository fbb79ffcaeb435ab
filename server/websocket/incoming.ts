/**
 * What the socket reads, below the level of frames: bytes gathered across reads (a frame that spans
 * chunks, a message sent in fragments), unmasking, and which close codes a client may send.
 */

/** 2 bytes of header, 8 of extended length, 4 of mask: the longest frame header. */
export const MAX_HEADER = 14;

/**
 * The start of a frame that spans reads, copied into a buffer of its own of the `needed` bytes, so
 * it keeps none of the chunks it came from alive and is gathered without copying it again. (A frame
 * is checked against the size limit from its header first, and what is held counts against the
 * server's input budget from the moment it is claimed.)
 */
export class PendingFrame {
  private readonly buffer: Buffer;
  length = 0;

  /** `first` (fewer than `needed` bytes) is copied; `needed` is how many bytes are needed to go on (the frame's, or its header's). */
  constructor(
    first: Buffer,
    readonly needed: number,
  ) {
    this.buffer = Buffer.allocUnsafe(needed);
    this.append(first);
  }

  /** Adds bytes read; at most `needed` in all are kept, the rest returned (they belong to the frames after). */
  append(bytes: Buffer): Buffer {
    const taken = Math.min(bytes.length, this.buffer.length - this.length);
    this.buffer.set(taken === bytes.length ? bytes : bytes.subarray(0, taken), this.length);
    this.length += taken;
    return bytes.subarray(taken);
  }

  /** The bytes so far. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** The memory held for them, in bytes. */
  get capacity(): number {
    return this.buffer.length;
  }
}

/**
 * A message sent in fragments, so far: each fragment copied (a view would keep the whole chunk it
 * was read in alive, many times its own size), joined once the message is whole.
 */
export class FragmentedMessage {
  private readonly parts: Buffer[];
  /** Bytes of the message so far. */
  length: number;

  constructor(
    first: Uint8Array,
    readonly binary: boolean,
    /** permessage-deflate: the message is inflated once whole. */
    readonly compressed: boolean,
  ) {
    this.parts = [Buffer.from(first)];
    this.length = first.length;
  }

  /** Fragments so far. */
  get fragments(): number {
    return this.parts.length;
  }

  add(payload: Uint8Array): void {
    if (payload.length === 0) {
      // An empty fragment holds nothing: counted, not kept.
      this.parts.push(EMPTY);
      return;
    }
    this.parts.push(Buffer.from(payload));
    this.length += payload.length;
  }

  /** The whole message. */
  bytes(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
  }
}

const EMPTY = Buffer.alloc(0);

/** Close codes a client may send (RFC 6455 section 7.4; 1004 to 1006 and 1015 are never sent). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** XORs `payload` in place with the 4-byte mask at `data[maskAt]`. */
export function unmask(payload: Uint8Array, data: Uint8Array, maskAt: number): void {
  const m0 = data[maskAt]!;
  const m1 = data[maskAt + 1]!;
  const m2 = data[maskAt + 2]!;
  const m3 = data[maskAt + 3]!;
  if ((m0 | m1 | m2 | m3) === 0) return;
  const length = payload.length;
  let i = 0;
  for (; i + 3 < length; i += 4) {
    payload[i] ^= m0;
    payload[i + 1] ^= m1;
    payload[i + 2] ^= m2;
    payload[i + 3] ^= m3;
  }
  if (i < length) payload[i] ^= m0;
  if (i + 1 < length) payload[i + 1] ^= m1;
  if (i + 2 < length) payload[i + 2] ^= m2;
}
