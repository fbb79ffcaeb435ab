/**
 * The one writer of a `LevelDocumentStore`: every LevelDB write goes through this queue, one task
 * at a time, in call order. Journaled appends are indexed in batches (group commit: groups
 * journaled while a batch is in flight, or waiting out `batchIntervalMs`, join one batch);
 * compactions, deletions and writes to the event queue are tasks of their own, queued behind what
 * came before them. Because
 * nothing else writes, the writer keeps each document's metadata in a cache (`MetaCache`) and
 * writes it in the same atomic batch as the log entries.
 */
import { StoreWriteError } from '../document-store.js';
import { type Deferred, handledDeferred } from '../deferred.js';
import { type EventTask, writeEvent } from './events.js';
import type { Journal } from './journal.js';
import type { JournalRecord } from './journal-records.js';
import type { VersionChanges } from '../versions.js';
import {
  type DocumentMeta,
  EMPTY_META,
  encodeMeta,
  encodeSeq,
  encodeVersionInfo,
  type LevelDatabase,
  logEnd,
  logFirst,
  logKey,
  metaKey,
  SEQ_KEY,
  stateKey,
  versionDataEnd,
  versionDataFirst,
  versionDataKey,
  versionInfoEnd,
  versionInfoFirst,
  versionInfoKey,
} from './keys.js';
import type { MetaCache } from './meta-cache.js';

/**
 * Journaled appends for LevelDB to index in one batch. Each group's log entries go into `batch`
 * as the group is journaled, so building a batch costs this thread a little per group rather than
 * all at once when it is written. `failure` is set if adding them failed; the batch is then not
 * written. `done` settles when it was written or failed, and with it the `done` of each group
 * that `joined` later.
 *
 * The task keeps only what the batch's metadata needs (per document, the bytes and the number of
 * updates it adds), not the appends: their bytes are copied into the batch, and a task may wait
 * out the batch interval, long enough for held updates to be promoted to V8's old generation.
 */
export interface IndexTask {
  readonly kind: 'index';
  readonly added: Map<string, { bytes: number; count: number }>;
  /** How many appends the batch holds, and the last one's sequence number. */
  count: number;
  lastSeq: number;
  readonly done: Deferred;
  readonly joined: Deferred[];
  batch: ChainedBatch | null;
  failure: unknown;
}

/** What the writer runs: an index batch, a compaction, a deletion, a change of versions or of the event queue. */
export type WriteTask = IndexTask | DocumentTask | EventTask;

/** A write task of one document: queued behind every write before it. */
export type DocumentTask =
  | { readonly kind: 'compact'; readonly name: string; readonly state: Uint8Array; readonly upTo: number; readonly done: Deferred }
  | { readonly kind: 'delete'; readonly name: string; readonly done: Deferred }
  | { readonly kind: 'versions'; readonly name: string; readonly changes: VersionChanges; readonly done: Deferred };

/** A chained batch of the store's database. */
type ChainedBatch = ReturnType<LevelDatabase['batch']>;

/** What the writer needs of its store. */
export interface WriterHost {
  /** Set while the store is down (unavailable or failed): nothing more is written. */
  readonly failure: StoreWriteError | null;
  /** LevelDB could not index journaled appends: the store goes down as a whole. */
  indexFailed(error: StoreWriteError): void;
  /** A task is over (written or failed): what waited for it may go on. */
  forget(task: WriteTask): void;
}

/** The writer of one store (see the top of this file). */
export class WriteQueue {
  private readonly queue: WriteTask[] = [];
  private current: WriteTask | null = null;
  private writing = false;
  private drainScheduled = false;
  /** The timer of a drain that waits out `batchIntervalMs`; null when none waits. */
  private drainTimer: NodeJS.Timeout | null = null;
  /** When the last index batch began (performance.now()), for `batchIntervalMs`. */
  private lastBatchStart = Number.NEGATIVE_INFINITY;
  /** Set once the store closes: batches no longer wait out the interval. */
  private stopping = false;
  /** The last sequence number LevelDB has indexed. */
  indexedSeq: number;

  constructor(
    private readonly db: LevelDatabase,
    private readonly journal: Journal,
    private readonly metas: MetaCache,
    private readonly fsync: boolean,
    private readonly batchIntervalMs: number,
    indexedSeq: number,
    private readonly host: WriterHost,
  ) {
    this.indexedSeq = indexedSeq;
  }

