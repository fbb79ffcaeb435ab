/**
 * The durable store of Yjs documents, as the sync engine sees it.
 *
 * A document is an append-only log of Yjs updates plus a compacted state that folds the log's
 * older part. The engine knows the store only through this interface, so a PostgreSQL
 * implementation can follow the LevelDB one without touching the engine.
 */

/** What `load` reads: the compacted state (if any) and the updates logged after it, oldest first. */
export interface StoredDocument {
  /** A Yjs update (v1) holding the compacted state, or `null` when the document was never compacted. */
  readonly state: Uint8Array | null;
  /** Updates appended since the state was written, in append order. May overlap the state. */
  readonly updates: readonly Uint8Array[];
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
 * Raised by a store when a write failed. The updates of the failed write are not stored; the
 * caller must not report them as saved.
 */
export class StoreWriteError extends Error {
  override readonly name = 'StoreWriteError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A store could not be opened; the message says why and what to do. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface DocumentStore {
  /**
   * Reads a document. A name never written gives `{ state: null, updates: [] }`.
   * The result reflects every append whose promise has resolved.
   */
  load(name: string): Promise<StoredDocument>;

  /**
   * Appends an update to the document's log. Appends made together (in one synchronous run of
   * code), across all documents, are written in one batch. Resolves once the update is durable (synced to disk
   * first when the store was opened with `fsync`); rejects with `StoreWriteError` if the write
   * failed, in which case the update is not stored. Appends to one document are stored in call order.
   * Appends written in the same batch may return the same promise.
   */
  append(name: string, update: Uint8Array): Promise<void>;

  /**
   * Replaces the logged history of a document with `state`, a Yjs update that must contain every
   * update appended to that document before this call. After a crash either the old log or the
   * new state is there, never neither; beside the new state, the log may still hold some of the
   * updates it folds (`load` may return updates the state contains, which change nothing).
   * Updates appended after the call stay in the log.
   */
  compact(name: string, state: Uint8Array): Promise<void>;

  /**
   * Registers `listener`, called once if the store fails after it resolved appends (they stay
   * durable and are recovered when the store opens again). Every write and read rejects from then on.
   */
  onFailure(listener: (error: StoreWriteError) => void): void;

  /** Number of updates in the document's log (appended since its last compaction), as this store knows it. */
  logLength(name: string): Promise<number>;

  /** Every stored document, in name order. */
  list(): Promise<DocumentInfo[]>;

  /** Removes a document entirely. Deleting an unknown name does nothing. */
  delete(name: string): Promise<void>;

  /** Resolves when every write accepted before the call is durable (or rejects if one failed). */
  flush(): Promise<void>;

  /**
   * Flushes, then releases the store. Calling it again returns the same promise; every other
   * method rejects once it was called. Rejects with `StoreWriteError` if a pending write failed.
   */
  close(): Promise<void>;
}
