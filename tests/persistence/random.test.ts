/**
 * Randomized interleavings of appends, compactions, deletions, flushes and reopenings over a few
 * documents, checked against a model after every operation that settles. Seeded: the seed is
 * printed, and `STORE_SEED=<seed>` replays a failure.
 */
import * as prng from 'lib0/prng';
import { afterEach, beforeEach, expect, it } from 'vitest';

import { LevelDocumentStore } from '../../persistence/level-store.js';
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
  let writes: Promise<void>[] = [];
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
      for (const update of burst) writes.push(current.append(name, update));
      m.logged += burst.length;
      m.exists = true;
    } else if (op < 70) {
      writes.push(current.compact(name, m.editor.state()));
      m.logged = 0;
      m.exists = true;
    } else if (op < 77) {
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
