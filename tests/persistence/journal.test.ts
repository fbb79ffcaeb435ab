/**
 * The store's journal on real files: what a crash leaves in it is replayed into LevelDB when the
 * store opens, what LevelDB already had is not applied twice, and a write cut short is ignored.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Journal } from '../../persistence/level/journal.js';
import { encodeRecords } from '../../persistence/level/journal-records.js';
import { RETRY_FIRST_MS } from '../../persistence/availability.js';
import { StoreUnavailableError, StoreWriteError } from '../../persistence/document-store.js';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { setSoftLimit, softLimit } from '../helpers/process-limits.js';
import { Editor, journalBytes, makeTempDir, redirectJournal, textOf } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const stores: LevelDocumentStore[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});

afterEach(async () => {
  await Promise.allSettled(stores.splice(0).map((store) => store.close()));
  await cleanup();
});

async function open(): Promise<LevelDocumentStore> {
  const store = await LevelDocumentStore.open(dir);
  stores.push(store);
  return store;
}

/** Writes what a store killed mid-flight leaves behind: records in a journal file, LevelDB behind them. Returns the file. */
function leaveInJournal(records: { seq: number; name: string; update: Uint8Array }[], tail: Uint8Array = new Uint8Array()): string {
  const { journal } = Journal.open(dir);
  journal.write(records);
  const path = journal.currentPath;
  journal.close(); // no sequence number: every file is kept, as after a kill
  appendFileSync(path, tail);
  return path;
}

