/**
 * A `DocumentStore` that measures the one it wraps, from the server's side: how long its writes
 * take, how many updates it stored, and its compactions. Every call goes straight to the wrapped
 * store; nothing is measured inside a store, so every store is measured alike.
 *
 * Appends made together share one promise (group commit, see `DocumentStore.append`): a write is
 * timed once, from the first append it holds until it is stored, and costs each further append of
 * the same write one comparison and an increment.
 */
import type {
  DocumentInfo,
  DocumentStore,
  ListOptions,
  LoggedUpdate,
  Position,
  StoredDocument,
  StoreWriteError,
  Written,
} from '../../persistence/document-store.js';
import type { VersionChanges, VersionInfo, VersionRecord } from '../../persistence/versions.js';
import type { EventListOptions, QueuedEvent } from '../../persistence/event-queue.js';

/** What a `MeasuredStore` reports; called once per store write or compaction, never per update. */
export interface StoreObserver {
  /** A write of `updates` appends was stored, `seconds` after its first append was made. */
  written(updates: number, seconds: number): void;
  /** A write of `updates` appends failed, `seconds` after its first append. */
  writeFailed(updates: number, seconds: number): void;
  /** A compaction was written in `seconds`. */
  compacted(seconds: number): void;
  /** A compaction failed after `seconds`. */
  compactionFailed(seconds: number): void;
}

/** One store write being timed: the appends it holds so far. */
interface TimedWrite {
  readonly write: Promise<Written>;
  readonly started: number;
  updates: number;
}

/** Measures `store` for `observer` (see the top of this file); otherwise it is `store`. */
export class MeasuredStore implements DocumentStore {
  /** The write the last append joined. */
  private current: TimedWrite | null = null;

  constructor(
    private readonly store: DocumentStore,
    private readonly observer: StoreObserver,
  ) {}

  append(name: string, update: Uint8Array): Promise<Written> {
    const write = this.store.append(name, update);
    const current = this.current;
    if (current !== null && current.write === write) {
      current.updates++;
      return write;
    }
    const timed: TimedWrite = { write, started: performance.now(), updates: 1 };
    this.current = timed;
    write.then(
      () => {
        if (this.current === timed) this.current = null;
        this.observer.written(timed.updates, secondsSince(timed.started));
      },
      () => {
        if (this.current === timed) this.current = null;
        this.observer.writeFailed(timed.updates, secondsSince(timed.started));
      },
    );
    return write;
  }

  async compact(name: string, state: Uint8Array, upTo: Position): Promise<void> {
    const started = performance.now();
    try {
      await this.store.compact(name, state, upTo);
    } catch (error) {
      this.observer.compactionFailed(secondsSince(started));
      throw error;
    }
    this.observer.compacted(secondsSince(started));
  }

  load(name: string): Promise<StoredDocument> {
    return this.store.load(name);
  }

  readSince(name: string, after: Position): Promise<readonly LoggedUpdate[] | null> {
    return this.store.readSince(name, after);
  }

  onFailure(listener: (error: StoreWriteError) => void): void {
    this.store.onFailure(listener);
  }

  onRecovery(listener: () => void): void {
    this.store.onRecovery(listener);
  }

  logLength(name: string): Promise<number> {
    return this.store.logLength(name);
  }

  list(options?: ListOptions): Promise<DocumentInfo[]> {
    return this.store.list(options);
  }

  delete(name: string): Promise<void> {
    return this.store.delete(name);
  }

  flush(): Promise<void> {
    return this.store.flush();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  listVersions(name: string): Promise<VersionInfo[]> {
    return this.store.listVersions(name);
  }

  readVersion(name: string, id: string): Promise<VersionRecord | null> {
    return this.store.readVersion(name, id);
  }

  writeVersions(name: string, changes: VersionChanges): Promise<void> {
    return this.store.writeVersions(name, changes);
  }

  putEvent(event: QueuedEvent, expected?: string | null): Promise<boolean> {
    return this.store.putEvent(event, expected);
  }

  removeEvent(key: string, revision: string): Promise<boolean> {
    return this.store.removeEvent(key, revision);
  }

  listEvents(options?: EventListOptions): Promise<QueuedEvent[]> {
    return this.store.listEvents(options);
  }
}

function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}
