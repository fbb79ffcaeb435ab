/**
 * permessage-deflate (RFC 7692), as this server speaks it: offered by the client, accepted without
 * context takeover either way, so each message is compressed and inflated on its own and a socket
 * keeps no compression state between messages (bounded memory, and one compressed frame serves
 * every socket). Only messages from `COMPRESS_FROM` bytes are compressed (first syncs, large
 * pastes); a keystroke goes as it is. An incoming message is inflated with its size checked
 * against the message size limit while inflating, so a small message cannot expand into a large
 * one (a decompression bomb).
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';

/** Messages from this size (bytes) on are compressed; smaller ones gain too little for the work. */
export const COMPRESS_FROM = 1024;

/** What was agreed with one client. */
export interface DeflateParams {
  /** The window the server compresses with (8 is not used: zlib's raw deflate does not support it). */
  readonly windowBits: number;
  /** The `Sec-WebSocket-Extensions` answer that agrees to it. */
  readonly response: string;
}

/** The agreement when the client sets no window for the server: every such socket shares it. */
const STANDARD: DeflateParams = {
  windowBits: 15,
  response: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
};

/** The tail a compressed message's sender removes, and its receiver adds back (RFC 7692, 7.2.1). */
const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * The first permessage-deflate offer in a `Sec-WebSocket-Extensions` header this server can accept,
 * or null (none offered, or none acceptable: the connection then goes without compression).
 */
export function negotiateDeflate(header: string | undefined): DeflateParams | null {
  if (header === undefined) return null;
  for (const offer of splitOffers(header)) {
    const params = acceptOffer(offer);
    if (params !== null) return params;
  }
  return null;
}

/** The offers of a header: extension name and parameters, each `name` or `name=value` (a quoted value unquoted). */
function splitOffers(header: string): Array<{ name: string; params: Map<string, string | true> }> {
  const offers: Array<{ name: string; params: Map<string, string | true> }> = [];
  for (const part of header.split(',')) {
    const [name, ...rest] = part.split(';').map((piece) => piece.trim());
    if (!name) continue;
    const params = new Map<string, string | true>();
    let valid = true;
    for (const piece of rest) {
      const eq = piece.indexOf('=');
      const key = (eq < 0 ? piece : piece.slice(0, eq)).trim().toLowerCase();
      const value =
        eq < 0
          ? true
          : piece
              .slice(eq + 1)
              .trim()
              .replace(/^"(.*)"$/, '$1');
      if (key === '' || params.has(key)) valid = false;
      params.set(key, value);
    }
    if (valid) offers.push({ name: name.toLowerCase(), params });
  }
  return offers;
}

function acceptOffer({ name, params }: { name: string; params: Map<string, string | true> }): DeflateParams | null {
  if (name !== 'permessage-deflate') return null;
  let windowBits = 15;
  for (const [key, value] of params) {
    switch (key) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return null;
        break;
      case 'client_max_window_bits':
        // We inflate with the largest window, which reads whatever window the client uses.
        if (value !== true && windowBitsOf(value) === null) return null;
        break;
      case 'server_max_window_bits': {
        const bits = value === true ? null : windowBitsOf(value);
        if (bits === null || bits < 9) return null;
        windowBits = bits;
        break;
      }
      default:
        return null;
    }
  }
  if (windowBits === 15) return STANDARD;
  return { windowBits, response: `${STANDARD.response}; server_max_window_bits=${windowBits}` };
}

function windowBitsOf(value: string): number | null {
  return /^(8|9|1[0-5])$/.test(value) ? Number(value) : null;
}

/** `payload` compressed as a permessage-deflate message (its frame then has RSV1 set). */
export function compressMessage(payload: Uint8Array, params: DeflateParams): Buffer {
  const compressed = deflateRawSync(payload, { windowBits: params.windowBits, finishFlush: constants.Z_SYNC_FLUSH });
  // Z_SYNC_FLUSH ends with the empty stored block the receiver adds back.
  return compressed.subarray(0, compressed.length - SYNC_TAIL.length);
}

/** A compressed message could not be inflated: its data is corrupt (1007), or it inflates past the limit (1009). */
export class InflateError extends Error {
  constructor(
    readonly tooBig: boolean,
    message: string,
  ) {
    super(message);
    this.name = 'InflateError';
  }
}

/** Inflates a compressed message, refusing one that would inflate past `maxBytes` (without producing more than that). */
export function inflateMessage(compressed: Uint8Array, maxBytes: number): Buffer {
  const input = Buffer.concat([compressed, SYNC_TAIL]);
  try {
    return inflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: maxBytes });
  } catch (error) {
    if (error instanceof RangeError || (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InflateError(true, `message too big: the limit is ${maxBytes} bytes`);
    }
    throw new InflateError(false, 'the compressed message does not inflate');
  }
}
