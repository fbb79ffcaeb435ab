/**
 * A failed write is never hidden, and loses nothing. Real failures under a running server:
 * the store's journal hits a full disk (its descriptor is pointed at /dev/full), so the update is
 * not stored: it is not broadcast, not acknowledged, the client that sent it is told, the store is
 * unavailable until it finds it can write again, and then the client's own copy brings the update
 * back, with no restart. Or LevelDB is closed out from under
 * the store after the update was journaled: it was durable, so it was delivered, and the store
 * fails as a whole, every client is told, and the next start recovers it from the journal. Or the
 * journal fails while storing the update that lets keystrokes waiting for it be integrated: the
 * room fails all the same, and nothing calls any of them saved.
 */
import { ClassicLevel } from 'classic-level';
import * as decoding from 'lib0/decoding';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { createCollabServer, type CollabServer } from '../../server/app.js';
import { DEFAULT_CONFIG } from '../../server/config.js';
import { decodeSaved, encodeUpdate, MESSAGE_ERROR, MESSAGE_SAVED } from '../../protocol/index.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, connectRaw, refusedUpgrade, waitForDoc, type YClient } from '../helpers/clients.js';
import { removeDir, tempDataDir } from '../helpers/server-process.js';
import { redirectJournal } from '../persistence/helpers.js';

const cleanup = cleanupAfterEach();

function capturingLogger(lines: Array<Record<string, unknown>>) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

async function serve(store: LevelDocumentStore, lines: Array<Record<string, unknown>>, port = 0): Promise<[CollabServer, number]> {
  const server = createCollabServer({ ...DEFAULT_CONFIG, port, unloadGraceMs: 60_000 }, store, capturingLogger(lines));
  const address = await server.listen();
  return [server, address.port];
}

