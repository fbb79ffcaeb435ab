/**
 * WebSocket framing for broadcasts: one complete frame, built once per room message and written
 * as is to every socket of the room. `ws.send` would frame the same payload again for each
 * socket, with a header allocation, a cork and a two-buffer writev each time; with hundreds of
 * readers on a document that framing was a fifth of the server's work per update.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** A complete, unmasked, final binary frame (RFC 6455, section 5.2) holding `payload`. */
export function binaryFrame(payload: Uint8Array): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x82; // FIN, opcode 2 (binary)
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
  frame.set(payload, headerLength);
  return frame;
}

/**
 * The TCP socket under a server-side `ws` WebSocket. Frames written to it directly keep their
 * order with the library's own (pings, close), since both append to the same stream; this
 * server never sends what `ws` would queue instead (compressed or Blob messages).
 */
export function underlyingSocket(socket: WebSocket): Socket {
  const raw = (socket as unknown as { _socket?: Socket })._socket;
  if (!raw) throw new TypeError('the WebSocket has no underlying socket (not a server-side ws socket?)');
  return raw;
}