describe('the journal', () => {
  it('replays what LevelDB had not indexed, skips what it had, and ignores a write cut short', async () => {
    const editor = new Editor();
    const [a, b, c, d] = editor.type('abcd');
    const other = new Editor().type('z');
    let store = await open();
    await Promise.all([store.append('doc', a!), store.append('doc', b!)]);
    await store.close(); // LevelDB holds sequence numbers 1 and 2; the journal is emptied
    stores.splice(0);
    expect(journalBytes(dir)).toBe(0);

    const torn = encodeRecords([{ seq: 6, name: 'doc', update: d! }]).subarray(0, 9);
    leaveInJournal(
      [
        { seq: 2, name: 'doc', update: b! }, // indexed before the crash: not applied twice
        { seq: 3, name: 'doc', update: c! },
        { seq: 4, name: 'other', update: other[0]! },
      ],
      torn,
    );

    store = await open();
    expect(store.recovery).toEqual({ replayed: 2, ignoredBytes: torn.length });
    const stored = await store.load('doc');
    expect(stored.updates).toEqual([a, b, c]);
    expect(textOf(null, stored.updates)).toBe('abc');
    expect((await store.load('other')).updates).toEqual(other);
    expect(await store.logLength('doc')).toBe(3);
    // Replayed, so deleted; new appends continue after the highest sequence number seen.
    expect(journalBytes(dir)).toBe(0);
    await store.append('doc', d!);
    store = await (async () => {
      await store.close();
      stores.splice(0);
      return open();
    })();
    expect(textOf(null, (await store.load('doc')).updates)).toBe('abcd');
  });

  it('stops at a record that fails its checksum: nothing after it is trusted', async () => {
    const [a, b, c] = new Editor().type('abc');
    const path = leaveInJournal([
      { seq: 1, name: 'doc', update: a! },
      { seq: 2, name: 'doc', update: b! },
      { seq: 3, name: 'doc', update: c! },
    ]);
    const bytes = readFileSync(path);
    const firstLength = encodeRecords([{ seq: 1, name: 'doc', update: a! }]).length;
    bytes[firstLength + 10] ^= 0xff; // flip a bit inside the second record's body
    writeFileSync(path, bytes);

    const store = await open();
    expect(store.recovery).toEqual({ replayed: 1, ignoredBytes: bytes.length - firstLength });
    expect((await store.load('doc')).updates).toEqual([a]);
  });

  it('starts a new file past 1 MiB and deletes each file once LevelDB has indexed it', async () => {
    const store = await open();
    const editor = new Editor();
    // Each update carries a 4 KiB insert: 300 of them, about 1.2 MiB, need a second file.
    const chunk = 'x'.repeat(4096);
    for (let i = 0; i < 300; i++) {
      editor.doc.getText('text').insert(0, chunk);
      await store.append('doc', editor.updates[editor.updates.length - 1]!);
    }
    await store.flush();
    // The first file is gone once indexed; what remains is the current file's tail.
    expect(journalBytes(dir)).toBeLessThan(1 << 20); // of about 1.2 MiB written
    expect(journalBytes(dir)).toBeGreaterThan(0);
    await store.close();
    stores.splice(0);
    expect(journalBytes(dir)).toBe(0);
    const reopened = await open();
    expect(reopened.recovery.replayed).toBe(0);
    expect((await reopened.load('doc')).updates).toHaveLength(300);
  });

  it('goes on writing into the current file while a new one cannot be created, and says so', async () => {
    const warnings: unknown[] = [];
    const store = await LevelDocumentStore.open(dir, { onWarning: (_message, error) => warnings.push(error) });
    stores.push(store);
    // The names of the next files are taken (by directories, which are removed before reopening),
    // as a full descriptor or inode table would refuse them: creating each fails.
    const taken = [2, 3, 4, 5, 6].map((generation) => join(dir, `collab-journal.${generation}`));
    for (const path of taken) mkdirSync(path);
    const editor = new Editor();
    const chunk = 'x'.repeat(64 * 1024);
    // 24 updates of 64 KiB: 1.5 MiB, past the 1 MiB at which a file is retired.
    for (let i = 0; i < 24; i++) {
      editor.doc.getText('text').insert(0, chunk);
      await store.append('doc', editor.updates[editor.updates.length - 1]!);
    }
    // Each write past 1 MiB tried the next name until one was free (7), and no write failed; the
    // trouble was said once, not once per write.
    expect(warnings).toHaveLength(1);
    expect((warnings[0] as NodeJS.ErrnoException).code).toBe('EEXIST');
    expect(existsSync(join(dir, 'collab-journal.7'))).toBe(true);
    await store.close();
    stores.splice(0);
    for (const path of taken) rmdirSync(path);
    const reopened = await open();
    const { state, updates } = await reopened.load('doc');
    expect(textOf(state, updates)).toBe(editor.doc.getText('text').toString());
  });

  it('cuts off a record a write left half done, and writes the next right after the last whole one', () => {
    const { journal } = Journal.open(dir);
    const [a, b, c] = new Editor().type('abc');
    journal.write([{ seq: 1, name: 'doc', update: a! }]);
    const size = statSync(journal.currentPath).size;
    // A real partial write: past this size limit a write is cut short, and the next fails (EFBIG).
    const limit = softLimit(process.pid, 'fsize');
    const ignore = (): void => undefined; // SIGXFSZ, sent with EFBIG, would end the process
    process.on('SIGXFSZ', ignore);
    setSoftLimit(process.pid, 'fsize', size + 4);
    try {
      expect(() => journal.write([{ seq: 2, name: 'doc', update: b! }])).toThrow(expect.objectContaining({ code: 'EFBIG' }));
    } finally {
      setSoftLimit(process.pid, 'fsize', limit);
      process.off('SIGXFSZ', ignore);
    }
    expect(statSync(journal.currentPath).size).toBe(size);
    journal.write([{ seq: 3, name: 'doc', update: c! }]);
    journal.close();
    expect(readJournal().records.map((record) => record.seq)).toEqual([1, 3]);
  });

  it('settles syncs in the order they were asked for, sharing one while another runs, across files', async () => {
    const { journal } = Journal.open(dir, true);
    const update = new Uint8Array(4096).fill(7);
    const settled: number[] = [];
    const syncs: Promise<void>[] = [];
    // About 1.6 MiB in 400 writes, each followed by a sync: the journal moves to a second file
    // while syncs of the first are running or waiting.
    for (let seq = 1; seq <= 400; seq++) {
      journal.write([{ seq, name: 'doc', update }]);
      syncs.push(journal.sync().then(() => void settled.push(seq)));
      if (seq % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(syncs);
    expect(settled).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    journal.close();
    expect(readJournal().records).toHaveLength(400);
  });

  it('fails the store for good when the journal cannot be synced, until a restart, and keeps what was acknowledged', async () => {
    const store = await LevelDocumentStore.open(dir, { fsync: true });
    stores.push(store);
    const failures: StoreWriteError[] = [];
    store.onFailure((error) => failures.push(error));
    let recoveries = 0;
    store.onRecovery(() => recoveries++);
    const editor = new Editor();
    await store.append('doc', editor.type('a')[0]!);
    // A real failure: writes to /dev/null succeed, but it cannot be synced (EINVAL).
    redirectJournal(dir, '/dev/null');
    const failed = await store.append('doc', editor.type('b')[0]!).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StoreWriteError);
    expect((failed as StoreWriteError).cause).toMatchObject({ code: 'EINVAL' });
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/journal could not be synced/);
    // Not an outage that passes: what the disk holds is unknown, so nothing is retried. A write
    // to /dev/null would succeed, so an attempt to recover would have; after the time of three
    // attempts, none was made.
    expect(failures[0]).not.toBeInstanceOf(StoreUnavailableError);
    await sleep(RETRY_FIRST_MS * 7);
    expect(recoveries).toBe(0);
    await expect(store.append('other', new Editor().type('c')[0]!)).rejects.toBe(failures[0]);
    await expect(store.load('doc')).rejects.toBe(failures[0]);
    await expect(store.close()).rejects.toBe(failures[0]);
    expect(failures).toHaveLength(1);
    stores.splice(0);

    const reopened = await open();
    // 'b' was refused, never broadcast; LevelDB may have indexed it before the sync failed, and
    // keeping it is harmless (its writer sends it again on reconnecting).
    expect(textOf(null, (await reopened.load('doc')).updates)).toMatch(/^ab?$/);
    expect((await reopened.load('other')).updates).toHaveLength(0);
  });

  it('makes appends durable before LevelDB has them: they survive a store that never closes', async () => {
    const store = await open();
    const updates = new Editor().type('journaled');
    await Promise.all(updates.map((update) => store.append('doc', update)));
    // What a kill -9 leaves: the journal as written. Read it as the next process would.
    const { records } = readJournal();
    expect(records.map((record) => record.update)).toEqual(updates);
  });
});

function readJournal(): { records: { seq: number; update: Uint8Array }[] } {
  const { journal, records } = Journal.open(dir);
  journal.close();
  return { records };
}
