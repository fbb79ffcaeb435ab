/**
 * A `DocumentStore` on PostgreSQL (node-postgres), for several server instances sharing one
 * database. The tables are in `schema.ts`, the statements in `statements.ts`.
 *
 * - **Appends** made together form a group (`group-commit.ts`); groups are written one at a time,
 *   in order, on one connection (`write-queue.ts`), each group with those sealed while the previous
 *   one committed, as ONE statement (one transaction). An append resolves once that commit is
 *   reported, so once PostgreSQL has it on disk (the store refuses `fsync` or `synchronous_commit`
 *   off). Positions are per document and gap-free: a document's head is bumped under its row's
 *   lock, rows locked in name order; `Written.position(name)` is the document's last position in
 *   the group.
 * - **Compactions** run beside the appends, on their own connection: compare-and-set on the
 *   snapshot's position, in a transaction (see `compactDocument`). A compaction may do nothing
 *   while another of the same document is under way (its advisory lock is taken): the log keeps
 *   everything either way, and the next compaction folds it.
 * - **Deletions** and **version writes** wait for the groups before them, on the appends'
 *   connection; a deleted document's row stays as a tombstone that keeps its head.
 * - **The event queue** (`events.ts`) is written beside the appends, on the read pool, one
 *   statement per call; `flush` and `close` wait for its writes too.
 * - **Reads** wait for this store's writes to the document made before them, then read in one
 *   statement (one snapshot) on a pool of connections.
 *
 * Failures (`outages.ts`, `errors.ts`): an error that can pass (PostgreSQL out of reach, restarting,
 * out of disk) makes the store unavailable (`availability.ts`); it rejects every call until an
 * attempt to recover (fresh connections, each checked as at opening, and a write to the format
 * marker) succeeds. Any other error fails it for good. A group whose connection was lost while its
 * statement ran rejects; PostgreSQL may have committed it, so its updates may be loaded later,
 * but they were never acknowledged (docs/decisions/2026-12-07-postgres-store.md).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { attempt, handledDeferred } from '../deferred.js';
import {
  type DocumentInfo,
  type DocumentStore,
  type ListOptions,
  type LoggedUpdate,
  type Position,
  type StoredDocument,
  StoreOpenError,
  StoreWriteError,
  type Written,
} from '../document-store.js';
import { checkEvent, checkEventKey, checkRevision, type EventListOptions, type QueuedEvent } from '../event-queue.js';
import { checkVersionId, type VersionChanges, type VersionInfo, type VersionRecord } from '../versions.js';
import { Pools, type PostgresStoreOptions } from './connections.js';
import { reasonOf } from './errors.js';
import { checkName, documentKey, documentLock } from './names.js';
import { listEvents, putEvent, removeEvent } from './events.js';
import { Outages } from './outages.js';
import { checkSchemaName, prepareSchema } from './schema.js';
import { compactDocument, listDocuments, loadDocument, readHeads, readLogLength, readLogSince } from './statements.js';
import { listVersions, readVersion } from './versions.js';
import { WriteQueue } from './write-queue.js';

export type { PostgresStoreOptions } from './connections.js';

/** A store in one schema of a PostgreSQL database; open it with `PostgresDocumentStore.open`. */
export class PostgresDocumentStore implements DocumentStore {
  private readonly outages: Outages;
  private readonly queue: WriteQueue;
  private readonly reads = new Set<Promise<unknown>>();
  private closing: Promise<void> | null = null;

  private constructor(
    pools: Pools,
    makePools: () => Pools,
    private readonly schema: string,
    private readonly lockSpace: number,
  ) {
    this.outages = new Outages(pools, makePools, schema, () => this.idle());
    this.queue = new WriteQueue(this.outages, schema);
  }

  /**
   * Connects, checks that the server keeps what it commits, and prepares the schema (see
   * `schema.ts`). Rejects with `StoreOpenError` if the database cannot be reached, runs with
   * `fsync` or `synchronous_commit` off, or its schema holds another program's tables or a
   * format this version does not read; with RangeError for a schema name that is not plain.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresDocumentStore> {
    const schema = options.schema ?? 'collab';
    checkSchemaName(schema);
    const makePools = Pools.factory(options);
    const pools = makePools();
    const lockSpace = createHash('sha256').update(`collab-server ${schema}`).digest().readInt32BE(0);
    try {
      const client = await pools.writer.connect();
      try {
        await prepareSchema(client, schema, lockSpace);
      } finally {
        client.release();
      }
    } catch (error) {
      await pools.end();
      if (error instanceof StoreOpenError) throw error;
      throw new StoreOpenError(
        `Could not open the PostgreSQL store (${reasonOf(error)}): is the database reachable, and may this role create the schema "${schema}"?`,
        {
          cause: error,
        },
      );
    }
    return new PostgresDocumentStore(pools, makePools, schema, lockSpace);
  }

  /** Reflects every append made before the call that succeeded. */
  load(name: string): Promise<StoredDocument> {
    return this.read(name, (db) => loadDocument(db, this.schema, name));
  }

