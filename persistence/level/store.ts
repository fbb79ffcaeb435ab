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
 *
 * A write that fails with an error that can pass (`io-errors.ts`: no descriptors, no disk space)
 * makes the store unavailable (`availability.ts`) until an attempt to recover, which does in this
 * process what a restart would, succeeds; any other failure of the journal, or of LevelDB under
 * journaled appends, fails it for good.
 */
import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { StoreAvailability } from '../availability.js';
import { attempt, type Deferred, handledDeferred } from '../deferred.js';
import {
  type DocumentInfo,
  type DocumentStore,
  type ListOptions,
  type LoggedUpdate,
  type Position,
  type StoredDocument,
  StoreUnavailableError,
  StoreWriteError,
  type Written,
} from '../document-store.js';
import { checkEvent, checkEventKey, checkRevision, type EventListOptions, type QueuedEvent } from '../event-queue.js';
import { type AppendGroup, GroupCommit } from '../group-commit.js';
import { checkVersionId, type VersionChanges, type VersionInfo, type VersionRecord } from '../versions.js';
import { type EventTask, readEvents } from './events.js';
import { canPass, reasonOf } from './io-errors.js';
import type { Journal } from './journal.js';
import type { JournalRecord } from './journal-records.js';
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
  readIndexedSeq,
  SEQ_KEY,
  versionDataKey,
  versionInfoEnd,
  versionInfoFirst,
  versionInfoKey,
} from './keys.js';
import { readDocument, readLogSince } from './reads.js';
import { MetaCache } from './meta-cache.js';
import { type JournalRecovery, type LevelStoreOptions, openJournaled } from './open.js';
import { type DocumentTask, type WriteTask, WriteQueue } from './write-queue.js';

export type { LevelDatabase } from './keys.js';
export type { JournalRecovery, LevelStoreOptions } from './open.js';

type Group = AppendGroup<JournalRecord, Written>;

/** The store of one data directory; open it with `LevelDocumentStore.open`. */
export class LevelDocumentStore implements DocumentStore {
  private lastSeq: number;
  private readonly groups = new GroupCommit<JournalRecord, Written>((group) => this.journalGroup(group));
  private readonly writer: WriteQueue;
  private readonly metas: MetaCache;
  /** Whether the store takes reads and writes, and its attempts to recover when it does not. */
  private readonly availability = new StoreAvailability(() => this.recover(), canPass);
  /** The last write touching each document (an open group, or a queued task), so reads can wait for it. */
  private readonly lastWrite = new Map<string, Group | WriteTask>();
  private readonly reads = new Set<Promise<unknown>>();
  private closing: Promise<void> | null = null;
  private readonly fsync: boolean;
  /** Whether LevelDB failed a write since the store last worked: recovering opens it again. */
  private levelFailed = false;

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
      indexFailed: (error) => {
        // Not a batch the writer skipped because the store was down: LevelDB itself failed.
        if (error !== this.failure) this.levelFailed = true;
        this.writeFailed(error, 'LevelDB could not index journaled updates', 'they are kept in the journal');
      },
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

