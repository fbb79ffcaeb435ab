/**
 * Update intake: what a room does with an update a member sent, before anything of it is stored.
 * The checks (read-only, document size, the sender's address's update time), the integration into
 * the document inside a transaction of our own, the refusal of an update that breaks the document,
 * and what waits in Yjs's pending queues for edits the server has not received (`waiting.ts`).
 *
 * What the document took in goes to the outbox (store, then broadcast); what waits goes nowhere
 * until its dependency arrives. The reasons and the attacks behind each rule are in
 * docs/decisions/2026-12-07-update-intake.md.
 */
import * as Y from 'yjs';
import { clearPending, markPending, pendingIntegrated, somethingPending } from '../../protocol/yjs-internals.js';
import type { UpdateStarts } from '../../protocol/yjs-update.js';
import { encodeError, encodePermissionDenied } from '../../protocol/y-websocket.js';
import type { Logger } from '../logger.js';
import { CLOSE } from '../websocket/close-codes.js';
import type { DocumentSize } from './document-size.js';
import type { RoomMember } from './member.js';
import type { Outbox } from './outbox.js';
import type { SyncCounters } from './sync-counters.js';
import { changesNothing, findMisplacedItem } from './update-check.js';
import { type AddressTimeBudget, applyWithin, UpdateTooSlow, updateTimeLimit } from './update-time.js';
import { WaitingMessages, waitingPastLimits, type WaitingSize } from './waiting.js';

/** The limits intake holds updates to. */
export interface IntakeOptions {
  /** Largest encoded size of the document, in bytes; an update that would grow it past this is refused. */
  readonly maxDocumentSize: number;
  /** Longest one update may take to apply, in ms, plus 1 ms per KiB of it (see `update-time.ts`); 0 for no limit. */
  readonly maxUpdateMs: number;
  /** The time each client address's updates may take to apply: shared by every room. */
  readonly updateTime: AddressTimeBudget;
  /** Where the updates received are counted: shared by every room. */
  readonly counters: SyncCounters;
}

/** Why an update broke the document, and who answers for it. */
export interface Refusal<M> {
  readonly error: Error;
  readonly code: 'invalid-update' | 'update-too-slow';
  /** Who sent it, or the senders of the parts that waited for it (see `integrate`). */
  readonly answerable: readonly M[];
  /** The update's sender when others answer for it: closed to send it again. */
  readonly bystander: M | null;
}

/** What intake needs of its room. */
export interface IntakeHost<M extends RoomMember> {
  readonly doc: Y.Doc;
  readonly outbox: Outbox<M>;
  readonly size: DocumentSize;
  /** An update was appended to the log (see `CompactionSchedule`). */
  appended(): void;
  /** An update broke the document: the room fails and reloads (see `reload.ts`). */
  refused(refusal: Refusal<M>): void;
  readonly log: Logger;
}

/** One room's intake (see the top of this file). */
export class UpdateIntake<M extends RoomMember> {
  /** Set while an update that failed to integrate is cleaned up: its partial effect is never stored. */
  private integrationFailed = false;
  /**
   * Set while a transaction that integrated something that waited ends: its sender lacks that part
   * too, so the broadcast goes to the sender as well.
   */
  private releasedWaiting = false;
  /** The member whose update is being integrated. */
  private applying: M | null = null;
  /** The messages with a part that waits: their members' acknowledgements stop short of them. Null when none wait. */
  private waiting: WaitingMessages<M> | null = null;

  constructor(
    private readonly host: IntakeHost<M>,
    private readonly options: IntakeOptions,
  ) {}

  /** Takes an update-bearing message (sync step 2 or update) from `member`. */
  receive(member: M, update: Uint8Array, starts: UpdateStarts): void {
    this.options.counters.updatesReceived++;
    const acks = member.acks;
    if (acks !== null) acks.received++;
    if (update.length === 2 && update[0] === 0 && update[1] === 0) {
      // The empty update every fresh client sends as its sync step 2: no transaction spent on it.
      this.acknowledge(member);
      return;
    }
    if (member.ticket.mode === 'ro') {
      // A read-only client's sync step 2 usually brings nothing new: that passes, anything else not.
      if (!changesNothing(this.host.doc, update)) {
        this.refuseReadOnly(member);
        return;
      }
    } else {
      if (!this.host.size.allows(this.host.doc, update, this.options.maxDocumentSize)) {
        this.refuseTooLarge(member, update);
        return;
      }
      if (!this.options.updateTime.allows(member.ticket.remoteAddress)) {
        this.refuseOverTime(member);
        return;
      }
      const refusal = this.integrate(member, update, starts);
      if (refusal !== null) {
        // The doc may hold part of the update; nothing of it was stored or broadcast, and the
        // room reloads without it.
        this.host.refused(refusal);
        return;
      }
    }
    this.acknowledge(member);
  }

