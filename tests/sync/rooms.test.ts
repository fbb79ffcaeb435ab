/**
 * Room lifecycle: a room loads once while many clients arrive, and an idle room is flushed,
 * unloaded and later reloaded with everything in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ args: ['--unload-grace', '200'] });
});

afterAll(async () => {
  await server.stop();
  await removeDir(server.dataDir);
});

async function health(): Promise<{ rooms: number; connections: number }> {
  return (await fetch(`${server.httpUrl}/healthz`)).json() as Promise<{ rooms: number; connections: number }>;
}

describe('rooms', () => {
  it('unloads an idle room after the grace period and reloads it with its content', async () => {
    const writer = connectClient(server.wsUrl, 'idle-room');
    await writer.synced;
    writer.doc.getText('t').insert(0, 'still here after unloading');
    const witness = connectClient(server.wsUrl, 'idle-room');
    await waitForDoc(witness.doc, () => witness.doc.getText('t').length > 0);
    writer.destroy();
    witness.destroy();
    // Unloading is the server's own timer: wait for its effect, visible in /healthz.
    await expect.poll(async () => (await health()).rooms, { timeout: 10_000, interval: 50 }).toBe(0);
    const returning = connectClient(server.wsUrl, 'idle-room');
    await returning.synced;
    expect(returning.doc.getText('t').toString()).toBe('still here after unloading');
    expect((await health()).rooms).toBe(1);
    returning.destroy();
  });

  it('lets every client that arrives while the room loads see the full document', async () => {
    // Build a document with a long history, then let it unload.
    const writer = connectClient(server.wsUrl, 'busy-load');
    await writer.synced;
    const text = writer.doc.getText('t');
    for (let i = 0; i < 3000; i++) text.insert(text.length, `${i % 10}`);
    const expected = text.toString();
    const witness = connectClient(server.wsUrl, 'busy-load');
    await waitForDoc(witness.doc, () => witness.doc.getText('t').length === 3000);
    writer.destroy();
    witness.destroy();
    await expect.poll(async () => (await health()).rooms, { timeout: 10_000, interval: 50 }).toBe(0);

    // Twelve clients at once: the first starts the load, the rest arrive while it runs.
    const clients = Array.from({ length: 12 }, () => connectClient(server.wsUrl, 'busy-load'));
    const textsAtSync = await Promise.all(
      clients.map(async (client) => {
        await client.synced;
        return client.doc.getText('t').toString();
      }),
    );
    for (const seen of textsAtSync) expect(seen).toBe(expected);
    expect((await health()).rooms).toBe(1);
    for (const client of clients) client.destroy();
  });
});
