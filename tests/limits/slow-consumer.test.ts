/**
 * A client that stops reading cannot make the server buffer without bound: once its unsent data
 * passes `--max-send-buffer` it is cut off, while the clients that keep reading get everything.
 */
import * as encoding from 'lib0/encoding';
import type { Socket } from 'node:net';
import * as Y from 'yjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_PRESENCE_STATE_LENGTH } from '../../protocol/index.js';
import { connectRaw, type RawClient } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;

beforeAll(async () => {
  // Without compression: the padding of these messages would compress to almost nothing, and what
  // a slow reader is sent would never fill its buffer.
  server = await startServer({ args: ['--max-send-buffer', '256KiB', '--max-message-rate', '0', '--max-message-size', '1MiB', '--compression', 'false'] });
});

afterAll(async () => {
  await server.stop();
  await removeDir(server.dataDir);
});

/** An awareness message for client 777 at `clock`, with a state of about `size` bytes. */
function presence(clock: number, size: number): Uint8Array {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 1);
  encoding.writeVarUint(update, 777);
  encoding.writeVarUint(update, clock);
  encoding.writeVarString(update, JSON.stringify({ clock, padding: 'p'.repeat(size) }));
  const frame = encoding.createEncoder();
  encoding.writeVarUint(frame, 1);
  encoding.writeVarUint8Array(frame, encoding.toUint8Array(update));
  return encoding.toUint8Array(frame);
}

/** Calls `onPresence` with the running count of awareness messages for client 777 that `raw` receives. */
function countPresence(raw: RawClient, onPresence: (count: number) => void): void {
  let seen = 0;
  raw.socket.on('message', (data: Buffer) => {
    // [type 1][update length][count 1][client 777 = 0x89 0x06]: cheap to recognise.
    if (data[0] === 1 && data.includes(Buffer.from([1, 0x89, 0x06]))) onPresence(++seen);
  });
}

it('cuts off a reader that stopped reading, and the readers that keep up get every message', async () => {
  const url = `${server.wsUrl}/slow`;
  const [writer, live, stalled] = [connectRaw(url), connectRaw(url), connectRaw(url)];
  await Promise.all([writer.opened, live.opened, stalled.opened]);
  // Open is not joined: the room may still be loading, and a frame the writer sends meanwhile is
  // relayed to the connections in the room when it is handled. Each has joined once the server's
  // sync step 1 arrives.
  await Promise.all([writer, live, stalled].map((client) => client.nextFrame(0)));
  // Stop reading at the TCP level: the kernel buffers fill, then the server's own queue grows.
  (stalled.socket as unknown as { _socket: Socket })._socket.pause();

  // 48 MiB in 16 KiB messages (the longest presence state a client may publish): far more than the
  // kernel buffers between two local sockets. The writer keeps only a few messages ahead of the
  // live reader, which shares this process with it, so that one is never the slow one.
  const messages = 3072;
  const window = 3;
  let sent = 0;
  const sendUpTo = (count: number) => {
    while (sent < Math.min(count, messages)) writer.socket.send(presence(++sent, MAX_PRESENCE_STATE_LENGTH - 32));
  };
  const liveGotAll = new Promise<void>((resolve, reject) => {
    countPresence(live, (count) => {
      sendUpTo(count + window);
      if (count === messages) resolve();
    });
    void live.closed.then(({ code, reason }) => reject(new Error(`the live reader was closed: ${code} ${reason}`)));
    void writer.closed.then(({ code, reason }) => reject(new Error(`the writer was closed: ${code} ${reason}`)));
  });
  sendUpTo(window);
  await liveGotAll;
  await expect.poll(() => server.logs.some((line) => line.includes('closed a connection: too slow')), { timeout: 30_000 }).toBe(true);
  const cut = server.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => String(entry.msg).includes('too slow'))!;
  expect(cut.code).toBe(1013);
  (stalled.socket as unknown as { _socket: Socket })._socket.resume();
  expect((await stalled.closed).code).not.toBe(1000);
  expect(writer.socket.readyState).toBe(writer.socket.OPEN);
  expect(live.socket.readyState).toBe(live.socket.OPEN);
  const health = (await (await fetch(`${server.httpUrl}/healthz`)).json()) as { connections: number };
  expect(health.connections).toBe(2);
  writer.socket.close();
  live.socket.close();
});

it('cuts off a reader that asks for the document again and again without reading it', async () => {
  const url = `${server.wsUrl}/asks-again`;
  // A document of about 200 KiB, most of the 256 KiB send buffer.
  const writer = connectRaw(url);
  await writer.opened;
  await writer.nextFrame(0);
  const doc = new Y.Doc();
  doc.getText('t').insert(0, 'x'.repeat(200 * 1024));
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 0);
  encoding.writeVarUint(update, 2);
  encoding.writeVarUint8Array(update, Y.encodeStateAsUpdate(doc));
  writer.socket.send(encoding.toUint8Array(update));

  const stalled = connectRaw(url);
  await stalled.opened;
  await stalled.nextFrame(0);
  (stalled.socket as unknown as { _socket: Socket })._socket.pause();
  // Each sync step 1 with an empty state vector asks for the whole document: 200 of them are
  // 40 MiB, far more than the kernel buffers. Only the state being sent is exempt from the limit,
  // not a copy queued for every request.
  for (let i = 0; i < 200; i++) stalled.socket.send(Uint8Array.of(0, 0, 1, 0));
  await expect.poll(() => server.logs.some((line) => line.includes('"doc":"asks-again"') && line.includes('too slow')), { timeout: 10_000 }).toBe(true);
  (stalled.socket as unknown as { _socket: Socket })._socket.resume();
  expect((await stalled.closed).code).not.toBe(1000);
  expect(writer.socket.readyState).toBe(writer.socket.OPEN);
  writer.socket.close();
});
