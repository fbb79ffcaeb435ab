/**
 * A `DocumentStore` on an embedded LevelDB (classic-level). The key layout is in `keys.ts`.
 *
 * A document's positions are the store-wide sequence numbers of its updates. Every write goes
 * through `write-order.ts`, in call order: appends are durable once journaled (`journal.ts`), and
 * LevelDB indexes them off the appends' path (`write-queue.ts`); a read waits for the last write
 * to its document. The journal is emptied whenever LevelDB has caught up, and replayed into it
 * when the store opens. Failures that take the store down, and its recovery, are in `outages.ts`.
 */
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { attempt, handledDeferred } from '../deferred.js';
import {
  type DocumentInfo,
  type DocumentStore,
  type ListOptions,
  type LoggedUpdate,
  type Position,
  type StoredDocument,
  StoreWriteError,
  type Written,
} from '../document-store.js';
import { checkEvent, checkEventKey, checkRevision, type EventListOptions, type QueuedEvent } from '../event-queue.js';
import { checkVersionId, type VersionChanges, type VersionInfo, type VersionRecord } from '../versions.js';
import { type EventTask, readEvents } from './events.js';
import type { Journal } from './journal.js';
import {
  checkName,
  decodeMeta,
  decodeVersionInfo,
  encodeSeq,
  LOG_END,
  LOG_FIRST,
  type LevelDatabase,
  META_END,
  META_FIRST,
  SEQ_KEY,
  versionDataKey,
  versionInfoEnd,
  versionInfoFirst,
  versionInfoKey,
} from './keys.js';
import { readDocument, readLogSince } from './reads.js';
import { MetaCache } from './meta-cache.js';
import { type JournalRecovery, type LevelStoreOptions, openJournaled } from './open.js';
import { Outages } from './outages.js';
import { WriteOrder } from './write-order.js';
import { WriteQueue } from './write-queue.js';

export type { LevelDatabase } from './keys.js';
export type { JournalRecovery, LevelStoreOptions } from './open.js';

/** The store of one data directory; open it with `LevelDocumentStore.open`. */
export class LevelDocumentStore implements DocumentStore {
  private readonly writer: WriteQueue;
  private readonly order: WriteOrder;
  private readonly outages: Outages;
  private readonly metas: MetaCache;
  private readonly reads = new Set<Promise<unknown>>();
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
    this.fsync = options.fsync ?? false;
    this.metas = new MetaCache(db);
    this.writer = new WriteQueue(db, journal, this.metas, this.fsync, options.batchIntervalMs ?? 0, indexedSeq, {
      get failure() {
        return store.failure;
      },
      indexFailed: (error) => this.outages.indexFailed(error),
      forget: (task) => this.order.forget(task),
    });
    this.outages = new Outages(db, journal, this.metas, this.writer, this.fsync, () => this.idle());
    this.order = new WriteOrder(journal, this.writer, lastSeq, this.fsync, this.outages);
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
   * `close()` (and closes and opens it again to recover from an outage); nothing else may write to it.
   */
  static async fromDatabase(db: LevelDatabase, options: LevelStoreOptions = {}): Promise<LevelDocumentStore> {
    if (db.keyEncoding().commonName !== 'utf8' || db.valueEncoding().commonName !== 'view') {
      throw new RangeError("LevelDocumentStore needs a database with keyEncoding 'utf8' and valueEncoding 'view'");
    }
    const opened = await openJournaled(db, options);
    try {
      const store = new LevelDocumentStore(db, opened.journal, opened.lastSeq, opened.indexed, options);
      await store.writer.replay(opened.unindexed);
      opened.journal.release(store.writer.indexedSeq);
      store.recovery = { replayed: opened.unindexed.length, ignoredBytes: opened.ignoredBytes };
      return store;
    } catch (error) {
      // Report the failure to open, not a failure to close what did not open.
      opened.journal.close();
      await db.close().catch(() => undefined);
      throw error;
    }
  }

  /** Also waits for the queued writes to this document, so the result includes every append made before the call that succeeded. */
  load(name: string): Promise<StoredDocument> {
    return this.read(async () => {
      checkName(name);
      await this.order.writtenTo(name);
      return readDocument(this.db, name);
    });
  }

  readSince(name: string, after: Position): Promise<readonly LoggedUpdate[] | null> {
    return this.read(async () => {
      checkName(name);
      await this.order.writtenTo(name);
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
      return this.order.append(name, update);
    });
  }

