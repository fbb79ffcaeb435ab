/**
 * The WebSocket opening handshake (RFC 6455, section 4.2), server side: which upgrade requests
 * are handshakes this server completes, and its answer. No subprotocol is negotiated (the
 * y-websocket protocol needs none); the one extension is permessage-deflate (`deflate.ts`).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors.js';

/** RFC 6455, section 1.3. */
const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** 16 bytes in base64 (24 characters). */
const KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * The `Sec-WebSocket-Key` of a WebSocket handshake. Throws `HttpError` for an upgrade request that
 * is not one this server can complete: 400 when it is not a WebSocket handshake, 426 for a
 * protocol version other than 13 (the refusal then says which version to use).
 */
export function handshakeKey(request: IncomingMessage): string {
  if (request.method !== 'GET') throw new HttpError(400, 'bad-handshake', 'a WebSocket handshake is a GET request');
  if (request.headers.upgrade?.toLowerCase() !== 'websocket') {
    throw new HttpError(400, 'bad-handshake', 'this server upgrades only to WebSocket (Upgrade: websocket)');
  }
  const version = request.headers['sec-websocket-version'];
  if (version !== '13') {
    throw new HttpError(426, 'unsupported-websocket-version', 'this server speaks WebSocket version 13 (Sec-WebSocket-Version: 13)');
  }
  const key = request.headers['sec-websocket-key'];
  if (key === undefined || !KEY.test(key)) {
    throw new HttpError(400, 'bad-handshake', 'Sec-WebSocket-Key must be 16 bytes in base64');
  }
  return key;
}

/** The response that completes the handshake whose key is `key`, agreeing to `extensions` (a `Sec-WebSocket-Extensions` value) if given. */
export function handshakeResponse(key: string, extensions: string | null = null): string {
  const accept = createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');
  const agreed = extensions === null ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${agreed}\r\n`;
}
