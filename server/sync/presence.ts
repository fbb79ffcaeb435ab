/**
 * A room's presence (y-protocols awareness): who is present, who owns each presence client id, and
 * the message of everyone's presence that joining clients and queries get.
 *
 * A client id's presence belongs to whoever published it (a member here, or a connection on
 * another instance, heard of over the bus), until that owner removes it or leaves. A change to it
 * from another user (to pose as someone, or to wipe their cursor) is dropped. The same user (see
 * `sameUser`) takes it over, as a client does that reconnects before the server noticed its old
 * connection drop. An echo (the official client sends every presence it hears of back, with the
 * clock it had) changes nothing and claims nothing.
 */
import * as awarenessProtocol from 'y-protocols/awareness';
import type * as Y from 'yjs';
import { type AwarenessEntry, decodeAwarenessUpdate, encodeAwarenessUpdate } from '../../protocol/awareness.js';
import { encodeAwareness } from '../../protocol/y-websocket.js';
import type { Logger } from '../logger.js';
import { CLOSE } from '../websocket/close-codes.js';
import { SharedMessage } from '../websocket/message-socket.js';
import type { PresenceOwner } from './bus.js';
import type { ConnectionTicket, RoomMember } from './member.js';

/** The most presence client ids one connection may publish: an official client publishes one. */
export const MAX_PRESENCE_CLIENTS = 8;

/** Longest presence name kept as an author of a version. */
const MAX_AUTHOR_NAME = 100;

/** Who may own presence: a member, or a connection on another instance (`RemoteOwner`). */
interface Owner {
  readonly id: number;
  readonly ticket: Pick<ConnectionTicket, 'identity' | 'mode' | 'remoteAddress'>;
  readonly awarenessClients: Set<number>;
}

/** A connection on another instance that published presence here, over the bus. */
class RemoteOwner implements Owner {
  readonly awarenessClients = new Set<number>();
  readonly ticket: Owner['ticket'];
  readonly id: number;
  readonly instance: string;

  constructor(owner: PresenceOwner) {
    this.id = owner.connection;
    this.instance = owner.instance;
    this.ticket = { identity: owner.identity, mode: owner.mode, remoteAddress: owner.address };
  }
}

/** One room's presence (see the top of this file). */
export class RoomPresence {
  private readonly awareness: awarenessProtocol.Awareness;
  /** Which owner each published client id belongs to. */
  private readonly owners = new Map<number, Owner>();
  /** The owners on other instances, by `instance/connection`. */
  private readonly remote = new Map<string, RemoteOwner>();
  /** The message of everyone's presence, until presence changes (see `everyone`). */
  private message: SharedMessage | null = null;

