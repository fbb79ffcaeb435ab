/**
 * A room's place on the document bus (`bus.ts`): what it publishes once stored, and what it hears
 * of other instances, in order. Opened before the document is read, so nothing stored elsewhere
 * in between is missed: what is heard while the room loads is kept and handed over once it is
 * ready. Updates past the room's head are applied; a gap (on a bus that may lose messages) that
 * stays open for `GAP_WAIT_MS`, or a lost connection, is filled from the store. Once ready, it asks the other holders for their
 * presence, so that its members see who is there at once.
 */
import type { DocumentStore, Position } from '../../persistence/document-store.js';
import type { BusListener, BusSubscription, DocumentBus, PresenceChange, PresenceOwner, StoredUpdates } from './bus.js';
import type { RoomMember } from './member.js';

/** How long updates heard past a gap wait for what comes before them, before the store is asked. */
export const GAP_WAIT_MS = 100;

/** What the link needs of its room. */
export interface LinkedRoom {
  readonly failed: boolean;
  /** Every position up to it the room holds (see `held-positions.ts`). */
  readonly head: Position;
  /** Updates stored elsewhere, in order, the last at `head`, which with them the room holds every position up to: applied and sent to the members. */
  applyStored(updates: readonly Uint8Array[], head: Position): void;
  /** A presence change published elsewhere. */
  applyPresence(owner: PresenceOwner, update: Uint8Array): void;
  /** Has the members here publish their presence anew (see `BusListener.presenceWanted`). */
  renewPresence(): void;
  /** Removes the presence owned by connections of `instance`, which fell silent. */
  dropInstance(instance: string): void;
}

/** One room's link to the bus (see the top of this file); opened by `BusLink.open`. */
export class BusLink implements BusListener {
  private subscription: BusSubscription | null = null;
  private room: LinkedRoom | null = null;
  /** What was heard before the room was ready, in order. */
  private held: Array<() => void> | null = [];
  /** Updates heard while a catch-up from the store runs, handled after it; null when none runs. */
  private afterCatchUp: StoredUpdates[] | null = null;
  /** Set when a catch-up was asked for while one ran. */
  private again = false;
  /** Updates heard past a gap, waiting for what comes before them (see `apply`). */
  private early: StoredUpdates[] = [];
  private gapTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly bus: DocumentBus,
    private readonly store: DocumentStore,
    private readonly name: string,
  ) {}

  /** Subscribes to the document's channel; resolves once everything published from then on will be heard. */
  static async open(bus: DocumentBus, store: DocumentStore, name: string): Promise<BusLink> {
    const link = new BusLink(bus, store, name);
    link.subscription = await bus.subscribe(name, link);
    return link;
  }

  /** Hands what was heard so far to `room`, and from now on everything as it is heard. */
  attach(room: LinkedRoom): void {
    this.room = room;
    const held = this.held ?? [];
    this.held = null;
    for (const hear of held) hear();
    this.subscription?.wantPresence();
  }

  /** Publishes updates this room stored, the last at position `head`. */
  publishUpdates(head: Position, updates: readonly Uint8Array[]): void {
    this.subscription?.publishUpdates({ origin: this.bus.instance, head, updates });
  }

  /** Publishes a presence change `member` made here. */
  publishPresence(member: RoomMember, update: Uint8Array): void {
    const { identity, mode, remoteAddress } = member.ticket;
    const instance = this.bus.instance;
    this.subscription?.publishPresence({ origin: instance, owner: { instance, connection: member.id, identity, mode, address: remoteAddress }, update });
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    if (this.gapTimer !== null) clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }

  // BusListener.

  get head(): Position | null {
    return this.room === null || this.room.failed ? null : this.room.head;
  }

  storedUpdates(message: StoredUpdates): void {
    this.hear((room) => this.apply(room, message));
  }

  presenceChanged({ owner, update }: PresenceChange): void {
    this.hear((room) => room.applyPresence(owner, update));
  }

  missed(): void {
    this.hear((room) => void this.catchUp(room));
  }

  presenceWanted(): void {
    this.hear((room) => room.renewPresence());
  }

  instanceGone(instance: string): void {
    this.hear((room) => room.dropInstance(instance));
  }

  /**
   * Applies updates past the room's head. On a bus that may lose messages, updates past a gap wait
   * for what comes before them: instances publish in the order they commit, but two publishers'
   * messages may reach a subscriber in either order. Those still waiting after `GAP_WAIT_MS` are
   * read from the store.
   */
  private apply(room: LinkedRoom, message: StoredUpdates): void {
    const { head, updates } = message;
    if (this.afterCatchUp !== null) this.afterCatchUp.push(message);
    else if (head <= room.head) return;
    else if (!this.bus.reliable && head - updates.length > room.head) {
      this.early.push(message);
      this.gapTimer ??= setTimeout(() => this.gapWaited(room), GAP_WAIT_MS);
    } else {
      room.applyStored(updates, head);
      if (this.early.length > 0) this.applyEarly(room);
    }
  }

  /** Applies the early messages the room's head now reaches, in order. */
  private applyEarly(room: LinkedRoom): void {
    this.early.sort((a, b) => a.head - a.updates.length - (b.head - b.updates.length));
    while (this.early.length > 0 && !room.failed) {
      const { head, updates } = this.early[0]!;
      if (head - updates.length > room.head) break;
      this.early.shift();
      if (head > room.head) room.applyStored(updates, head);
    }
    if (this.early.length === 0 && this.gapTimer !== null) {
      clearTimeout(this.gapTimer);
      this.gapTimer = null;
    }
  }

  /** The wait for a gap to fill is over: the room's own writes may have closed it; else the store fills it. */
  private gapWaited(room: LinkedRoom): void {
    this.gapTimer = null;
    if (room.failed || this.early.length === 0) return;
    this.applyEarly(room);
    if (this.early.length > 0) void this.catchUp(room);
  }

  private hear(act: (room: LinkedRoom) => void): void {
    const room = this.room;
    if (room === null) this.held?.push(() => this.hear(act));
    else if (!room.failed) act(room);
  }

  /**
   * Reads what the room may have missed from the store, and applies it; once more if asked again
   * while it read (what was lost meanwhile may not be in that read). A read that fails is left: the
   * store reports its own failure (the registry fails every room then), and a later gap or head
   * check tries again.
   */
  private async catchUp(room: LinkedRoom): Promise<void> {
    if (this.afterCatchUp !== null) {
      this.again = true;
      return;
    }
    // Early messages are handled after the read: it covers them, or they wait again.
    this.afterCatchUp = this.early;
    this.early = [];
    if (this.gapTimer !== null) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    try {
      do {
        this.again = false;
        await this.readMissed(room);
      } while (this.again && !room.failed);
    } catch {
      // See above.
    } finally {
      const heard = this.afterCatchUp;
      this.afterCatchUp = null;
      for (const message of heard) if (!room.failed) this.apply(room, message);
    }
  }

  private async readMissed(room: LinkedRoom): Promise<void> {
    const missed = await this.store.readSince(this.name, room.head);
    if (room.failed) return;
    if (missed === null) {
      // A compaction elsewhere passed the room's head: the store's state has it all.
      const stored = await this.store.load(this.name);
      if (!room.failed && stored.head > room.head) room.applyStored(stored.state === null ? stored.updates : [stored.state, ...stored.updates], stored.head);
      return;
    }
    const fresh = missed.filter((logged) => logged.position > room.head);
    if (fresh.length > 0) {
      room.applyStored(
        fresh.map((logged) => logged.update),
        fresh[fresh.length - 1]!.position,
      );
    }
  }
}
