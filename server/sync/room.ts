/**
 * A room: one loaded document and the members editing it. It takes their messages and hands each
 * to the part that deals with it: updates to intake (`intake.ts`), what the document took in to
 * the outbox (`outbox.ts`: store, then broadcast, acknowledge and publish), compactions to the schedule
 * (`compaction-schedule.ts`), presence to `presence.ts`, a failure to the reload routine (`reload.ts`),
 * and what other instances stored or published, heard on the bus (`bus.ts`), back to its members.
 */
import * as Y from 'yjs';
import type { DocumentStore, Position, StoredDocument } from '../../persistence/document-store.js';
import { applyStoredDocument } from '../../persistence/compaction.js';
import { type ClientMessage, encodeAwareness, encodeSyncStep1, encodeSyncStep2 } from '../../protocol/y-websocket.js';
import type { Logger } from '../logger.js';
import { CLOSE } from '../websocket/close-codes.js';
import type { DocumentBus, PresenceOwner } from './bus.js';
import { broadcast, broadcastStored } from './broadcast.js';
import { BusLink } from './bus-link.js';
import { DocumentSize } from './document-size.js';
import { type CompactionOptions, CompactionSchedule } from './compaction-schedule.js';
import { type IntakeOptions, type Refusal, UpdateIntake } from './intake.js';
import type { RoomMember } from './member.js';
import { Outbox, type StoredBatch } from './outbox.js';
import { RoomPresence } from './presence.js';
import { closeOnFailure, type Failure } from './reload.js';
import { encodeIntegrated } from './waiting.js';

/** What every room of an engine is loaded with. */
export interface RoomOptions<M extends RoomMember> extends CompactionOptions, IntakeOptions {
  readonly store: DocumentStore;
  /** Where stored updates and presence go to, and come from, other instances holding the document. */
  readonly bus: DocumentBus;
  readonly logger: Logger;
  /**
   * Called once when the room fails: the owner unloads it. `survivors` are the members kept open
   * (see `reload.ts`), for the owner to move to the reloaded document; `sender` answers for the
   * update that failed the room (its address pays for the reload). Both empty when a write failed.
   */
  readonly onFailure: (room: Room<M>, survivors: readonly M[], sender: M | null) => void;
  /**
   * Called when updates that members (or HTTP writes) sent are stored, with who wrote them as far
   * as known; `created` when they are the first stored of a document that did not exist (never
   * written, or deleted).
   */
  readonly onEdited?: (room: Room<M>, authors: ReadonlySet<string>, created: boolean) => void;
  /** Called once the document is deleted (`delete`), which waits for the promise it returns. */
  readonly onDeleted?: (room: Room<M>) => Promise<void>;
}

/** A stored document as of a position of its log (see `Room.snapshot`). */
export interface RoomSnapshot {
  /** The document as a Yjs update. */
  readonly state: Uint8Array;
  /** The position it reflects: every update up to it, none after. */
  readonly head: Position;
}

/** A room failed by an update, reloaded, and the address of who answers for the update. */
export interface Reload<M extends RoomMember> {
  readonly room: Room<M>;
  readonly address: string;
}

/** One loaded document (see the top of this file); loaded by `Room.load`. */
export class Room<M extends RoomMember = RoomMember> {
  readonly doc: Y.Doc;
  readonly members = new Set<M>();
  /** Created at the first awareness message: a room whose clients publish no presence spares its maps and timer. */
  private presence: RoomPresence | null = null;
  private readonly outbox: Outbox<M>;
  private readonly intake: UpdateIntake<M>;
  private readonly compactions: CompactionSchedule;
  private readonly size: DocumentSize;
  private bus: BusLink | null = null;
  private failure: Error | null = null;
  /** Set when an update failed the room: its survivors wait for the reload, and stored updates still reach them. */
  private reloading = false;
  /** Made at the room's first log line: most rooms never log one. */
  private logger: Logger | null = null;
  /**
   * When the document was deleted, while it stays deleted: only a member that asks to create it
   * may join then (see `SyncEngine`), and that revives it. Null for a live document.
   */
  deletedAt: number | null;
  /** Set while the document is being deleted (`delete`): nobody joins, nothing is taken in. */
  deleting = false;
  /** Whether the document exists in the store: written, and not deleted since (see `onEdited`'s `created`). */
  private written: boolean;

