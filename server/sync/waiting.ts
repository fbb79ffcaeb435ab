/**
 * What waits in a document for edits the server has not received.
 *
 * Yjs keeps a struct whose origin it lacks, and a deletion of an item it lacks, in its pending
 * queues until the dependency arrives. The server neither stores nor sends what waits there (see
 * `UpdateIntake`): an item forged to wait for someone's next keystroke is then never in the store
 * nor in another client's document when that keystroke shows it out of place. This module keeps
 * track of the messages that have a part waiting (their acknowledgements wait for it), bounds the
 * queues, and encodes a document without them.
 */
import * as Y from 'yjs';
import { pendingSizes, withoutPending } from '../../protocol/yjs-internals.js';

/**
 * The most that may wait in a document, in encoded bytes: insertions (Yjs's pending structs) and
 * deletions. Yjs merges each waiting part into its queue and applies the whole waiting delete set
 * again with every update, so what waits costs every keystroke; an honest client's waiting part is
 * a few keystrokes sent between its reconnecting and its sync step 2.
 */
export const MAX_WAITING_STRUCT_BYTES = 64 * 1024;
export const MAX_WAITING_DELETION_BYTES = 4 * 1024;
/**
 * The most messages with a waiting part a document keeps track of: each is merged into the waiting
 * queue at a cost that grows with it, and a part sent again does not grow the queue.
 */
export const MAX_WAITING_MESSAGES = 256;

/** A message whose part waits. */
interface WaitingMessage {
  /** Its position among its connection's update messages, for acknowledgements (see `AckState`). */
  readonly position: number;
  /** The clock each client's state must reach for all of it (structs and deletions) to be integrated. */
  readonly complete: ReadonlyMap<number, number>;
}

/** What waits in a document, when it is past the limits. */
export interface WaitingSize {
  readonly structs: number;
  readonly deletions: number;
  readonly messages: number;
}

/** The messages of a document's members that have a part waiting, oldest first per member. */
export class WaitingMessages<M> {
  private readonly byMember = new Map<M, WaitingMessage[]>();
  private total = 0;

  /** How many messages wait, from every member. */
  get count(): number {
    return this.total;
  }

  /** Records message `position` of `member` if `doc` has not integrated all of `update`. */
  note(member: M, position: number, update: Uint8Array, doc: Y.Doc): void {
    const complete = clocksToComplete(update);
    if (isComplete(doc, complete)) return;
    const messages = this.byMember.get(member);
    if (messages === undefined) this.byMember.set(member, [{ position, complete }]);
    else messages.push({ position, complete });
    this.total++;
  }

  /** The position of the member's oldest waiting message, if any. */
  first(member: M): number | undefined {
    return this.byMember.get(member)?.[0]?.position;
  }

  /** Forgets the messages `doc` has integrated all of; returns the members that had some. */
  release(doc: Y.Doc): M[] {
    const released: M[] = [];
    for (const [member, messages] of this.byMember) {
      const still = messages.filter((message) => !isComplete(doc, message.complete));
      if (still.length === messages.length) continue;
      this.total -= messages.length - still.length;
      if (still.length > 0) this.byMember.set(member, still);
      else this.byMember.delete(member);
      released.push(member);
    }
    return released;
  }

  /** Forgets a member's messages (it left). */
  forget(member: M): void {
    const messages = this.byMember.get(member);
    if (messages === undefined) return;
    this.total -= messages.length;
    this.byMember.delete(member);
  }

  /** The members with a message waiting. */
  members(): M[] {
    return [...this.byMember.keys()];
  }
}

/** What waits in `doc`, if it is past the limits (`messages` of them, see `WaitingMessages`); else null. */
export function waitingPastLimits(doc: Y.Doc, messages: number): WaitingSize | null {
  const { structs, deletions } = pendingSizes(doc);
  if (structs <= MAX_WAITING_STRUCT_BYTES && deletions <= MAX_WAITING_DELETION_BYTES && messages <= MAX_WAITING_MESSAGES) return null;
  return { structs, deletions, messages };
}

/**
 * `Y.encodeStateAsUpdate` without what waits in the doc's pending queues, which Yjs adds to it: what
 * waits is neither stored nor sent to a client.
 */
export function encodeIntegrated(doc: Y.Doc, stateVector?: Uint8Array): Uint8Array {
  return withoutPending(doc, () => Y.encodeStateAsUpdate(doc, stateVector));
}

/** The state each client of `update` must reach for all of it, structs and deletions, to be integrated. */
function clocksToComplete(update: Uint8Array): Map<number, number> {
  const { structs, ds } = Y.decodeUpdate(update);
  const complete = new Map<number, number>();
  const need = (client: number, clock: number): void => {
    if (clock > (complete.get(client) ?? 0)) complete.set(client, clock);
  };
  for (const struct of structs) if (!(struct instanceof Y.Skip)) need(struct.id.client, struct.id.clock + struct.length);
  for (const [client, ranges] of ds.clients) for (const { clock, len } of ranges) need(client, clock + len);
  return complete;
}

/** Whether `doc` has integrated everything `complete` (see `clocksToComplete`) asks for. */
function isComplete(doc: Y.Doc, complete: ReadonlyMap<number, number>): boolean {
  for (const [client, clock] of complete) if (Y.getState(doc.store, client) < clock) return false;
  return true;
}
