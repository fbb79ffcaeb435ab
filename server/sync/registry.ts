/**
 * The loaded rooms, one per document name.
 *
 * A room is loaded once: every connection that asks for it while it loads waits for the same
 * load. A room left with no connections is kept for a grace period, then drained, compacted into its
 * snapshot and unloaded; a connection that arrives while it unloads waits and loads it anew.
 *
 * At most `maxRooms` rooms are loaded. The upgrade gate takes a hold on a connection's room before
 * the handshake (`hold`), which loads it if needed and keeps it loaded until the connection joins,
 * so a burst of upgrades to new documents cannot all pass the limit. When the limit is reached,
 * idle rooms (no connections, waiting out their grace period) are unloaded early to make space.
 *
 * While the store is down (`DocumentStore.onFailure`), every loaded room fails (its clients are told
 * and resync when they reconnect) and new connections are refused at the upgrade, until the store
 * recovers on its own (`onRecovery`) or, after a failure for good, until a restart.
 *
 * A large document, once read, waits (at most `FIRST_MESSAGE_WAIT_MS`) for the first message of
 * every connection holding it before it is applied. Applying blocks the process for a while, and a
 * client that holds nothing is answered with the stored bytes only while the room loads (`whenRead`). Over any network, and often on loopback, its first message
 * comes a round trip after the handshake, when the read is long done: without the wait it would
 * arrive during the apply and wait for all of it.
 */
import { type DocumentStore, type StoredDocument, StoreUnavailableError, type StoreWriteError } from '../../persistence/document-store.js';
import { HttpError } from '../errors.js';
import type { Logger } from '../logger.js';
import { BackgroundQueue } from './background.js';
import type { DocumentBus } from './bus.js';
import type { RoomMember } from './member.js';
import { type Reload, Room, type RoomOptions } from './room.js';
import { SyncCounters } from './sync-counters.js';
import { AddressTimeBudget } from './update-time.js';

/** The registry's options: see `ServerConfig` for the limits. */
export interface RegistryOptions<M extends RoomMember> {
  readonly bus: DocumentBus;
  readonly unloadGraceMs: number;
  readonly compactAfter: number;
  /** Rooms loaded at once; 0 for no limit. */
  readonly maxRooms: number;
  /** Largest encoded size of a document, in bytes. */
  readonly maxDocumentSize: number;
  /** Longest one update may take to apply, in ms, plus 1 ms per KiB of it; 0 for no limit (see `update-time.ts`). */
  readonly maxUpdateMs: number;
  /** Milliseconds per second the updates of one client address may take to apply, bursts of 8 times that; 0 for no limit. */
  readonly updateTimePerAddress: number;
  readonly logger: Logger;
  /**
   * Called, at once, when an update failed a room and its document is reloading: `survivors`
   * wait for `reloaded`, and then join it (see `Room.fail`). It rejects if the document could not
   * be loaded again, or if the server is shutting down.
   */
  readonly onReload: (survivors: readonly M[], reloaded: Promise<Room<M>>) => void;
  /** See `RoomOptions.onEdited`. */
  readonly onEdited?: (room: Room<M>, authors: ReadonlySet<string>, created: boolean) => void;
  /** See `RoomOptions.onDeleted`. */
  readonly onDeleted?: (room: Room<M>) => Promise<void>;
  /** Called as a room with no connections is about to be compacted and unloaded; never rejects. */
  readonly beforeUnload?: (room: Room<M>) => Promise<void>;
  /** Where the rooms count what they receive and broadcast; by default an object of their own. */
  readonly counters?: SyncCounters;
}

/** Longest a read document waits, unapplied, for its connections' first messages (see above). */
const FIRST_MESSAGE_WAIT_MS = 100;
/** Stored documents smaller than this are applied at once: their apply takes a few milliseconds. */
const FIRST_MESSAGE_WAIT_BYTES = 64 * 1024;
/** An address may spend this many seconds' worth of its update time at once. */
const UPDATE_TIME_BURST = 8;
/** How long the compactions of one turn of the event loop may run before the rest wait for the next (see `background.ts`). */
const COMPACTION_BUDGET_MS = 2;

interface Entry<M extends RoomMember> {
  loading: Promise<Room<M>>;
  room: Room<M> | null;
  unloading: Promise<void> | null;
  timer: NodeJS.Timeout | null;
  /** Admitted connections that have not joined yet; the room stays loaded while any is held. */
  holds: number;
  /** The document as read from the store, kept only between the read and the room being ready. */
  read: StoredDocument | null;
  /** Called with the stored document once it is read, before the room is ready. */
  readers: Array<(stored: StoredDocument) => void>;
  /** Held connections whose first message arrived while the room loaded. */
  heard: number;
  /** Ends the wait for first messages while one runs (see above). */
  endWait: (() => void) | null;
}

