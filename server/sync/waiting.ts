/**
 * What waits in a document for edits the server has not received.
 *
 * Yjs keeps a struct whose origin it lacks, and a deletion of an item it lacks, in its pending
 * queues until the dependency arrives. The server neither stores nor sends what waits there (see
 * `Room.integrate`): an item forged to wait for someone's next keystroke is then never in the store
 * nor in another client's document when that keystroke shows it out of place. This module keeps
 * track of the messages that have a part waiting (their acknowledgements wait for it), bounds the
 * queues, and encodes a document without them.
 */
import * as Y from 'yjs';
import type { Connection } from './connection.js';

/**
 * The most that may wait in a document, in encoded bytes: insertions (Yjs's pending structs) and
 * deletions. Yjs merges each new waiting part into its queue, and applies the whole waiting delete
 * set again with every update: 9.5 MB of waiting deletions made each keystroke on the server take
 * 321 ms instead of 0.43. At these sizes a waiting part costs about 0.2 ms, and each update about
 * 0.07 ms more; an honest client's waiting part is a few keystrokes sent in the moment between its
 * reconnecting and its sync step 2.
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

/** The messages of a document's connections that have a part waiting, oldest first per connection. */
export class WaitingMessages {
  private readonly byConnection = new Map<Connection, WaitingMessage[]>();
  private total = 0;

  /** How many messages wait, from every connection. */
  get count(): number {
    return this.total;
  }

  /** Records message `position` of `connection` if `doc` has not integrated all of `update`. */
  note(connection: Connection, position: number, update: Uint8Array, doc: Y.Doc): void {
    const complete = clocksToComplete(update);
    if (isComplete(doc, complete)) return;
    const messages = this.byConnection.get(connection);
    if (messages === undefined) this.byConnection.set(connection, [{ position, complete }]);
    else messages.push({ position, complete });
    this.total++;
  }

  /** The position of the connection's oldest waiting message, if any. */
  first(connection: Connection): number | undefined {
    return this.byConnection.get(connection)?.[0]?.position;
  }

  /** Forgets the messages `doc` has integrated all of; returns the connections that had some. */
  release(doc: Y.Doc): Connection[] {
    const released: Connection[] = [];
    for (const [connection, messages] of this.byConnection) {
      const still = messages.filter((message) => !isComplete(doc, message.complete));
      if (still.length === messages.length) continue;
      this.total -= messages.length - still.length;
      if (still.length > 0) this.byConnection.set(connection, still);
      else this.byConnection.delete(connection);
      released.push(connection);
    }
    return released;
  }

  /** Forgets a connection's messages (it left). */
  forget(connection: Connection): void {
    const messages = this.byConnection.get(connection);
    if (messages === undefined) return;
    this.total -= messages.length;
    this.byConnection.delete(connection);
  }

  /** The connections with a message waiting. */
  connections(): Connection[] {
    return [...this.byConnection.keys()];
  }
}

/** Whether anything waits in `doc`'s pending queues. */
export function somethingWaits(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}

/** What waits in `doc`, if it is past the limits (`messages` of them, see `WaitingMessages`); else null. */
export function waitingPastLimits(doc: Y.Doc, messages: number): WaitingSize | null {
  const structs = doc.store.pendingStructs?.update.length ?? 0;
  const deletions = doc.store.pendingDs?.length ?? 0;
  if (structs <= MAX_WAITING_STRUCT_BYTES && deletions <= MAX_WAITING_DELETION_BYTES && messages <= MAX_WAITING_MESSAGES) return null;
  return { structs, deletions, messages };
}

/** Empties `doc`'s pending queues: what waited there was never stored nor sent. */
export function dropWaiting(doc: Y.Doc): void {
  doc.store.pendingStructs = null;
  doc.store.pendingDs = null;
}

/**
 * Whether something that waited was integrated by the transaction running now, given the pending
 * queues as they were before it: Yjs retries its pending structs (a new queue object) when a
 * dependency arrives, and applies what it can of the waiting deletions with every update.
 */
export function waitingIntegrated(structsBefore: Y.Doc['store']['pendingStructs'], deletionsBefore: Uint8Array | null, store: Y.Doc['store']): boolean {
  return (structsBefore !== null && store.pendingStructs !== structsBefore) || (deletionsBefore !== null && deletionsApplied(deletionsBefore, store));
}

/**
 * `Y.encodeStateAsUpdate` without what waits in the doc's pending queues, which Yjs adds to it: what
 * waits is neither stored nor sent to a client. The queues are set aside for the (synchronous)
 * encoding only.
 */
export function encodeIntegrated(doc: Y.Doc, stateVector?: Uint8Array): Uint8Array {
  const store = doc.store;
  const { pendingStructs, pendingDs } = store;
  if (pendingStructs === null && pendingDs === null) return Y.encodeStateAsUpdate(doc, stateVector);
  store.pendingStructs = null;
  store.pendingDs = null;
  try {
    return Y.encodeStateAsUpdate(doc, stateVector);
  } finally {
    store.pendingStructs = pendingStructs;
    store.pendingDs = pendingDs;
  }
}

/**
 * Whether a deletion that waited in `pending` (Yjs's pending delete set, a v2 update) was applied,
 * at least in part. Yjs keeps a range waiting from the first clock its client's state lacks, so a
 * range was applied once the state passed its start.
 */
function deletionsApplied(pending: Uint8Array, store: Y.Doc['store']): boolean {
  for (const [client, ranges] of Y.decodeUpdateV2(pending).ds.clients) {
    const state = Y.getState(store, client);
    if (ranges.some(({ clock }) => clock < state)) return true;
  }
  return false;
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