  /** Queued after every append already made; `upTo` must be a position this store has given (see `DocumentStore.compact`). */
  compact(name: string, state: Uint8Array, upTo: Position): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, state);
      if (!Number.isSafeInteger(upTo) || upTo < 0 || upTo > this.order.lastSeq)
        throw new RangeError(`cannot compact up to position ${upTo}: it was never written`);
      return this.order.enqueue({ kind: 'compact', name, state, upTo, done: handledDeferred() });
    });
  }

  /** Queued after every write already made; appends made after the call create the document again. */
  delete(name: string): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, new Uint8Array());
      return this.order.enqueue({ kind: 'delete', name, done: handledDeferred() });
    });
  }

  /** Queued after every write already made (see `VersionStore.writeVersions`). */
  writeVersions(name: string, changes: VersionChanges): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, new Uint8Array());
      for (const record of changes.put ?? []) {
        checkVersionId(record.id);
        if (!(record.data instanceof Uint8Array)) throw new TypeError("A version's data must be a Uint8Array");
      }
      for (const id of changes.remove ?? []) checkVersionId(id);
      return this.order.enqueue({ kind: 'versions', name, changes, done: handledDeferred() });
    });
  }

  /** Also waits for the queued writes to this document (see `VersionStore.listVersions`). */
  listVersions(name: string): Promise<VersionInfo[]> {
    return this.read(async () => {
      checkName(name);
      await this.order.writtenTo(name);
      const records = await this.db.values({ gt: versionInfoFirst(name), lt: versionInfoEnd(name) }).all();
      return records.map(decodeVersionInfo);
    });
  }

  readVersion(name: string, id: string): Promise<VersionRecord | null> {
    return this.read(async () => {
      checkName(name);
      checkVersionId(id);
      await this.order.writtenTo(name);
      const [info, data] = await this.db.getMany([versionInfoKey(name, id), versionDataKey(name, id)]);
      if (info === undefined || data === undefined) return null;
      return { ...decodeVersionInfo(info), data: new Uint8Array(data) };
    });
  }

  /**
   * Bytes the journal holds now (see `Journal.bytes`): appends not yet indexed by LevelDB, and the
   * rest of the files they are in. It grows when LevelDB falls behind, and a restart replays it all.
   * Costs nothing to read.
   */
  get journalBytes(): number {
    return this.journal.bytes;
  }

  /** Queued after every write already made (see `EventQueue.putEvent`). */
  putEvent(event: QueuedEvent, expected?: string | null): Promise<boolean> {
    return attempt(() => {
      checkEvent(event, expected);
      return this.enqueueEvent(event.key, event, expected);
    });
  }

  removeEvent(key: string, revision: string): Promise<boolean> {
    return attempt(() => {
      checkEventKey(key);
      checkRevision(revision);
      return this.enqueueEvent(key, null, revision);
    });
  }

  listEvents(options: EventListOptions = {}): Promise<QueuedEvent[]> {
    return this.read(async () => {
      if (this.failure) throw this.failure;
      return readEvents(this.db, options);
    });
  }

  /** What reads and writes reject with now: null while the store works (see `DocumentStore.onFailure`). */
  get failure(): StoreWriteError | null {
    return this.outages.failure;
  }

  onFailure(listener: (error: StoreWriteError) => void): void {
    this.outages.availability.onFailure(listener);
  }

  onRecovery(listener: () => void): void {
    this.outages.availability.onRecovery(listener);
  }

  /** The number of updates in the document's log since its last compaction, after the writes to it made before the call. */
  logLength(name: string): Promise<number> {
    return this.read(async () => {
      checkName(name);
      await this.order.writtenTo(name);
      return (await this.metas.read(name)).logLength;
    });
  }

  /** The documents in UTF-8 byte order of the names (which is code point order); see `DocumentStore.list`. */
  list(options: ListOptions = {}): Promise<DocumentInfo[]> {
    return this.read(async () => {
      await Promise.allSettled(this.order.outstanding().map((task) => task.done.promise));
      if (this.failure) throw this.failure;
      const prefix = options.prefix ?? '';
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      const from = options.after !== undefined && options.after >= prefix ? { gt: META_FIRST + options.after } : { gte: META_FIRST + prefix };
      const listed: DocumentInfo[] = [];
      for await (const [key, value] of this.db.iterator({ ...from, lt: META_END })) {
        const name = key.slice(META_FIRST.length);
        if (!name.startsWith(prefix) || listed.length >= limit) break;
        const meta = decodeMeta(value);
        if (meta.deletedAt === null) listed.push({ name, updatedAt: meta.updatedAt, size: meta.stateBytes + meta.logBytes });
      }
      return listed;
    });
  }

  async flush(): Promise<void> {
    this.assertOpen();
    await Promise.all(this.order.outstanding().map((task) => task.done.promise));
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
    this.order.seal();
    this.writer.stop();
    await this.outages.availability.stop();
    const writes = await Promise.allSettled(this.order.outstanding().map((task) => task.done.promise));
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

  /** Resolves once the writes and reads under way are over, however they end: before an attempt to recover. */
  private async idle(): Promise<void> {
    await Promise.allSettled(this.order.outstanding().map((task) => task.done.promise));
    await Promise.allSettled([...this.reads]);
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

  private enqueueEvent(key: string, event: QueuedEvent | null, expected: string | null | undefined): Promise<boolean> {
    this.assertOpen();
    if (this.failure) throw this.failure;
    const task: EventTask = { kind: 'event', key, event, expected, done: handledDeferred(), applied: false };
    this.writer.enqueue(task);
    return task.done.promise.then(() => task.applied);
  }
}