  private constructor(
    readonly name: string,
    private readonly options: RoomOptions<M>,
    stored: StoredDocument,
  ) {
    // The name as the doc's guid: a random one costs a UUID's worth of garbage per load.
    this.doc = new Y.Doc({ guid: name });
    this.deletedAt = stored.deletedAt;
    this.written = stored.deletedAt === null && stored.head > 0;
    // The stored bytes bound the encoded size from above.
    this.size = new DocumentSize(
      stored.updates.reduce((sum, update) => sum + update.length, stored.state?.length ?? 0),
      false,
    );
    const room = this;
    this.outbox = new Outbox(options.store, this.outboxHost(), stored.head, !options.bus.reliable);
    this.intake = new UpdateIntake<M>(
      {
        doc: this.doc,
        outbox: this.outbox,
        size: this.size,
        appended: () => this.compactions.appended(),
        refused: (refusal) => this.refused(refusal),
        get log() {
          return room.log;
        },
      },
      options,
    );
    this.compactions = new CompactionSchedule(
      {
        name,
        doc: this.doc,
        get failed() {
          return room.failed || room.deleting;
        },
        get unstored() {
          return room.outbox.unstored;
        },
        get head() {
          return room.outbox.head;
        },
        drain: () => this.drain(),
        measured: (bytes) => this.size.measured(bytes),
        get log() {
          return room.log;
        },
      },
      options.store,
      options,
      stored.updates.length,
    );
  }

  /**
   * Loads a document: subscribes to its channel on the bus first, then reads the store, so that
   * nothing stored elsewhere in between is missed. The room is complete before anyone can join it.
   * `onRead` sees the stored document as read, before the (much slower) apply; the apply waits for
   * the promise it returns, if any.
   */
  static async load<M extends RoomMember>(
    name: string,
    options: RoomOptions<M>,
    onRead?: (stored: StoredDocument) => Promise<void> | undefined,
    failed?: Reload<M>,
  ): Promise<Room<M>> {
    // A reload reads the store once every write of the failed room has settled.
    if (failed !== undefined) await failed.room.outbox.settled();
    const link = await BusLink.open(options.bus, options.store, name);
    let stored: StoredDocument;
    try {
      stored = await options.store.load(name);
      const ready = onRead?.(stored);
      if (ready !== undefined) await ready;
    } catch (error) {
      link.close();
      throw error;
    }
    const room = new Room(name, options, stored);
    room.bus = link;
    const started = performance.now();
    applyStoredDocument(room.doc, stored);
    if (failed !== undefined) {
      // The update that failed the room made the server apply the whole document again.
      options.updateTime.spend(failed.address, performance.now() - started);
      const presence = failed.room.presence;
      if (presence !== null && !presence.empty) room.presence = presence.copy(room.doc, () => room.log, room.relayTimeout);
    }
    link.attach({
      get failed() {
        return room.failed;
      },
      get head() {
        return room.outbox.head;
      },
      applyStored: (updates, head) => room.applyStored(updates, head),
      applyPresence: (owner, update) => room.applyPresence(owner, update),
      renewPresence: () => room.renewPresence(),
      dropInstance: (instance) => room.dropInstance(instance),
    });
    return room;
  }

  /** Whether the document exists: written at least once, and not deleted since. */
  get exists(): boolean {
    return this.deletedAt === null && (this.outbox.head > 0 || this.doc.store.clients.size > 0);
  }

  /** True once the room has failed; it takes no more messages and is being unloaded. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Adds a member and starts the handshake: our state vector, and who is present. */
  join(member: M): void {
    this.members.add(member);
    member.send(encodeSyncStep1(Y.encodeStateVector(this.doc)));
    if (this.presence !== null && !this.presence.empty) member.sendShared(this.presence.everyone());
  }

