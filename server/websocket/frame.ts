/**
 * The frames this server sends (RFC 6455, section 5.2): unmasked and final. A broadcast is framed
 * once and written as is to every socket of the room (see `SharedMessage`).
 */

/**
 * A complete, unmasked, final binary frame holding `payload`; with `compressed`, a permessage-deflate
 * message (RSV1 set, see `deflate.ts`).
 */
export function binaryFrame(payload: Uint8Array, compressed = false): Buffer {
  const headerLength = binaryHeaderLength(payload.length);
  const frame = Buffer.allocUnsafe(headerLength + payload.length);
  writeBinaryHeader(frame, payload.length, compressed);
  frame.set(payload, headerLength);
  return frame;
}

/** The header of a binary frame of `length` bytes, to send followed by the payload. */
export function binaryFrameHeader(length: number, compressed = false): Buffer {
  const header = Buffer.allocUnsafe(binaryHeaderLength(length));
  writeBinaryHeader(header, length, compressed);
  return header;
}

function binaryHeaderLength(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

function writeBinaryHeader(frame: Buffer, length: number, compressed: boolean): void {
  frame[0] = compressed ? 0xc2 : 0x82; // FIN, RSV1 if compressed, opcode 2 (binary)
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
}

/** A ping with no payload. */
export const PING_FRAME: Buffer = Buffer.from([0x89, 0x00]);

/** A pong answering a ping, echoing its payload (at most 125 bytes). */
export function pongFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(2 + payload.length);
  frame[0] = 0x8a; // FIN, opcode 10 (pong)
  frame[1] = payload.length;
  frame.set(payload, 2);
  return frame;
}

/**
 * A close frame with `code` and `reason`, cut to the 123 bytes of UTF-8 a close frame can carry;
 * without a code (null), an empty close frame.
 */
export function closeFrame(code: number | null, reason: string): Buffer {
  if (code === null) return Buffer.from([0x88, 0x00]);
  const text = Buffer.from(truncateUtf8(reason, 123));
  const frame = Buffer.allocUnsafe(4 + text.length);
  frame[0] = 0x88; // FIN, opcode 8 (close)
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  frame.set(text, 4);
  return frame;
}

/** `text` cut to at most `maxBytes` bytes of UTF-8, ending in "..." when cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut) > maxBytes - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}