  /** The task running now and those queued, in order. */
  outstanding(): WriteTask[] {
    return this.current === null ? [...this.queue] : [this.current, ...this.queue];
  }

  /** The task running now, else the last queued: what a write queued now comes after. */
  get last(): WriteTask | null {
    return this.queue[this.queue.length - 1] ?? this.current;
  }

  /**
   * Queues journaled appends for indexing: into the index task at the queue's tail if there is one
   * (it has not started), else a new one. `done` settles with the batch. Returns the task.
   */
  index(appends: readonly JournalRecord[], done: Deferred): IndexTask {
    const tail = this.queue[this.queue.length - 1];
    if (tail?.kind === 'index') {
      this.addToBatch(tail, appends);
      tail.joined.push(done);
      return tail;
    }
    const task = this.indexTask(appends, done);
    this.queue.push(task);
    this.scheduleDrain();
    return task;
  }

  /** A task indexing `appends`, their log entries already in its batch (not queued: see `writeIndex`). */
  indexTask(appends: readonly JournalRecord[], done: Deferred = handledDeferred()): IndexTask {
    const task: IndexTask = { kind: 'index', added: new Map(), count: 0, lastSeq: 0, done, joined: [], batch: null, failure: null };
    this.addToBatch(task, appends);
    return task;
  }

  /** Queues a compaction, a deletion, a change of versions or of the event queue behind every write queued before it. */
  enqueue(task: DocumentTask | EventTask): void {
    this.queue.push(task);
    this.scheduleDrain();
  }

