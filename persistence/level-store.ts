/**
 * A `DocumentStore` on an embedded LevelDB (classic-level). The key layout is in `level-keys.ts`.
 *
 * Sequence numbers are store-wide and assigned in memory when `append` is called, so an append
 * never reads before it writes, and a compaction's boundary is simply the last number assigned.
 *
 * Appends made together join the open group, which is then written to the journal
 * (`journal.ts`) with one synchronous write. That makes them durable: they resolve then (after an
 * fdatasync with `fsync`). When the group is written depends on how busy the event loop is:
 *
 * - Mostly idle (under half of the last 50 ms spent running code): as soon as the code that
 *   appended is done (a microtask later), so a socket read's updates are durable, and broadcast,
 *   before the next read is handled.
 * - Busy: at the end of the turn's I/O callbacks (`setImmediate`). A busy turn handles many
 *   socket reads; their appends, across all documents, take one journal write, and each
 *   document's updates go out in one socket write per connection (`Room.broadcastUpdates`).
 *   Measured at 8,000 and 10,000 updates/s over 100 documents: 11 to 17% less server CPU. At
 *   2,000/s, with a third of the loop busy, it made no difference beyond noise; and waiting for
 *   the end of the turn can only delay the first reads' updates, so it is done only when busy.
 *
 * The group then joins the queue that indexes everything into LevelDB, one batch at a time, off
 * the appends' path; groups journaled while a batch is in flight or waiting out
 * `batchIntervalMs` are written together (group commit), their log entries put into the batch as
 * each group is journaled. The journal is emptied whenever LevelDB has caught up, and replayed
 * into it when the store opens.
 *
 * Every LevelDB write goes through that ONE queue. Compactions and deletions are queued tasks
 * too, which seal the open group first: the queue's order is call order. Because
 * nothing else writes, the writer can keep each document's metadata in a cache and write it in
 * the same atomic batch as the log entries, and `logLength` is exact without counting keys.
 *
 * A compaction writes the state and the metadata in one atomic batch, then has LevelDB clear the
 * folded range of the log on its own thread. Folded entries that a crash leaves behind are
 * contained in the state, so they change nothing when loaded; `logLength` does not count them,
 * and the next compaction clears them.
 */
import { mkdir } from 'node:fs/promises';

import { ClassicLevel } from 'classic-level';

import { StoreOpenError, StoreWriteError } from './document-store.js';
import type { DocumentInfo, DocumentStore, StoredDocument } from './document-store.js';
import { EMPTY_META, META_END, META_FIRST, SEQ_KEY, checkName, decodeMeta, decodeSeq, encodeMeta } from './level-keys.js';
import { encodeSeq, LOG_END, LOG_FIRST, logEnd, logFirst, logKey, metaKey, stateKey } from './level-keys.js';
import type { DocumentMeta } from './level-keys.js';
import { Journal, type JournalRecord } from './journal.js';
import { checkStorageFormat } from './level-format.js';
import { LoopLoad } from './loop-load.js';

/** The database as the store uses it: UTF-8 keys, `Uint8Array` values. */
export type LevelDatabase = ClassicLevel<string, Uint8Array>;

/** Options of `LevelDocumentStore.open`. */
export interface LevelStoreOptions {
  /**
   * Sync journal writes to disk before their appends resolve. Default `false`: a write is then in
   * the operating system's page cache when it resolves, which survives the process being killed
   * (`kill -9`) but not a power loss or kernel crash. `true` survives those too. One fdatasync
   * runs at a time, shared by every journal write made while the one before ran; LevelDB syncs
   * its own copy before a journal file is deleted, and compactions and deletions as they are written.
   */
  readonly fsync?: boolean;
  /**
   * Least time in milliseconds between the starts of two LevelDB batches that index appends.
   * Default 0: a batch starts as soon as the previous one is written. Appends are durable once
   * journaled, so this delays only when a document loaded meanwhile can be read (at most the
   * interval); each batch costs a hand-off to LevelDB's thread whatever its size. (The server's
   * default is 100: measured at 2,000 updates/s over 100 documents, about 15% less CPU than 10.)
   */
  readonly batchIntervalMs?: number;
  /**
   * Hears of trouble that loses nothing and fails no write, for the log: a new journal file that
   * could not be created (writes then go on into the current one, and the next write tries again).
   */
  readonly onWarning?: (message: string, error: unknown) => void;
}