  /** Rejects with RangeError for an `after` that is not a position (a negative number, a fraction). */
  readSince(name: string, after: Position): Promise<readonly LoggedUpdate[] | null> {
    if (!Number.isSafeInteger(after) || after < 0) return Promise.reject(new RangeError(`${after} is not a position`));
    return this.read(name, (db) => readLogSince(db, this.schema, name, after));
  }

  /**
   * The heads of those of `names` ever written (a name left out has head 0), by any process, in
   * one statement: how instances sharing the store find documents they hold that moved without
   * them hearing of it. Does not wait for this store's writes.
   */
  heads(names: readonly string[]): Promise<ReadonlyMap<string, Position>> {
    return attempt(() => {
      this.assertOpen();
      for (const name of names) checkName(name);
      return this.track(this.outages.guard(() => readHeads(this.pools.readers, this.schema, names)));
    });
  }

  /** The number of updates logged past the document's snapshot, by any process, after this store's writes to it made before the call. */
  logLength(name: string): Promise<number> {
    return this.read(name, (db) => readLogLength(db, this.schema, name));
  }

  /**
   * The documents not deleted, by name in code point order, after every write of this store made
   * before the call; see `DocumentStore.list`. RangeError for a prefix or name the store cannot
   * hold, or a limit that is not a count.
   */
  list(options: ListOptions = {}): Promise<DocumentInfo[]> {
    return attempt(() => {
      for (const text of [options.prefix, options.after]) if (text !== undefined) checkName(text);
      const limit = options.limit;
      if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw new RangeError(`list limit ${limit} is not a count`);
      return this.read(null, (db) => listDocuments(db, this.schema, options));
    });
  }

  /** After this store's writes to the document made before the call (see `VersionStore.listVersions`). */
  listVersions(name: string): Promise<VersionInfo[]> {
    return this.read(name, (db) => listVersions(db, this.schema, name));
  }

  readVersion(name: string, id: string): Promise<VersionRecord | null> {
    return attempt(() => {
      checkVersionId(id);
      return this.read(name, (db) => readVersion(db, this.schema, name, id));
    });
  }

