/**
 * A `DocumentStore` on an embedded LevelDB (classic-level). The key layout is in `level-keys.ts`.
 *
 * Sequence numbers are store-wide and assigned in memory when `append` is called, so an append
 * never reads before it writes, and a compaction's boundary is simply the last number assigned.
 *
 * Every write goes through ONE queue, one `db.batch` at a time. Appends of a tick, across all
 * documents, join the open group; the group is written as one batch when the queue reaches it,
 * and appends arriving meanwhile form the next group (group commit). Compactions and deletions
 * are queued tasks too, which seals the open group first: the queue's order is call order. Because
 * nothing else writes, the writer can keep each document's metadata in a cache and write it in
 * the same atomic batch as the log entries, and `logLength` is exact without counting keys.
 * (The price: a compaction holds the writer while it reads the entries it folds, 1 to 2 ms per
 * thousand entries; with the engine compacting every thousand appends that is one tick's delay.)
 */
import { mkdir } from 'node:fs/promises';

import { ClassicLevel } from 'classic-level';

import { StoreWriteError } from './document-store.js';
import type { DocumentInfo, DocumentStore, StoredDocument } from './document-store.js';
import { EMPTY_META, META_END, META_FIRST, SEQ_KEY, checkName, decodeMeta, decodeSeq, encodeMeta } from './level-keys.js';
import { encodeSeq, logEnd, logFirst, logKey, metaKey, stateKey } from './level-keys.js';
import type { DocumentMeta } from './level-keys.js';

/** The database as the store uses it: UTF-8 keys, `Uint8Array` values. */
export type LevelDatabase = ClassicLevel<string, Uint8Array>;

/** Options of `LevelDocumentStore.open`. */
export interface LevelStoreOptions {
  /**
   * Sync every batch to disk before its writes resolve. Default `false`: a write is then in the
   * operating system's page cache when it resolves, which survives the process being killed
   * (`kill -9`) but not a power loss or kernel crash. `true` survives those too, at the cost of
   * one fsync per batch (group commit spreads it over every append of a tick).
   */
  readonly fsync?: boolean;
  /**
   * Least time in milliseconds between the starts of two append batches. Default 0: a batch
   * starts as soon as the previous one is written. Each batch costs a hand-off to LevelDB's
   * thread and a log write whatever its size, so under load a small interval gathers many
   * appends per batch for far less work, while an append arriving after a quiet spell is
   * written at once. It delays appends by at most the interval.
   */
  readonly batchIntervalMs?: number;
}

interface PendingAppend {
  readonly name: string;
  readonly seq: number;
  readonly update: Uint8Array;
}

/**
 * One entry of the write queue. `done` settles when its batch was written or failed. Every append
 * of a group returns the group's `result`: one promise per batch rather than one per update keeps
 * the hot path from allocating what would outlive a garbage collection cycle.
 */
type WriteTask =
  | { readonly kind: 'append'; readonly appends: PendingAppend[]; readonly done: Deferred; readonly result: Promise<void> }
  | { readonly kind: 'compact'; readonly name: string; readonly state: Uint8Array; readonly boundary: number; readonly done: Deferred }
  | { readonly kind: 'delete'; readonly name: string; readonly done: Deferred };

type BatchOperation = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/** Metadata records kept in memory; past this the least recently written are dropped (and re-read when needed). */
const META_CACHE_ENTRIES = 10_000;