/** What opening the store found in its journal. */
export interface JournalRecovery {
  /** Appends the journal held that LevelDB had not indexed, now indexed. */
  readonly replayed: number;
  /** Bytes at the journal's end that held no intact record (a write cut short by a crash). */
  readonly ignoredBytes: number;
}

type PendingAppend = JournalRecord;

/**
 * The appends being gathered for the journal. Every append of a group returns the group's
 * `result`, which settles with `durable` (journaled): one promise per group rather than one per
 * update keeps the hot path from allocating what would outlive a garbage collection cycle.
 * `done` settles once LevelDB has indexed them (or failed to).
 */
type AppendGroup = { readonly appends: PendingAppend[]; readonly done: Deferred; readonly durable: Deferred; readonly result: Promise<void> };

/**
 * One entry of the write queue: journaled groups for LevelDB to index in one batch. Each group's
 * log entries go into `batch` as the group is journaled, so building a batch costs this thread a
 * little per group rather than all at once when it is written: at 2,000 updates/s, 200 entries
 * every 100 ms. `failure` is set if adding them failed; the batch is then not written. `done`
 * settles when it was written or failed, and with it the `done` of each group that joined later.
 *
 * The task keeps only what the batch's metadata needs (per document, the bytes and the number of
 * updates it adds), not the appends: their bytes are copied into the batch, and a task waits out
 * the batch interval. Holding every update that long let it outlive the young generation's
 * collections, so V8 moved it to the old generation, which then filled with dead updates. At
 * 13,000 updates/s over 100 documents (three runs of 9 s each), that took 3 to 6 full collections
 * a run instead of 1 to 2, and their pauses 10 to 73 ms in all instead of 3 to 16.
 */
type IndexTask = {
  readonly kind: 'index';
  readonly added: Map<string, { bytes: number; count: number }>;
  /** How many appends the batch holds, and the last one's sequence number. */
  count: number;
  lastSeq: number;
  readonly done: Deferred;
  readonly joined: Deferred[];
  batch: ChainedBatch | null;
  failure: unknown;
};

type WriteTask =
  | IndexTask
  | { readonly kind: 'compact'; readonly name: string; readonly state: Uint8Array; readonly boundary: number; readonly done: Deferred }
  | { readonly kind: 'delete'; readonly name: string; readonly done: Deferred };

/** A chained batch of the store's database. */
type ChainedBatch = ReturnType<LevelDatabase['batch']>;

/** The event loop's utilization from which appends are grouped by turn, and how often it is sampled (see the top of this file). */
const BUSY_LOOP_UTILIZATION = 0.5;
export const LOOP_SAMPLE_MS = 50;

/** Metadata records kept in memory; past this the least recently written are dropped (and re-read when needed). */
const META_CACHE_ENTRIES = 10_000;

export class LevelDocumentStore implements DocumentStore {
  private lastSeq: number;
  /** The last sequence number in the journal, and the last one LevelDB has indexed. */
  private journaledSeq: number;
  private indexedSeq: number;
  private readonly queue: WriteTask[] = [];
  /** The append group that new appends join; journaled when `append` schedules it (see the top of this file), or sooner by any other write. */
  private openGroup: AppendGroup | null = null;
  private journalScheduled = false;
  /** Chooses when the open group is journaled (see the top of this file). */
  private readonly loopLoad = new LoopLoad(BUSY_LOOP_UTILIZATION, LOOP_SAMPLE_MS);
  /** Set once a write failed in a way that leaves the store unable to take more. */
  private failure: StoreWriteError | null = null;
  private current: WriteTask | null = null;
  private writing = false;
  private drainScheduled = false;
  /** The timer of a drain that waits out `batchIntervalMs`; null when none waits. */
  private drainTimer: NodeJS.Timeout | null = null;
  /** When the last append batch began (performance.now()), for `batchIntervalMs`. */
  private lastGroupStart = Number.NEGATIVE_INFINITY;
  /** The last write touching each document (an open group, or a queued task), so `load` can wait for it. */
  private readonly lastWrite = new Map<string, AppendGroup | WriteTask>();
  /** Written metadata by name, in least-recently-written order. Only the writer changes it. */
  private readonly metaCache = new Map<string, DocumentMeta>();
  private readonly reads = new Set<Promise<unknown>>();
  private readonly failureListeners: Array<(error: StoreWriteError) => void> = [];
  private closing: Promise<void> | null = null;
  /** Set as closing begins (before `closing` is assigned): batches no longer wait out the interval. */
  private stopping = false;

  /** What opening the store found in its journal. */
  recovery: JournalRecovery = { replayed: 0, ignoredBytes: 0 };

