/**
 * A `DocumentStore` on an embedded LevelDB (classic-level). The key layout is in `keys.ts`.
 *
 * Sequence numbers are store-wide and assigned in memory when `append` is called, so an append
 * never reads before it writes; a document's positions are the sequence numbers of its updates.
 *
 * Appends made together form a group (`group-commit.ts`), written to the journal (`journal.ts`)
 * with one synchronous write: that makes them durable, and they resolve then (after an fdatasync
 * with `fsync`). The group then joins the queue that indexes everything into LevelDB
 * (`write-queue.ts`), off the appends' path; the journal is emptied whenever LevelDB has caught
 * up, and replayed into it when the store opens. Compactions and deletions are queued tasks too,
 * which seal the open group first: the queue's order is call order.
 */
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { attempt, type Deferred, handledDeferred } from '../deferred.js';
import {
  type DocumentInfo,
  type DocumentStore,
  type LoggedUpdate,
  type Position,
  StoreOpenError,
  type StoredDocument,
  StoreWriteError,
  type Written,
} from '../document-store.js';
import { type AppendGroup, GroupCommit } from '../group-commit.js';
import { checkStorageFormat } from './format.js';
import { Journal, type JournalRecord } from './journal.js';
import { checkName, decodeMeta, decodeSeq, encodeSeq, LOG_END, LOG_FIRST, type LevelDatabase, META_END, META_FIRST, SEQ_KEY } from './keys.js';
import { readDocument, readLogSince } from './reads.js';
import { MetaCache } from './meta-cache.js';
import { type WriteTask, WriteQueue } from './write-queue.js';

export type { LevelDatabase } from './keys.js';

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
   * interval); each batch costs a hand-off to LevelDB's thread whatever its size.
   */
  readonly batchIntervalMs?: number;
  /**
   * Hears of trouble that loses nothing and fails no write, for the log: a new journal file that
   * could not be created (writes then go on into the current one, and the next write tries again).
   */
  readonly onWarning?: (message: string, error: unknown) => void;
  /** LevelDB table files kept open at most (classic-level's `maxOpenFiles`, default 1000): its share of descriptors. */
  readonly maxOpenFiles?: number;
}

/** What opening the store found in its journal. */
export interface JournalRecovery {
  /** Appends the journal held that LevelDB had not indexed, now indexed. */
  readonly replayed: number;
  /** Bytes at the journal's end that held no intact record (a write cut short by a crash). */
  readonly ignoredBytes: number;
}

type Group = AppendGroup<JournalRecord, Written>;

/** The store of one data directory; open it with `LevelDocumentStore.open`. */
export class LevelDocumentStore implements DocumentStore {
  private lastSeq: number;
  private readonly groups = new GroupCommit<JournalRecord, Written>((group) => this.journalGroup(group));
  private readonly writer: WriteQueue;
  private readonly metas: MetaCache;
  /** Set once a write failed in a way that leaves the store unable to take more. */
  failure: StoreWriteError | null = null;
  /** The last write touching each document (an open group, or a queued task), so reads can wait for it. */
  private readonly lastWrite = new Map<string, Group | WriteTask>();
  private readonly reads = new Set<Promise<unknown>>();
  private readonly failureListeners: Array<(error: StoreWriteError) => void> = [];
  private closing: Promise<void> | null = null;
  private readonly fsync: boolean;

  /** What opening the store found in its journal. */
  recovery: JournalRecovery = { replayed: 0, ignoredBytes: 0 };

  private constructor(
    private readonly db: LevelDatabase,
    private readonly journal: Journal,
    lastSeq: number,
    indexedSeq: number,
    options: LevelStoreOptions,
  ) {
    const store = this;
    this.lastSeq = lastSeq;
    this.fsync = options.fsync ?? false;
    this.metas = new MetaCache(db);
    this.writer = new WriteQueue(db, journal, this.metas, this.fsync, options.batchIntervalMs ?? 0, indexedSeq, {
      get failure() {
        return store.failure;
      },
      indexFailed: (error) =>
        this.failStore('The store failed: LevelDB could not index journaled updates; they are kept in the journal for the next start', error),
      forget: (task) => this.forget(task),
    });
  }