/** The loaded rooms of one engine (see the top of this file). */
export class RoomRegistry<M extends RoomMember> {
  private readonly entries = new Map<string, Entry<M>>();
  private closed = false;
  /** Why the store takes nothing now; null while it works. */
  private storeDown: StoreWriteError | null = null;
  /** What every room is loaded with: one object and one failure handler for all of them. */
  private readonly roomOptions: RoomOptions<M>;

  constructor(
    store: DocumentStore,
    private readonly options: RegistryOptions<M>,
  ) {
    this.roomOptions = {
      store,
      bus: options.bus,
      compactAfter: options.compactAfter,
      background: new BackgroundQueue(COMPACTION_BUDGET_MS, (error) => options.logger.error({ err: error }, 'a background task failed')),
      maxDocumentSize: options.maxDocumentSize,
      maxUpdateMs: options.maxUpdateMs,
      updateTime: new AddressTimeBudget(options.updateTimePerAddress, options.updateTimePerAddress * UPDATE_TIME_BURST),
      counters: options.counters ?? new SyncCounters(),
      logger: options.logger,
      onFailure: (room, survivors, sender) => this.discard(room, survivors, sender),
      ...(options.onEdited === undefined ? {} : { onEdited: options.onEdited }),
      ...(options.onDeleted === undefined ? {} : { onDeleted: options.onDeleted }),
    };
    store.onFailure((error) => {
      this.storeDown = error;
      options.logger.error(
        { err: error, rooms: this.entries.size },
        error instanceof StoreUnavailableError
          ? 'the store is unavailable: every document is closed and clients will resync; new connections are refused until it recovers, which it tries on its own'
          : 'the store failed: every document is closed and clients will resync; restart the server to recover',
      );
      for (const entry of [...this.entries.values()]) entry.room?.storeFailed(error);
    });
    store.onRecovery(() => {
      this.storeDown = null;
      options.logger.info('the store recovered: documents can be opened again');
    });
  }

  /** Rooms loaded (or loading) now. */
  get size(): number {
    return this.entries.size;
  }

  /** Resolves with the loaded room for `name`, loading it if needed. Rejects if the load failed. */
  async acquire(name: string): Promise<Room<M>> {
    if (this.closed) throw new Error('the server is shutting down');
    for (;;) {
      const entry = this.entries.get(name);
      if (!entry) return this.load(name).loading;
      if (entry.unloading) {
        await entry.unloading;
        continue;
      }
      if (entry.timer) {
        clearTimeout(entry.timer);
        entry.timer = null;
      }
      return entry.loading;
    }
  }

  /**
   * Holds the room `name` for a connection about to open, loading it if needed; the returned
   * function gives the hold back (idempotent). Throws `HttpError(503)` when the room is not loaded
   * and `maxRooms` rooms are, none of them idle, and while the store is down (`storage-unavailable`
   * for a while, `storage-failed` until a restart).
   */
  async hold(name: string): Promise<() => void> {
    for (;;) {
      if (this.closed) throw new HttpError(503, 'shutting-down', 'the server is shutting down');
      if (this.storeDown !== null) throw storeRefusal(this.storeDown);
      const existing = this.entries.get(name);
      if (existing?.unloading) {
        await existing.unloading;
        continue;
      }
      if (existing || this.options.maxRooms === 0 || this.entries.size < this.options.maxRooms) break;
      const idle = [...this.entries].find(([, entry]) => entry.timer !== null && entry.room !== null);
      if (!idle) {
        throw new HttpError(503, 'too-many-documents', `${this.entries.size} documents are open, the most this server holds; try again later`);
      }
      const [idleName, idleEntry] = idle;
      clearTimeout(idleEntry.timer!);
      idleEntry.timer = null;
      await this.unload(idleName, idleEntry, idleEntry.room!);
    }
    const entry = this.entries.get(name) ?? this.load(name);
    entry.holds++;
    if (entry.timer) {
      clearTimeout(entry.timer);
      entry.timer = null;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      entry.holds--;
      if (entry.heard >= entry.holds) entry.endWait?.();
      // A connection that never joined leaves an empty room behind: start its grace period.
      void entry.loading.then(
        (room) => this.release(room),
        () => undefined,
      );
    };
  }

  /**
   * While the room `name` is loading, calls `reader` with the document as read from the store,
   * before the room is ready (at once if it was read already), and returns true. Returns false
   * when the room is not loading, and then never calls `reader`.
   */
  whenRead(name: string, reader: (stored: StoredDocument) => void): boolean {
    const entry = this.entries.get(name);
    if (!entry || entry.room !== null || entry.unloading) return false;
    if (entry.read) reader(entry.read);
    else entry.readers.push(reader);
    return true;
  }