  /** Removes a member; the presence it published is removed for everyone else. */
  leave(member: M): void {
    if (!this.members.delete(member)) return;
    this.intake.forget(member);
    this.dropPresence(member);
  }

  /** Drops a member without a word: it moves to the reloaded document (see `reload.ts`). */
  forget(member: M): void {
    this.members.delete(member);
  }

  /** Removes the presence `member` published, for everyone else (here and on other instances). */
  dropPresence(member: M): void {
    const removal = this.presence?.leave(member) ?? null;
    if (removal === null) return;
    broadcast(this.members, encodeAwareness(removal), member);
    this.bus?.publishPresence(member, removal);
  }

  /** Handles one decoded message from a member of this room. */
  receive(member: M, message: ClientMessage): void {
    if (this.failure || this.deleting) return;
    switch (message.type) {
      case 'sync-step-1':
        void this.replyWithMissing(member, message.stateVector);
        break;
      case 'sync-step-2':
      case 'update':
        this.intake.receive(member, message.update, message.starts);
        break;
      case 'awareness': {
        const relayed = this.present.publish(member, message.entries, message.update);
        if (relayed === null) break;
        broadcast(this.members, encodeAwareness(relayed), member);
        this.bus?.publishPresence(member, relayed);
        break;
      }
      case 'query-awareness':
        member.sendShared(this.present.everyone());
        break;
    }
  }

  /** The store failed: nothing more can be saved, so the room fails. */
  storeFailed(error: Error): void {
    this.fail({ code: 'storage-failed', error, answerable: [], bystander: null, waiting: [] });
  }

  /** Resolves once every update applied so far is stored (or the room failed). */
  drain(): Promise<void> {
    return this.outbox.drain();
  }

  /** The document as stored now, once every update applied so far is; rejects if the room failed. */
  async snapshot(): Promise<RoomSnapshot> {
    await this.drain();
    if (this.failure) throw new Error('the document failed before it could be read', { cause: this.failure });
    // Parts that wait in Yjs's queues are not stored, and not part of the document yet.
    return { state: encodeIntegrated(this.doc), head: this.outbox.head };
  }

  /** A member asked to create the document again after its deletion: it is live from now on. */
  revive(): void {
    this.deletedAt = null;
  }

  /**
   * Deletes the document: every member is closed with `CLOSE.deleted`, what was appended settles,
   * the store removes the document (and keeps its mark), and the room is dropped as if it had
   * failed, so that the next connection loads it anew, deleted. Rejects (the room then goes on) if
   * the store could not delete it.
   */
  async delete(): Promise<void> {
    if (this.failure) throw new Error('the document failed; try again', { cause: this.failure });
    this.deleting = true;
    for (const member of [...this.members]) member.close(CLOSE.deleted, 'the document was deleted');
    try {
      await this.outbox.settled();
      await this.options.store.delete(this.name);
    } catch (error) {
      this.deleting = false;
      throw error;
    }
    this.deletedAt = Date.now();
    this.failure = new Error('the document was deleted');
    this.options.onFailure(this, [], null);
    await this.options.onDeleted?.(this);
  }

  /** Drains, then compacts the log into the snapshot so the next load reads one record. */
  compact(): Promise<void> {
    return this.compactions.compactNow();
  }

  destroy(): void {
    this.compactions.stop();
    this.bus?.close();
    this.presence?.destroy();
    this.doc.destroy();
  }

  /** The room's logger: the server's, its lines naming the document. */
  private get log(): Logger {
    return (this.logger ??= this.options.logger.child({ doc: this.name }));
  }

  /** The room's presence, created on first use. */
  private get present(): RoomPresence {
    return (this.presence ??= new RoomPresence(this.doc, () => this.log, this.relayTimeout));
  }

  /** Presence that timed out is removed for every member. */
  private readonly relayTimeout = (removal: Uint8Array): void => {
    broadcast(this.members, encodeAwareness(removal), null);
  };

