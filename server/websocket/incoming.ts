/**
 * What the socket reads, below the level of frames: bytes gathered across reads (a frame that spans
 * chunks, a message sent in fragments), unmasking, and which close codes a client may send.
 */

/** 2 bytes of header, 8 of extended length, 4 of mask: the longest frame header. */
export const MAX_HEADER = 14;

/**
 * Bytes gathered from several reads, copied into a buffer of their own that grows by doubling (up
 * to `limit`), so gathering them in many small pieces costs linear time and keeps none of the
 * chunks they came from alive.
 */
class GatheredBytes {
  private buffer: Buffer;
  length = 0;

  /** `first` is copied; `limit` is the most bytes that will be gathered. */
  constructor(
    first: Uint8Array,
    private readonly limit: number,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(first.length, Math.min(MAX_HEADER, limit)));
    this.append(first);
  }

  append(bytes: Uint8Array): void {
    const length = this.length + bytes.length;
    if (this.buffer.length < length) {
      const grown = Buffer.allocUnsafe(Math.max(length, Math.min(this.buffer.length * 2, this.limit)));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.buffer.set(bytes, this.length);
    this.length = length;
  }

  /** The bytes so far. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/** The start of a frame that spans chunks, and how many bytes of it are needed to go on. */
export class PendingFrame extends GatheredBytes {
  constructor(
    first: Uint8Array,
    readonly needed: number,
    limit: number,
  ) {
    super(first, limit);
  }
}

/**
 * A message sent in fragments, so far. Each fragment is copied: a view would keep the whole chunk
 * it was read in alive, many times the fragment's own size.
 */
export class FragmentedMessage extends GatheredBytes {
  fragments = 1;

  constructor(
    first: Uint8Array,
    readonly binary: boolean,
    limit: number,
  ) {
    super(first, limit);
  }

  add(payload: Uint8Array): void {
    this.append(payload);
    this.fragments++;
  }
}

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
