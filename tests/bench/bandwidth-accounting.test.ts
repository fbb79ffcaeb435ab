/**
 * The benchmark's byte counts (the bandwidth scenario) count what is on the wire, no more and no
 * less. Against a tiny WebSocket server written here, whose every byte the test knows (the upgrade
 * answer, each frame, a permessage-deflate message compressed by hand), a first sync must count
 * exactly what the server wrote and read, server pings and their pongs left out, and a client that
 * offers deflate must offer it as browsers do and really inflate. Against the relay floor, which
 * frames each update once and forwards it, keystrokes must cost exactly their frames.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { constants, deflateRawSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import * as Y from 'yjs';

import { describeWithTrace, TRACE_DIR } from '../persistence/helpers.js';
import { built, DIST_BENCH } from './built.js';

type Bandwidth = typeof import('../../bench/loadgen/bandwidth.js');
type Writers = typeof import('../../bench/loadgen/writers.js');
type Wire = typeof import('../../bench/wire.js');

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const AGREED = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';

/** A server-to-client frame (unmasked, FIN set), compressed (RSV1) or not. */
function frame(opcode: number, payload: Uint8Array, compressed = false): Buffer {
  const length = payload.length;
  const head = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | (compressed ? 0x40 : 0) | opcode;
  if (length < 126) head[1] = length;
  else if (length < 65536) {
    head[1] = 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([head, payload]);
}

/** A message compressed as RFC 7692 says: raw DEFLATE, sync-flushed, its 00 00 ff ff tail removed. */
function deflateMessage(message: Uint8Array): Buffer {
  const compressed = deflateRawSync(message, { finishFlush: constants.Z_SYNC_FLUSH });
  return compressed.subarray(0, compressed.length - 4);
}

interface Exchange {
  /** The client's upgrade request head, as received. */
  request: string;
  /** Bytes the server wrote, without its ping frame. */
  written: number;
  /** Bytes the client sent before its close frame: the request, and its frames but the pong. */
  read: number;
  pongs: number;
}

/**
 * A WebSocket server that knows its traffic to the byte: it answers the handshake (agreeing to
 * permessage-deflate when offered, if `deflate`), sends sync step 1, a ping, and sync step 2
 * carrying `state` (compressed when agreed), and counts what the client sends until its close frame.
 */
async function tinyServer(state: Uint8Array, deflate: boolean, wire: Wire): Promise<{ server: Server; port: number; exchanges: Exchange[] }> {
  const exchanges: Exchange[] = [];
  const server = createServer((socket: Socket) => {
    let head = Buffer.alloc(0);
    let frames: Buffer | null = null;
    let exchange: Exchange | null = null;
    socket.on('data', (chunk: Buffer) => {
      if (exchange === null) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const request = head.subarray(0, end + 4).toString('latin1');
        exchange = { request, written: 0, read: end + 4, pongs: 0 };
        exchanges.push(exchange);
        frames = head.subarray(end + 4);
        const key = /^sec-websocket-key:\s*(\S+)/im.exec(request)![1]!;
        const accept = createHash('sha1')
          .update(key + ACCEPT_GUID)
          .digest('base64');
        const agreed = deflate && /^sec-websocket-extensions:.*permessage-deflate/im.test(request);
        const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${
          agreed ? `Sec-WebSocket-Extensions: ${AGREED}\r\n` : ''
        }\r\n`;
        const step2 = wire.syncStep2Message('y-websocket', 'doc', state);
        const out = [
          Buffer.from(response, 'latin1'),
          frame(0x2, Uint8Array.of(0, 0, 1, 0)), // sync step 1: an empty state vector
          frame(0x2, agreed ? deflateMessage(step2) : step2, agreed),
        ];
        exchange.written = out.reduce((sum, part) => sum + part.length, 0);
        socket.write(out[0]!);
        socket.write(out[1]!);
        socket.write(frame(0x9, Buffer.from('are you there'))); // not counted: a control frame of the server's
        socket.write(out[2]!);
      } else {
        frames = Buffer.concat([frames!, chunk]);
      }
      // The client's frames (masked): counted up to its close frame.
      for (;;) {
        const data: Buffer = frames!;
        if (data.length < 2) return;
        let length = data[1]! & 0x7f;
        let size = 2;
        if (length === 126) {
          if (data.length < 4) return;
          length = data.readUInt16BE(2);
          size = 4;
        } else if (length === 127) {
          if (data.length < 10) return;
          length = Number(data.readBigUInt64BE(2));
          size = 10;
        }
        size += 4 + length;
        if (data.length < size) return;
        const opcode = data[0]! & 0x0f;
        frames = data.subarray(size);
        if (opcode === 0x8) {
          socket.end();
          return;
        }
        if (opcode === 0xa) exchange.pongs++;
        else exchange.read += size;
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0, exchanges };
}

async function startRelay(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [resolve(DIST_BENCH, 'peers/relay-floor.js'), '--host', '127.0.0.1', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for await (const line of createInterface({ input: child.stdout! })) {
    const entry = JSON.parse(line) as { msg: string; port: number };
    if (entry.msg === 'listening') return { child, port: entry.port };
  }
  throw new Error('the relay closed its output before listening');
}

describeWithTrace('the benchmark counts bytes on the wire', () => {
  let bandwidth: Bandwidth;
  let writers: Writers;
  let wire: Wire;
  let stop: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    process.env.BENCH_DATA_DIR ??= TRACE_DIR;
    bandwidth = await built<Bandwidth>('loadgen/bandwidth.js');
    writers = await built<Writers>('loadgen/writers.js');
    wire = await built<Wire>('wire.js');
  });

  afterEach(async () => {
    await stop?.();
    stop = null;
  });

  afterAll(async () => {
    await stop?.();
  });

  /** The first 3,000 keystrokes of the trace, as a state to sync, and the text it holds. */
  function document(): { state: Uint8Array; text: string } {
    const replay = writers.replayFor(777, 3000);
    const doc = new Y.Doc();
    for (const update of replay.updates.slice(0, 3000)) Y.applyUpdate(doc, update);
    return { state: Y.encodeStateAsUpdate(doc), text: doc.getText('text').toString() };
  }

  for (const deflate of [false, true]) {
    it(`counts a first sync exactly${deflate ? ', inflating what the server compressed' : ''}`, async () => {
      const { state, text } = document();
      const tiny = await tinyServer(state, deflate, wire);
      stop = async () => {
        tiny.server.close();
        await once(tiny.server, 'close');
      };
      const endpoint = { urlTemplate: `ws://127.0.0.1:${tiny.port}/{doc}`, dialect: 'y-websocket' as const };
      for (const offered of [false, true]) {
        const { bytes } = await bandwidth.measureFirstSync(endpoint, 'doc', text, offered, { timeoutMs: 10_000, quietMs: 100 });
        const exchange = tiny.exchanges.at(-1)!;
        const agreed = deflate && offered;
        expect(bytes).toMatchObject({ complete: true, deflateOffered: offered, extensions: agreed ? AGREED : '', pings: 1 });
        // What the server wrote but its ping; what the client sent but its pong and its close frame.
        expect(exchange.pongs).toBe(1);
        expect(bytes.received).toBe(exchange.written);
        expect(bytes.sent).toBe(exchange.read);
        // Offered as browsers offer it, and only when asked to.
        const offer = /^sec-websocket-extensions:\s*(.*)$/im.exec(exchange.request)?.[1]?.trim();
        expect(offer).toBe(offered ? 'permessage-deflate; client_max_window_bits' : undefined);
        // The messages as the client read them: the whole state, inflated where it was compressed.
        expect(bytes.messages).toBe(2);
        expect(bytes.messageBytes).toBe(4 + wire.syncStep2Message('y-websocket', 'doc', state).length);
        if (agreed) expect(bytes.received).toBeLessThan(state.length);
        else expect(bytes.received).toBeGreaterThan(state.length);
      }
    });
  }

  it('counts each keystroke as its frames, to the writer and to every reader', async () => {
    const relay = await startRelay();
    stop = async () => {
      const exited = once(relay.child, 'exit');
      relay.child.kill();
      await exited;
    };
    const keystrokes = 60;
    const readers = 2;
    // The floor forwards each update message as it came: a reader gets it in a server frame (no
    // mask), the writer sends it in a client frame (a 4-byte mask).
    const replay = writers.replayFor(4242, keystrokes);
    let serverFrames = 0;
    for (const update of replay.updates.slice(0, keystrokes)) {
      const length = wire.updateMessage('y-websocket', 'typing', update).length;
      serverFrames += (length < 126 ? 2 : 4) + length;
    }
    const clientFrames = serverFrames + 4 * keystrokes;
    for (const deflateOffered of [false, true]) {
      const result = await bandwidth.keystrokeBytes({
        dialect: 'y-websocket',
        urlTemplate: `ws://127.0.0.1:${relay.port}/{doc}`,
        serverPid: relay.child.pid!,
        serverCore: 0,
        doc: `typing-${deflateOffered ? 2 : 1}`,
        clientId: 4242,
        keystrokes,
        readers,
        deflateOffered,
        timeoutMs: 5000,
        quietMs: 100,
      });
      expect(result).toMatchObject({ keystrokes, sent: keystrokes, delivered: keystrokes });
      // The floor speaks no extension: offering deflate changes nothing.
      expect(result.writer).toEqual({ received: 0, sent: clientFrames, messages: 0, pings: 0, extensions: '' });
      expect(result.readers).toHaveLength(readers);
      for (const reader of result.readers) expect(reader).toEqual({ received: serverFrames, sent: 0, messages: keystrokes, pings: 0, extensions: '' });
    }
  });
});
