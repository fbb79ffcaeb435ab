/**
 * `batchIntervalMs`: under load, appends that arrive in separate ticks gather into few batches;
 * without it, appends that arrive once the batch before is written are each a batch of their own.
 * Order and content are unaffected.
 */
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { applyStoredDocument } from '../../persistence/compaction.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { Editor, makeTempDir } from './helpers.js';

const cleanups = cleanupAfterEach();

/**
 * Appends each update 2 ms after the previous one, as a steady stream of keystrokes across
 * documents would arrive. With `untilWritten`, each also waits until the one before is written to
 * LevelDB (usually sooner than 2 ms, but not on a loaded machine), so without an interval each is
 * a batch of its own.
 */
async function appendSpacedOut(store: LevelDocumentStore, updates: Uint8Array[], untilWritten: boolean): Promise<void> {
  const writes: Promise<unknown>[] = [];
  for (const update of updates) {
    writes.push(store.append('doc', update));
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
    if (untilWritten) await store.flush();
  }
  await Promise.all(writes);
}

async function batchesFor(batchIntervalMs: number, updates: Uint8Array[]): Promise<{ batches: number; text: string }> {
  const { dir, cleanup } = await makeTempDir();
  cleanups.push(cleanup);
  const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  const store = await LevelDocumentStore.fromDatabase(db, { batchIntervalMs });
  // Counted once open: opening a new store writes its format marker.
  let batches = 0;
  db.on('write', () => batches++);
  cleanups.push(() => store.close());
  await appendSpacedOut(store, updates, batchIntervalMs === 0);
  const doc = new Y.Doc();
  applyStoredDocument(doc, await store.load('doc'));
  return { batches, text: doc.getText('text').toString() };
}

describe('batchIntervalMs', () => {
  it('gathers appends spread over time into few batches, keeping every update in order', async () => {
    const updates = new Editor().type('gathered into few batches');
    const spaced = await batchesFor(300, updates);
    // The first append is written at once; the rest wait for the interval, then go together.
    expect(spaced.batches).toBeLessThanOrEqual(2);
    expect(spaced.text).toBe('gathered into few batches');
    const eager = await batchesFor(0, updates);
    expect(eager.batches).toBe(updates.length);
    expect(eager.text).toBe('gathered into few batches');
  });

  it('counts every group that joins a batch into the metadata of its documents', async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const store = await LevelDocumentStore.fromDatabase(db, { batchIntervalMs: 300 });
    let batches = 0;
    db.on('write', () => batches++);
    cleanups.push(() => store.close());
    const first = new Editor().type('first document');
    const second = new Editor().type('second');
    // Interleaved, each append in a turn of its own: a group each, nearly all joining one batch.
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < Math.max(first.length, second.length); i++) {
      if (i < first.length) writes.push(store.append('first', first[i]!));
      if (i < second.length) writes.push(store.append('second', second[i]!));
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(writes);
    await store.flush();
    expect(batches).toBeLessThanOrEqual(2);
    expect(await store.logLength('first')).toBe(first.length);
    expect(await store.logLength('second')).toBe(second.length);
    const bytes = (updates: Uint8Array[]): number => updates.reduce((sum, update) => sum + update.length, 0);
    expect((await store.list()).map(({ name, size }) => [name, size])).toEqual([
      ['first', bytes(first)],
      ['second', bytes(second)],
    ]);
  });

  it('does not make a batch wait out the interval once a fold is queued behind it', async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const [first, second] = new Editor().type('ab');
    const other = new Editor().type('folded');
    // An hour: a load that waited for the interval would time the test out.
    const store = await LevelDocumentStore.open(dir, { batchIntervalMs: 3_600_000 });
    cleanups.push(() => store.close());
    let upTo = 0;
    for (const update of other) upTo = (await store.append('other', update)).position('other');
    await store.append('doc', first!);
    await store.flush();
    // The next batch may start only an hour after that one, unless something queues behind it.
    await store.append('doc', second!);
    const folded = new Y.Doc();
    for (const update of other) Y.applyUpdate(folded, update);
    const compaction = store.compact('other', Y.encodeStateAsUpdate(folded), upTo);
    // Nothing can join the batch now: it is written at once, and the document loads in full.
    const doc = new Y.Doc();
    applyStoredDocument(doc, await store.load('doc'));
    expect(doc.getText('text').toString()).toBe('ab');
    await compaction;
    expect(await store.logLength('other')).toBe(0);
  });

  it('does not hold a closing store for the interval: the waiting batch is written at once', async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const updates = new Editor().type('closed');
    // An hour: closing must not wait it out (the test would time out if it did).
    const store = await LevelDocumentStore.open(dir, { batchIntervalMs: 3_600_000 });
    // The first batch starts at once; the next may start only an hour after it.
    await store.append('doc', updates[0]!);
    await store.flush();
    for (const update of updates.slice(1)) await store.append('doc', update);
    await store.close();

    const reopened = await LevelDocumentStore.open(dir);
    cleanups.push(() => reopened.close());
    // Indexed by LevelDB before the close ended, not left to the journal's replay.
    expect(reopened.recovery.replayed).toBe(0);
    const doc = new Y.Doc();
    applyStoredDocument(doc, await reopened.load('doc'));
    expect(doc.getText('text').toString()).toBe('closed');
  });
});
