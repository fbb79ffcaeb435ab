/**
 * A WebSocket client made of a bare TCP socket, for tests of the wire layer: it writes its own
 * upgrade request and hand-built frames (masked or not, any bits, any declared length, split
 * anywhere), and reads the server's frames as they come, checking that each is one a server may
 * send (unmasked, no reserved bit but RSV1 once permessage-deflate is agreed, nothing after its
 * close frame).
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** A frame the server sent. */
export interface ServerFrame {
  readonly fin: boolean;
  readonly opcode: number;
  /** RSV1: a permessage-deflate message (its payload as sent, compressed). */
  readonly compressed: boolean;
  readonly payload: Buffer;
}

/** The server's close frame: its code (null for an empty close frame) and reason. */
export interface CloseFrame {
  readonly code: number | null;
  readonly reason: string;
}

export interface FrameOptions {
  /** FIN; true by default. */
  readonly fin?: boolean;
  /** RSV1, RSV2, RSV3 as a 3-bit number (4 is RSV1); 0 by default. */
  readonly rsv?: number;
  /** Masked, as a client must; true by default. */
  readonly masked?: boolean;
  /** The payload length the header declares, when it is not the payload's own (a header sent alone). */
  readonly declaredLength?: number | bigint;
}

/**
 * A client frame holding `payload`. The length is encoded in the fewest bytes, except that a
 * `declaredLength` of 2^63 or more (its most significant bit set) is written as is in 64 bits.
 */
export function clientFrame(opcode: number, payload: Uint8Array = new Uint8Array(0), options: FrameOptions = {}): Buffer {
  const { fin = true, rsv = 0, masked = true } = options;
  const length = BigInt(options.declaredLength ?? payload.length);
  const maskBit = masked ? 0x80 : 0;
  const header: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  if (length < 126n) header.push(maskBit | Number(length));
  else if (length < 65_536n) header.push(maskBit | 126, Number(length >> 8n), Number(length & 0xffn));
  else {
    const extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(length);
    header.push(maskBit | 127, ...extended);
  }
  if (!masked) return Buffer.concat([Buffer.from(header), payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from(header), mask, body]);
}

/** `message` as a binary message in fragments of at most `size` bytes (at least one fragment). */
export function fragments(message: Uint8Array, size: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < message.length || frames.length === 0; at += size) {
    const end = Math.min(message.length, at + size);
    frames.push(clientFrame(frames.length === 0 ? OPCODE.binary : OPCODE.continuation, message.subarray(at, end), { fin: end === message.length }));
  }
  return frames;
}

