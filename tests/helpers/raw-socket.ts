/**
 * A WebSocket client written byte by byte over a TCP socket, for tests of the wire layer: its own
 * handshake (with the extensions it offers), frames written as given (masked), and the server's
 * frames read as they come, RSV1 included.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** A frame from the server. */
export interface ServerFrame {
  readonly opcode: number;
  /** RSV1: a permessage-deflate message. */
  readonly compressed: boolean;
  readonly payload: Buffer;
}

/** A masked client frame: `opcode`, FIN unless `fin` is false, RSV1 with `compressed`. */
export function clientFrame(opcode: number, payload: Uint8Array, { fin = true, compressed = false } = {}): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0, 0x80 | length])
      : length < 65_536
        ? Buffer.from([0, 0x80 | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0, 0x80 | 127]), Buffer.from(new BigUint64Array([BigInt(length)]).buffer).reverse()]);
  header[0] = (fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | opcode;
  const mask = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

export class RawWebSocket {
  readonly frames: ServerFrame[] = [];
  /** The server's handshake response (status line and headers). */
  response = '';
  readonly ended: Promise<void>;
  private buffered = Buffer.alloc(0);
  private opened = false;
  private waiters: Array<() => boolean> = [];

  private constructor(readonly socket: Socket) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
  }

  /** Connects to `/ws/<name>` on `port`, offering `extensions` if given, and resolves once upgraded. */
  static async open(port: number, name: string, extensions: string | null = null): Promise<RawWebSocket> {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const client = new RawWebSocket(socket);
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET /ws/${name} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extensions === null ? '' : `Sec-WebSocket-Extensions: ${extensions}\r\n`}\r\n`,
    );
    await client.waitFor(() => client.opened);
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    if (!client.response.includes(`Sec-WebSocket-Accept: ${accept}`)) throw new Error(`not upgraded: ${client.response}`);
    return client;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Writes bytes; resolves once the socket can take more, or has closed. */
  async writeThrough(bytes: Uint8Array): Promise<void> {
    if (this.socket.write(bytes) || this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /** Resolves with the first frame (now or later) that `match` accepts. */
  async next(match: (frame: ServerFrame) => boolean, timeoutMs = 10_000): Promise<ServerFrame> {
    let found: ServerFrame | undefined;
    await this.waitFor(() => (found = this.frames.find(match)) !== undefined, timeoutMs);
    return found!;
  }

  /** The close code the server sent (its close frame), or null if the connection ended without one. */
  async closeCode(timeoutMs = 10_000): Promise<number | null> {
    await Promise.race([this.next((frame) => frame.opcode === 8, timeoutMs).catch(() => undefined), this.ended]);
    const close = this.frames.find((frame) => frame.opcode === 8);
    return close === undefined || close.payload.length < 2 ? null : close.payload.readUInt16BE(0);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once `condition` holds, checked now and after each read. */
  private waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the server')), timeoutMs);
      this.waiters.push(() => {
        if (!condition()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (!this.opened) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.response = this.buffered.subarray(0, end).toString();
      this.buffered = this.buffered.subarray(end + 4);
      this.opened = true;
    }
    for (;;) {
      if (this.buffered.length < 2) break;
      const short = this.buffered[1]! & 0x7f;
      const extra = short === 126 ? 2 : short === 127 ? 8 : 0;
      if (this.buffered.length < 2 + extra) break;
      const length = short === 126 ? this.buffered.readUInt16BE(2) : short === 127 ? Number(this.buffered.readBigUInt64BE(2)) : short;
      if (this.buffered.length < 2 + extra + length) break;
      const first = this.buffered[0]!;
      this.frames.push({ opcode: first & 0x0f, compressed: (first & 0x40) !== 0, payload: Buffer.from(this.buffered.subarray(2 + extra, 2 + extra + length)) });
      this.buffered = this.buffered.subarray(2 + extra + length);
    }
    this.waiters = this.waiters.filter((check) => !check());
  }
}
