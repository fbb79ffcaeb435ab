/**
 * Room lifecycle: a room loads once while many clients arrive, and an idle room is flushed,
 * unloaded and later reloaded with everything in it.
 */
import { setTimeout as delay } from 'node:timers/promises';
import * as decoding from 'lib0/decoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { connectClient, connectRaw, waitForDoc } from '../helpers/clients.js';
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

  it('answers a client that holds nothing with a large stored document, even when its first message comes after the read', async () => {
    // Over 64 KiB stored (from that size the server waits for first messages), then unloaded.
    const writer = connectClient(server.wsUrl, 'late-speaker');
    await writer.synced;
    const text = writer.doc.getText('t');
    for (let i = 0; i < 80; i++) text.insert(text.length, `${i % 10}`.repeat(1024));
    const witness = connectClient(server.wsUrl, 'late-speaker');
    await waitForDoc(witness.doc, () => witness.doc.getText('t').length === 80 * 1024);
    writer.destroy();
    witness.destroy();
    await expect.poll(async () => (await health()).rooms, { timeout: 10_000, interval: 50 }).toBe(0);

    // The first message a round trip after the handshake, as across a network: by then the server
    // has read the document. It must not wait for the document to be applied: it gets the stored
    // bytes (updates, then sync step 2) before the server's own sync step 1, sent once applied.
    const raw = connectRaw(`${server.wsUrl}/late-speaker`);
    await raw.opened;
    await delay(20);
    raw.socket.send(Uint8Array.of(0, 0, 1, 0));
    const doc = new Y.Doc();
    const kinds: number[] = [];
    while (!kinds.includes(0) || !kinds.includes(1)) {
      const decoder = decoding.createDecoder(await raw.nextFrame(0));
      decoding.readVarUint(decoder);
      const kind = decoding.readVarUint(decoder);
      kinds.push(kind);
      if (kind !== 0) Y.applyUpdate(doc, decoding.readVarUint8Array(decoder));
    }
    expect(kinds.indexOf(1)).toBeLessThan(kinds.indexOf(0));
    expect(doc.getText('t').length).toBe(80 * 1024);
    raw.socket.close();
  });
});
