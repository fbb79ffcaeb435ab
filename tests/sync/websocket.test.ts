/**
 * The WebSocket layer itself (RFC 6455), spoken byte by byte over a raw TCP socket: handshakes the
 * server cannot complete are refused with a reason, frames that break the protocol close only
 * their own connection with a reason, and what a conforming client may do (fragments, frames split
 * across packets, pings between fragments, the closing handshake) works.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, refusedUpgrade, type YClient } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;
let bystander: YClient;

beforeAll(async () => {
  // No frame rate limit: one test sends thousands of pongs to pad its reads, and every frame counts.
  server = await startServer({ args: ['--max-message-size', '64KiB', '--max-message-rate', '0'] });
  bystander = connectClient(server.wsUrl, 'frames');
  await bystander.synced;
});

afterAll(async () => {
  bystander.destroy();
  await server.stop();
  await removeDir(server.dataDir);
});

/** A frame from the server. */
interface ServerFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** A raw client: its own handshake, frames written as given, frames read as they come. */
class RawSocket {
  readonly frames: ServerFrame[] = [];
  readonly ended: Promise<void>;
  /** The server's handshake response (status line and headers). */
  handshake = '';
  private readonly socket: Socket;
  private buffered = Buffer.alloc(0);
  private opened = false;
  private waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
  }

  static async open(name: string): Promise<RawSocket> {
    const socket = connect(server.port, '127.0.0.1');
    socket.setNoDelay(true);
    const raw = new RawSocket(socket);
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET /ws/${name} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await raw.waitFor(() => raw.opened);
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    expect(raw.handshake).toContain(`Sec-WebSocket-Accept: ${accept}`);
    return raw;
  }

  /** Writes bytes as they are. */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Writes bytes as they are; resolves once the socket can take more. */
  async writeThrough(bytes: Uint8Array): Promise<void> {
    if (!this.socket.write(bytes)) await new Promise((resolve) => this.socket.once('drain', resolve));
  }

  /** Writes `bytes` a few at a time, each write in its own packet as far as the network allows. */
  async trickle(bytes: Uint8Array, step = 3): Promise<void> {
    for (let i = 0; i < bytes.length; i += step) {
      this.socket.write(bytes.subarray(i, i + step));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** Resolves with the first frame (now or later) that `match` accepts. */
  async next(match: (frame: ServerFrame) => boolean): Promise<ServerFrame> {
    let found: ServerFrame | undefined;
    await this.waitFor(() => (found = this.frames.find(match)) !== undefined);
    return found!;
  }

  /** The close frame the server sent: its code and reason. */
  async closed(): Promise<{ code: number; reason: string }> {
    const close = await this.next((frame) => frame.opcode === 0x8);
    return { code: close.payload.readUInt16BE(0), reason: close.payload.subarray(2).toString('utf8') };
  }

  destroy(): void {
    this.socket.destroy();
  }

  private waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the server')), timeoutMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (!this.opened) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.handshake = this.buffered.subarray(0, end).toString('latin1');
      this.buffered = this.buffered.subarray(end + 4);
      this.opened = true;
    }
    for (;;) {
      if (this.buffered.length < 2) break;
      let length = this.buffered[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffered.length < 4) break;
        length = this.buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffered.length < 10) break;
        length = Number(this.buffered.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffered.length < offset + length) break;
      this.frames.push({ opcode: this.buffered[0]! & 0x0f, payload: this.buffered.subarray(offset, offset + length) });
      this.buffered = this.buffered.subarray(offset + length);
    }
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** A client frame: masked unless told otherwise, with any first byte and declared length. */
function clientFrame(opcode: number, payload: Uint8Array, options: { fin?: boolean; rsv?: number; masked?: boolean; declaredLength?: number } = {}): Buffer {
  const { fin = true, rsv = 0, masked = true } = options;
  const length = options.declaredLength ?? payload.length;
  const header: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) header.push(maskBit | length);
  else if (length < 65_536) header.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    header.push(maskBit | 127, ...big);
  }
  if (!masked) return Buffer.concat([Buffer.from(header), payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from(header), mask, body]);
}

/** A process's resident memory, in bytes (Linux). */
function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Sync step 1 with an empty state vector: "send me the whole document". */
const SYNC_STEP_1 = Uint8Array.of(0, 0, 1, 0);
const isSyncStep2 = (frame: ServerFrame) => frame.opcode === 0x2 && frame.payload[0] === 0 && frame.payload[1] === 1;

describe('the WebSocket handshake', () => {
  it('refuses a handshake it cannot complete, with the reason', async () => {
    const [status, body] = await refusedUpgrade(`${server.wsUrl}/frames`, { 'Sec-WebSocket-Version': '8' });
    expect(status).toBe(426);
    expect(JSON.parse(body)).toEqual({
      error: 'unsupported-websocket-version',
      message: 'this server speaks WebSocket version 13 (Sec-WebSocket-Version: 13)',
    });
    const [badKey, badKeyBody] = await refusedUpgrade(`${server.wsUrl}/frames`, { 'Sec-WebSocket-Key': 'not a key' });
    expect(badKey).toBe(400);
    expect(JSON.parse(badKeyBody)).toEqual({ error: 'bad-handshake', message: 'Sec-WebSocket-Key must be 16 bytes in base64' });
    const [otherProtocol, otherBody] = await refusedUpgrade(`${server.wsUrl}/frames`, { Upgrade: 'h2c' });
    expect(otherProtocol).toBe(400);
    expect(JSON.parse(otherBody)).toMatchObject({ error: 'bad-handshake' });
  });
});

