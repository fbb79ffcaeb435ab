/**
 * The contract every `DocumentStore` keeps, as one suite run against each store: ordering and
 * positions, durability once an append resolves (across `kill -9`), compaction at a boundary,
 * what a crash leaves, deletion and listing, versions, the event queue, an outage that passes. `describeStoreContract` is called by each store's
 * own test file with a way to open that store on fresh storage.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import * as prng from 'lib0/prng';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DocumentStore, StoreUnavailableError, StoreWriteError } from '../../persistence/document-store.js';
import type { QueuedEvent } from '../../persistence/event-queue.js';
import type { VersionInfo, VersionRecord } from '../../persistence/versions.js';
import { appendAll, Editor, nextTurn, textOf } from './helpers.js';

/** Fresh, empty storage for one test. */
export interface Storage {
  /** Opens a store on it (again after a close, or after a process holding it was killed). */
  open(): Promise<DocumentStore>;
  /** How `store-child.mjs` opens the same storage in another process. */
  readonly child: Record<string, unknown> & { readonly kind: string };
  /** Removes the storage. */
  remove(): Promise<void>;
  /**
   * Makes the storage under an open store fail from its next write on with an error that passes
   * (a full disk, a database out of reach); resolves with the function that lets it pass.
   */
  interrupt(): Promise<() => void>;
}

const CHILD = resolve(import.meta.dirname, 'store-child.mjs');
/** What the child types, one character per update. */
const CHILD_TEXT = 'the quick brown fox jumps over the lazy dog; '.repeat(40);