/** A close frame's payload: `code` (two bytes) and `reason` as given, bytes or UTF-8. */
export function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const code16 = Buffer.alloc(2);
  code16.writeUInt16BE(code);
  return Buffer.concat([code16, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

export interface OpenOptions {
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Keep the server's pongs in `frames`; false for a client that floods pings (they are counted only). */
  readonly recordPongs?: boolean;
}

/** A raw client (see the top of this file). */
export class RawSocket {
  /** The server's frames, in order, that no `take` consumed. */
  readonly frames: ServerFrame[] = [];
  /** Pongs received, recorded or not. */
  pongs = 0;
  /** The server's handshake response (status line and headers). */
  handshake = '';
  /** Resolves once the TCP connection is closed, by either side. */
  readonly ended: Promise<void>;
  /** What the server sent that a server must not: masked frames, reserved bits, frames after its close frame. */
  readonly violations: string[] = [];
  private closeFrame: CloseFrame | null = null;
  private isEnded = false;
  private buffered: Buffer = Buffer.alloc(0);
  private opened = false;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly socket: Socket,
    private readonly recordPongs: boolean,
  ) {
    this.ended = new Promise((resolve) =>
      socket.once('close', () => {
        this.isEnded = true;
        this.wake();
        resolve();
      }),
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
  }

  /** Opens a TCP connection to `port` and upgrades it at `path` (`/ws/<name>`); resolves once the server answered 101. */
  static async open(port: number, path: string, options: OpenOptions = {}): Promise<RawSocket> {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const raw = new RawSocket(socket, options.recordPongs ?? true);
    const key = randomBytes(16).toString('base64');
    const extra = Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra.join('')}\r\n`,
    );
    await raw.waitFor(() => raw.opened, 5000, 'the handshake answer');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    if (!raw.handshake.startsWith('HTTP/1.1 101') || !raw.handshake.includes(`Sec-WebSocket-Accept: ${accept}`)) {
      raw.destroy();
      throw new Error(`the upgrade was not accepted:\n${raw.handshake}`);
    }
    return raw;
  }

  /** True once the TCP connection closed. */
  get isClosed(): boolean {
    return this.isEnded;
  }

  /** Writes bytes as they are. */
  write(...bytes: Uint8Array[]): void {
    if (!this.isEnded) this.socket.write(bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes));
  }

  /** Writes bytes; resolves once the socket can take more (or is closed). */
  async writeThrough(bytes: Uint8Array): Promise<void> {
    if (this.isEnded || this.socket.write(bytes)) return;
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

  /**
   * Writes `bytes` `step` at a time, each write handed to the operating system before the next
   * (no delay, so the network keeps most of them apart; the server must take any split).
   */
  async trickle(bytes: Uint8Array, step = 1): Promise<void> {
    for (let at = 0; at < bytes.length && !this.isEnded; at += step) {
      await new Promise((resolve) => this.socket.write(bytes.subarray(at, at + step), resolve));
      await nextTurn();
    }
  }

  /** Resolves with the first frame, now or later, that `match` accepts, and removes it from `frames`. */
  async take(match: (frame: ServerFrame) => boolean, what = 'a frame', timeoutMs = 5000): Promise<ServerFrame> {
    let index = -1;
    await this.waitFor(() => (index = this.frames.findIndex(match)) >= 0, timeoutMs, what);
    return this.frames.splice(index, 1)[0]!;
  }

  /** Resolves with the server's close frame, once it arrived. */
  async closed(timeoutMs = 5000): Promise<CloseFrame> {
    await this.waitFor(() => this.closeFrame !== null, timeoutMs, 'a close frame from the server');
    return this.closeFrame!;
  }

  /** The close frame, if one arrived by now. */
  get closeReceived(): CloseFrame | null {
    return this.closeFrame;
  }

  /** Resolves once the TCP connection closed; rejects after `timeoutMs`. */
  async endedWithin(timeoutMs: number): Promise<void> {
    await this.waitFor(() => this.isEnded, timeoutMs, 'the server to end the TCP connection');
  }

  destroy(): void {
    this.socket.destroy();
  }

  private waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        reject(new Error(`waited ${timeoutMs} ms for ${what}${this.closeFrame ? ` (the server closed with ${this.closeFrame.code})` : ''}`));
      }, timeoutMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (!this.opened) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.handshake = this.buffered.subarray(0, end).toString('latin1');
      this.buffered = this.buffered.subarray(end + 4);
      this.opened = true;
    }
    let offset = 0;
    for (;;) {
      const available = this.buffered.length - offset;
      if (available < 2) break;
      const first = this.buffered[offset]!;
      const second = this.buffered[offset + 1]!;
      let length = second & 0x7f;
      let headerLength = 2;
      if (length === 126) {
        if (available < 4) break;
        length = this.buffered.readUInt16BE(offset + 2);
        headerLength = 4;
      } else if (length === 127) {
        if (available < 10) break;
        length = Number(this.buffered.readBigUInt64BE(offset + 2));
        headerLength = 10;
      }
      if ((second & 0x80) !== 0) this.violations.push('a masked frame');
      if (available < headerLength + length) break;
      const frame = {
        fin: (first & 0x80) !== 0,
        opcode: first & 0x0f,
        compressed: (first & 0x40) !== 0,
        payload: this.buffered.subarray(offset + headerLength, offset + headerLength + length),
      };
      offset += headerLength + length;
      this.onFrame(frame, first);
    }
    this.buffered = this.buffered.subarray(offset);
    this.wake();
  }

  private onFrame(frame: ServerFrame, first: number): void {
    const allowed = /^Sec-WebSocket-Extensions: permessage-deflate/im.test(this.handshake) && frame.opcode === OPCODE.binary ? 0x40 : 0;
    if ((first & 0x70 & ~allowed) !== 0) this.violations.push(`reserved bits ${(first & 0x70) >> 4} on a frame of opcode ${frame.opcode}`);
    if (this.closeFrame !== null) this.violations.push(`a frame of opcode ${frame.opcode} after the close frame`);
    if (frame.opcode === OPCODE.close) {
      const { payload } = frame;
      this.closeFrame = payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') } : { code: null, reason: '' };
      return;
    }
    if (frame.opcode === OPCODE.pong) {
      this.pongs++;
      if (!this.recordPongs) return;
    }
    this.frames.push(frame);
  }
}
