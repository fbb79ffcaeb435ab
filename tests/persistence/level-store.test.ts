/**
 * LevelDocumentStore on a real LevelDB in a temporary directory, with real Yjs updates.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { StoreUnavailableError, StoreWriteError, type Written } from '../../persistence/document-store.js';
import { LOOP_SAMPLE_MS } from '../../persistence/group-commit.js';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import type { LevelDatabase } from '../../persistence/level/store.js';
import { appendAll, Editor, HeldLevel, journalBytes, makeTempDir, nextTurn, redirectJournal, spin, textOf } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const stores: LevelDocumentStore[] = [];
const helds: HeldLevel[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});

afterEach(async () => {
  for (const db of helds.splice(0)) db.release(); // a failed test must not leave a write held
  await Promise.allSettled(stores.splice(0).map((store) => store.close()));
  await cleanup();
});

async function open(options?: { fsync?: boolean }): Promise<LevelDocumentStore> {
  const store = await LevelDocumentStore.open(dir, options);
  stores.push(store);
  return store;
}

/** A store on a HeldLevel, and every batch it writes (observed through abstract-level's 'write' event). */
async function openHeld(options?: { fsync?: boolean }): Promise<{ store: LevelDocumentStore; db: HeldLevel; batches: { key: string }[][] }> {
  const db = new HeldLevel(dir);
  helds.push(db);
  // A subclass is a ClassicLevel, but classic-level's `typeof this` typings do not say so.
  const store = await LevelDocumentStore.fromDatabase(db as unknown as LevelDatabase, options);
  stores.push(store);
  // From here on: opening a new store writes its format marker (see `level-format.ts`).
  const batches: { key: string }[][] = [];
  db.on('write', (ops: { key: string }[]) => batches.push(ops));
  return { store, db, batches };
}

async function reopen(store: LevelDocumentStore): Promise<LevelDocumentStore> {
  await store.close();
  return open();
}