export function describeStoreContract(title: string, fresh: () => Promise<Storage>): void {
  describe(`${title}: the DocumentStore contract`, () => {
    let storage: Storage;
    const open: DocumentStore[] = [];

    beforeEach(async () => {
      storage = await fresh();
    });

    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((store) => store.close()));
      await storage.remove();
    });

    async function openStore(): Promise<DocumentStore> {
      const store = await storage.open();
      open.push(store);
      return store;
    }

    async function reopen(store: DocumentStore): Promise<DocumentStore> {
      await store.close();
      return openStore();
    }

    it('keeps each document to its appends, in order, with increasing positions, through a reopen', async () => {
      let store = await openStore();
      expect(await store.load('a')).toEqual({ state: null, updates: [], head: 0, deletedAt: null });
      const names = ['a', 'ab', 'a/b', 'é'];
      const editors = names.map(() => new Editor());
      const positions = new Map<string, number[]>(names.map((name) => [name, []]));
      for (let round = 0; round < 4; round++) {
        const writes = names.flatMap((name, i) =>
          editors[i]!.type(`${name}${round};`).map((update) => store.append(name, update).then((written) => positions.get(name)!.push(written.position(name)))),
        );
        await Promise.all(writes);
        await nextTurn();
      }
      for (const [i, name] of names.entries()) {
        const stored = await store.load(name);
        expect(stored.updates).toEqual(editors[i]!.updates);
        const seen = positions.get(name)!;
        // Appends made together may resolve with the same (last) position; they never go back.
        for (let k = 1; k < seen.length; k++) expect(seen[k]!).toBeGreaterThanOrEqual(seen[k - 1]!);
        expect(stored.head).toBe(seen[seen.length - 1]);
        expect(await store.logLength(name)).toBe(editors[i]!.updates.length);
      }
      store = await reopen(store);
      const later = editors[0]!.type('later');
      const head = (await store.load('a')).head;
      const written = await appendAll(store, 'a', later);
      expect(written).toBeGreaterThan(head);
      expect((await store.load('a')).updates).toEqual(editors[0]!.updates);
    });

    it('reflects every append that resolved in what it reads, even while later ones are pending', async () => {
      const store = await openStore();
      const updates = new Editor().type('pending');
      for (const update of updates) void store.append('doc', update);
      expect((await store.load('doc')).updates).toEqual(updates);
      const since = await store.readSince('doc', 0);
      expect(since?.map((logged) => logged.update)).toEqual(updates);
    });

    it('reads what came after a position, and says so when a compaction folded part of it', async () => {
      const store = await openStore();
      const editor = new Editor();
      const first = editor.type('first ');
      const middle = await appendAll(store, 'doc', first);
      const second = editor.type('second');
      const last = await appendAll(store, 'doc', second);
      const after = await store.readSince('doc', middle);
      expect(after?.map((logged) => logged.update)).toEqual(second);
      expect(after?.[after.length - 1]?.position).toBe(last);
      for (let k = 1; k < (after?.length ?? 0); k++) expect(after![k]!.position).toBeGreaterThan(after![k - 1]!.position);
      expect(await store.readSince('doc', last)).toEqual([]);
      await store.compact('doc', editor.state(), middle);
      expect(await store.readSince('doc', 0)).toBeNull();
      expect((await store.readSince('doc', middle))?.map((logged) => logged.update)).toEqual(second);
    });

    it('compacts exactly up to a boundary: what came after stays logged, and an older compaction changes nothing', async () => {
      let store = await openStore();
      const editor = new Editor();
      const folded = editor.type('folded ');
      const boundary = await appendAll(store, 'doc', folded);
      const stateAtBoundary = editor.state();
      const kept = editor.type('kept');
      const head = await appendAll(store, 'doc', kept);
      await store.compact('doc', stateAtBoundary, boundary);
      let stored = await store.load('doc');
      expect(stored.updates).toEqual(kept);
      expect(textOf(stored.state, [])).toBe('folded ');
      expect(textOf(stored.state, stored.updates)).toBe('folded kept');
      expect(stored.head).toBe(head);
      expect(await store.logLength('doc')).toBe(kept.length);

      // A newer compaction, then one older than it (another process's, late): the older is a no-op.
      await store.compact('doc', editor.state(), head);
      await store.compact('doc', stateAtBoundary, boundary);
      stored = await store.load('doc');
      expect(stored.updates).toEqual([]);
      expect(textOf(stored.state, [])).toBe('folded kept');
      expect(stored.head).toBe(head);

      store = await reopen(store);
      stored = await store.load('doc');
      expect(textOf(stored.state, stored.updates)).toBe('folded kept');
      expect(stored.head).toBe(head);
      await expect(store.compact('doc', editor.state(), head + 1_000_000)).rejects.toBeInstanceOf(RangeError);
    });

    it('deletes a document entirely and marks it deleted, through a reopen; appends after it create it again, at later positions', async () => {
      let store = await openStore();
      const editor = new Editor();
      const gone = await appendAll(store, 'doc', editor.type('gone'));
      await store.compact('doc', editor.state(), gone);
      await appendAll(store, 'other', new Editor().type('stays'));
      const before = Date.now();
      await store.delete('doc');
      await store.delete('never-written');
      expect(await store.load('doc')).toMatchObject({ state: null, updates: [], deletedAt: expect.any(Number) });
      expect((await store.load('doc')).head).toBeGreaterThanOrEqual(gone);
      // A compaction made before the deletion and finishing after it does not bring the document back.
      await store.compact('doc', editor.state(), gone);
      expect(await store.load('doc')).toMatchObject({ state: null, updates: [], deletedAt: expect.any(Number) });
      expect((await store.load('doc')).deletedAt).toBeGreaterThanOrEqual(before);
      expect(await store.logLength('doc')).toBe(0);
      expect((await store.list()).map((info) => info.name)).toEqual(['other']);
      store = await reopen(store);
      expect((await store.load('doc')).deletedAt).toBeGreaterThanOrEqual(before);
      expect((await store.list()).map((info) => info.name)).toEqual(['other']);
      const again = new Editor().type('new');
      const position = await appendAll(store, 'doc', again);
      expect(position).toBeGreaterThan(gone);
      const stored = await store.load('doc');
      expect(stored.updates).toEqual(again);
      expect(stored.deletedAt).toBeNull();
      expect((await store.list()).map((info) => info.name)).toEqual(['doc', 'other']);
    });

    it('lists by prefix, and in pages after a name', async () => {
      const store = await openStore();
      for (const name of ['team/a', 'team/b', 'team/c', 'teams', 'other', 'team/gone']) await appendAll(store, name, new Editor().type(name));
      await store.delete('team/gone');
      const names = async (options: Parameters<typeof store.list>[0]) => (await store.list(options)).map((info) => info.name);
      expect(await names({ prefix: 'team/' })).toEqual(['team/a', 'team/b', 'team/c']);
      expect(await names({ prefix: 'team/', limit: 2 })).toEqual(['team/a', 'team/b']);
      expect(await names({ prefix: 'team/', after: 'team/b' })).toEqual(['team/c']);
      expect(await names({ after: 'team/c', limit: 1 })).toEqual(['teams']);
      expect(await names({ prefix: 'nothing' })).toEqual([]);
    });

    it('lists documents in code point order with their size and time of last write', async () => {
      const store = await openStore();
      const names = ['b', 'a', 'é', 'ab', 'Z'];
      for (const name of names) {
        const editor = new Editor();
        const upTo = await appendAll(store, name, editor.type(`text of ${name}`));
        if (name === 'ab') await store.compact(name, editor.state(), upTo);
      }
      const listed = await store.list();
      expect(listed.map((info) => info.name)).toEqual(['Z', 'a', 'ab', 'b', 'é']);
      for (const info of listed) {
        expect(info.size).toBeGreaterThan(0);
        expect(info.updatedAt).toBeGreaterThan(Date.now() - 60_000);
        expect(info.updatedAt).toBeLessThanOrEqual(Date.now());
      }
    });

    it('keeps versions as written, per document, changed atomically, through a reopen; deleting the document removes them', async () => {
      let store = await openStore();
      const version = (id: string, base: string | null, bytes: number[]): VersionRecord => ({
        id,
        takenAt: 1_700_000_000_000 + bytes.length,
        kind: base === null ? 'named' : 'auto',
        label: base === null ? `label ${id}` : null,
        authors: ['ada', 'grace'],
        position: bytes.length,
        size: 10 * bytes.length,
        base,
        bytes: bytes.length,
        data: Uint8Array.from(bytes),
      });
      const info = ({ data: _, ...rest }: VersionRecord): VersionInfo => rest;
      const [a, b, c] = [version('0001', null, [1, 2, 3]), version('0002', '0001', [4]), version('0003', '0002', [5, 6])];
      await store.writeVersions('doc', { put: [b, a] });
      await store.writeVersions('doc', { put: [c] });
      await store.writeVersions('doc-2', { put: [version('0001', null, [9])] });
      expect(await store.listVersions('doc')).toEqual([info(a), info(b), info(c)]);
      expect(await store.readVersion('doc', '0002')).toEqual(b);
      expect(await store.readVersion('doc', '0009')).toBeNull();
      expect(await store.listVersions('never-written')).toEqual([]);
      await expect(store.readVersion('doc', '../x')).rejects.toBeInstanceOf(RangeError);
      // One call replaces a record and removes another, all or nothing.
      const folded = { ...c, base: '0001', bytes: 3, data: Uint8Array.of(4, 5, 6) };
      await store.writeVersions('doc', { put: [folded], remove: ['0002', 'unknown'] });
      store = await reopen(store);
      expect(await store.listVersions('doc')).toEqual([info(a), info(folded)]);
      expect(await store.readVersion('doc', '0003')).toEqual(folded);
      expect(await store.readVersion('doc', '0002')).toBeNull();
      // They are not in the document's log, and compaction leaves them alone.
      const editor = new Editor();
      const head = await appendAll(store, 'doc', editor.type('text'));
      await store.compact('doc', editor.state(), head);
      expect((await store.listVersions('doc')).length).toBe(2);
      await store.delete('doc');
      expect(await store.listVersions('doc')).toEqual([]);
      expect(await store.readVersion('doc', '0001')).toBeNull();
      expect((await store.listVersions('doc-2')).map((v) => v.id)).toEqual(['0001']);
    });

    it('queues one event per key: a put replaces, conditional puts and removes compare revisions; lists in key order, in pages, through a reopen', async () => {
      let store = await openStore();
      const event = (key: string, revision: string, ...bytes: number[]): QueuedEvent => ({ key, revision, data: Uint8Array.from(bytes) });
      expect(await store.listEvents()).toEqual([]);
      expect(await store.putEvent(event('hook/b', 'r1', 1))).toBe(true);
      expect(await store.putEvent(event('hook/a', 'r1', 2))).toBe(true);
      expect(await store.putEvent(event('hook/é', 'r1', 3))).toBe(true);
      expect(await store.putEvent(event('other', 'r1'))).toBe(true);
      // Unconditionally, a put replaces what the key holds.
      expect(await store.putEvent(event('hook/b', 'r2', 4, 5))).toBe(true);
      expect(await store.listEvents({ prefix: 'hook/' })).toEqual([event('hook/a', 'r1', 2), event('hook/b', 'r2', 4, 5), event('hook/é', 'r1', 3)]);
      // Compare-and-set: on the revision queued, or on none being queued.
      expect(await store.putEvent(event('hook/b', 'r3', 6), 'r1')).toBe(false);
      expect(await store.putEvent(event('hook/b', 'r3', 6), null)).toBe(false);
      expect(await store.putEvent(event('hook/b', 'r3', 6), 'r2')).toBe(true);
      expect(await store.putEvent(event('hook/c', 'r1', 7), 'r0')).toBe(false);
      expect(await store.putEvent(event('hook/c', 'r1', 7), null)).toBe(true);
      expect(await store.removeEvent('hook/b', 'r2')).toBe(false);
      expect(await store.removeEvent('hook/a', 'r1')).toBe(true);
      expect(await store.removeEvent('hook/a', 'r1')).toBe(false);
      store = await reopen(store);
      const all = [event('hook/b', 'r3', 6), event('hook/c', 'r1', 7), event('hook/é', 'r1', 3), event('other', 'r1')];
      expect(await store.listEvents()).toEqual(all);
      expect(await store.listEvents({ limit: 2 })).toEqual(all.slice(0, 2));
      expect(await store.listEvents({ after: 'hook/c', limit: 2 })).toEqual(all.slice(2, 4));
      expect(await store.listEvents({ prefix: 'hook/', after: 'hook/c' })).toEqual([all[2]]);
      // Events are not documents: listing, deleting and compacting documents leave them alone.
      await store.delete('hook/b');
      expect(await store.list()).toEqual([]);
      expect(await store.listEvents()).toEqual(all);
      await expect(store.putEvent(event('', 'r1'))).rejects.toBeInstanceOf(RangeError);
      await expect(store.putEvent(event('a\u0000b', 'r1'))).rejects.toBeInstanceOf(RangeError);
      await expect(store.putEvent(event('a', 'no spaces'))).rejects.toBeInstanceOf(RangeError);
      await expect(store.removeEvent('a', '')).rejects.toBeInstanceOf(RangeError);
    });

    it('refuses a name with U+0000 with RangeError, and every call once closed', async () => {
      const store = await openStore();
      const update = new Editor().type('x')[0]!;
      await expect(store.append('a\u0000b', update)).rejects.toBeInstanceOf(RangeError);
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
      await expect(store.append('doc', update)).rejects.toThrow(/closed/);
      await expect(store.load('doc')).rejects.toThrow(/closed/);
    });

    it('is unavailable while an error that passes lasts, and resumes on its own, losing nothing it acknowledged', async () => {
      let store = await openStore();
      const failures: StoreWriteError[] = [];
      store.onFailure((error) => failures.push(error));
      let recoveries = 0;
      const recovered = new Promise<void>((resolve) =>
        store.onRecovery(() => {
          recoveries++;
          resolve();
        }),
      );
      const before = new Editor().type('before ');
      await appendAll(store, 'doc', before);

      const pass = await storage.interrupt();
      // The write that meets the error fails; the store says once that it is unavailable, and
      // refuses every call until it has recovered.
      const refused = new Editor().type('refused');
      const results = await Promise.allSettled(refused.map((update) => store.append('doc', update)));
      for (const result of results) expect(result.status === 'rejected' && result.reason instanceof StoreWriteError).toBe(true);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toBeInstanceOf(StoreUnavailableError);
      await expect(store.append('doc', refused[0]!)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.load('doc')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.compact('doc', new Uint8Array([0, 0]), 1)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.putEvent({ key: 'k', revision: 'r', data: new Uint8Array() })).rejects.toBeInstanceOf(StoreUnavailableError);

      pass();
      await recovered;
      const after = new Editor().type('after');
      await appendAll(store, 'doc', after);
      expect((await store.load('doc')).updates).toEqual([...before, ...after]);
      expect(failures).toHaveLength(1);
      expect(recoveries).toBe(1);
      store = await reopen(store);
      expect((await store.load('doc')).updates).toEqual([...before, ...after]);
    });

    it('keeps every append that resolved when the process holding the store is killed', async () => {
      const { acked, positions } = await runChildUntil(storage, 'append', 150);
      const store = await openStore();
      const stored = await store.load('doc');
      const text = textOf(stored.state, stored.updates);
      expect(CHILD_TEXT.startsWith(text)).toBe(true);
      expect(text.length).toBeGreaterThanOrEqual(acked);
      expect(stored.head).toBeGreaterThanOrEqual(positions[positions.length - 1]!);
    });

    it('keeps every queued event whose put resolved when the process holding the store is killed', async () => {
      const { acked } = await runChildUntil(storage, 'events', 120);
      const store = await openStore();
      const queued = await store.listEvents({ prefix: 'event/' });
      expect(queued.length).toBeGreaterThanOrEqual(acked);
      for (const [i, event] of queued.entries())
        expect(event).toEqual({ key: `event/${String(i).padStart(4, '0')}`, revision: `r${i}`, data: Uint8Array.of(i % 256) });
    });

    it('loads a whole document after kills in the middle of compactions, positions never going back', async () => {
      const seed = Number(process.env['TEST_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
      console.log(`[store contract] seed ${seed} (rerun with TEST_SEED=${seed})`);
      const gen = prng.create(seed);
      // Each trial kills the writer at a random moment; the next one starts on what it left, and
      // types the same text again (the updates it sends again change nothing).
      let highest = 0;
      for (let trial = 0; trial < 3; trial++) {
        const { acked, positions } = await runChildUntil(storage, 'compact', prng.int32(gen, 20, 300));
        const store = await openStore();
        const stored = await store.load('doc');
        const text = textOf(stored.state, stored.updates);
        expect(CHILD_TEXT.startsWith(text), `seed ${seed}, trial ${trial}`).toBe(true);
        expect(text.length, `seed ${seed}, trial ${trial}`).toBeGreaterThanOrEqual(acked);
        highest = Math.max(highest, positions[positions.length - 1]!);
        expect(stored.head, `seed ${seed}, trial ${trial}`).toBeGreaterThanOrEqual(highest);
        await store.close();
        open.splice(open.indexOf(store), 1);
      }
    });
  });
}

/**
 * Runs `store-child.mjs` on `storage` until it reports `count` resolved appends (or all of its
 * text), then kills it with SIGKILL; resolves with what it reported.
 */
async function runChildUntil(storage: Storage, mode: 'append' | 'compact' | 'events', count: number): Promise<{ acked: number; positions: number[] }> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(storage.child), mode, CHILD_TEXT], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const positions: number[] = [];
  let acked = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    const report = JSON.parse(line) as { acked?: number; position?: number; done?: boolean };
    if (report.acked !== undefined) {
      acked = report.acked;
      positions.push(report.position!);
    }
    if (report.done || acked >= count) break;
  }
  child.kill('SIGKILL');
  await exited;
  if (acked === 0) throw new Error(`the store's child process reported nothing: ${errors}`);
  return { acked, positions };
}