  private outboxHost() {
    const room = this;
    return {
      name: this.name,
      get failed() {
        return room.failed;
      },
      stored: (batch: StoredBatch<M>, last: Position) => this.stored(batch, last),
      writeFailed: (error: Error) => this.fail({ code: 'storage-failed', error, answerable: [], bystander: null, waiting: [] }),
    };
  }

  /**
   * A batch is stored: it goes to every member but their senders, and to the other instances.
   * Members kept through a failure still get it (the reloaded document holds it, so they must).
   */
  private stored(batch: StoredBatch<M>, last: Position): void {
    if (this.failure && !this.reloading) return;
    this.options.counters.updatesBroadcast += broadcastStored(this.members, batch.updates, batch.senders);
    this.bus?.publishUpdates(last, batch.updates);
    const created = !this.written;
    this.written = true;
    if (this.options.onEdited !== undefined) this.options.onEdited(this, this.authorsOf(batch.senders), created);
  }

  /** Who the senders are, as far as known: a token's `sub`, else the name their presence shows. */
  private authorsOf(senders: readonly (M | null)[]): Set<string> {
    const authors = new Set<string>();
    for (const sender of senders) {
      if (sender === null) continue;
      const author = sender.ticket.identity ?? this.presence?.nameOf(sender) ?? null;
      if (author !== null) authors.add(author);
    }
    return authors;
  }

  /** An update broke the document: the room fails and reloads for the others. */
  private refused({ error, code, answerable, bystander }: Refusal<M>): void {
    this.fail({ code, error, answerable, bystander, waiting: [] });
  }

  /** Fails the room once (see `reload.ts`); the owner unloads it, and reloads it for the survivors. */
  private fail(failure: Failure<M>): void {
    if (this.failure) return;
    this.failure = failure.error;
    if (failure.answerable.length > 0) this.reloading = true;
    const waiting = this.intake.takeWaitingMembers();
    const survivors = closeOnFailure(this, { ...failure, waiting: failure.answerable.length > 0 ? waiting : [] }, this.log);
    this.options.onFailure(this, survivors, failure.answerable[0] ?? null);
  }

  /** Sends what the member lacks, computed when nothing is waiting to be stored. */
  private async replyWithMissing(member: M, stateVector: Uint8Array): Promise<void> {
    await this.drain();
    if (!member.isOpen) return;
    if (this.failure) {
      // The reloaded document answers it: the request goes first among what waits for it.
      if (this.reloading) member.retryAfterReload(encodeSyncStep1(stateVector));
      return;
    }
    member.sendState(encodeSyncStep2(encodeIntegrated(this.doc, stateVector)));
  }

  /** Updates another instance stored (heard on the bus): applied and sent to the members here, not stored again. */
  private applyStored(updates: readonly Uint8Array[], head: Position): void {
    for (const update of updates) {
      const refusal = this.intake.receiveStored(update);
      if (refusal !== null) {
        this.refused(refusal);
        return;
      }
    }
    this.outbox.held.addUpTo(head);
    // Written by another instance: a write here no longer creates the document.
    this.written = true;
    this.options.counters.updatesBroadcast += broadcastStored(this.members, updates, NO_SENDERS);
  }

  /** A presence change another instance published. */
  private applyPresence(owner: PresenceOwner, update: Uint8Array): void {
    const relayed = this.present.publishRemote(owner, update);
    if (relayed !== null) broadcast(this.members, encodeAwareness(relayed), null);
  }

  /** Has each member here publish its presence anew, with a new clock (see `RoomPresence.renewals`). */
  private renewPresence(): void {
    for (const [member, removal] of this.presence?.renewals() ?? []) member.send(encodeAwareness(removal));
  }

  /** Another instance fell silent: the presence its connections owned goes, for the members here. */
  private dropInstance(instance: string): void {
    const removal = this.presence?.dropInstance(instance) ?? null;
    if (removal !== null) broadcast(this.members, encodeAwareness(removal), null);
  }
}

/** The senders of updates heard on the bus: none here, so every member gets them. */
const NO_SENDERS: readonly null[] = [];