  /**
   * Called with a connection's first message when its room is not ready yet: once every
   * connection holding the room has sent one, a read document waiting for them is applied.
   */
  heard(name: string): void {
    const entry = this.entries.get(name);
    if (!entry || entry.room !== null) return;
    entry.heard++;
    if (entry.heard >= entry.holds) entry.endWait?.();
  }

  /** Called when a connection leaves: a room left empty is unloaded after the grace period. */
  release(room: Room<M>): void {
    const entry = this.entries.get(room.name);
    if (!entry || entry.room !== room || room.members.size > 0 || entry.holds > 0 || entry.timer || entry.unloading) return;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      // Someone may have joined since; only a still-empty room goes.
      if (room.members.size === 0 && entry.holds === 0 && !this.closed) void this.unload(room.name, entry, room);
    }, this.options.unloadGraceMs);
    entry.timer.unref();
  }

  /** Drains, compacts and unloads every room; used when the server stops. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const pending = [...this.entries].map(async ([name, entry]) => {
      if (entry.timer) clearTimeout(entry.timer);
      if (entry.unloading) return entry.unloading;
      const room = await entry.loading.catch(() => null);
      if (room) await this.unload(name, entry, room);
    });
    await Promise.all(pending);
  }

  private load(name: string, failed?: Reload<M>): Entry<M> {
    const onRead = (stored: StoredDocument): Promise<void> | undefined => {
      entry.read = stored;
      for (const reader of entry.readers.splice(0)) reader(stored);
      return this.firstMessages(entry, stored);
    };
    const loading = Room.load(name, this.roomOptions, onRead, failed);
    const entry: Entry<M> = { loading, room: null, unloading: null, timer: null, holds: 0, read: null, readers: [], heard: 0, endWait: null };
    this.entries.set(name, entry);
    loading.then(
      (room) => {
        entry.room = room;
        entry.read = null;
        entry.readers = [];
      },
      () => {
        entry.read = null;
        entry.readers = [];
        if (this.entries.get(name) === entry) this.entries.delete(name);
      },
    );
    return entry;
  }

  /**
   * Resolves once every connection holding the entry has sent its first message, or after
   * `FIRST_MESSAGE_WAIT_MS`; undefined (no wait) when all have, or the document is small.
   */
  private firstMessages(entry: Entry<M>, stored: StoredDocument): Promise<void> | undefined {
    if (entry.heard >= entry.holds || this.closed) return undefined;
    const bytes = stored.updates.reduce((sum, update) => sum + update.length, stored.state?.length ?? 0);
    if (bytes < FIRST_MESSAGE_WAIT_BYTES) return undefined;
    return new Promise((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        entry.endWait = null;
        resolve();
      };
      const timer = setTimeout(end, FIRST_MESSAGE_WAIT_MS);
      entry.endWait = end;
    });
  }

  private unload(name: string, entry: Entry<M>, room: Room<M>): Promise<void> {
    entry.unloading = (async () => {
      await this.options.beforeUnload?.(room);
      try {
        await room.compact();
      } catch (error) {
        this.options.logger.error({ err: error, doc: name }, 'could not compact the document before unloading; its log is kept');
      }
      room.destroy();
    })().finally(() => {
      if (this.entries.get(name) === entry) this.entries.delete(name);
    });
    return entry.unloading;
  }

  /**
   * A failed room is dropped at once. With connections that survived it (see `Room.fail`), its
   * document is loaded again for them (the sender of the update that failed it pays the time of
   * that load, see `AddressTimeBudget`); otherwise the next connection loads it.
   */
  private discard(room: Room<M>, survivors: readonly M[], sender: M | null): void {
    const entry = this.entries.get(room.name);
    const current = entry?.room === room;
    if (current) {
      if (entry.timer) clearTimeout(entry.timer);
      this.entries.delete(room.name);
    }
    // Let the room's current call stack finish before its doc goes away; when it reloads, once its
    // connections have moved.
    const destroy = (): void => void setImmediate(() => room.destroy());
    if (survivors.length === 0) {
      destroy();
      return;
    }
    const reloaded =
      current && !this.closed && sender !== null
        ? this.load(room.name, { room, address: sender.ticket.remoteAddress }).loading
        : Promise.reject(new Error(this.closed ? 'the server is shutting down' : 'the document was unloaded while it failed'));
    reloaded.then(destroy, destroy);
    this.options.onReload(survivors, reloaded);
  }
}

/** The refusal of a connection while the store is down. */
function storeRefusal(error: StoreWriteError): HttpError {
  return error instanceof StoreUnavailableError
    ? new HttpError(503, 'storage-unavailable', 'documents cannot be stored for now; the server is recovering on its own, try again shortly')
    : new HttpError(503, 'storage-failed', 'documents cannot be stored: the server must be restarted');
}