describe('a failed write', () => {
  async function setUp(): Promise<{
    dataDir: string;
    db: ClassicLevel<string, Uint8Array>;
    store: LevelDocumentStore;
    server: CollabServer;
    port: number;
    url: string;
    lines: Array<Record<string, unknown>>;
    writer: YClient;
    observer: YClient;
    errors: Array<[string, string]>;
    savedClocks: number[];
    closes: { writer: number[]; observer: number[] };
  }> {
    const dataDir = await tempDataDir();
    cleanup.push(() => removeDir(dataDir));
    const db = new ClassicLevel<string, Uint8Array>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const store = await LevelDocumentStore.fromDatabase(db);
    const lines: Array<Record<string, unknown>> = [];
    const [server, port] = await serve(store, lines);
    const url = `ws://127.0.0.1:${port}/ws`;

    const writer: YClient = connectClient(url, 'fragile', { params: { ack: '1' } });
    const observer: YClient = connectClient(url, 'fragile');
    cleanup.push(
      () => writer.destroy(),
      () => observer.destroy(),
    );
    const errors: Array<[string, string]> = [];
    const savedClocks: number[] = [];
    writer.provider.messageHandlers[MESSAGE_ERROR] = (_e, decoder: decoding.Decoder) => {
      errors.push([decoding.readVarString(decoder), decoding.readVarString(decoder)]);
    };
    writer.provider.messageHandlers[MESSAGE_SAVED] = (_e, decoder: decoding.Decoder) => {
      savedClocks.push(decodeSaved(decoder).stateVector.get(writer.doc.clientID) ?? 0);
    };
    const closes = { writer: [] as number[], observer: [] as number[] };
    writer.provider.on('connection-close', (event: CloseEvent | null) => {
      if (event) closes.writer.push(event.code);
    });
    observer.provider.on('connection-close', (event: CloseEvent | null) => {
      if (event) closes.observer.push(event.code);
    });
    await Promise.all([writer.synced, observer.synced]);
    writer.doc.getText('t').insert(0, 'stored');
    await waitForDoc(observer.doc, () => observer.doc.getText('t').toString() === 'stored');
    return { dataDir, db, store, server, port, url, lines, writer, observer, errors, savedClocks, closes };
  }

  /** Storage is back: a new store and server on the same directory and port; the clients reconnect. */
  async function heal(dataDir: string, port: number, server: CollabServer, store: LevelDocumentStore): Promise<LevelDocumentStore> {
    await server.close();
    await store.close().catch(() => undefined); // it reports the failure again
    const healed = await LevelDocumentStore.open(dataDir);
    const [healedServer] = await serve(healed, [], port);
    cleanup.push(async () => {
      await healedServer.close();
      await healed.close();
    });
    return healed;
  }

  it('that could not be journaled is not broadcast or acknowledged, is reported, and comes back from the client once the store recovers on its own', async () => {
    const { dataDir, store, server, port, url, lines, writer, observer, errors, savedClocks, closes } = await setUp();
    const recovered = new Promise<void>((resolve) => store.onRecovery(resolve));

    // The disk fills up.
    const restore = redirectJournal(dataDir, '/dev/full');
    writer.doc.getText('t').insert(6, ' and then lost?');
    const clockOfUnsaved = Y.getState(writer.doc.store, writer.doc.clientID);
    await expect.poll(() => closes.writer, { timeout: 10_000 }).toContain(1011);

    expect(errors[0]?.[0]).toBe('storage-failed');
    expect(errors[0]?.[1]).toMatch(/could not be saved/);
    expect(savedClocks.every((clock) => clock < clockOfUnsaved)).toBe(true);
    // Broadcast only follows a successful write: the observer never saw the unsaved edit.
    expect(observer.doc.getText('t').toString()).toBe('stored');
    const failures = lines.filter((line) => line.msg === 'room failed; unsaved changes are not acknowledged and clients will resync');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.level).toBe(50);
    expect((failures[0]!.err as { message: string }).message).toMatch(/Could not write/);
    // The store is unavailable, and says so once: the health check tells a load balancer, and new
    // connections are refused until it recovers.
    const storeDown = lines.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('the store is unavailable'));
    expect(storeDown).toHaveLength(1);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: 'degraded',
      error: 'The store is unavailable: the journal could not be written (no space left on device); it retries on its own',
      rooms: expect.any(Number),
      connections: expect.any(Number),
    });
    const [status, body] = await refusedUpgrade(`${url}/fragile`);
    expect(status).toBe(503);
    expect(JSON.parse(body)).toMatchObject({ error: 'storage-unavailable' });

    // The disk has room again: the store finds out by itself, without a restart.
    restore();
    await recovered;
    expect((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).status).toBe('ok');
    await waitForDoc(observer.doc, () => observer.doc.getText('t').toString() === 'stored and then lost?', 'the resent edit', 20_000);
    const newcomer = connectClient(url, 'fragile');
    cleanup.push(() => newcomer.destroy());
    await newcomer.synced;
    expect(newcomer.doc.getText('t').toString()).toBe('stored and then lost?');
    expect(lines.filter((line) => line.msg === 'the store recovered: documents can be opened again')).toHaveLength(1);
    // And it stops as a store that works: every write drained, the journal emptied.
    for (const client of [writer, observer, newcomer]) client.provider.disconnect();
    await server.close();
    await expect(store.close()).resolves.toBeUndefined();
    const reopened = await LevelDocumentStore.open(dataDir);
    cleanup.push(() => reopened.close());
    expect(reopened.recovery.replayed).toBe(0);
    const { state, updates } = await reopened.load('fragile');
    const stored = new Y.Doc();
    for (const update of [...(state ? [state] : []), ...updates]) Y.applyUpdate(stored, update);
    expect(stored.getText('t').toString()).toBe('stored and then lost?');
  });

  it('that LevelDB could not index after it was journaled fails the store, tells every client, and is recovered', async () => {
    const { dataDir, db, store, server, port, url, lines, writer, observer, errors, closes } = await setUp();

    // LevelDB goes away once it has indexed what came before; the journal still takes the
    // update, so it is durable and delivered.
    await store.flush();
    await db.close();
    writer.doc.getText('t').insert(6, ' and kept');
    await waitForDoc(observer.doc, () => observer.doc.getText('t').toString() === 'stored and kept', 'the journaled edit');
    await expect.poll(() => closes.writer, { timeout: 10_000 }).toContain(1011);
    await expect.poll(() => closes.observer, { timeout: 10_000 }).toContain(1011);
    expect(errors[0]?.[0]).toBe('storage-failed');
    const storeFailures = lines.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('the store failed'));
    expect(storeFailures).toHaveLength(1);
    expect(storeFailures[0]!.level).toBe(50);
    // A load balancer or supervisor watching the health check sees it too.
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'failing', error: expect.stringMatching(/^The store failed: .*; restart the server$/) });
    // Not an error that passes (LevelDB was closed): nothing is retried, and connections are refused until a restart.
    expect(await refusedUpgrade(`${url}/fragile`)).toEqual([503, expect.stringContaining('"error":"storage-failed"')]);

    // Restarted without the clients' help, the server has the edit from its journal.
    writer.provider.disconnect();
    observer.provider.disconnect();
    const healed = await heal(dataDir, port, server, store);
    expect(healed.recovery.replayed).toBeGreaterThan(0);
    const newcomer = connectClient(url, 'fragile');
    cleanup.push(() => newcomer.destroy());
    await newcomer.synced;
    expect(newcomer.doc.getText('t').toString()).toBe('stored and kept');
  });

  it('of the update that brings what a waiting part needs is reported like any other, and nothing calls either saved', async () => {
    const { dataDir, url, lines, writer, observer, closes } = await setUp();
    // Two keystrokes whose first character the server has not got: both wait for it, the second
    // behind the first, and are not saved until it comes.
    const offline = new Y.Doc();
    offline.getText('o').insert(0, 'a');
    const first = Y.encodeStateAsUpdate(offline);
    const updates: Uint8Array[] = [];
    offline.on('update', (update: Uint8Array) => updates.push(update));
    offline.getText('o').insert(1, 'b');
    offline.getText('o').insert(2, 'c');
    const raw = connectRaw(`${url}/fragile?ack=1`);
    cleanup.push(() => raw.socket.close());
    await raw.opened;
    for (const update of updates) raw.socket.send(encodeUpdate(update));

    // The first character comes while the journal cannot be written: storing the three fails.
    const restore = redirectJournal(dataDir, '/dev/full');
    const bringer = connectRaw(`${url}/fragile?ack=1`);
    cleanup.push(() => bringer.socket.close());
    await bringer.opened;
    bringer.socket.send(encodeUpdate(first));
    expect((await raw.closed).code).toBe(1011);
    restore();
    for (const client of [raw, bringer]) {
      const error = decoding.createDecoder(await client.nextFrame(MESSAGE_ERROR));
      decoding.readVarUint(error);
      expect(decoding.readVarString(error)).toBe('storage-failed');
      // Never said to be saved; the room failed, and its other clients were told too.
      expect(client.frames.some((frame) => frame[0] === MESSAGE_SAVED)).toBe(false);
    }
    await expect.poll(() => closes.writer, { timeout: 10_000 }).toContain(1011);
    await expect.poll(() => closes.observer, { timeout: 10_000 }).toContain(1011);
    const failures = lines.filter((line) => line.msg === 'room failed; unsaved changes are not acknowledged and clients will resync');
    expect(failures).toHaveLength(1);
    expect((failures[0]!.err as { message: string }).message).toMatch(/Could not write/);
    writer.provider.disconnect();
    observer.provider.disconnect();
  });
});