  private constructor(
    private readonly db: LevelDatabase,
    private readonly journal: Journal,
    lastSeq: number,
    options: LevelStoreOptions,
  ) {
    this.lastSeq = this.journaledSeq = this.indexedSeq = lastSeq;
    this.fsync = options.fsync ?? false;
    this.batchIntervalMs = options.batchIntervalMs ?? 0;
  }

  private readonly fsync: boolean;
  private readonly batchIntervalMs: number;

  /**
   * Opens (creating if needed) the store in directory `dir`. Rejects if LevelDB cannot open it; with
   * `StoreOpenError` if another process holds it, or it holds another program's database or a
   * storage format this version does not read (see `level-format.ts`).
   */
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
    let journal: Journal | null = null;
    try {
      await db.open().catch((error: unknown) => {
        throw isLocked(error)
          ? new StoreOpenError(`The data directory ${db.location} is in use by another process: is another collab-server running on it?`, { cause: error })
          : error;
      });
      // Before anything is read or written: another program's database, or a format this
      // version does not know, is refused untouched.
      await checkStorageFormat(db);
      const stored = await db.get(SEQ_KEY);
      const indexed = stored === undefined ? 0 : decodeSeq(stored);
      // Only now, with LevelDB's lock held: no other process has this journal open.
      const warn = options.onWarning;
      const opened = Journal.open(db.location, options.fsync ?? false, (error) =>
        warn?.('could not start a new journal file; writes go on into the current one, and the next write tries again', error),
      );
      journal = opened.journal;
      // Records up to the stored sequence number were indexed before the journal was last emptied.
      const unindexed = opened.records.filter((record) => record.seq > indexed);
      const last = unindexed.length > 0 ? unindexed[unindexed.length - 1]!.seq : indexed;
      const store = new LevelDocumentStore(db, journal, Math.max(indexed, last), options);
      if (unindexed.length > 0) await store.writeIndex(store.indexTask(unindexed), store.fsync);
      journal.release(store.indexedSeq);
      store.recovery = { replayed: unindexed.length, ignoredBytes: opened.ignoredBytes };
      return store;
    } catch (error) {
      // Report the open failure, not a failure to close what did not open.
      journal?.close();
      await db.close().catch(() => undefined);
      throw error;
    }
  }

  /** Also waits for the queued writes to this document, so the result includes every append made before the call that succeeded. */
  load(name: string): Promise<StoredDocument> {
    return this.read(async () => {
      checkName(name);
      await this.writtenTo(name);
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
      if (this.failure) throw this.failure;
      let group = this.openGroup;
      if (group === null) {
        const durable = handledDeferred();
        // The callers' own promise, so that a failure nobody handles is still reported as unhandled.
        group = { appends: [], done: handledDeferred(), durable, result: durable.promise.then(() => undefined) };
        this.openGroup = group;
      }
      group.appends.push({ name, seq: ++this.lastSeq, update });
      this.lastWrite.set(name, group);
      if (!this.journalScheduled) {
        this.journalScheduled = true;
        if (this.loopLoad.isBusy()) setImmediate(this.sealScheduled);
        else queueMicrotask(this.sealScheduled);
      }
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

  onFailure(listener: (error: StoreWriteError) => void): void {
    this.failureListeners.push(listener);
  }

  /** The number of updates in the document's log since its last compaction, after the writes to it made before the call. */
  logLength(name: string): Promise<number> {
    return this.read(async () => {
      checkName(name);
      await this.writtenTo(name);
      const cached = this.metaCache.get(name);
      if (cached) return cached.logLength;
      const bytes = await this.db.get(metaKey(name));
      return bytes === undefined ? 0 : decodeMeta(bytes).logLength;
    });
  }

  /** Every written document, in UTF-8 byte order of the names (which is code point order). */
  list(): Promise<DocumentInfo[]> {
    return this.read(async () => {
      await Promise.allSettled(this.outstanding().map((task) => task.done.promise));
      if (this.failure) throw this.failure;
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
    this.sealGroup();
    // Nothing more will join a batch waiting out its interval: the writer starts it now.
    this.stopping = true;
    if (this.drainTimer !== null) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
      this.drainScheduled = false;
    }
    void this.drain();
    const writes = await Promise.allSettled(this.outstanding().map((task) => task.done.promise));
    await Promise.allSettled([...this.reads]);
    try {
      // Files whose records are all indexed go; after a failure, all stay for the next open. With
      // `fsync`, LevelDB's copy of them is synced first (one synced write syncs all before it).
      if (this.fsync && this.failure === null) await this.db.put(SEQ_KEY, encodeSeq(this.indexedSeq), { sync: true });
      this.journal.close(this.failure === null ? this.indexedSeq : undefined);
      // Folding deletes log entries one key at a time; until LevelDB compacts their tombstones
      // away, every read of a log steps over them (65 ms for the B4 trace's 260,000, on the first
      // load after a restart). A stop is a good moment to have that done.
      if (this.failure === null) await this.db.compactRange(LOG_FIRST, LOG_END);
    } finally {
      await this.db.close();
    }
    if (this.failure) throw this.failure;
    const failed = writes.find((result) => result.status === 'rejected');
    if (failed) {
      throw new StoreWriteError('A write pending when the store closed failed; its updates are not stored', { cause: failed.reason });
    }
  }

  /** Waits for the queued writes to the document; rejects if the store has failed, since reads would miss journaled appends. */
  private async writtenTo(name: string): Promise<void> {
    const pending = this.lastWrite.get(name);
    if (pending) await pending.done.promise.catch(() => undefined);
    if (this.failure) throw this.failure;
  }

  private assertOpen(): void {
    if (this.closing !== null) throw new Error('LevelDocumentStore is closed');
  }

  private checkWrite(name: string, bytes: Uint8Array): void {
    this.assertOpen();
    if (this.failure) throw this.failure;
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

  private outstanding(): Array<AppendGroup | WriteTask> {
    const tasks: Array<AppendGroup | WriteTask> = this.current === null ? [...this.queue] : [this.current, ...this.queue];
    if (this.openGroup !== null) tasks.push(this.openGroup);
    return tasks;
  }

  private enqueue(task: WriteTask & { kind: 'compact' | 'delete' }): Promise<void> {
    this.sealGroup();
    this.queue.push(task);
    this.lastWrite.set(task.name, task);
    this.scheduleDrain();
    // A promise of the caller's own, so that ignoring a failure is still reported as unhandled.
    return task.done.promise.then(() => undefined);
  }

  private readonly sealScheduled = (): void => {
    this.journalScheduled = false;
    this.sealGroup();
  };

  /**
   * Journals the open group (one synchronous write), settles its appends, and queues it for
   * LevelDB: into the index task at the queue's tail if there is one (it has not started), else a
   * new one. A group that cannot be journaled is not stored: its appends reject.
   */
  private sealGroup(): void {
    const group = this.openGroup;
    if (group === null) return;
    this.openGroup = null;
    try {
      if (this.failure) throw this.failure;
      this.journal.write(group.appends);
    } catch (cause) {
      const error = cause instanceof StoreWriteError ? cause : new StoreWriteError(describeAppends(group.appends), { cause });
      group.durable.reject(error);
      group.done.reject(error);
      // Reads of these documents must still wait for the writes queued before this group.
      const before = this.queue[this.queue.length - 1] ?? this.current;
      for (const { name } of group.appends) {
        if (this.lastWrite.get(name) !== group) continue;
        if (before) this.lastWrite.set(name, before);
        else this.lastWrite.delete(name);
      }
      return;
    }
    this.journaledSeq = group.appends[group.appends.length - 1]!.seq;
    if (this.fsync) {
      // The journal's syncs are group commits that settle in order: groups are durable in order.
      this.journal.sync().then(
        () => group.durable.resolve(),
        (cause: unknown) => {
          const error = new StoreWriteError(describeAppends(group.appends), { cause });
          group.durable.reject(error);
          // What a file holds on disk after a failed sync is unknown, and the journal takes no more.
          this.failStore('The store failed: the journal could not be synced to disk', error);
        },
      );
    } else {
      group.durable.resolve();
    }
    this.queueForIndex(group);
  }

  private queueForIndex(group: AppendGroup): void {
    const tail = this.queue[this.queue.length - 1];
    let task: IndexTask;
    if (tail?.kind === 'index') {
      task = tail;
      this.addToBatch(task, group.appends);
      task.joined.push(group.done);
    } else {
      task = this.indexTask(group.appends, group.done);
      this.queue.push(task);
      this.scheduleDrain();
    }
    for (const { name } of group.appends) if (this.lastWrite.get(name) === group) this.lastWrite.set(name, task);
  }

  /** A task indexing `appends`, their log entries already in its batch. */
  private indexTask(appends: readonly PendingAppend[], done: Deferred = handledDeferred()): IndexTask {
    const task: IndexTask = { kind: 'index', added: new Map(), count: 0, lastSeq: 0, done, joined: [], batch: null, failure: null };
    this.addToBatch(task, appends);
    return task;
  }

  /**
   * Counts `appends` into the task and puts their log entries into its batch; a failure is kept
   * for `writeIndex` to report.
   */
  private addToBatch(task: IndexTask, appends: readonly PendingAppend[]): void {
    for (const { name, update } of appends) {
      const sum = task.added.get(name);
      if (sum === undefined) task.added.set(name, { bytes: update.byteLength, count: 1 });
      else {
        sum.bytes += update.byteLength;
        sum.count++;
      }
    }
    task.count += appends.length;
    task.lastSeq = appends[appends.length - 1]!.seq;
    if (task.failure !== null) return;
    try {
      task.batch ??= this.db.batch();
      for (const { name, seq, update } of appends) task.batch.put(logKey(name, seq), update);
    } catch (error) {
      task.failure = error;
    }
  }

  /**
   * Starts the writer on the next turn of the event loop, or, when the only queued task is an
   * index batch, once `batchIntervalMs` has passed since the last one began (so that more groups
   * join it). A batch with anything queued behind it waits for nothing: no group can join it any
   * more (groups join the queue's tail only), so a wait would only hold up the tasks behind it.
   * With folds queued between appends, as when documents unload while others are edited, each
   * batch waited out the interval in turn, and a load of a document written meanwhile waited for
   * all of them: the fuzz suite saw 130 batches queued between 420 folds, 13 s at 100 ms each.
   */
  private scheduleDrain(): void {
    if (this.writing) return;
    const wait = this.batchWait();
    if (this.drainScheduled) {
      if (this.drainTimer === null || wait > 0) return;
      // Something was queued behind a batch waiting out the interval: it need not wait any more.
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    this.drainScheduled = true;
    const start = (): void => {
      this.drainScheduled = false;
      this.drainTimer = null;
      void this.drain();
    };
    if (wait > 0) this.drainTimer = setTimeout(start, wait);
    else setImmediate(start);
  }

  /** Milliseconds the writer waits before its next task: only an index batch alone in the queue waits (see `scheduleDrain`). */
  private batchWait(): number {
    return this.queue.length === 1 && this.queue[0]!.kind === 'index' ? this.groupWait() : 0;
  }

  /** Milliseconds until the next append batch may begin (none once closing: nothing more will join it). */
  private groupWait(): number {
    if (this.batchIntervalMs === 0 || this.stopping) return 0;
    return this.lastGroupStart + this.batchIntervalMs - performance.now();
  }

  /** The writer: runs queued tasks one at a time. Never rejects. */
  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    for (;;) {
      if (this.queue.length === 0) break;
      if (this.batchWait() > 0) {
        // Too soon after the last batch: let more groups join this one.
        this.writing = false;
        this.scheduleDrain();
        return;
      }
      const task = this.queue.shift()!;
      if (task.kind === 'index') this.lastGroupStart = performance.now();
      this.current = task;
      await this.run(task);
      this.current = null;
    }
    this.writing = false;
  }

  private async run(task: WriteTask): Promise<void> {
    try {
      if (task.kind === 'index') {
        const last = task.lastSeq;
        // With `fsync`, LevelDB's copy must be on disk before the journal's is deleted: the batch
        // that lets a journal file go is synced (and with it every batch before it, LevelDB's log
        // being sequential). The others need not be; the journal holds their appends on disk.
        // (A file retired while the batch is written waits for the next batch, which is synced.)
        const sync = this.fsync && this.journal.releasable(last);
        await this.writeIndex(task, sync);
        this.indexedSeq = last;
        if (sync || !this.fsync) this.journal.release(last);
      } else {
        if (this.failure) throw this.failure;
        if (task.kind === 'compact') await this.writeCompaction(task.name, task.state, task.boundary);
        else await this.writeDeletion(task.name);
      }
      task.done.resolve();
      if (task.kind === 'index') for (const done of task.joined) done.resolve();
    } catch (cause) {
      const error = cause instanceof StoreWriteError ? cause : new StoreWriteError(describeFailure(task), { cause });
      task.done.reject(error);
      if (task.kind === 'index') {
        for (const done of task.joined) done.reject(error);
        this.failStore('The store failed: LevelDB could not index journaled updates; they are kept in the journal for the next start', error);
      }
    } finally {
      this.forget(task);
    }
  }

  /**
   * The store can take no more writes: LevelDB could not index appends that are durable in the
   * journal (reads would miss them), or the journal could not be synced. The journal keeps what it
   * has for the next open. Reported once, to the failure listeners.
   */
  private failStore(message: string, cause: StoreWriteError): void {
    if (this.failure) return;
    this.failure = new StoreWriteError(message, { cause });
    for (const listener of this.failureListeners) listener(this.failure);
  }

  private forget(task: WriteTask): void {
    const names = task.kind === 'index' ? task.added.keys() : [task.name];
    for (const name of names) if (this.lastWrite.get(name) === task) this.lastWrite.delete(name);
  }

  /**
   * Writes an index task's batch: its log entries are in it already (see `IndexTask`); the
   * metadata of each document it touches and the last sequence number join them here. The batch
   * is closed, written or not (a failed store writes nothing more).
   */
  private async writeIndex(task: IndexTask, sync: boolean): Promise<void> {
    try {
      if (this.failure) throw this.failure;
      if (task.failure !== null || task.batch === null) throw task.failure;
      const batch = task.batch;
      const metas = await this.readMeta([...task.added.keys()]);
      const updatedAt = Date.now();
      for (const [name, { bytes, count }] of task.added) {
        const meta = metas.get(name) ?? EMPTY_META;
        const next = { ...meta, updatedAt, logBytes: meta.logBytes + bytes, logLength: meta.logLength + count };
        metas.set(name, next);
        batch.put(metaKey(name), encodeMeta(next));
      }
      batch.put(SEQ_KEY, encodeSeq(task.lastSeq));
      await batch.write({ sync });
      for (const [name, meta] of metas) this.cacheMeta(name, meta);
    } finally {
      // Written (or failed to be), this does nothing; otherwise it frees what LevelDB holds for it.
      await task.batch?.close();
    }
  }

  private async writeCompaction(name: string, state: Uint8Array, boundary: number): Promise<void> {
    // What stays in the log: appends after the boundary, none while the queue runs in call order,
    // but counted rather than assumed so the metadata stays exact.
    const kept = await this.db.values({ gt: logKey(name, boundary), lt: logEnd(name) }).all();
    const next: DocumentMeta = {
      updatedAt: Date.now(),
      stateBytes: state.byteLength,
      logBytes: kept.reduce((sum, update) => sum + update.byteLength, 0),
      logLength: kept.length,
    };
    await this.writeChained((batch) => {
      batch.put(stateKey(name), state);
      batch.put(metaKey(name), encodeMeta(next));
    }, this.fsync);
    this.cacheMeta(name, next);
    // The folded entries go after the state is written, as a range that LevelDB's thread clears
    // without handing a key to this one. Deleting them in the state's batch meant reading every
    // key into JavaScript first: 2.5 ms of this thread per thousand entries, 250 ms of it in one
    // burst when a hundred documents reach the threshold together (now about 0.5 ms a fold).
    // A crash before the clear ends leaves some folded entries beside the state; they are in it,
    // so a load applies them as no-ops, and the next compaction's range clears them.
    await this.db.clear({ gt: logFirst(name), lte: logKey(name, boundary) });
  }

  private async writeDeletion(name: string): Promise<void> {
    const keys = await this.db.keys({ gt: logFirst(name), lt: logEnd(name) }).all();
    await this.writeChained((batch) => {
      for (const key of keys) batch.del(key);
      batch.del(stateKey(name));
      batch.del(metaKey(name));
    }, this.fsync);
    this.metaCache.delete(name);
  }

  /**
   * Writes one atomic batch, built by `fill` as a chained batch. A chained batch hands each
   * operation to LevelDB's write batch as it is added. An array batch (`db.batch(ops)`) keeps a
   * copy of every operation alive until the write completes, and V8 learns to allocate those
   * copies straight into the old generation: under steady load that garbage made scavenges 3-5
   * times slower and forced a full collection every few seconds.
   */
  private async writeChained(fill: (batch: ChainedBatch) => void, sync: boolean): Promise<void> {
    const batch = this.db.batch();
    try {
      fill(batch);
    } catch (error) {
      await batch.close();
      throw error;
    }
    await batch.write({ sync });
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

function describeAppends(appends: readonly PendingAppend[]): string {
  return `Could not write ${appends.length} update(s); they are not stored`;
}

function describeFailure(task: WriteTask): string {
  if (task.kind === 'index') return `LevelDB could not index ${task.count} journaled update(s)`;
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

/** LevelDB refused to open because another process (or store) holds the directory's lock. */
function isLocked(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 'LEVEL_LOCKED';
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