  /** Queued after every write already made (see `VersionStore.writeVersions`). */
  writeVersions(name: string, changes: VersionChanges): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, new Uint8Array());
      for (const record of changes.put ?? []) {
        checkVersionId(record.id);
        if (!(record.data instanceof Uint8Array)) throw new TypeError("A version's data must be a Uint8Array");
      }
      for (const id of changes.remove ?? []) checkVersionId(id);
      return this.enqueue({ kind: 'versions', name, changes, done: handledDeferred() });
    });
  }

  /** Also waits for the queued writes to this document (see `VersionStore.listVersions`). */
  listVersions(name: string): Promise<VersionInfo[]> {
    return this.read(async () => {
      checkName(name);
      await this.writtenTo(name);
      const records = await this.db.values({ gt: versionInfoFirst(name), lt: versionInfoEnd(name) }).all();
      return records.map(decodeVersionInfo);
    });
  }

  readVersion(name: string, id: string): Promise<VersionRecord | null> {
    return this.read(async () => {
      checkName(name);
      checkVersionId(id);
      await this.writtenTo(name);
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
    return this.availability.failure;
  }

  onFailure(listener: (error: StoreWriteError) => void): void {
    this.availability.onFailure(listener);
  }

  onRecovery(listener: () => void): void {
    this.availability.onRecovery(listener);
  }

  /** The number of updates in the document's log since its last compaction, after the writes to it made before the call. */
  logLength(name: string): Promise<number> {
    return this.read(async () => {
      checkName(name);
      await this.writtenTo(name);
      return (await this.metas.read(name)).logLength;
    });
  }

  /** The documents in UTF-8 byte order of the names (which is code point order); see `DocumentStore.list`. */
  list(options: ListOptions = {}): Promise<DocumentInfo[]> {
    return this.read(async () => {
      await Promise.allSettled(this.outstanding().map((task) => task.done.promise));
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
    await this.availability.stop();
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
      if (error !== cause) this.writeFailed(error, 'the journal could not be written', null);
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
          this.availability.fail(new StoreWriteError('The store failed: the journal could not be synced to disk', { cause: error }));
        },
      );
    } else {
      group.durable.resolve(written);
    }
    const task = this.writer.index(appends, group.done);
    for (const { name } of appends) if (this.lastWrite.get(name) === group) this.lastWrite.set(name, task);
  }

  /**
   * A write to the journal, or LevelDB's indexing of journaled appends, failed (`what`; `kept`
   * says where its updates are, if anywhere). With an error that can pass, the store is
   * unavailable until it recovers; otherwise it fails for good. Either way it takes nothing more
   * (LevelDB may lack journaled appends, which reads would miss), and the journal keeps what it
   * has. Nothing when the store is down already: its recovery, or the next start, redoes whatever
   * failed since.
   */
  private writeFailed(error: StoreWriteError, what: string, kept: string | null): void {
    if (this.failure) return;
    const reason = reasonOf(error);
    if (canPass(error)) {
      const message = `The store is unavailable: ${what} (${reason}); ${kept === null ? '' : `${kept}, and `}it retries on its own`;
      this.availability.suspend(new StoreUnavailableError(message, { cause: error }));
    } else {
      const message = `The store failed: ${what} (${reason})${kept === null ? '' : `; ${kept} for the next start`}`;
      this.availability.fail(new StoreWriteError(message, { cause: error }));
    }
  }

  /**
   * One attempt to recover from an error that can pass, doing in this process what a restart
   * would. Once the writer and the reads are done (nothing new starts while the store is down):
   * if LevelDB failed a write (its own, or this recovery's last), it is closed and opened again
   * (it keeps a background error until then); the journal's records past what LevelDB holds are
   * indexed (or, with none, the indexed sequence number is written again); and the journal takes
   * a probe write. Both have taken a write when it resolves.
   */
  private async recover(): Promise<void> {
    await Promise.allSettled(this.outstanding().map((task) => task.done.promise));
    await Promise.allSettled([...this.reads]);
    const reopen = this.levelFailed;
    // Until LevelDB has taken the write below: an error it kept from before fails the next attempt too.
    this.levelFailed = true;
    if (reopen) {
      await this.db.close();
      await this.db.open();
      this.metas.clear();
    }
    const indexed = await readIndexedSeq(this.db);
    this.writer.indexedSeq = indexed;
    const unindexed = this.journal.readBack(indexed);
    if (unindexed.length > 0) await this.writer.replay(unindexed);
    else await this.db.put(SEQ_KEY, encodeSeq(indexed), { sync: this.fsync });
    this.levelFailed = false;
    this.journal.release(this.writer.indexedSeq);
    this.journal.probe();
  }

  private forget(task: WriteTask): void {
    const names = task.kind === 'index' ? task.added.keys() : task.kind === 'event' ? [] : [task.name];
    for (const name of names) if (this.lastWrite.get(name) === task) this.lastWrite.delete(name);
  }

  /** Waits for the queued writes to the document; rejects while the store is down, since reads could miss journaled appends. */
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

  private enqueueEvent(key: string, event: QueuedEvent | null, expected: string | null | undefined): Promise<boolean> {
    this.assertOpen();
    if (this.failure) throw this.failure;
    const task: EventTask = { kind: 'event', key, event, expected, done: handledDeferred(), applied: false };
    this.writer.enqueue(task);
    return task.done.promise.then(() => task.applied);
  }

  private enqueue(task: DocumentTask): Promise<void> {
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