  /**
   * Applies updates another holder stored (they came over the bus): not stored again. While
   * something waits, they go through the checks that release it, and are stored with it.
   */
  receiveStored(update: Uint8Array): Refusal<M> | null {
    this.host.size.grew(update.length);
    if (!somethingPending(this.host.doc)) {
      Y.applyUpdate(this.host.doc, update, this);
      return null;
    }
    return this.integrate(null, update, new Map());
  }

  /** Acknowledges `member`'s update messages up to the first with a part that still waits, once stored. */
  acknowledge(member: M): void {
    const acks = member.acks;
    if (acks === null) return;
    const waiting = this.waiting?.first(member);
    const count = waiting === undefined ? acks.received : waiting - 1;
    this.host.outbox.acknowledge(member, count, Y.encodeStateVector(this.host.doc));
  }

  /** Forgets a member's waiting messages (it left). */
  forget(member: M): void {
    this.waiting?.forget(member);
  }

  /** The members with a part that waits; forgets them all (the room is failing: they are closed). */
  takeWaitingMembers(): M[] {
    const members = this.waiting?.members() ?? [];
    this.waiting = null;
    return members;
  }

  /**
   * Applies an update inside our own transaction, so that an update that throws halfway, or that
   * places an item where its origins say it cannot be (`findMisplacedItem`), or that runs past its
   * time (`applyWithin`) is caught before anything of it is stored. Returns why it broke the
   * document, or null.
   *
   * What the document took in goes to the outbox: the client's own bytes when all of the update
   * is new and nothing waits before or after (every keystroke of a live editor: no encoding again),
   * otherwise what Yjs's 'update' event reports of the transaction, so nothing goes out twice.
   *
   * Who answers for the update (its failure, and the time it took) is its sender, unless it
   * integrated parts of other members that waited for it, or broke before that could be known:
   * then their senders do. A part can be forged to wait for a user's next keystroke, so that the
   * keystroke would break the document and the user would be blamed.
   */
  private integrate(sender: M | null, update: Uint8Array, starts: UpdateStarts): Refusal<M> | null {
    const doc = this.host.doc;
    const newClients = sender === null ? -1 : clientsIfAllNew(doc, starts);
    const pendingBefore = markPending(doc);
    let listening = newClients < 0;
    let released = false;
    let releasedKnown = false;
    // Null while nothing waits: every keystroke of a live editor.
    const waited = this.waiting === null ? null : this.waiting.members().filter((other) => other !== sender);
    if (listening) doc.on('update', this.onDocUpdate);
    let failure: unknown = null;
    const effect = { deleted: false };
    const limit = updateTimeLimit(this.options.maxUpdateMs, update.length);
    this.applying = sender;
    try {
      doc.transact((transaction) => {
        const started = performance.now();
        try {
          applyWithin(limit, () => {
            Y.applyUpdate(doc, update, this);
            effect.deleted = transaction.deleteSet.clients.size > 0;
            if (!listening && somethingPending(doc)) {
              // Part of it waits: what was integrated is what Yjs's update event reports as the transaction ends.
              doc.on('update', this.onDocUpdate);
              listening = true;
            }
            released = this.releasedWaiting = pendingIntegrated(doc, pendingBefore);
            releasedKnown = true;
            const misplaced = findMisplacedItem(doc, transaction.beforeState);
            if (misplaced) throw new Error(`item ${misplaced.id.client}:${misplaced.id.clock} does not lie between its origins`);
          });
        } catch (error) {
          failure = error;
          this.integrationFailed = true;
        } finally {
          // What Yjs spent placing the update's items, and our check of where they went: what a
          // forged update can inflate. Paid by who answers for the update.
          const spent = performance.now() - started;
          const others = othersAnswer(waited, released, releasedKnown);
          if (others !== null) for (const other of others) this.options.updateTime.spend(other.ticket.remoteAddress, spent);
          else if (sender !== null) this.options.updateTime.spend(sender.ticket.remoteAddress, spent);
        }
      }, this);
    } catch (error) {
      failure ??= error;
    } finally {
      this.integrationFailed = false;
      this.releasedWaiting = false;
      this.applying = null;
      if (listening) doc.off('update', this.onDocUpdate);
    }
    if (failure === null) {
      if (sender !== null) {
        this.host.size.grew(update.length);
        if (!listening && (newClients > 0 || effect.deleted)) this.stored(update, sender);
        if (somethingPending(doc)) (this.waiting ??= new WaitingMessages()).note(sender, sender.acks?.received ?? 0, update, doc);
      }
      // What waits is integrated only when Yjs retries its queues.
      if (this.waiting !== null && released) for (const member of this.waiting.release(doc)) this.acknowledge(member);
      const past = this.waiting === null || sender === null ? null : waitingPastLimits(doc, this.waiting.count);
      if (past !== null) this.dropWaiting(sender!, past);
      return null;
    }
    const error = failure instanceof UpdateTooSlow ? failure : new Error('an update could not be applied to the document', { cause: failure });
    const answerable = othersAnswer(waited, released, releasedKnown) ?? (sender === null ? [] : [sender]);
    return {
      error,
      code: failure instanceof UpdateTooSlow ? 'update-too-slow' : 'invalid-update',
      answerable,
      bystander: sender !== null && !answerable.includes(sender) ? sender : null,
    };
  }