  /**
   * Opens (creating if needed) the store in directory `dir`. Rejects if LevelDB cannot open it; with
   * `StoreOpenError` if another process holds it, or it holds another program's database or a
   * storage format this version does not read (see `format.ts`).
   */
  static async open(dir: string, options: LevelStoreOptions = {}): Promise<LevelDocumentStore> {
    await mkdir(dir, { recursive: true });
    const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view', maxOpenFiles: options.maxOpenFiles ?? 1000 });
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
      const store = new LevelDocumentStore(db, journal, Math.max(indexed, last), indexed, options);
      if (unindexed.length > 0) {
        await store.writer.writeIndex(store.writer.indexTask(unindexed), store.fsync);
        store.writer.indexedSeq = last;
      }
      journal.release(store.writer.indexedSeq);
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
      return readDocument(this.db, name);
    });
  }

  readSince(name: string, after: Position): Promise<readonly LoggedUpdate[] | null> {
    return this.read(async () => {
      checkName(name);
      await this.writtenTo(name);
      return readLogSince(this.db, name, after);
    });
  }

  /**
   * Queues the update; see `DocumentStore.append`. The store keeps a reference to `update` until it
   * is written, so the caller must not modify it. Rejects with RangeError for a name containing U+0000
   * or a lone surrogate (two such names would encode to the same key).
   */
  append(name: string, update: Uint8Array): Promise<Written> {
    return attempt(() => {
      this.checkWrite(name, update);
      const group = this.groups.add({ name, seq: ++this.lastSeq, update });
      this.lastWrite.set(name, group);
      return group.result;
    });
  }

  /** Queued after every append already made; `upTo` must be a position this store has given (see `DocumentStore.compact`). */
  compact(name: string, state: Uint8Array, upTo: Position): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, state);
      if (!Number.isSafeInteger(upTo) || upTo < 0 || upTo > this.lastSeq) throw new RangeError(`cannot compact up to position ${upTo}: it was never written`);
      return this.enqueue({ kind: 'compact', name, state, upTo, done: handledDeferred() });
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
      return (await this.metas.read(name)).logLength;
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
    this.groups.seal();
    this.writer.stop();
    const writes = await Promise.allSettled(this.outstanding().map((task) => task.done.promise));
    await Promise.allSettled([...this.reads]);
    const indexed = this.writer.indexedSeq;
    try {
      // Files whose records are all indexed go; after a failure, all stay for the next open. With
      // `fsync`, LevelDB's copy of them is synced first (one synced write syncs all before it).
      if (this.fsync && this.failure === null) await this.db.put(SEQ_KEY, encodeSeq(indexed), { sync: true });
      this.journal.close(this.failure === null ? indexed : undefined);
      // Compaction clears log entries as ranges; until LevelDB compacts their tombstones away, every
      // read of a log steps over them. A stop is a good moment to have that done.
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

  /**
   * Journals a sealed group (one synchronous write), settles its appends, and queues it for
   * LevelDB. A group that cannot be journaled is not stored: its appends reject.
   */
  private journalGroup(group: Group): void {
    const appends = group.entries;
    try {
      if (this.failure) throw this.failure;
      this.journal.write(appends);
    } catch (cause) {
      const error = cause instanceof StoreWriteError ? cause : new StoreWriteError(describeAppends(appends), { cause });
      group.durable.reject(error);
      group.done.reject(error);
      // Reads of these documents must still wait for the writes queued before this group.
      const before = this.writer.last;
      for (const { name } of appends) {
        if (this.lastWrite.get(name) !== group) continue;
        if (before) this.lastWrite.set(name, before);
        else this.lastWrite.delete(name);
      }
      return;
    }
    const written = new WrittenGroup(appends);
    if (this.fsync) {
      // The journal's syncs are group commits that settle in order: groups are durable in order.
      this.journal.sync().then(
        () => group.durable.resolve(written),
        (cause: unknown) => {
          const error = new StoreWriteError(describeAppends(appends), { cause });
          group.durable.reject(error);
          // What a file holds on disk after a failed sync is unknown, and the journal takes no more.
          this.failStore('The store failed: the journal could not be synced to disk', error);
        },
      );
    } else {
      group.durable.resolve(written);
    }
    const task = this.writer.index(appends, group.done);
    for (const { name } of appends) if (this.lastWrite.get(name) === group) this.lastWrite.set(name, task);
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

  private outstanding(): Array<{ readonly done: Deferred }> {
    const tasks: Array<{ readonly done: Deferred }> = this.writer.outstanding();
    const open = this.groups.openGroup;
    if (open !== null) tasks.push(open);
    return tasks;
  }

  private enqueue(task: WriteTask & { kind: 'compact' | 'delete' }): Promise<void> {
    this.groups.seal();
    this.writer.enqueue(task);
    this.lastWrite.set(task.name, task);
    // A promise of the caller's own, so that ignoring a failure is still reported as unhandled.
    return task.done.promise.then(() => undefined);
  }
}

/** Where a journaled group left each document: the sequence number of its last update there. Keeps none of the updates. */
class WrittenGroup implements Written {
  private readonly last = new Map<string, number>();

  constructor(appends: readonly JournalRecord[]) {
    for (const { name, seq } of appends) this.last.set(name, seq);
  }

  position(name: string): Position {
    const position = this.last.get(name);
    if (position === undefined) throw new RangeError(`this write held no update of ${JSON.stringify(name)}`);
    return position;
  }
}

function describeAppends(appends: readonly JournalRecord[]): string {
  return `Could not write ${appends.length} update(s); they are not stored`;
}

/** LevelDB refused to open because another process (or store) holds the directory's lock. */
function isLocked(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 'LEVEL_LOCKED';
}