describe('WebSocket frames', () => {
  const broken: Array<[string, Buffer, number, RegExp]> = [
    ['an unmasked frame', clientFrame(0x2, SYNC_STEP_1, { masked: false }), 1002, /must be masked/],
    ['a frame with a reserved bit set', clientFrame(0x2, SYNC_STEP_1, { rsv: 0b100 }), 1002, /reserved bits/],
    ['an unknown opcode', clientFrame(0x3, SYNC_STEP_1), 1002, /unknown opcode 3/],
    ['a fragmented ping', clientFrame(0x9, new Uint8Array(0), { fin: false }), 1002, /control frames must not be fragmented/],
    ['a ping of 126 bytes', clientFrame(0x9, new Uint8Array(126)), 1002, /at most 125 bytes/],
    ['a continuation with nothing to continue', clientFrame(0x0, SYNC_STEP_1), 1002, /continuation/],
    ['a close frame with an invalid code', clientFrame(0x8, Uint8Array.of(0x03, 0xe7)), 1002, /invalid close code 999/],
    ['a close frame whose reason is not UTF-8', clientFrame(0x8, Uint8Array.of(0x03, 0xe8, 0xff, 0xfe)), 1007, /not valid UTF-8/],
  ];
  for (const [what, bytes, code, reason] of broken) {
    it(`closes a connection that sends ${what}, with ${code} and the reason`, async () => {
      const raw = await RawSocket.open('frames');
      raw.write(bytes);
      const closed = await raw.closed();
      expect(closed.code).toBe(code);
      expect(closed.reason).toMatch(reason);
      await raw.ended;
      expect(bystander.provider.wsconnected).toBe(true);
    });
  }

  it('refuses a message over the size limit as soon as its header arrives', async () => {
    const raw = await RawSocket.open('frames');
    // Only the header: the server must not wait for (or buffer) 100 KiB before refusing.
    raw.write(clientFrame(0x2, new Uint8Array(0), { declaredLength: 100 * 1024 }));
    expect(await raw.closed()).toEqual({ code: 1009, reason: 'message too big: the limit is 65536 bytes' });
    await raw.ended;
  });

  it('refuses a fragmented message whose fragments together pass the size limit', async () => {
    const raw = await RawSocket.open('frames');
    raw.write(clientFrame(0x2, new Uint8Array(40 * 1024), { fin: false }));
    raw.write(clientFrame(0x0, new Uint8Array(40 * 1024), { fin: true }));
    expect((await raw.closed()).code).toBe(1009);
  });

  it('takes a message in fragments split across packets, answers a ping between them, and syncs', async () => {
    const raw = await RawSocket.open('frames');
    const message = Buffer.concat([
      clientFrame(0x2, SYNC_STEP_1.subarray(0, 1), { fin: false }),
      clientFrame(0x9, Buffer.from('are you there')),
      clientFrame(0x0, SYNC_STEP_1.subarray(1, 3), { fin: false }),
      clientFrame(0x0, SYNC_STEP_1.subarray(3), { fin: true }),
    ]);
    await raw.trickle(message);
    const pong = await raw.next((frame) => frame.opcode === 0xa);
    expect(pong.payload.toString()).toBe('are you there');
    await raw.next(isSyncStep2);
    raw.destroy();
  });

  it("holds no more than a fragmented message's own bytes while it arrives, however the reads that carry it are padded", async () => {
    const raw = await RawSocket.open('frames');
    // Each empty fragment in one write with 63 KiB of pongs (ignored by the server): a fragment
    // kept as a view into what was read with it would keep all of that alive.
    const padding = Buffer.concat(Array.from({ length: 480 }, () => clientFrame(0xa, new Uint8Array(125))));
    const fragments = 6000;
    const before = residentBytes(server.child.pid!);
    raw.write(clientFrame(0x2, SYNC_STEP_1.subarray(0, 1), { fin: false }));
    for (let i = 0; i < fragments; i++) await raw.writeThrough(Buffer.concat([clientFrame(0x0, new Uint8Array(0), { fin: false }), padding]));
    // Read up to here once the ping is answered.
    raw.write(clientFrame(0x9, Buffer.from('read up to here')));
    await raw.next((frame) => frame.opcode === 0xa && frame.payload.toString() === 'read up to here');
    const grown = residentBytes(server.child.pid!) - before;
    // 6,000 reads of 63 KiB each would be 370 MiB; copied, the fragments are a few bytes, and
    // what grows is the garbage of those reads before it is collected.
    expect(grown).toBeLessThan(100 * 1024 * 1024);
    raw.write(clientFrame(0x0, SYNC_STEP_1.subarray(1), { fin: true }));
    await raw.next(isSyncStep2);
    expect(bystander.provider.wsconnected).toBe(true);
    raw.destroy();
  });

  it('completes a closing handshake the client starts, echoing its code', async () => {
    const raw = await RawSocket.open('frames');
    raw.write(clientFrame(0x2, SYNC_STEP_1));
    await raw.next(isSyncStep2);
    raw.write(clientFrame(0x8, Buffer.concat([Uint8Array.of(0x03, 0xe8), Buffer.from('bye')])));
    expect(await raw.closed()).toEqual({ code: 1000, reason: '' });
    // The server ends the TCP connection itself once both close frames are out.
    await raw.ended;
  });
});
