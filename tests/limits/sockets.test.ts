/**
 * Sockets from anonymous clients cannot take what others need: the process holds at most as many
 * sockets as its descriptor limit allows once the store's share is kept, refusing more as they
 * arrive, so idle connections never starve the store; and one address holds at most its share.
 * (Deadlines for silent sockets: tests/websocket/handshake-deadline.test.ts.)
 */
import { connect, type Socket } from 'node:net';
import * as decoding from 'lib0/decoding';
import { expect, it } from 'vitest';
import { MESSAGE_SAVED } from '../../protocol/index.js';
import { describeWithCommand } from '../helpers/binaries.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { startTestServer } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

/** Opens a TCP connection from `address` (any 127.x.y.z is this host) that sends nothing; resolves once connected or refused. */
function idleSocket(port: number, address: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: address });
    socket.on('error', () => undefined);
    // Read (and drop) what the server sends, so that its end is seen.
    socket.resume();
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

/** Resolves once `socket` is closed by the other side (or already is). */
function closedByServer(socket: Socket): Promise<void> {
  if (socket.destroyed || socket.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
}

describeWithCommand('prlimit', 'sockets and descriptors', () => {
  it('keeps storing and acknowledging a writer while idle sockets try to fill the descriptors, and is healthy after', async () => {
    // 400 descriptors: a share is kept for the store, the rest is the socket cap.
    const server = await startTestServer(cleanup, { launcher: ['prlimit', '--nofile=400:400'], args: ['--handshake-timeout', '60000'] });
    const started = server.logs.map((line) => JSON.parse(line) as { msg?: string; maxSockets?: number }).find((line) => line.maxSockets !== undefined);
    expect(started?.msg).toMatch(/file descriptors: soft limit 400, hard limit 400; at most \d+ sockets/);
    const cap = started!.maxSockets!;
    expect(cap).toBeLessThan(400);

    const writer = connectClient(server.wsUrl, 'busy', { params: { ack: '1' } });
    cleanup.push(() => writer.destroy());
    let saved = 0;
    writer.provider.messageHandlers[MESSAGE_SAVED] = (_encoder, decoder: decoding.Decoder) => {
      saved = decoding.readVarUint(decoder);
    };
    await writer.synced;
    const type = async (text: string): Promise<void> => {
      const before = saved;
      writer.doc.getText('t').insert(writer.doc.getText('t').length, text);
      await waitForDoc(writer.doc, () => true);
      await expect.poll(() => saved, { timeout: 10_000 }).toBeGreaterThan(before);
    };
    await type('before ');

    // 600 silent sockets from 150 addresses: more than the process may hold.
    const attack: Socket[] = [];
    cleanup.push(() => attack.forEach((socket) => socket.destroy()));
    for (let i = 0; i < 600; i++) attack.push(await idleSocket(server.port, `127.0.2.${1 + Math.floor(i / 4)}`));
    // The ones past the cap are refused as the server accepts them (the writer's socket is one of
    // those it holds); the others stay open, sending nothing.
    const refused = () => attack.filter((socket) => socket.destroyed || socket.readableEnded).length;
    await expect.poll(refused, { timeout: 10_000 }).toBeGreaterThanOrEqual(600 - cap);

    // The writer goes on, every keystroke stored and acknowledged, and pastes enough (6 MB) that the
    // store must open new files: LevelDB's next log and table, the journal's next file.
    for (const word of ['during ', 'the ', 'attack ']) await type(word);
    for (let i = 0; i < 60; i++) await type(`${i}`.padEnd(100_000, '.'));

    for (const socket of attack) socket.destroy();
    await expect.poll(async () => (await fetch(`${server.httpUrl}/healthz`)).status, { timeout: 10_000 }).toBe(200);
    const health = (await (await fetch(`${server.httpUrl}/healthz`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    await type('after');
    expect(server.logs.some((line) => line.includes('Too many open files'))).toBe(false);
    writer.destroy();
    expect(await server.stop()).toBe(0);
  });
});

it('holds one address to its share of sockets, refusing one more as it arrives', async () => {
  // 2 WebSockets per address, and 64 more sockets of any kind.
  const server = await startTestServer(cleanup, { args: ['--max-connections-per-address', '2'] });
  const held: Socket[] = [];
  cleanup.push(() => held.forEach((socket) => socket.destroy()));
  for (let i = 0; i < 66; i++) held.push(await idleSocket(server.port, '127.0.0.9'));
  expect(held.filter((socket) => socket.destroyed)).toHaveLength(0);
  const extra = await idleSocket(server.port, '127.0.0.9');
  held.push(extra);
  await closedByServer(extra);
  // Another address is not affected.
  const other = connectClient(server.wsUrl, 'elsewhere');
  cleanup.push(() => other.destroy());
  await other.synced;
});
