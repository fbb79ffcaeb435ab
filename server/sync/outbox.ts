/**
 * A room's updates on their way out, in the order that is the server's durability guarantee:
 *
 *   applied to the Y.Doc -> appended to the store -> once stored: broadcast, acknowledged, published
 *
 * so no client sees an update that a crash could still lose, and no client is told an update is
 * saved before it is. Updates the store writes together (it returns one promise for them) go out
 * together once that write is stored.
 */
import type { DocumentStore, Position, Written } from '../../persistence/document-store.js';
import { encodeSaved } from '../../protocol/y-websocket.js';
import { HeldPositions } from './held-positions.js';
import type { RoomMember } from './member.js';

/** Updates applied in order and appended by the same store write, with the member each came from (null: none to leave out). */
export interface StoredBatch<M> {
  readonly write: Promise<Written>;
  readonly updates: Uint8Array[];
  readonly senders: (M | null)[];
}

/** What the outbox tells its room. */
export interface OutboxHost<M> {
  readonly name: string;
  /** The room failed: draining stops waiting. */
  readonly failed: boolean;
  /** A batch is stored, its last update at position `last`: send it on. */
  stored(batch: StoredBatch<M>, last: Position): void;
  /** A write failed: nothing more can be saved. */
  writeFailed(error: Error): void;
}

/** Settled: what `lastWrite` is before the first append (one promise for every room). */
const NOTHING_WRITTEN: Promise<unknown> = Promise.resolve();

/** One room's outbox (see the top of this file). */
export class Outbox<M extends RoomMember> {
  /** Updates appended whose write has not completed yet. */
  private pending = 0;
  /** The most recent append; the store settles appends in order, so awaiting it awaits all. */
  private lastWrite = NOTHING_WRITTEN;
  /** The updates waiting on `lastWrite`, sent on together once it is stored. */
  private open: StoredBatch<M> | null = null;
  /** The positions the room holds (see `held-positions.ts`). */
  readonly held: HeldPositions;

  /**
   * `head`: the position the room was loaded at; `contiguous`: the store's positions have no gaps
   * (see `HeldPositions`), and then each batch's updates are at the positions before its last
   * one: every append of the document by this process goes through this outbox.
   */
  constructor(
    private readonly store: DocumentStore,
    private readonly host: OutboxHost<M>,
    head: Position,
    contiguous: boolean,
  ) {
    this.held = new HeldPositions(head, contiguous);
  }

  /** Every position up to it is held by the room: stored by it, or heard of. */
  get head(): Position {
    return this.held.head;
  }

  /** Updates appended whose write has not completed yet. */
  get unstored(): number {
    return this.pending;
  }

  /** Appends an update the document took in; `sender` (if any) is left out when it is broadcast. */
  append(update: Uint8Array, sender: M | null): void {
    const write = this.store.append(this.host.name, update);
    this.pending++;
    this.lastWrite = write;
    let batch = this.open;
    if (batch === null || batch.write !== write) {
      const next: StoredBatch<M> = { write, updates: [], senders: [] };
      write.then(
        (written) => this.onStored(next, written),
        (error: unknown) => this.onWriteFailed(next, error),
      );
      this.open = batch = next;
    }
    batch.updates.push(update);
    batch.senders.push(sender);
  }

  /** Resolves once every write so far has succeeded or failed. */
  settled(): Promise<void> {
    return this.lastWrite.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Resolves once every update appended so far is stored (or the room failed). */
  async drain(): Promise<void> {
    while (this.pending > 0 && !this.host.failed) {
      // A failed write is reported by `writeFailed`; here we only wait for the writes to settle.
      await this.lastWrite.catch(() => undefined);
    }
  }

  /**
   * Acknowledges a member's first `count` update messages, saved at `stateVector`, once every
   * update appended so far is stored: one "saved" message per member per tick, however many of
   * its updates a write held.
   */
  acknowledge(member: M, count: number, stateVector: Uint8Array): void {
    const acks = member.acks;
    if (acks === null) return;
    const stored = this.pending === 0 ? Promise.resolve() : this.lastWrite;
    stored.then(
      () => {
        if (count <= acks.acked) return;
        acks.acked = count;
        acks.stateVector = stateVector;
        if (acks.queued) return;
        acks.queued = true;
        setImmediate(() => {
          acks.queued = false;
          member.send(encodeSaved(acks.acked, acks.stateVector!));
        });
      },
      () => undefined, // the failure itself is reported by writeFailed
    );
  }

  private onStored(batch: StoredBatch<M>, written: Written): void {
    this.pending -= batch.updates.length;
    if (this.open === batch) this.open = null;
    const last = written.position(this.host.name);
    this.held.add(last - batch.updates.length + 1, last);
    this.host.stored(batch, last);
  }

  private onWriteFailed(batch: StoredBatch<M>, error: unknown): void {
    this.pending -= batch.updates.length;
    if (this.open === batch) this.open = null;
    this.host.writeFailed(error instanceof Error ? error : new Error(String(error)));
  }
}