  /** Starts what is queued now, without waiting out the batch interval: the store closes. */
  stop(): void {
    this.stopping = true;
    if (this.drainTimer !== null) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
      this.drainScheduled = false;
    }
    void this.drain();
  }

  /**
   * Writes an index task's batch: its log entries are in it already; the metadata of each
   * document it touches and the last sequence number join them here. The batch is closed, written
   * or not (a failed store writes nothing more).
   */
  async writeIndex(task: IndexTask, sync: boolean): Promise<void> {
    try {
      if (task.failure !== null || task.batch === null) throw task.failure;
      const batch = task.batch;
      const metas = await this.metas.readMany([...task.added.keys()]);
      const updatedAt = Date.now();
      for (const [name, { bytes, count }] of task.added) {
        const meta = metas.get(name) ?? EMPTY_META;
        // An append after a deletion creates the document again: the mark goes.
        const next = { ...meta, updatedAt, logBytes: meta.logBytes + bytes, logLength: meta.logLength + count, deletedAt: null };
        metas.set(name, next);
        batch.put(metaKey(name), encodeMeta(next));
      }
      batch.put(SEQ_KEY, encodeSeq(task.lastSeq));
      await batch.write({ sync });
      for (const [name, meta] of metas) this.metas.set(name, meta);
    } finally {
      // Written (or failed to be), this does nothing; otherwise it frees what LevelDB holds for it.
      await task.batch?.close();
    }
  }

  /**
   * Indexes journaled records LevelDB lacks (when the store opens, or recovers), in one batch
   * written at once, and moves `indexedSeq` past them. Only while nothing else is queued.
   */
  async replay(records: readonly JournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.writeIndex(this.indexTask(records), this.fsync);
    this.indexedSeq = records[records.length - 1]!.seq;
  }

  /** Counts `appends` into the task and puts their log entries into its batch; a failure is kept for `writeIndex` to report. */
  private addToBatch(task: IndexTask, appends: readonly JournalRecord[]): void {
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
    if (this.queue.length !== 1 || this.queue[0]!.kind !== 'index' || this.batchIntervalMs === 0 || this.stopping) return 0;
    return this.lastBatchStart + this.batchIntervalMs - performance.now();
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
      if (task.kind === 'index') this.lastBatchStart = performance.now();
      this.current = task;
      await this.run(task);
      this.current = null;
    }
    this.writing = false;
  }

  private async run(task: WriteTask): Promise<void> {
    try {
      // A store that is down writes nothing more: its recovery, or the next start, replays the
      // journal. A batch not written still holds what LevelDB keeps for it.
      if (this.host.failure) {
        if (task.kind === 'index') await task.batch?.close();
        throw this.host.failure;
      }
      if (task.kind === 'index') {
        const last = task.lastSeq;
        // With `fsync`, LevelDB's copy must be on disk before the journal's is deleted: the batch
        // that lets a journal file go is synced (and with it every batch before it, LevelDB's log
        // being sequential). The others need not be; the journal holds their appends on disk.
        const sync = this.fsync && this.journal.releasable(last);
        await this.writeIndex(task, sync);
        this.indexedSeq = last;
        if (sync || !this.fsync) this.journal.release(last);
      } else {
        if (task.kind === 'compact') await this.writeCompaction(task.name, task.state, task.upTo);
        else if (task.kind === 'delete') await this.writeDeletion(task.name);
        else if (task.kind === 'event') await writeEvent(this.db, task, this.fsync);
        else await this.writeVersions(task.name, task.changes);
      }
      task.done.resolve();
      if (task.kind === 'index') for (const done of task.joined) done.resolve();
    } catch (cause) {
      const error = cause instanceof StoreWriteError ? cause : new StoreWriteError(describeFailure(task), { cause });
      task.done.reject(error);
      if (task.kind === 'index') {
        for (const done of task.joined) done.reject(error);
        this.host.indexFailed(error);
      }
    } finally {
      this.host.forget(task);
    }
  }

  /**
   * Writes the state and the metadata in one atomic batch, unless the state already covers `upTo`
   * or later; then has LevelDB clear the compacted range of the log on its own thread (handing no key
   * to this one). A crash before the clear ends leaves some compacted entries beside the state: they
   * are in it, so a load applies them as no-ops, and the next compaction's range clears them.
   */
  private async writeCompaction(name: string, state: Uint8Array, upTo: number): Promise<void> {
    const meta = await this.metas.read(name);
    if (meta.statePosition >= upTo) return;
    // What stays in the log: appends after `upTo`, counted so the metadata stays exact.
    const kept = await this.db.values({ gt: logKey(name, upTo), lt: logEnd(name) }).all();
    const next: DocumentMeta = {
      updatedAt: Date.now(),
      stateBytes: state.byteLength,
      logBytes: kept.reduce((sum, update) => sum + update.byteLength, 0),
      logLength: kept.length,
      statePosition: upTo,
      deletedAt: null,
    };
    await this.writeChained((batch) => {
      batch.put(stateKey(name), state);
      batch.put(metaKey(name), encodeMeta(next));
    }, this.fsync);
    this.metas.set(name, next);
    await this.db.clear({ gt: logFirst(name), lte: logKey(name, upTo) });
  }

  /** Removes the document's state, log and versions, and leaves its metadata saying when it was deleted (see `DocumentStore.delete`). */
  private async writeDeletion(name: string): Promise<void> {
    const keys = [
      ...(await this.db.keys({ gt: logFirst(name), lt: logEnd(name) }).all()),
      ...(await this.db.keys({ gt: versionInfoFirst(name), lt: versionInfoEnd(name) }).all()),
      ...(await this.db.keys({ gt: versionDataFirst(name), lt: versionDataEnd(name) }).all()),
    ];
    const deletedAt = Date.now();
    // Its state position is past every position the document had: a compaction made before the
    // deletion, finishing after it, is a no-op rather than the document's return.
    const mark: DocumentMeta = { ...EMPTY_META, updatedAt: deletedAt, deletedAt, statePosition: this.indexedSeq };
    await this.writeChained((batch) => {
      for (const key of keys) batch.del(key);
      batch.del(stateKey(name));
      batch.put(metaKey(name), encodeMeta(mark));
    }, this.fsync);
    this.metas.set(name, mark);
  }

  /** Writes and removes version records in one atomic batch (see `VersionStore.writeVersions`). */
  private async writeVersions(name: string, { put = [], remove = [] }: VersionChanges): Promise<void> {
    await this.writeChained((batch) => {
      for (const id of remove) {
        batch.del(versionInfoKey(name, id));
        batch.del(versionDataKey(name, id));
      }
      for (const record of put) {
        batch.put(versionInfoKey(name, record.id), encodeVersionInfo(record));
        batch.put(versionDataKey(name, record.id), record.data);
      }
    }, this.fsync);
  }

  /**
   * Writes one atomic batch, built by `fill` as a chained batch, which hands each operation to
   * LevelDB as it is added. (An array batch keeps a copy of every operation alive until the write
   * completes, garbage that V8 learns to put straight into the old generation.)
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
}

function describeFailure(task: WriteTask): string {
  if (task.kind === 'index') return `LevelDB could not index ${task.count} journaled update(s)`;
  if (task.kind === 'event') return `Could not write the queued event ${JSON.stringify(task.key)}; it is unchanged`;
  return `Could not ${task.kind} document ${JSON.stringify(task.name)}; it is unchanged`;
}
