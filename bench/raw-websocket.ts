/**
 * A minimal WebSocket client (RFC 6455) over a plain TCP socket: the handshake, binary frames in
 * both directions, ping/pong, close. No extensions, no text messages.
 *
 * Why not `ws`: the load generator runs hundreds of readers on one core and must cost less than the
 * server it measures. Parsing frames straight from the socket's chunks, without a stream per
 * connection or a copy per message, makes a reader's receipt a few function calls.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const acceptGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const opContinuation = 0x0;
const opBinary = 0x2;
const opClose = 0x8;
const opPing = 0x9;

const sharedReadBuffer = Buffer.allocUnsafe(256 * 1024);

export interface RawWebSocketEvents {
  onOpen: () => void;
  /** A binary message; `data` is a view into a network chunk, valid only during the call. */
  onMessage: (data: Buffer) => void;
  onClose: (reason: string) => void;
}

export class RawWebSocket {
  private readonly socket: Socket;
  private buffered: Buffer | null = null;
  private open = false;
  private closed = false;
  private fragments: Buffer[] = [];

  constructor(
    url: string,
    private readonly events: RawWebSocketEvents,
  ) {
    const { hostname, port, pathname, search } = new URL(url);
    const key = randomBytes(16).toString('base64');
    const expectedAccept = createHash('sha1')
      .update(key + acceptGuid)
      .digest('base64');
    this.socket = connect({
      host: hostname,
      port: Number(port),
      noDelay: true,
      // Read into one buffer shared by every socket, bypassing the stream machinery: no allocation
      // and no 'data' event per chunk. Chunks are consumed synchronously; partial frames are copied.
      onread: {
        buffer: sharedReadBuffer,
        callback: (length: number, buffer: Uint8Array): boolean => {
          const chunk = (buffer as Buffer).subarray(0, length);
          if (this.open) this.onFrames(chunk);
          else this.onHandshake(chunk, expectedAccept);
          return true;
        },
      },
    });
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('error', (error) => this.finish(error.message));
    this.socket.on('close', () => this.finish('socket closed'));
  }

  private onHandshake(chunk: Buffer, expectedAccept: string): void {
    const data = this.buffered === null ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) {
      this.buffered = Buffer.from(data);
      return;
    }
    this.buffered = null;
    const head = data.subarray(0, end).toString('latin1');
    const accept = /^sec-websocket-accept:\s*(\S+)/im.exec(head)?.[1];
    if (!head.startsWith('HTTP/1.1 101') || accept !== expectedAccept) {
      this.finish(`handshake refused: ${head.split('\r\n')[0]}`);
      this.socket.destroy();
      return;
    }
    this.open = true;
    this.events.onOpen();
    if (data.length > end + 4) this.onFrames(data.subarray(end + 4));
  }

  private onFrames(chunk: Buffer): void {
    let data = this.buffered === null ? chunk : Buffer.concat([this.buffered, chunk]);
    this.buffered = null;
    let offset = 0;
    while (data.length - offset >= 2) {
      const first = data[offset]!;
      const second = data[offset + 1]!;
      let length = second & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - offset < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - offset < 10) break;
        length = Number(data.readBigUInt64BE(offset + 2));
        header = 10;
      }
      const masked = (second & 0x80) !== 0;
      if (masked) header += 4;
      if (data.length - offset < header + length) break;
      const payload = data.subarray(offset + header, offset + header + length);
      if (masked) {
        const mask = data.subarray(offset + header - 4, offset + header);
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      }
      offset += header + length;
      this.onFrame(first, payload);
      if (this.closed) return;
    }
    if (offset < data.length) {
      // Keep the partial frame; copy it so the rest of the chunk can be collected.
      data = Buffer.from(data.subarray(offset));
      this.buffered = data;
    }
  }

  private onFrame(first: number, payload: Buffer): void {
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    if (opcode === opBinary || opcode === opContinuation) {
      if (fin && this.fragments.length === 0) {
        this.events.onMessage(payload);
        return;
      }
      this.fragments.push(Buffer.from(payload));
      if (fin) {
        const whole = Buffer.concat(this.fragments);
        this.fragments = [];
        this.events.onMessage(whole);
      }
    } else if (opcode === opPing) {
      this.writeFrame(0xa, payload);
    } else if (opcode === opClose) {
      this.writeFrame(opClose, payload.subarray(0, 2));
      this.socket.end();
      this.finish(`closed by server${payload.length >= 2 ? ` (${payload.readUInt16BE(0)})` : ''}`);
    }
    // Text frames and pongs are not part of any dialect measured here: ignored.
  }

  private writeFrame(opcode: number, payload: Uint8Array): void {
    if (this.closed || !this.open) return;
    const length = payload.length;
    const header = length < 126 ? 6 : length < 65536 ? 8 : 14;
    const frame = Buffer.allocUnsafe(header + length);
    frame[0] = 0x80 | opcode;
    if (length < 126) {
      frame[1] = 0x80 | length;
    } else if (length < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    // Clients must mask; the mask only has to be unpredictable to proxies, which there are none of.
    const mask = (Math.random() * 0x100000000) >>> 0;
    frame.writeUInt32BE(mask, header - 4);
    for (let i = 0; i < length; i++) frame[header + i] = payload[i]! ^ frame[header - 4 + (i & 3)]!;
    this.socket.write(frame);
  }

  /** Sends one binary message. */
  send(data: Uint8Array): void {
    this.writeFrame(opBinary, data);
  }

  /** Starts the closing handshake. */
  close(): void {
    if (this.closed) return;
    if (this.open) this.writeFrame(opClose, Buffer.from([0x03, 0xe8]));
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Drops the TCP connection at once. */
  terminate(): void {
    this.socket.destroy();
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.events.onClose(reason);
  }
}