  /** Queued after every write already made, in one transaction (see `VersionStore.writeVersions`). */
  writeVersions(name: string, changes: VersionChanges): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, new Uint8Array());
      for (const record of changes.put ?? []) {
        checkVersionId(record.id);
        if (!(record.data instanceof Uint8Array)) throw new TypeError("A version's data must be a Uint8Array");
      }
      for (const id of changes.remove ?? []) checkVersionId(id);
      return this.queue.enqueueOwn({ kind: 'versions', name, changes, done: handledDeferred() });
    });
  }

  /**
   * See `DocumentStore.append`. Rejects with RangeError for a name containing U+0000 or a lone
   * surrogate. An append that rejects was never acknowledged; if the connection was lost while
   * its group's statement ran, PostgreSQL may still have committed it (see the top of this file).
   */
  append(name: string, update: Uint8Array): Promise<Written> {
    return attempt(() => {
      this.checkWrite(name, update);
      return this.queue.append(name, update);
    });
  }

  /**
   * Runs at once, beside the appends; `upTo` must be a position given by a committed write (by any
   * process). A no-op when the snapshot already covers `upTo`, and when another compaction of the
   * document holds its lock at that moment (see the top of this file).
   */
  compact(name: string, state: Uint8Array, upTo: Position): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, state);
      if (!Number.isSafeInteger(upTo) || upTo < 0) throw new RangeError(`cannot compact up to position ${upTo}: it was never written`);
      // Not a write reads wait for: the document reads the same before and after it.
      const task = { done: handledDeferred() };
      this.queue.writes.add(task.done);
      const lock = documentLock(this.lockSpace, documentKey(name));
      void this.transact((client) => compactDocument(client, this.schema, lock, name, state, upTo)).then(
        () => this.queue.settle(task, [name], null),
        (error: unknown) => this.queue.settle(task, [name], error),
      );
      return task.done.promise.then(() => undefined);
    });
  }

  /** Queued after every write already made; appends made after the call create the document again, at later positions. */
  delete(name: string): Promise<void> {
    return attempt(() => {
      this.checkWrite(name, new Uint8Array());
      return this.queue.enqueueOwn({ kind: 'delete', name, done: handledDeferred() });
    });
  }

  /** Runs at once, beside the appends (see `EventQueue.putEvent`). */
  putEvent(event: QueuedEvent, expected?: string | null): Promise<boolean> {
    return attempt(() => {
      checkEvent(event, expected);
      return this.eventWrite((db) => putEvent(db, this.schema, event, expected));
    });
  }

  removeEvent(key: string, revision: string): Promise<boolean> {
    return attempt(() => {
      checkEventKey(key);
      checkRevision(revision);
      return this.eventWrite((db) => removeEvent(db, this.schema, key, revision));
    });
  }

  /** After every write of this store made before the call. */
  listEvents(options: EventListOptions = {}): Promise<QueuedEvent[]> {
    return this.read(null, (db) => listEvents(db, this.schema, options));
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

  async flush(): Promise<void> {
    this.assertOpen();
    await Promise.all(this.queue.outstanding().map((done) => done.promise));
  }

  /**
   * Waits for every pending write and running read, then closes the connections. Rejects with
   * `StoreWriteError` if a write pending at the call failed, and with the store's failure while
   * it is down. Calling it again returns the same promise; every other method rejects once it was called.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.queue.seal();
    await this.outages.availability.stop();
    const writes = await Promise.allSettled(this.queue.outstanding().map((done) => done.promise));
    await Promise.allSettled([...this.reads]);
    await this.pools.end();
    if (this.failure) throw this.failure;
    const failed = writes.find((result) => result.status === 'rejected');
    if (failed) throw new StoreWriteError('A write pending when the store closed failed; its updates are not stored', { cause: failed.reason });
  }

  /** A write to the event queue, on the read pool, guarded and waited for by `flush` and `close`. */
  private eventWrite(body: (db: pg.Pool) => Promise<boolean>): Promise<boolean> {
    this.assertOpen();
    if (this.failure) throw this.failure;
    const task = { done: handledDeferred() };
    this.queue.writes.add(task.done);
    const result = this.outages.guard(() => body(this.pools.readers));
    void result.then(
      () => this.queue.settle(task, [], null),
      (error: unknown) => this.queue.settle(task, [], error),
    );
    // A promise of the caller's own, so that ignoring a failure is still reported as unhandled.
    return result.then((applied) => applied);
  }

  /** Runs `body` in a transaction on a connection of the read pool (for compactions), guarded. */
  private transact<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.outages.guard(() => this.pools.transact(this.pools.readers, body));
  }

  /** Runs a read once this store's writes to `name` (every write, for null) are over, tracked so that `close` waits for it. */
  private read<T>(name: string | null, body: (db: pg.Pool) => Promise<T>): Promise<T> {
    return attempt(() => {
      this.assertOpen();
      if (name !== null) checkName(name);
      const before = name === null ? this.queue.outstanding() : [this.queue.lastWriteTo(name)].filter((done) => done !== undefined);
      return this.track(Promise.allSettled(before.map((done) => done.promise)).then(() => this.outages.guard(() => body(this.pools.readers))));
    });
  }

  /** Keeps `read` among the reads under way until it settles, so that `close` waits for it. */
  private track<T>(read: Promise<T>): Promise<T> {
    const forget = (): void => void this.reads.delete(read);
    this.reads.add(read);
    read.then(forget, forget);
    return read;
  }

  /** The connections in use (see `Outages.pools`). */
  private get pools(): Pools {
    return this.outages.pools;
  }

  /** Resolves once the writes and reads under way are over, however they end: before an attempt to recover. */
  private async idle(): Promise<void> {
    await Promise.allSettled([...this.queue.writes].map((done) => done.promise));
    await Promise.allSettled([...this.reads]);
  }

  private assertOpen(): void {
    if (this.closing !== null) throw new Error('PostgresDocumentStore is closed');
  }

  private checkWrite(name: string, bytes: Uint8Array): void {
    this.assertOpen();
    if (this.failure) throw this.failure;
    checkName(name);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('Updates and states must be Uint8Arrays');
  }
}
