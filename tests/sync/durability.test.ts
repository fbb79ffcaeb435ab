/**
 * The durability guarantees, against a real server process and real LevelDB:
 * restart keeps content, kill -9 loses nothing another client saw, SIGTERM drains every write,
 * and clients that ask for it learn when their updates are stored.
 */
import type * as decoding from 'lib0/decoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { decodeSaved, MESSAGE_SAVED } from '../../protocol/index.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, seededRandom, testSeed, waitForDoc } from '../helpers/clients.js';
import { removeDir, startServer, tempDataDir, type ServerProcess } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

const track = cleanup.track;

async function serverOn(dataDir: string, port?: number): Promise<ServerProcess> {
  // The bursts here (50,000 updates at once) are far past the default message rate on purpose:
  // they test draining, not the rate limit (tests/limits covers that).
  const server = await startServer({ dataDir, port, args: ['--max-message-rate', '0'] });
  cleanup.push(() => server.kill());
  return server;
}

/** Reads a document through a fresh client: what a newcomer would see. */
async function readFresh(server: ServerProcess, name: string): Promise<Y.Doc> {
  const reader = track(connectClient(server.wsUrl, name));
  await reader.synced;
  return reader.doc;
}

describe('durability', () => {
  it('keeps content across a graceful restart', async () => {
    const dataDir = await tempDataDir();
    cleanup.push(() => removeDir(dataDir));
    const first = await serverOn(dataDir);
    const writer = track(connectClient(first.wsUrl, 'kept', { params: { ack: '1' } }));
    await writer.synced;
    writer.doc.getText('t').insert(0, 'survives a restart');
    writer.doc.getMap('m').set('k', 'v');
    const witness = track(connectClient(first.wsUrl, 'kept'));
    await waitForDoc(witness.doc, () => witness.doc.getMap('m').get('k') === 'v');
    writer.provider.disconnect();
    expect(await first.stop('SIGTERM')).toBe(0);

    const second = await serverOn(dataDir);
    const doc = await readFresh(second, 'kept');
    expect(doc.getText('t').toString()).toBe('survives a restart');
    expect(doc.getMap('m').get('k')).toBe('v');
  });

  it('loses nothing another client saw when killed with SIGKILL at random moments', async () => {
    const seed = testSeed('kill -9');
    const random = seededRandom(seed);
    const dataDir = await tempDataDir();
    cleanup.push(() => removeDir(dataDir));
    let next = 0;
    for (let trial = 0; trial < 5; trial++) {
      const server = await serverOn(dataDir);
      const writer = connectClient(server.wsUrl, 'crash');
      const observer = connectClient(server.wsUrl, 'crash');
      await Promise.all([writer.synced, observer.synced]);
      const seen = new Set<number>();
      const killAfter = 20 + Math.floor(random() * 400);
      // Steady typing: one update per timer tick until the server dies.
      const typing = setInterval(() => {
        for (let i = 0; i < 3; i++) writer.doc.getArray<number>('typed').push([next++]);
      }, 1);
      await new Promise<void>((resolve) => {
        observer.doc.getArray<number>('typed').observe((event) => {
          for (const delta of event.changes.delta) for (const value of (delta.insert as number[] | undefined) ?? []) seen.add(value);
          if (seen.size >= killAfter) resolve();
        });
      });
      await server.kill();
      clearInterval(typing);
      const observed = [...seen];
      writer.destroy();
      observer.destroy();

      const restarted = await serverOn(dataDir);
      const restored = new Set((await readFresh(restarted, 'crash')).getArray<number>('typed').toArray());
      const lost = observed.filter((value) => !restored.has(value));
      expect(lost, `trial ${trial} (seed ${seed}): ${lost.length} of ${observed.length} observed edits lost`).toEqual([]);
      await restarted.kill();
    }
  });

  it('drains every write on SIGTERM during a burst of 50,000 updates, then exits 0', async () => {
    const dataDir = await tempDataDir();
    cleanup.push(() => removeDir(dataDir));
    const server = await serverOn(dataDir);
    const writer = track(connectClient(server.wsUrl, 'burst'));
    const observer = connectClient(server.wsUrl, 'burst');
    await Promise.all([writer.synced, observer.synced]);
    const total = 50_000;
    let observed = 0;
    const stopAt = 5_000;
    const midway = new Promise<void>((resolve) => {
      observer.doc.getArray('burst').observe(() => {
        observed = observer.doc.getArray('burst').length;
        if (observed >= stopAt) resolve();
      });
    });
    for (let i = 0; i < total; i++) writer.doc.getArray<number>('burst').push([i]);
    await midway;
    const exitCode = await server.stop('SIGTERM');
    expect(exitCode).toBe(0);
    observed = observer.doc.getArray('burst').length;
    observer.destroy();

    // Everything the observer saw was stored before the process exited...
    const restarted = await serverOn(dataDir, server.port);
    const fresh = track(connectClient(restarted.wsUrl, 'burst'));
    await fresh.synced;
    expect(fresh.doc.getArray('burst').length).toBeGreaterThanOrEqual(observed);
    // ...and the writer, reconnecting on its own, brings the rest: nothing is lost.
    await waitForDoc(fresh.doc, () => fresh.doc.getArray('burst').length === total, 'all 50,000 updates', 60_000);
    expect(fresh.doc.getArray<number>('burst').toArray()).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('acknowledges stored updates to a client that asks, with a state vector covering them', async () => {
    const dataDir = await tempDataDir();
    cleanup.push(() => removeDir(dataDir));
    const server = await serverOn(dataDir);
    const writer = track(connectClient(server.wsUrl, 'acked', { params: { ack: '1' } }));
    let needed = Number.POSITIVE_INFINITY;
    let counted = 0;
    const saved = new Promise<void>((resolve) => {
      writer.provider.messageHandlers[MESSAGE_SAVED] = (_encoder, decoder: decoding.Decoder) => {
        const save = decodeSaved(decoder);
        counted = save.count;
        if ((save.stateVector.get(writer.doc.clientID) ?? 0) >= needed) resolve();
      };
    });
    await writer.synced;
    writer.doc.getText('t').insert(0, 'acknowledged');
    needed = Y.getState(writer.doc.store, writer.doc.clientID);
    await saved;
    expect(counted).toBeGreaterThanOrEqual(1);
    // An ack means stored: it survives an immediate kill -9.
    await server.kill();
    const restarted = await serverOn(dataDir);
    expect((await readFresh(restarted, 'acked')).getText('t').toString()).toBe('acknowledged');
  });

  it('does not send acknowledgements to clients that did not ask', async () => {
    const server = await serverOn(await tempDataDir());
    cleanup.push(() => removeDir(server.dataDir));
    const plain = track(connectClient(server.wsUrl, 'no-acks'));
    const unknown: number[] = [];
    plain.provider.messageHandlers[MESSAGE_SAVED] = () => unknown.push(MESSAGE_SAVED);
    await plain.synced;
    plain.doc.getText('t').insert(0, 'x');
    const other = track(connectClient(server.wsUrl, 'no-acks'));
    await waitForDoc(other.doc, () => other.doc.getText('t').toString() === 'x');
    // The round trip through the other client proves the update was stored and broadcast.
    other.doc.getText('t').insert(1, 'y');
    await waitForDoc(plain.doc, () => plain.doc.getText('t').toString() === 'xy');
    expect(unknown).toEqual([]);
  });
});
