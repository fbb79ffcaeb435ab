/**
 * The durable store of Yjs documents, as the sync engine sees it.
 *
 * A document is an append-only log of Yjs updates plus a compacted state (a snapshot) that holds
 * the log's older part. Every logged update has a position: positions increase with each append
 * to a document, so a reader can say what it has (`load`'s head) and ask for what came after
 * (`readSince`), and a compaction can say exactly what it replaces (`upTo`). That is what lets
 * several processes share one store. The engine knows a store only through this interface, and
 * every store passes the same contract suite (`tests/persistence/store-contract.ts`).
 */
import type { EventQueue } from './event-queue.js';
import type { VersionStore } from './versions.js';

/**
 * A position in a document's log. Positions of one document increase with each append (a store
 * may leave gaps between them); 0 is before the first.
 */
export type Position = number;

/** What `load` reads: the compacted state (if any), the updates logged after it, oldest first, and how far that reaches. */
export interface StoredDocument {
  /** A Yjs update (v1) holding the compacted state, or `null` when the document was never compacted. */
  readonly state: Uint8Array | null;
  /** Updates appended since the state was written, in append order. May overlap the state. */
  readonly updates: readonly Uint8Array[];
  /** The position this read reached: nothing up to it is missing from `state` and `updates`. 0 for a document never written. */
  readonly head: Position;
  /**
   * When the document was deleted (ms since the epoch), if nothing was appended to it since; else
   * null. A deleted document has no state and no updates.
   */
  readonly deletedAt: number | null;
}

/** Which documents `list` gives, in name order. */
export interface ListOptions {
  /** Only names that start with this. */
  readonly prefix?: string;
  /** Only names after this one (the last of the previous page). */
  readonly after?: string;
  /** At most this many. */
  readonly limit?: number;
}

/** One update of a log, with its position (see `readSince`). */
export interface LoggedUpdate {
  readonly position: Position;
  readonly update: Uint8Array;
}

/** Where a write left the documents it touched (see `append`). */
export interface Written {
  /** The position of `name`'s last update in this write. Throws `RangeError` if the write held none of it. */
  position(name: string): Position;
}

/** One entry of `list`. */
export interface DocumentInfo {
  readonly name: string;
  /** Milliseconds since the epoch of the last write (append or compaction). */
  readonly updatedAt: number;
  /** Bytes the document occupies in the store (state plus logged updates), approximately. */
  readonly size: number;
}

/**
 * Raised by a store when a write failed. The updates of the failed write are not stored (except
 * when a store lost its connection to a database while the write was committing: they may then
 * be, never acknowledged); the caller must not report them as saved.
 */
export class StoreWriteError extends Error {
  override readonly name: string = 'StoreWriteError';
}

/**
 * The store is unavailable for now: an error that can pass (no file descriptors or disk space
 * left, a database out of reach) stopped it, and it tries to recover on its own. Every read and
 * write rejects with it until then (see `DocumentStore.onFailure`); nothing of a rejected write
 * is stored, and the caller may try again later.
 */
export class StoreUnavailableError extends StoreWriteError {
  override readonly name = 'StoreUnavailableError';
}

/** A store could not be opened; the message says why and what to do. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
}

/**
 * A durable store of documents (see the top of this file), of their versions (`versions.ts`), and
 * of a queue of events (`event-queue.ts`); every implementation passes the contract suite.
 */
export interface DocumentStore extends VersionStore, EventQueue {
  /**
   * Reads a document. A name never written gives `{ state: null, updates: [], head: 0, deletedAt:
   * null }`. The result reflects every append whose promise has resolved.
   */
  load(name: string): Promise<StoredDocument>;

  /**
   * Appends an update to the document's log. Appends made together (in one synchronous run of
   * code), across all documents, are written together (group commit), and may share one promise.
   * Resolves once the update is durable, with where the write left each document; rejects with
   * `StoreWriteError` if it failed, and then the update is not stored (but see `StoreWriteError`
   * for a connection lost while committing). Appends to one document are stored, and resolve, in
   * call order.
   */
  append(name: string, update: Uint8Array): Promise<Written>;

  /**
   * Replaces the logged updates of a document up to position `upTo` with `state`, a Yjs update
   * that contains every one of them (and may contain later ones). Updates after `upTo` stay in the
   * log. A no-op when the document's state already covers `upTo` or later (a newer compaction, by
   * this process or another); a store shared by several processes may also skip it while another
   * compaction of the document is under way. After a crash either the old log or the new state is
   * there, never neither; beside the new state the log may still hold some updates it holds, which
   * `load` then returns and which change nothing. Rejects with `RangeError` for a position never
   * written.
   */
  compact(name: string, state: Uint8Array, upTo: Position): Promise<void>;

  /**
   * The updates logged after position `after`, in order, with their positions; null when a
   * compaction has moved some of them into the state (the caller loads instead). Reflects every
   * append whose promise has resolved.
   */
  readSince(name: string, after: Position): Promise<readonly LoggedUpdate[] | null>;

  /**
   * Registers `listener`, called when the store stops taking reads and writes. Appends that
   * resolved before stay durable either way.
   *
   * - With a `StoreUnavailableError` when the cause can pass (no descriptors or disk space left, a
   *   database out of reach): the store retries on its own, with backoff, and resumes once a write
   *   succeeds; `onRecovery` listeners hear of it. Called again if the store becomes unavailable
   *   again later.
   * - With another `StoreWriteError` when the store failed for good: after an error that leaves
   *   what it stored in doubt (a failed sync of the file acknowledged appends are in), or one it
   *   cannot tell will pass. Called once; only a restart recovers, and appends that resolved are
   *   recovered then.
   *
   * Until it recovers, every read and write rejects with that error.
   */
  onFailure(listener: (error: StoreWriteError) => void): void;

  /** Registers `listener`, called each time the store takes reads and writes again after a `StoreUnavailableError`. */
  onRecovery(listener: () => void): void;

  /** Number of updates in the document's log (appended since its last compaction), as this store knows it. */
  logLength(name: string): Promise<number>;

  /** The stored documents (not deleted ones), in name order (by code point), as `options` say. */
  list(options?: ListOptions): Promise<DocumentInfo[]>;

  /**
   * Removes a document's state, log and versions, and marks it deleted (`load`'s `deletedAt`), so that its
   * deletion outlives a restart. An append after the call creates it again and clears the mark, at
   * positions after every one it had. Deleting an unknown name marks it too.
   */
  delete(name: string): Promise<void>;

  /** Resolves when every write accepted before the call is durable (or rejects if one failed). */
  flush(): Promise<void>;

  /**
   * Flushes, then releases the store. Calling it again returns the same promise; every other
   * method rejects once it was called. Rejects with `StoreWriteError` if a pending write failed,
   * and with the store's failure while it is down (an outage is not waited out; appends that
   * resolved are recovered at the next open).
   */
  close(): Promise<void>;
}
