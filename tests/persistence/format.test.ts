/**
 * Which databases the store opens (`persistence/level-format.ts`): its own, marked with its storage
 * format; never another format's or another program's, which it leaves exactly as they were.
 */
import { readdirSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';

import { ClassicLevel } from 'classic-level';
import { LeveldbPersistence } from 'y-leveldb';
import * as Y from 'yjs';

import { StoreOpenError } from '../../persistence/document-store.js';
import { JOURNAL_PREFIX } from '../../persistence/level/journal.js';
import { encodeFormat, FORMAT_KEY, STORAGE_FORMAT } from '../../persistence/level/format.js';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { Editor, makeTempDir, textOf } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});

afterEach(async () => {
  await cleanup();
});

/**
 * Every key and value of the database in `dir`, and the store's journal files beside it, as they
 * are now. (LevelDB starts new files of its own at every open.)
 */
async function snapshot(): Promise<{ entries: [string, string][]; files: string[] }> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    const entries = (await db.iterator().all()).map(([key, value]): [string, string] => [key, Buffer.from(value).toString('hex')]);
    return {
      entries,
      files: readdirSync(dir)
        .filter((file) => file.startsWith(JOURNAL_PREFIX))
        .sort(),
    };
  } finally {
    await db.close();
  }
}

async function rawPut(key: string, value: Uint8Array | null): Promise<void> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    if (value === null) await db.del(key);
    else await db.put(key, value);
  } finally {
    await db.close();
  }
}

/** A store in `dir` holding one document, `doc`, with the text 'hello', closed again. */
async function storeHello(): Promise<void> {
  const store = await LevelDocumentStore.open(dir);
  const editor = new Editor();
  await Promise.all(editor.type('hello').map((update) => store.append('doc', update)));
  await store.close();
}

it('marks a new store with its storage format, and opens it again', async () => {
  await storeHello();
  const marker = (await snapshot()).entries.find(([key]) => key === FORMAT_KEY);
  expect(Buffer.from(marker![1], 'hex').toString()).toBe(`collab-server ${STORAGE_FORMAT}`);
  const store = await LevelDocumentStore.open(dir);
  const { state, updates } = await store.load('doc');
  await store.close();
  expect(textOf(state, updates)).toBe('hello');
});

it('adopts a store written before the format was recorded, documents and all', async () => {
  await storeHello();
  await rawPut(FORMAT_KEY, null);
  const store = await LevelDocumentStore.open(dir);
  const { state, updates } = await store.load('doc');
  await store.close();
  expect(textOf(state, updates)).toBe('hello');
  expect((await snapshot()).entries.some(([key]) => key === FORMAT_KEY)).toBe(true);
});

it('refuses a store in a storage format this version does not read, and leaves it as it was', async () => {
  await storeHello();
  await rawPut(FORMAT_KEY, encodeFormat(STORAGE_FORMAT + 1));
  const before = await snapshot();
  const opening = LevelDocumentStore.open(dir);
  await expect(opening).rejects.toThrow(StoreOpenError);
  await expect(opening).rejects.toThrow(
    `holds storage format ${STORAGE_FORMAT + 1}, written by a newer version of collab-server; this version reads format ${STORAGE_FORMAT}`,
  );
  // Nothing written: no journal file started, no key added or changed.
  expect(await snapshot()).toEqual(before);
});

it("refuses y-websocket's LevelDB persistence (y-leveldb) as a data directory, and leaves its documents as they were", async () => {
  const theirs = new LeveldbPersistence(dir);
  const written = new Y.Doc();
  written.getText('t').insert(0, 'kept by y-leveldb');
  await theirs.storeUpdate('notes', Y.encodeStateAsUpdate(written));
  await theirs.destroy();
  const before = await snapshot();

  await expect(LevelDocumentStore.open(dir)).rejects.toThrow(/holds a LevelDB database that is not collab-server's .*choose another --data-dir/);
  expect(await snapshot()).toEqual(before);
  const again = new LeveldbPersistence(dir);
  try {
    expect((await again.getYDoc('notes')).getText('t').toString()).toBe('kept by y-leveldb');
  } finally {
    await again.destroy();
  }
});

it('refuses a database whose format key is not a collab-server marker', async () => {
  await rawPut(FORMAT_KEY, new TextEncoder().encode('{"version":3}'));
  await expect(LevelDocumentStore.open(dir)).rejects.toThrow(`its "format" key holds "{\\"version\\":3}"`);
});

it('says so when another process or store holds the directory', async () => {
  const holder = await LevelDocumentStore.open(dir);
  try {
    const opening = LevelDocumentStore.open(dir);
    await expect(opening).rejects.toThrow(StoreOpenError);
    await expect(opening).rejects.toThrow(`The data directory ${dir} is in use by another process: is another collab-server running on it?`);
  } finally {
    await holder.close();
  }
});