describe('LevelDocumentStore', () => {
  it('keeps appended updates, in order, through close and reopen', async () => {
    let store = await open();
    const editor = new Editor();
    const updates = editor.type('hello, world');
    await Promise.all(updates.map((update) => store.append('doc', update)));

    store = await reopen(store);
    const stored = await store.load('doc');
    expect(stored.state).toBeNull();
    expect(stored.updates).toEqual(updates);
    expect(textOf(stored.state, stored.updates)).toBe('hello, world');
    expect(await store.logLength('doc')).toBe(updates.length);
  });

  it('gives an empty document for a name never written', async () => {
    const store = await open();
    expect(await store.load('nothing')).toEqual({ state: null, updates: [], head: 0, deletedAt: null });
    expect(await store.logLength('nothing')).toBe(0);
  });

  it('keeps each document to its own updates, even names that extend one another', async () => {
    const store = await open();
    const names = ['a', 'ab', 'a\u0001', 'a/b', 'é'];
    const editors = names.map(() => new Editor());
    const writes: Promise<unknown>[] = [];
    // Interleave the documents' keystrokes across ticks, as concurrent rooms would.
    for (let round = 0; round < 5; round++) {
      names.forEach((name, i) => {
        for (const update of editors[i]!.type(`${name}${round};`)) writes.push(store.append(name, update));
      });
      await nextTurn();
    }
    await Promise.all(writes);
    for (const [i, name] of names.entries()) {
      const stored = await store.load(name);
      expect(stored.updates).toEqual(editors[i]!.updates);
      expect(textOf(null, stored.updates)).toBe(editors[i]!.text.toString());
    }
  });

  it('writes every append of a tick, across documents, in one batch', async () => {
    const { store, batches } = await openHeld();
    const one = new Editor().type('one document');
    const two = new Editor().type('another');
    await Promise.all([...one.map((u) => store.append('one', u)), ...two.map((u) => store.append('two', u))]);
    await store.flush();

    expect(batches).toHaveLength(1);
    const keys = batches[0]!.map((op) => op.key);
    expect(keys.filter((key) => key.startsWith('u\u0000'))).toHaveLength(one.length + two.length);
    // The metadata of both documents and the sequence number are written with the updates.
    expect(keys).toEqual(expect.arrayContaining(['m\u0000one', 'm\u0000two', 'seq']));
  });

  it('journals appends as soon as the code that made them is done while the event loop is mostly idle', async () => {
    const store = await open();
    await sleep(LOOP_SAMPLE_MS + 10); // a whole sampling period of waiting
    const [first, second] = new Editor().type('ab');
    const stored = store.append('doc', first!);
    await Promise.resolve(); // the code that appended is done
    const journaled = journalBytes(dir);
    expect(journaled).toBeGreaterThan(0);
    // A later append is a group of its own: durable without waiting for anything else of this turn.
    const storedToo = store.append('doc', second!);
    await Promise.resolve();
    expect(journalBytes(dir)).toBeGreaterThan(journaled);
    await Promise.all([stored, storedToo]);
  });

  it('journals the appends of a busy turn of the event loop together, at the end of its I/O', async () => {
    const store = await open();
    const [first, second, third] = new Editor().type('abc');
    // A sampling period spent running code: the loop is busy from the next sample on.
    spin(LOOP_SAMPLE_MS + 10);
    await store.append('doc', first!);
    spin(LOOP_SAMPLE_MS + 10);
    const before = journalBytes(dir);
    const appended = [store.append('doc', second!)];
    await Promise.resolve();
    expect(journalBytes(dir)).toBe(before); // waiting for the turn's other socket reads
    appended.push(store.append('other', third!));
    await nextTurn();
    expect(journalBytes(dir)).toBeGreaterThan(before);
    await Promise.all(appended);
    expect((await store.load('doc')).updates).toEqual([first, second]);
    expect((await store.load('other')).updates).toEqual([third]);
  });

  it('groups the appends made while a batch is in flight into the next batch', async () => {
    const { store, db, batches } = await openHeld();
    const updates = new Editor().type('abcdefghij');
    db.hold();
    const first = store.append('doc', updates[0]!);
    await db.waitForBatches(1); // the first batch is in flight, held
    const rest: Promise<unknown>[] = [];
    for (const update of updates.slice(1)) {
      rest.push(store.append('doc', update));
      await nextTurn(); // each in its own tick
    }
    expect(db.started).toBe(1); // only one batch at a time
    // Each append is durable once journaled, whether or not LevelDB has indexed it yet.
    await Promise.all([first, ...rest]);
    db.release();
    await store.flush();
    expect(batches).toHaveLength(2);
    expect((await store.load('doc')).updates).toEqual(updates);
  });

  it('compacts to an equivalent document whose log holds only the later appends', async () => {
    let store = await open();
    const editor = new Editor();
    const before = editor.type('compacted ');
    const writes: Promise<unknown>[] = before.map((update) => store.append('doc', update));
    // Compact up to the last of them as soon as it is journaled, before LevelDB has indexed it
    // (the store waits for that), then keep typing.
    const upTo = ((await writes[writes.length - 1]!) as Written).position('doc');
    const compaction = store.compact('doc', editor.state(), upTo);
    const after = editor.type('and not');
    writes.push(...after.map((update) => store.append('doc', update)));
    await Promise.all([...writes, compaction]);

    expect(await store.logLength('doc')).toBe(after.length);
    let stored = await store.load('doc');
    expect(stored.updates).toEqual(after);
    expect(textOf(stored.state, [])).toBe('compacted ');
    expect(textOf(stored.state, stored.updates)).toBe('compacted and not');

    store = await reopen(store);
    stored = await store.load('doc');
    expect(stored.updates).toEqual(after);
    expect(textOf(stored.state, stored.updates)).toBe('compacted and not');
    expect(await store.logLength('doc')).toBe(after.length);
  });

  it('finishes a compaction in flight before closing, and reopens to the compacted document', async () => {
    let store = await open();
    const editor = new Editor();
    let last: Promise<Written> | null = null;
    for (const update of editor.type('written then compacted')) last = store.append('doc', update);
    const compaction = store.compact('doc', editor.state(), (await last!).position('doc'));
    const closing = store.close();
    await expect(compaction).resolves.toBeUndefined();
    await closing;

    store = await open();
    const stored = await store.load('doc');
    expect(stored.updates).toEqual([]);
    expect(textOf(stored.state, stored.updates)).toBe('written then compacted');
  });

  it('compacts in one batch of state and metadata, then clears every folded entry from the log', async () => {
    const { store, db, batches } = await openHeld();
    const editor = new Editor();
    const updates = editor.type('folded');
    const upTo = await appendAll(store, 'doc', updates);
    await store.compact('doc', editor.state(), upTo);

    expect(batches).toHaveLength(2);
    const compaction = batches[1]! as { type: string; key: string }[];
    expect(compaction.map((op) => `${op.type} ${op.key}`).sort()).toEqual(['put m\u0000doc', 'put s\u0000doc']);
    expect(await db.keys({ gt: 'u\u0000doc\u0000', lt: 'u\u0000doc\u0001' }).all()).toEqual([]);
    expect((await store.load('doc')).updates).toEqual([]);
  });

  it('loads the same document when a compaction stops after its state is written, and the next one clears the rest', async () => {
    const { store, db } = await openHeld();
    const editor = new Editor();
    const folded = editor.type('written, ');
    const upTo = await appendAll(store, 'doc', folded);
    db.refuseClears = 1;
    const error = await store.compact('doc', editor.state(), upTo).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreWriteError);

    // The state is written and the folded updates are still logged beside it: the same text.
    let stored = await store.load('doc');
    expect(textOf(stored.state, [])).toBe('written, ');
    expect(stored.updates).toEqual(folded);
    expect(textOf(stored.state, stored.updates)).toBe('written, ');

    const later = editor.type('then folded');
    await store.compact('doc', editor.state(), await appendAll(store, 'doc', later));
    stored = await store.load('doc');
    expect(stored.updates).toEqual([]);
    expect(textOf(stored.state, [])).toBe('written, then folded');
    expect(await store.logLength('doc')).toBe(0);
  });

  it('leaves the old log whole when a compaction fails, and compacts once the database is back', async () => {
    const { store, db } = await openHeld();
    const editor = new Editor();
    const updates = editor.type('kept in the log');
    const upTo = await appendAll(store, 'doc', updates);
    await store.flush();

    await db.close(); // a real failure: LevelDB refuses the compaction's reads and write
    const error = await store.compact('doc', editor.state(), upTo).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreWriteError);
    expect((error as StoreWriteError).cause).toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN' });

    await db.open();
    let stored = await store.load('doc');
    expect(stored.state).toBeNull();
    expect(stored.updates).toEqual(updates);
    expect(await store.logLength('doc')).toBe(updates.length);

    await store.compact('doc', editor.state(), upTo);
    stored = await store.load('doc');
    expect(stored.updates).toEqual([]);
    expect(textOf(stored.state, [])).toBe('kept in the log');
  });

  it('lists documents in name order and deletes one entirely', async () => {
    let store = await open();
    for (const name of ['b', 'a', 'ab', 'c']) {
      const editor = new Editor();
      const upTo = await appendAll(store, name, editor.type(`text of ${name}`));
      if (name === 'c') await store.compact(name, editor.state(), upTo);
    }
    const listed = await store.list();
    expect(listed.map((info) => info.name)).toEqual(['a', 'ab', 'b', 'c']);
    for (const info of listed) {
      expect(info.size).toBeGreaterThan(0);
      expect(info.updatedAt).toBeGreaterThan(Date.now() - 60_000);
    }

    await store.delete('a');
    await store.delete('never-written'); // marks it deleted, lists nothing
    expect((await store.list()).map((info) => info.name)).toEqual(['ab', 'b', 'c']);
    expect(await store.load('a')).toEqual({ state: null, updates: [], deletedAt: expect.any(Number), head: expect.any(Number) });
    expect(await store.logLength('a')).toBe(0);
    expect(textOf(null, (await store.load('ab')).updates)).toBe('text of ab');

    await store.delete('c');
    store = await reopen(store);
    expect((await store.list()).map((info) => info.name)).toEqual(['ab', 'b']);
    expect(await store.load('c')).toEqual({ state: null, updates: [], head: expect.any(Number), deletedAt: expect.any(Number) });
  });

  it('deletes after the appends made before the call, and keeps the appends made after', async () => {
    const store = await open();
    const editor = new Editor();
    const gone = editor.type('gone').map((update) => store.append('doc', update));
    const deletion = store.delete('doc');
    const fresh = new Editor().type('new');
    await Promise.all([...gone, deletion, ...fresh.map((update) => store.append('doc', update))]);
    expect((await store.load('doc')).updates).toEqual(fresh);
    expect(await store.logLength('doc')).toBe(fresh.length);
  });

  it('load waits for the appends to that document that are still queued', async () => {
    const store = await open();
    const updates = new Editor().type('queued');
    for (const update of updates) void store.append('doc', update);
    expect((await store.load('doc')).updates).toEqual(updates);
  });

  it("in fsync mode syncs compactions, deletions, and LevelDB's copy of appends before their journal file goes", async () => {
    const { store, db } = await openHeld({ fsync: true });
    const editor = new Editor();
    const upTo = await appendAll(store, 'doc', editor.type('durable'));
    await store.flush();
    // The journal holds these on disk: LevelDB's batch need not be synced.
    expect(db.syncs).toEqual([false]);
    await store.compact('doc', editor.state(), upTo);
    await store.delete('other');
    expect(db.syncs).toEqual([false, true, true]);

    // 300 updates of 4 KiB fill more than the journal's first file (1 MiB); once LevelDB has
    // indexed it, the file is deleted, and the batch that lets it go is the one synced.
    const chunk = 'x'.repeat(4096);
    for (let i = 0; i < 300; i++) {
      editor.doc.getText('text').insert(0, chunk);
      await store.append('doc', editor.updates[editor.updates.length - 1]!);
    }
    await store.flush();
    expect(db.syncs.slice(3).filter((sync) => sync === true)).toHaveLength(1);
    expect(journalBytes(dir)).toBeLessThan(1 << 20);

    const reopened = await reopen(store);
    const stored = await reopened.load('doc');
    expect(textOf(stored.state, stored.updates)).toBe(editor.doc.getText('text').toString());
  });

  it('does not sync by default', async () => {
    const { store, db } = await openHeld();
    await store.append('doc', new Editor().type('x')[0]!);
    await store.flush();
    expect(db.syncs).toEqual([false]);
  });

  it('fails as a whole when LevelDB cannot index journaled appends, which the next open recovers', async () => {
    const { store, db } = await openHeld();
    const failures: StoreWriteError[] = [];
    store.onFailure((error) => failures.push(error));
    const editor = new Editor();
    await store.append('doc', editor.type('a')[0]!);
    await store.flush();

    await db.close(); // a real failure: LevelDB refuses the write
    // Journaled, so durable: these resolve although LevelDB will not take them.
    await Promise.all(editor.type('bc').map((update) => store.append('doc', update)));
    const error = await store.flush().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreWriteError);
    expect((error as StoreWriteError).cause).toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN' });
    // Reported once, as the store's failure; nothing more is taken, and nothing is read that
    // would miss the journaled appends.
    expect(failures).toHaveLength(1);
    const failure = failures[0]!;
    expect(failure.cause).toBe(error);
    await expect(store.append('doc', editor.type('d')[0]!)).rejects.toBe(failure);
    await expect(store.load('doc')).rejects.toBe(failure);
    await expect(store.close()).rejects.toBe(failure);

    const reopened = await open();
    expect(reopened.recovery).toEqual({ replayed: 2, ignoredBytes: 0 });
    expect(textOf(null, (await reopened.load('doc')).updates)).toBe('abc');
    expect(await reopened.logLength('doc')).toBe(3);
  });

  it('rejects appends that cannot be journaled, is unavailable while it cannot, and takes appends again on its own', async () => {
    const store = await open();
    const failures: StoreWriteError[] = [];
    store.onFailure((error) => failures.push(error));
    const recovered = new Promise<void>((resolve) => store.onRecovery(resolve));
    const editor = new Editor();
    await store.append('doc', editor.type('a')[0]!);
    // A real failure: the journal's descriptor now points at /dev/full, so writes get ENOSPC.
    const restore = redirectJournal(dir, '/dev/full');
    const failed = await store.append('doc', editor.type('b')[0]!).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StoreWriteError);
    expect((failed as StoreWriteError).cause).toMatchObject({ code: 'ENOSPC' });
    // Said once; every call is refused, saying the store is unavailable and retries.
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(StoreUnavailableError);
    expect(failures[0]!.message).toBe('The store is unavailable: the journal could not be written (no space left on device); it retries on its own');
    const later = new Editor().type('c');
    await expect(store.append('other', later[0]!)).rejects.toBe(failures[0]);
    await expect(store.compact('doc', editor.state(), 1)).rejects.toBe(failures[0]);
    await expect(store.load('doc')).rejects.toBe(failures[0]);

    restore();
    await recovered;
    await store.append('other', later[0]!);
    expect((await store.load('doc')).updates).toHaveLength(1);
    expect(failures).toHaveLength(1);
    const reopened = await reopen(store);
    expect(textOf(null, (await reopened.load('doc')).updates)).toBe('a');
    expect((await reopened.load('other')).updates).toEqual(later);
  });

  it('flush resolves once every write accepted before it is written', async () => {
    const { store, batches } = await openHeld();
    const updates = new Editor().type('flushed');
    let last: Promise<Written> | null = null;
    for (const update of updates) last = store.append('doc', update);
    // Journaled; LevelDB indexes them on a later turn, and the compaction after that.
    const upTo = (await last!).position('doc');
    void store.compact('doc', new Uint8Array([0, 0]), upTo);
    await store.flush();
    expect(batches).toHaveLength(2);
  });

  it('rejects every call after close with a clear error; close itself may be repeated', async () => {
    const store = await open();
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
    const update = new Editor().type('x')[0]!;
    for (const call of [
      () => store.append('doc', update),
      () => store.load('doc'),
      () => store.compact('doc', update, 1),
      () => store.logLength('doc'),
      () => store.list(),
      () => store.delete('doc'),
      () => store.flush(),
    ]) {
      await expect(call()).rejects.toThrow(/closed/);
    }
  });

  it('rejects names the key layout cannot hold with RangeError', async () => {
    const store = await open();
    const update = new Editor().type('x')[0]!;
    await expect(store.append('a\u0000b', update)).rejects.toBeInstanceOf(RangeError);
    await expect(store.load('\ud800')).rejects.toBeInstanceOf(RangeError);
    await expect(store.compact('a\u0000', update, 1)).rejects.toBeInstanceOf(RangeError);
    await expect(store.delete('a\u0000')).rejects.toBeInstanceOf(RangeError);
    await store.append('emoji 😀', update); // a surrogate pair is fine
    expect(await store.logLength('emoji 😀')).toBe(1);
  });

  it('continues the sequence after reopening, so new appends sort after old ones', async () => {
    let store = await open();
    const editor = new Editor();
    const first = editor.type('first ');
    await Promise.all(first.map((update) => store.append('doc', update)));
    store = await reopen(store);
    const second = editor.type('second');
    await Promise.all(second.map((update) => store.append('doc', update)));
    expect((await store.load('doc')).updates).toEqual([...first, ...second]);
  });
});
