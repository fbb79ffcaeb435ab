/**
 * The LevelDB store through an outage that passes, with real failures: this process runs out of
 * file descriptors (its soft limit lowered with prlimit below every number the store holds), so
 * LevelDB cannot open the next file it needs and fails to index journaled appends. The store is
 * unavailable, refuses every call, and once descriptors are free again recovers on its own, with
 * every acknowledged append indexed, without a restart.
 */
import { closeSync, openSync } from 'node:fs';
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError, type StoreWriteError } from '../../persistence/document-store.js';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { lowestDescriptorIn, setSoftLimit, softLimit } from '../helpers/process-limits.js';
import { Editor, makeTempDir, textOf } from './helpers.js';

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

/** LevelDB's write buffer here: a new log file is needed after every 64 KiB written. */
const WRITE_BUFFER = 64 * 1024;
/** The size of each update: a paste. */
const PASTE = 8 * 1024;

describe('LevelDocumentStore when descriptors run out', () => {
  it('is unavailable while LevelDB cannot open files, and recovers on its own once it can, losing nothing', async () => {
    // Numbers below every one the store will hold, freed when the outage is to pass.
    const spare = Array.from({ length: 32 }, () => openSync('/dev/null', 'r'));
    const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER });
    let store = await LevelDocumentStore.fromDatabase(db);
    stores.push(store);
    const failures: StoreWriteError[] = [];
    store.onFailure((error) => failures.push(error));
    const recovered = new Promise<void>((resolve) => store.onRecovery(resolve));
    const editor = new Editor();
    const acknowledged: Uint8Array[] = [];

    const limit = softLimit(process.pid, 'nofile');
    setSoftLimit(process.pid, 'nofile', lowestDescriptorIn(process.pid, dir));
    try {
      // Pastes, each journaled (so acknowledged) and then indexed, until LevelDB fills its write
      // buffer and cannot create its next log file.
      for (let i = 0; i < (4 * WRITE_BUFFER) / PASTE && failures.length === 0; i++) {
        editor.text.insert(editor.text.length, String(i % 10).repeat(PASTE));
        const update = editor.updates[editor.updates.length - 1]!;
        await store.append('doc', update);
        acknowledged.push(update);
        await store.flush().catch(() => undefined); // rejects once indexing failed, as below
      }
      expect(failures).toHaveLength(1);
      expect(failures[0]).toBeInstanceOf(StoreUnavailableError);
      expect(failures[0]!.message).toMatch(/^The store is unavailable: LevelDB could not index journaled updates \(too many open files\)/);
      expect(failures[0]!.cause).toMatchObject({ cause: { code: 'LEVEL_IO_ERROR', message: expect.stringMatching(/Too many open files$/) } });
      // Every call is refused while it lasts, reads included: LevelDB lacks journaled appends.
      await expect(store.append('doc', editor.updates[0]!)).rejects.toBe(failures[0]);
      await expect(store.load('doc')).rejects.toBe(failures[0]);
      await expect(store.list()).rejects.toBe(failures[0]);
      await expect(store.compact('doc', editor.state(), 1)).rejects.toBe(failures[0]);
    } finally {
      for (const fd of spare) closeSync(fd);
      setSoftLimit(process.pid, 'nofile', limit);
    }

    await recovered;
    expect(failures).toHaveLength(1);
    // LevelDB was opened again and given what the journal held: every acknowledged paste.
    expect((await store.load('doc')).updates).toEqual(acknowledged);
    const after = new Editor().type('after');
    for (const update of after) await store.append('doc', update);
    expect((await store.load('doc')).updates).toEqual([...acknowledged, ...after]);
    await store.close();
    stores.splice(0);

    store = await LevelDocumentStore.open(dir);
    stores.push(store);
    expect(store.recovery.replayed).toBe(0);
    const { state, updates } = await store.load('doc');
    expect(updates).toEqual([...acknowledged, ...after]);
    expect(textOf(state, updates.slice(0, acknowledged.length))).toHaveLength(acknowledged.length * PASTE);
  });
});
