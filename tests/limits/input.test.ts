/**
 * What unfinished incoming messages may hold of the server: all connections together at most
 * --max-input-buffer (past it, those holding the most are closed with 1013, and the memory is given
 * back). The deadline for finishing one is in tests/websocket/message-deadline.test.ts.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { scrape } from '../helpers/prometheus.js';
import { clientFrame, RawSocket } from '../helpers/raw-socket.js';
import { startTestServer } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

function residentBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

const MiB = 1024 * 1024;

it('closes the connections holding the most unfinished input past the server-wide budget, and gives the memory back', async () => {
  const server = await startTestServer(cleanup, { args: ['--max-input-buffer', '8MiB', '--max-message-size', '4MiB', '--max-message-rate', '0'] });
  const keeper = connectClient(server.wsUrl, 'held');
  cleanup.push(() => keeper.destroy());
  await keeper.synced;
  keeper.doc.getText('t').insert(0, 'still here');
  const before = residentBytes(server.child.pid!);

  // 64 connections each send the first 4 MiB fragment of a message they never finish: 256 MiB.
  const attackers = await Promise.all(Array.from({ length: 64 }, () => RawSocket.open(server.port, '/ws/held', { recordPongs: false })));
  cleanup.push(() => attackers.forEach((attacker) => attacker.destroy()));
  const fragment = Buffer.alloc(4 * MiB - 16, 7);
  // Each fragment, then a ping: its pong says the fragment was read and the connection kept.
  await Promise.all(
    attackers.map((attacker) => attacker.writeThrough(Buffer.concat([clientFrame(2, fragment, { fin: false }), clientFrame(9, Buffer.from('kept?'))]))),
  );
  const answered = (attacker: RawSocket) => attacker.closeReceived !== null || attacker.pongs > 0;
  await expect.poll(() => attackers.filter(answered).length, { timeout: 30_000 }).toBe(64);
  // Every fragment is read: at most 8 MiB of them are held, the connections holding the rest
  // closed (some after their pong, as others' fragments kept coming).
  const outcomes = attackers.map((attacker) => attacker.closeReceived?.code ?? 'kept');
  expect(outcomes.filter((outcome) => outcome === 1013).length).toBeGreaterThanOrEqual(64 - 2);
  expect(outcomes.every((outcome) => outcome === 1013 || outcome === 'kept')).toBe(true);
  const held = async () => (await scrape(`${server.httpUrl}/metrics`)).value('collab_websocket_input_held_bytes');
  expect(await held()).toBeLessThanOrEqual(8 * MiB);

  for (const attacker of attackers) attacker.destroy();
  // The document and the others are untouched.
  const late = connectClient(server.wsUrl, 'held');
  cleanup.push(() => late.destroy());
  await late.synced;
  await waitForDoc(late.doc, () => late.doc.getText('t').toString() === 'still here', 'the document as it was');
  // What the server held of 256 MiB offered, it has given back: it holds no input, and its resident
  // memory is far below what it was offered (how much the allocator keeps for reuse varies: 20 to 50 MiB).
  await expect.poll(held).toBe(0);
  await expect.poll(() => residentBytes(server.child.pid!) - before, { timeout: 10_000 }).toBeLessThan(96 * MiB);
});
