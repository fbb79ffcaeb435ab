/**
 * The document bus: how the holders of a document in different processes (instances of this
 * server behind one load balancer) hear of each other's stored updates and presence.
 *
 * A holder publishes an update only once the store has it, so the bus carries and may lose, but
 * never holds, anything that counts: a receiver applies updates in position order, and one that
 * may have missed some (a gap, a reconnect) reads them from the store (`readSince`). Each holder
 * has a store object of its own, whose appends for a document are all its own. The default bus
 * (`LocalBus`) has no peers: a server running alone.
 */
import type { AccessMode } from '../auth/token.js';
import type { Position } from '../../persistence/document-store.js';

/** Updates a holder stored, in order. */
export interface StoredUpdates {
  /** The publishing instance. */
  readonly origin: string;
  /** The position of the last of them in the document's log. */
  readonly head: Position;
  /**
   * The updates. With a store whose positions are contiguous, they are at positions
   * `head - updates.length + 1` to `head`.
   */
  readonly updates: readonly Uint8Array[];
}

/** Who published a presence change: the rules of who may change whose presence hold across instances. */
export interface PresenceOwner {
  /** The instance the owner is connected to. */
  readonly instance: string;
  /** The connection, unique within its instance. */
  readonly connection: number;
  readonly identity: string | null;
  readonly mode: AccessMode;
  readonly address: string;
}

/** A change of presence a holder applied: an awareness update, and who published it. */
export interface PresenceChange {
  readonly origin: string;
  readonly owner: PresenceOwner;
  /** A y-protocols awareness update. */
  readonly update: Uint8Array;
}

/** What a subscriber hears. Called on the bus's schedule, never inside `publish`. */
export interface BusListener {
  /**
   * The position up to which the holder has the document, or null before it has read it: a bus
   * that may lose messages compares it with the store's head now and then (see `missed`).
   */
  readonly head: Position | null;
  storedUpdates(message: StoredUpdates): void;
  presenceChanged(message: PresenceChange): void;
  /** Updates may have been lost (the bus reconnected, or the store is ahead): read what was missed from the store. */
  missed(): void;
  /**
   * Another instance asks for the presence published here (it loaded the document, or came back
   * after losing messages), or this bus came back itself: the holder has its members publish their
   * presence anew, with new clocks, so that it shows everywhere again.
   */
  presenceWanted(): void;
  /** `instance` fell silent (crashed, or out of the bus's reach): the presence it owned goes. */
  instanceGone(instance: string): void;
}

/** A holder's place on the channel of one document. */
export interface BusSubscription {
  publishUpdates(message: StoredUpdates): void;
  publishPresence(message: PresenceChange): void;
  /** Asks the other holders of the document to publish their presence anew (see `BusListener.presenceWanted`). */
  wantPresence(): void;
  /** Stops hearing of the document; publishing does nothing from then on. Idempotent. */
  unsubscribe(): void;
}

/** How a bus fares, for `/healthz`. */
export interface BusHealth {
  /** Why messages do not cross between instances now (Redis out of reach, say), or null while they do. */
  readonly problem: string | null;
  /** Malformed messages heard, and dropped, since the bus started. */
  readonly dropped: number;
}

/** A bus implementation: one per server instance. */
export interface DocumentBus {
  /** This instance's id, the `origin` of what it publishes. */
  readonly instance: string;
  /**
   * True when the bus delivers every message, in order, exactly once while subscribed: receivers
   * then need not look for gaps. A bus that may lose messages needs a store whose positions are
   * contiguous, for receivers to see a gap.
   */
  readonly reliable: boolean;
  /**
   * Starts hearing of `name`; resolves once every message published from then on will be heard.
   * A bus that is out of reach resolves at once instead, and calls the listener's `missed` once
   * its subscription is confirmed: a document loads and serves its clients meanwhile.
   */
  subscribe(name: string, listener: BusListener): Promise<BusSubscription>;
  health(): BusHealth;
  /** Unsubscribes everything. */
  close(): Promise<void>;
}

/** A subscription that publishes to nobody. */
const NO_PEERS: BusSubscription = {
  publishUpdates: () => undefined,
  publishPresence: () => undefined,
  wantPresence: () => undefined,
  unsubscribe: () => undefined,
};

const HEALTHY: BusHealth = { problem: null, dropped: 0 };

/** The bus of a server that runs alone: no peers, nothing to hear. */
export class LocalBus implements DocumentBus {
  readonly reliable = true;

  constructor(readonly instance: string) {}

  subscribe(): Promise<BusSubscription> {
    return Promise.resolve(NO_PEERS);
  }

  health(): BusHealth {
    return HEALTHY;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