export class LevelDocumentStore implements DocumentStore {
  private lastSeq: number;
  private readonly queue: WriteTask[] = [];
  /** The append group that new appends join; sealed into the queue by any other write. */
  private openGroup: (WriteTask & { kind: 'append' }) | null = null;
  private current: WriteTask | null = null;
  private writing = false;
  private drainScheduled = false;
  /** When the last append batch began (performance.now()), for `batchIntervalMs`. */
  private lastGroupStart = Number.NEGATIVE_INFINITY;
  /** The last queued write touching each document, so `load` can wait for it. */
  private readonly lastWrite = new Map<string, WriteTask>();
  /** Written metadata by name, in least-recently-written order. Only the writer changes it. */
  private readonly metaCache = new Map<string, DocumentMeta>();
  private readonly reads = new Set<Promise<unknown>>();
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly db: LevelDatabase,
    lastSeq: number,
    private readonly fsync: boolean,
    private readonly batchIntervalMs: number,
  ) {
    this.lastSeq = lastSeq;
  }

  /** Opens (creating if needed) the store in directory `dir`. Rejects if LevelDB cannot open it, e.g. locked by another process. */
  static async open(dir: string, options: LevelStoreOptions = {}): Promise<LevelDocumentStore> {
    await mkdir(dir, { recursive: true });
    const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    return LevelDocumentStore.fromDatabase(db, options);
  }

  /**
   * Opens the store on a database the caller constructed, which must use `keyEncoding: 'utf8'` and
   * `valueEncoding: 'view'` (else RangeError). The store owns it from then on and closes it in
   * `close()`; nothing else may write to it.
   */
  static async fromDatabase(db: LevelDatabase, options: LevelStoreOptions = {}): Promise<LevelDocumentStore> {
    if (db.keyEncoding().commonName !== 'utf8' || db.valueEncoding().commonName !== 'view') {
      throw new RangeError("LevelDocumentStore needs a database with keyEncoding 'utf8' and valueEncoding 'view'");
    }
    try {
      await db.open();
      const seq = await db.get(SEQ_KEY);
      return new LevelDocumentStore(db, seq === undefined ? 0 : decodeSeq(seq), options.fsync ?? false, options.batchIntervalMs ?? 0);
    } catch (error) {
      // Report the open failure, not a failure to close what did not open.
      await db.close().catch(() => undefined);
      throw error;
    }
  }

  /** Also waits for the queued writes to this document, so the result includes every append made before the call that succeeded. */
  load(name: string): Promise<StoredDocument> {
    return this.read(async () => {
      checkName(name);
      const pending = this.lastWrite.get(name);
      if (pending) await pending.done.promise.catch(() => undefined);
      // One snapshot for both reads: a compaction committing between them must not hide the
      // updates it folded (old state + new, empty log).
      const snapshot = this.db.snapshot();
      try {
        const state = await this.db.get<string, Uint8Array>(stateKey(name), { snapshot });
        const updates = await this.db.values<string, Uint8Array>({ gt: logFirst(name), lt: logEnd(name), snapshot }).all();
        return { state: state === undefined ? null : plain(state), updates: updates.map(plain) };
      } finally {
        await snapshot.close();
      }
    });
  }

  /**
   * Queues the update; see `DocumentStore.append`. The store keeps a reference to `update` until it
   * is written, so the caller must not modify it. Rejects with RangeError for a name containing U+0000
   * or a lone surrogate (two such names would encode to the same key).
   */
  append(name: string, update: Uint8Array): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, update);
      let group = this.openGroup;
      if (group === null) {
        const done = handledDeferred();
        // The callers' own promise, so that a failure nobody handles is still reported as unhandled.
        group = { kind: 'append', appends: [], done, result: done.promise.then(() => undefined) };
        this.openGroup = group;
      }
      group.appends.push({ name, seq: ++this.lastSeq, update });
      this.lastWrite.set(name, group);
      this.scheduleDrain();
      return group.result;
    });
  }

  /** Queued after every append already made, so the boundary's updates are written before it runs. */
  compact(name: string, state: Uint8Array): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, state);
      return this.enqueue({ kind: 'compact', name, state, boundary: this.lastSeq, done: handledDeferred() });
    });
  }

  /** Queued after every write already made; appends made after the call create the document again. */
  delete(name: string): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, new Uint8Array());
      return this.enqueue({ kind: 'delete', name, done: handledDeferred() });
    });
  }

  /** The number of updates written to the document's log since its last compaction (queued appends are not counted). */
  logLength(name: string): Promise<number> {
    return this.read(async () => {
      checkName(name);
      const cached = this.metaCache.get(name);
      if (cached) return cached.logLength;
      const bytes = await this.db.get(metaKey(name));
      return bytes === undefined ? 0 : decodeMeta(bytes).logLength;
    });
  }

  /** Every written document, in UTF-8 byte order of the names (which is code point order). */
  list(): Promise<DocumentInfo[]> {
    return this.read(async () => {
      const entries = await this.db.iterator({ gt: META_FIRST, lt: META_END }).all();
      return entries.map(([key, value]) => {
        const meta = decodeMeta(value);
        return { name: key.slice(META_FIRST.length), updatedAt: meta.updatedAt, size: meta.stateBytes + meta.logBytes };
      });
    });
  }

  async flush(): Promise<void> {
    this.assertOpen();
    await Promise.all(this.outstanding().map((task) => task.done.promise));
  }

  /**
   * Waits for every queued write and running read, then closes the database. Rejects with
   * `StoreWriteError` if a write pending at the call failed (the database is closed regardless).
   * Calling it again returns the same promise; every other method rejects once it was called.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const writes = await Promise.allSettled(this.outstanding().map((task) => task.done.promise));
    await Promise.allSettled([...this.reads]);
    await this.db.close();
    const failed = writes.find((result) => result.status === 'rejected');
    if (failed) {
      throw new StoreWriteError('A write pending when the store closed failed; its updates are not stored', { cause: failed.reason });
    }
  }

  private assertOpen(): void {
    if (this.closing !== null) throw new Error('LevelDocumentStore is closed');
  }

  private checkWrite(name: string, bytes: Uint8Array): void {
    this.assertOpen();
    checkName(name);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('Updates and states must be Uint8Arrays');
  }

  /** Runs a read, tracked so that `close` waits for it rather than closing the database under it. */
  private read<T>(body: () => Promise<T>): Promise<T> {
    return attempt(() => {
      this.assertOpen();
      const result = body();
      const forget = (): void => void this.reads.delete(result);
      this.reads.add(result);
      result.then(forget, forget);
      return result;
    });
  }

  private outstanding(): WriteTask[] {
    const tasks = this.current === null ? [...this.queue] : [this.current, ...this.queue];
    if (this.openGroup !== null) tasks.push(this.openGroup);
    return tasks;
  }

  private enqueue(task: WriteTask & { kind: 'compact' | 'delete' }): Promise<void> {
    if (this.openGroup !== null) this.queue.push(this.openGroup);
    this.openGroup = null;
    this.queue.push(task);
    this.lastWrite.set(task.name, task);
    this.scheduleDrain();
    // A promise of the caller's own, so that ignoring a failure is still reported as unhandled.
    return task.done.promise.then(() => undefined);
  }

  /**
   * Starts the writer on the next turn of the event loop, after every append of this tick joined
   * the group, or once `batchIntervalMs` has passed since the last append batch began.
   */
  private scheduleDrain(): void {
    if (this.writing || this.drainScheduled) return;
    this.drainScheduled = true;
    const start = (): void => {
      this.drainScheduled = false;
      void this.drain();
    };
    const wait = this.queue.length === 0 ? this.groupWait() : 0;
    if (wait > 0) setTimeout(start, wait);
    else setImmediate(start);
  }

  /** Milliseconds until the next append batch may begin. */
  private groupWait(): number {
    return this.batchIntervalMs === 0 ? 0 : this.lastGroupStart + this.batchIntervalMs - performance.now();
  }

  /** The writer: runs queued tasks one at a time, then the open group. Never rejects. */
  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    for (;;) {
      let task = this.queue.shift();
      if (task === undefined && this.openGroup !== null) {
        if (this.groupWait() > 0) {
          // Too soon after the last batch: let more appends join this one.
          this.writing = false;
          this.scheduleDrain();
          return;
        }
        task = this.openGroup;
        this.openGroup = null;
        this.lastGroupStart = performance.now();
      }
      if (task === undefined) break;
      this.current = task;
      await this.run(task);
      this.current = null;
    }
    this.writing = false;
  }

  private async run(task: WriteTask): Promise<void> {
    try {
      if (task.kind === 'append') await this.writeAppends(task.appends);
      else if (task.kind === 'compact') await this.writeCompaction(task.name, task.state, task.boundary);
      else await this.writeDeletion(task.name);
      task.done.resolve();
    } catch (cause) {
      task.done.reject(new StoreWriteError(describeFailure(task), { cause }));
    } finally {
      const names = task.kind === 'append' ? task.appends.map((append) => append.name) : [task.name];
      for (const name of names) if (this.lastWrite.get(name) === task) this.lastWrite.delete(name);
    }
  }

  private async writeAppends(appends: readonly PendingAppend[]): Promise<void> {
    const metas = await this.readMeta([...new Set(appends.map((append) => append.name))]);
    const updatedAt = Date.now();
    // A chained batch hands each operation to LevelDB's write batch as it is added. An array batch
    // (`db.batch(ops)`) keeps a copy of every operation alive until the write completes, and V8
    // learns to allocate those copies straight into the old generation: under steady load that
    // garbage made scavenges 3-5 times slower and forced a full collection every few seconds.
    const batch = this.db.batch();
    try {
      for (const { name, seq, update } of appends) {
        batch.put(logKey(name, seq), update);
        const meta = metas.get(name) ?? EMPTY_META;
        metas.set(name, { ...meta, updatedAt, logBytes: meta.logBytes + update.byteLength, logLength: meta.logLength + 1 });
      }
      for (const [name, meta] of metas) batch.put(metaKey(name), encodeMeta(meta));
      batch.put(SEQ_KEY, encodeSeq(appends[appends.length - 1]!.seq));
    } catch (error) {
      await batch.close();
      throw error;
    }
    await batch.write({ sync: this.fsync });
    for (const [name, meta] of metas) this.cacheMeta(name, meta);
  }

  private async writeCompaction(name: string, state: Uint8Array, boundary: number): Promise<void> {
    const meta = (await this.readMeta([name])).get(name) ?? EMPTY_META;
    // The queue ran every append up to the boundary, so these are all the entries the state folds.
    const folded = await this.db.iterator({ gt: logFirst(name), lte: logKey(name, boundary) }).all();
    const ops: BatchOperation[] = [];
    let foldedBytes = 0;
    for (const [key, value] of folded) {
      ops.push({ type: 'del', key });
      foldedBytes += value.byteLength;
    }
    const next: DocumentMeta = {
      updatedAt: Date.now(),
      stateBytes: state.byteLength,
      logBytes: Math.max(0, meta.logBytes - foldedBytes),
      logLength: Math.max(0, meta.logLength - folded.length),
    };
    ops.push({ type: 'put', key: stateKey(name), value: state }, { type: 'put', key: metaKey(name), value: encodeMeta(next) });
    await this.db.batch(ops, { sync: this.fsync });
    this.cacheMeta(name, next);
  }

  private async writeDeletion(name: string): Promise<void> {
    const keys = await this.db.keys({ gt: logFirst(name), lt: logEnd(name) }).all();
    const ops: BatchOperation[] = keys.map((key) => ({ type: 'del', key }));
    ops.push({ type: 'del', key: stateKey(name) }, { type: 'del', key: metaKey(name) });
    await this.db.batch(ops, { sync: this.fsync });
    this.metaCache.delete(name);
  }

  /** Current metadata of each name, from the cache or the database. Called by the writer only, so nothing changes it meanwhile. */
  private async readMeta(names: readonly string[]): Promise<Map<string, DocumentMeta>> {
    const metas = new Map<string, DocumentMeta>();
    const missing = names.filter((name) => {
      const cached = this.metaCache.get(name);
      if (cached) metas.set(name, cached);
      return cached === undefined;
    });
    if (missing.length === 0) return metas;
    const values = await this.db.getMany(missing.map(metaKey));
    missing.forEach((name, i) => {
      const bytes = values[i];
      const meta = bytes === undefined ? EMPTY_META : decodeMeta(bytes);
      metas.set(name, meta);
      this.cacheMeta(name, meta);
    });
    return metas;
  }

  private cacheMeta(name: string, meta: DocumentMeta): void {
    this.metaCache.delete(name);
    this.metaCache.set(name, meta);
    if (this.metaCache.size > META_CACHE_ENTRIES) {
      const oldest = this.metaCache.keys().next().value;
      if (oldest !== undefined) this.metaCache.delete(oldest);
    }
  }
}

function describeFailure(task: WriteTask): string {
  if (task.kind === 'append') return `Could not write ${task.appends.length} update(s); they are not stored`;
  return `Could not ${task.kind} document ${JSON.stringify(task.name)}; it is unchanged`;
}

/** Runs `body`, turning a synchronous throw (a broken contract) into a rejected promise. */
function attempt<T>(body: () => Promise<T>): Promise<T> {
  try {
    return body();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * classic-level returns Buffers; hand out plain Uint8Array views of the same memory, because a
 * Buffer's `slice` shares memory where a Uint8Array's copies, a difference callers should not meet.
 */
function plain(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A deferred whose rejection is not reported as unhandled: the store's own tasks, awaited only by `flush`/`close` if at all. */
function handledDeferred(): Deferred {
  const result = deferred();
  result.promise.catch(() => undefined);
  return result;
}