  /** Yjs's 'update' event, listened to only while `integrate` needs it. */
  private readonly onDocUpdate = (update: Uint8Array): void => {
    if (this.integrationFailed) return;
    this.stored(update, this.releasedWaiting ? null : this.applying);
  };

  /** What the document took in goes to the outbox. */
  private stored(update: Uint8Array, sender: M | null): void {
    this.host.outbox.append(update, sender);
    this.host.appended();
  }

  /**
   * Empties the pending queues, grown past their limits (see `waiting.ts`): what waited was never
   * stored nor sent, so only its senders are concerned. They are told and closed with 1013, and
   * their clients send it again, with what it needs, when they reconnect.
   */
  private dropWaiting(sender: M, { structs, deletions, messages }: WaitingSize): void {
    clearPending(this.host.doc);
    const senders = this.takeWaitingMembers();
    const reason = 'too much waits for edits the server has not received; reconnect to resync';
    this.host.log.warn(
      { connection: sender.id, user: sender.ticket.identity, structs, deletions, messages, senders: senders.length },
      `dropped what waited in the document: ${reason}`,
    );
    for (const member of senders) member.refuse('waiting-dropped', reason, CLOSE.tryAgainLater);
  }

  private refuseReadOnly(member: M): void {
    this.host.log.debug({ connection: member.id, user: member.ticket.identity }, 'refused an update from a read-only connection');
    const reason = 'this connection is read-only: the update was not applied';
    member.send(encodePermissionDenied(reason));
    if (member.ticket.acks) member.send(encodeError('read-only', reason));
  }

  /** The member's address has used up its time (see `AddressTimeBudget`): nothing of the update was applied. */
  private refuseOverTime(member: M): void {
    const { msPerSecond } = this.options.updateTime;
    const reason = `updates from this address took more than ${msPerSecond} ms per second to apply; reconnect later`;
    this.host.log.warn({ connection: member.id, user: member.ticket.identity, address: member.ticket.remoteAddress }, `refused an update: ${reason}`);
    member.refuse('update-time-exceeded', reason, CLOSE.tryAgainLater);
  }

  private refuseTooLarge(member: M, update: Uint8Array): void {
    const reason = `the document would grow past its size limit of ${this.options.maxDocumentSize} bytes`;
    this.host.log.warn(
      { connection: member.id, user: member.ticket.identity, size: this.host.size.estimate, update: update.length },
      `refused an update: ${reason}`,
    );
    member.refuse('document-too-large', reason, CLOSE.messageTooBig);
  }
}

/**
 * The members whose waiting parts answer for an update instead of its sender: those with parts
 * that waited (the sender left out), if the update integrated some of them, or broke before that
 * was known; otherwise null.
 */
function othersAnswer<M>(waited: readonly M[] | null, released: boolean, releasedKnown: boolean): readonly M[] | null {
  return waited !== null && waited.length > 0 && (released || !releasedKnown) ? waited : null;
}

/**
 * If every struct of an update is new to `doc` (each client's structs, starting at `starts`, start
 * at or after the doc's state for that client) and nothing waits in the doc's pending queues, how
 * many clients' structs it carries (0 for a delete set alone); otherwise -1.
 */
function clientsIfAllNew(doc: Y.Doc, starts: UpdateStarts): number {
  if (somethingPending(doc)) return -1;
  for (const [client, clock] of starts) if (clock < Y.getState(doc.store, client)) return -1;
  return starts.size;
}
