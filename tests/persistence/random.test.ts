/**
 * Randomized interleavings of appends, compactions, deletions, flushes and reopenings over a few
 * documents, checked against a model after every operation that settles. Seeded: the seed is
 * printed, and `STORE_SEED=<seed>` replays a failure.
 */
import * as prng from 'lib0/prng';
import { afterEach, beforeEach, expect, it } from 'vitest';

import type { Written } from '../../persistence/document-store.js';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { Editor, makeTempDir, nextTurn, textOf } from './helpers.js';

const NAMES = ['a', 'ab', 'b/c', 'é'];
const STEPS = 400;

let dir: string;
let cleanup: () => Promise<void>;
let store: LevelDocumentStore | null = null;

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});

afterEach(async () => {
  await store?.close();
  await cleanup();
});

/** What each document should hold: its editor (the truth), appends since the last compaction, whether it exists. */
interface Model {
  editor: Editor;
  logged: number;
  exists: boolean;
}

it('matches a model under random interleavings of every write', async () => {
  const seed = Number(process.env['STORE_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`random store test seed: ${seed} (replay with STORE_SEED=${seed})`);
  const gen = prng.create(seed);
  const model = new Map<string, Model>(NAMES.map((name) => [name, { editor: new Editor(), logged: 0, exists: false }]));
  let writes: Promise<unknown>[] = [];
  // The last append to each document since it was opened or deleted: a compaction folds up to it.
  const lastAppend = new Map<string, Promise<Written>>();
  let current = await LevelDocumentStore.open(dir);
  store = current;

  const check = async (name: string): Promise<void> => {
    const m = model.get(name)!;
    const stored = await current.load(name);
    expect(textOf(stored.state, stored.updates), `seed ${seed}, document ${name}`).toBe(m.editor.text.toString());
    expect(stored.updates, `seed ${seed}, log of ${name}`).toHaveLength(m.logged);
    expect(await current.logLength(name), `seed ${seed}, logLength of ${name}`).toBe(m.logged);
  };

  for (let step = 0; step < STEPS; step++) {
    const name = prng.oneOf(gen, NAMES);
    const m = model.get(name)!;
    const op = prng.int32(gen, 0, 99);
    if (op < 55) {
      // A burst of keystrokes at a random place.
      const at = prng.int32(gen, 0, m.editor.text.length);
      const burst = m.editor.type(prng.word(gen, 1, 6), at);
      for (const update of burst) {
        const written = current.append(name, update);
        writes.push(written);
        lastAppend.set(name, written);
      }
      m.logged += burst.length;
      m.exists = true;
    } else if (op < 70) {
      // Up to the last append, once it is journaled, as the engine does. Nothing appended since
      // this store opened (or the document was deleted): nothing to fold.
      const last = lastAppend.get(name);
      if (last === undefined) continue;
      const upTo = (await last).position(name);
      writes.push(current.compact(name, m.editor.state(), upTo));
      m.logged = 0;
      m.exists = true;
    } else if (op < 77) {
      lastAppend.delete(name);
      writes.push(current.delete(name));
      model.set(name, { editor: new Editor(), logged: 0, exists: false });
    } else if (op < 87) {
      await nextTurn();
    } else if (op < 95) {
      await Promise.all(writes.splice(0));
      await check(name);
    } else {
      await Promise.all(writes.splice(0));
      await current.close();
      lastAppend.clear();
      current = await LevelDocumentStore.open(dir);
      store = current;
    }
  }

  await Promise.all(writes);
  writes = [];
  for (const name of NAMES) await check(name);
  const listed = (await current.list()).map((info) => info.name);
  expect(listed, `seed ${seed}, list`).toEqual(NAMES.filter((name) => model.get(name)!.exists));
});