  /**
   * `onTimeout` is called with the awareness update that removes presence which timed out (a
   * client silent for 30 s), for everyone.
   */
  constructor(
    doc: Y.Doc,
    private readonly log: () => Logger,
    private readonly onTimeout: (update: Uint8Array) => void,
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc);
    // The server publishes no presence of its own.
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onUpdate);
  }

  /** A copy for the reloaded document of a room: the same states with their clocks, owned by the same owners. */
  copy(doc: Y.Doc, log: () => Logger, onTimeout: (update: Uint8Array) => void): RoomPresence {
    const copy = new RoomPresence(doc, log, onTimeout);
    const clients = [...this.awareness.getStates().keys()];
    awarenessProtocol.applyAwarenessUpdate(copy.awareness, awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients), 'copy');
    for (const [client, owner] of this.owners) copy.owners.set(client, owner);
    for (const [key, owner] of this.remote) copy.remote.set(key, owner);
    return copy;
  }

  /** The name `member`'s presence shows (`user.name`, as the editor publishes it), if any. */
  nameOf(member: Owner): string | null {
    for (const client of member.awarenessClients) {
      const state = this.awareness.getStates().get(client) as { user?: { name?: unknown } } | undefined;
      const name = state?.user?.name;
      if (typeof name === 'string' && name.trim() !== '') return name.trim().slice(0, MAX_AUTHOR_NAME);
    }
    return null;
  }

  /** Whether anyone is present. */
  get empty(): boolean {
    return this.awareness.getStates().size === 0;
  }

  /**
   * The message with everyone's presence, sent to each joining member and each query: built once
   * per change of presence, not per query.
   */
  everyone(): SharedMessage {
    return (this.message ??= SharedMessage.of(
      encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()])),
    ));
  }

  /**
   * Applies what an awareness message from `member` publishes of its own (see above), and returns
   * the awareness update to relay to the others, or null if nothing is left of it. A member that
   * publishes more than `MAX_PRESENCE_CLIENTS` client ids is closed, and nothing of the message is
   * applied.
   */
  publish(member: RoomMember, entries: readonly AwarenessEntry[], update: Uint8Array): Uint8Array | null {
    const kept = this.claim(member, entries, update, member);
    if (kept !== null) awarenessProtocol.applyAwarenessUpdate(this.awareness, kept, member);
    return kept;
  }

  /**
   * Applies an awareness update another instance relayed for `owner`, by the same rules; returns
   * what to relay to the members here, or null.
   */
  publishRemote(owner: PresenceOwner, update: Uint8Array): Uint8Array | null {
    const key = `${owner.instance}/${owner.connection}`;
    let remote = this.remote.get(key);
    if (remote === undefined) this.remote.set(key, (remote = new RemoteOwner(owner)));
    const kept = this.claim(remote, decodeAwarenessUpdate(update), update, null);
    if (kept !== null) awarenessProtocol.applyAwarenessUpdate(this.awareness, kept, remote);
    if (remote.awarenessClients.size === 0) this.remote.delete(key);
    return kept;
  }

  /** Removes the presence `member` published; returns the awareness update that tells the others, if any. */
  leave(member: RoomMember): Uint8Array | null {
    const states = this.awareness.getStates();
    for (const id of member.awarenessClients) if (this.owners.get(id) === member) this.owners.delete(id);
    const clients = [...member.awarenessClients].filter((id) => states.has(id));
    if (clients.length === 0) return null;
    awarenessProtocol.removeAwarenessStates(this.awareness, clients, member);
    return awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients);
  }

  /**
   * Removes the presence owned by connections of `instance` (it fell silent); returns the
   * awareness update that tells the members here, if any. The clocks stay: the owner's clients show
   * again with their next change (see `renewals`).
   */
  dropInstance(instance: string): Uint8Array | null {
    const clients: number[] = [];
    for (const [key, owner] of this.remote) {
      if (owner.instance !== instance) continue;
      this.remote.delete(key);
      for (const id of owner.awarenessClients) {
        if (this.owners.get(id) === owner) this.owners.delete(id);
        if (this.awareness.getStates().has(id)) clients.push(id);
      }
    }
    if (clients.length === 0) return null;
    awarenessProtocol.removeAwarenessStates(this.awareness, clients, 'instance-gone');
    return awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients);
  }

  /**
   * For each member here that owns presence: an awareness update removing its client ids at their
   * current clocks, to send to that member alone. y-protocols never lets a peer remove a client's
   * own state: the client answers with its state at the next clock, which then goes everywhere as
   * any change does. That is how presence removed elsewhere (its instance fell silent to the
   * others) shows again, since a state at a clock already seen is ignored.
   */
  renewals(): Array<[RoomMember, Uint8Array]> {
    const byOwner = new Map<RoomMember, AwarenessEntry[]>();
    for (const [clientId, owner] of this.owners) {
      const clock = this.awareness.meta.get(clientId)?.clock;
      if (owner instanceof RemoteOwner || clock === undefined || !this.awareness.getStates().has(clientId)) continue;
      const member = owner as RoomMember;
      const entries = byOwner.get(member) ?? [];
      entries.push({ clientId, clock, state: null });
      byOwner.set(member, entries);
    }
    return [...byOwner].map(([member, entries]) => [member, encodeAwarenessUpdate(entries)]);
  }

  destroy(): void {
    this.awareness.off('update', this.onUpdate);
    this.awareness.destroy();
  }

  /**
   * Records whose presence the message publishes, and leaves out what is not the publisher's.
   * Returns the update to apply and relay (`update` itself unless something was dropped), or null.
   * `local` is the member that sent it here, held to `MAX_PRESENCE_CLIENTS`; another instance
   * holds its own members to it.
   */
  private claim(publisher: Owner, entries: readonly AwarenessEntry[], update: Uint8Array, local: RoomMember | null): Uint8Array | null {
    let kept: AwarenessEntry[] | null = null;
    for (const [i, entry] of entries.entries()) {
      // An echo changes nothing and claims nothing: it goes on as it came.
      if (!this.changes(entry)) {
        kept?.push(entry);
        continue;
      }
      const owner = this.owners.get(entry.clientId);
      if (owner !== undefined && owner !== publisher && !sameUser(owner, publisher)) {
        kept ??= entries.slice(0, i);
        this.log().debug(
          { connection: publisher.id, user: publisher.ticket.identity, owner: owner.ticket.identity, clientId: entry.clientId },
          "dropped presence for another user's client id",
        );
        continue;
      }
      if (local !== null && entry.state !== null && !local.awarenessClients.has(entry.clientId) && local.awarenessClients.size >= MAX_PRESENCE_CLIENTS) {
        // Every joining client would receive them all.
        const reason = `more than ${MAX_PRESENCE_CLIENTS} presence client ids on one connection`;
        this.log().debug({ connection: local.id, user: local.ticket.identity }, `closed a connection: ${reason}`);
        local.close(CLOSE.policyViolation, reason);
        return null;
      }
      kept?.push(entry);
      if (owner !== undefined && owner !== publisher) owner.awarenessClients.delete(entry.clientId);
      if (entry.state === null) {
        this.owners.delete(entry.clientId);
        publisher.awarenessClients.delete(entry.clientId);
      } else {
        this.owners.set(entry.clientId, publisher);
        publisher.awarenessClients.add(entry.clientId);
      }
    }
    if (kept === null) return update;
    return kept.length === 0 ? null : encodeAwarenessUpdate(kept);
  }

  /** Whether y-protocols would apply `entry` (a newer clock, or a removal at the same one), rather than ignore it as an echo. */
  private changes({ clientId, clock, state }: AwarenessEntry): boolean {
    const current = this.awareness.meta.get(clientId)?.clock ?? -1;
    return clock > current || (clock === current && state === null && this.awareness.getStates().has(clientId));
  }

  /** Any change of presence drops the message of everyone's presence; presence that timed out is removed for everyone. */
  private readonly onUpdate = (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => {
    this.message = null;
    if (origin !== 'timeout' || changes.removed.length === 0) return;
    this.onTimeout(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changes.removed));
  };
}

/**
 * Whether `taker` may be the same user as `owner`, for presence: the same token `sub`, and not a
 * read-only connection taking over a read-write one's. Without a `sub` (an open server, or tokens
 * that carry none), also the same client address: a client reconnecting comes from where it was,
 * and anyone else on an open server could otherwise rename a user or move their cursor. (Behind a
 * proxy, every client has the proxy's address; give tokens a `sub` there.)
 */
function sameUser(owner: Owner, taker: Owner): boolean {
  if (owner.ticket.identity !== taker.ticket.identity) return false;
  if (taker.ticket.mode === 'ro' && owner.ticket.mode === 'rw') return false;
  return owner.ticket.identity !== null || owner.ticket.remoteAddress === taker.ticket.remoteAddress;
}
