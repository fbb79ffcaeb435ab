/**
 * A room's presence (y-protocols awareness): who is present, which connection each presence client
 * id belongs to, and the frame of everyone's presence that joining clients and queries get.
 *
 * A client id's presence belongs to the connection that published it, until that connection
 * removes it or leaves. A change to it from another user's connection (to pose as someone, or to
 * wipe their cursor) is dropped. The same user (see `sameUser`) takes it over, as a client does that
 * reconnects before the server noticed its old connection drop: the old connection's leaving then
 * no longer removes it. An echo (the official client sends every presence it hears of back, with the
 * clock it had) changes nothing and claims nothing: before, it made the echoing connection's leaving
 * remove everyone's presence it had echoed.
 */
import * as awarenessProtocol from 'y-protocols/awareness';
import type * as Y from 'yjs';
import type { Logger } from '../logger.js';
import { CLOSE } from '../websocket/close-codes.js';
import { SharedMessage } from '../websocket/message-socket.js';
import type { RoomMember } from './member.js';
import { type AwarenessEntry, encodeAwarenessUpdate } from '../../protocol/awareness.js';
import { encodeAwareness } from '../../protocol/y-websocket.js';

/** The most presence client ids one connection may publish: an official client publishes one. */
export const MAX_PRESENCE_CLIENTS = 8;

export class RoomPresence {
  private readonly awareness: awarenessProtocol.Awareness;
  /** Which connection each published client id belongs to. */
  private readonly owners = new Map<number, RoomMember>();
  /** The frame of everyone's presence, until presence changes (see `everyone`). */
  private frame: SharedMessage | null = null;

  /**
   * `onTimeout` is called with the awareness message that removes presence which timed out (a
   * client silent for 30 s), for everyone.
   */
  constructor(
    doc: Y.Doc,
    private readonly log: () => Logger,
    private readonly onTimeout: (message: Uint8Array) => void,
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc);
    // The server publishes no presence of its own.
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onUpdate);
  }

  /**
   * A copy for the reloaded document of a room (see `Room.fail`): the same states with their
   * clocks, owned by the same connections.
   */
  copy(doc: Y.Doc, log: () => Logger, onTimeout: (message: Uint8Array) => void): RoomPresence {
    const copy = new RoomPresence(doc, log, onTimeout);
    const clients = [...this.awareness.getStates().keys()];
    awarenessProtocol.applyAwarenessUpdate(copy.awareness, awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients), 'copy');
    for (const [client, owner] of this.owners) copy.owners.set(client, owner);
    return copy;
  }

  /** Whether anyone is present. */
  get empty(): boolean {
    return this.awareness.getStates().size === 0;
  }

  /**
   * The frame with everyone's presence, sent to each joining connection and each query: built once
   * per change of presence. Built per query, a query one byte long cost the encoding of every
   * state, over and over.
   */
  everyone(): SharedMessage {
    return (this.frame ??= SharedMessage.of(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()]))));
  }

  /**
   * Applies what an awareness message from `connection` publishes of its own (see above), and
   * returns the awareness message to relay to the others, or null if nothing is left of it. A
   * connection that publishes more than `MAX_PRESENCE_CLIENTS` client ids is closed, and nothing of
   * the message is applied.
   */
  publish(connection: RoomMember, entries: readonly AwarenessEntry[], update: Uint8Array): Uint8Array | null {
    const kept = this.claim(connection, entries, update);
    if (kept === null) return null;
    awarenessProtocol.applyAwarenessUpdate(this.awareness, kept, connection);
    return encodeAwareness(kept);
  }

  /** Removes the presence `connection` published; returns the awareness message that tells the others, if any. */
  leave(connection: RoomMember): Uint8Array | null {
    const states = this.awareness.getStates();
    for (const id of connection.awarenessClients) if (this.owners.get(id) === connection) this.owners.delete(id);
    const clients = [...connection.awarenessClients].filter((id) => states.has(id));
    if (clients.length === 0) return null;
    awarenessProtocol.removeAwarenessStates(this.awareness, clients, connection);
    return encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients));
  }

  destroy(): void {
    this.awareness.off('update', this.onUpdate);
    this.awareness.destroy();
  }

  /**
   * Records whose presence the message publishes, and leaves out what is not the sender's. Returns
   * the update to apply and relay (`update` itself unless something was dropped), or null.
   */
  private claim(connection: RoomMember, entries: readonly AwarenessEntry[], update: Uint8Array): Uint8Array | null {
    let kept: AwarenessEntry[] | null = null;
    for (const [i, entry] of entries.entries()) {
      // An echo changes nothing and claims nothing: it goes on as it came.
      if (!this.changes(entry)) {
        kept?.push(entry);
        continue;
      }
      const owner = this.owners.get(entry.clientId);
      if (owner !== undefined && owner !== connection && !sameUser(owner, connection)) {
        kept ??= entries.slice(0, i);
        this.log().debug(
          { connection: connection.id, user: connection.ticket.identity, owner: owner.ticket.identity, clientId: entry.clientId },
          "dropped presence for another user's client id",
        );
        continue;
      }
      if (entry.state !== null && !connection.awarenessClients.has(entry.clientId) && connection.awarenessClients.size >= MAX_PRESENCE_CLIENTS) {
        // Thousands of them made every joining client receive them all.
        const reason = `more than ${MAX_PRESENCE_CLIENTS} presence client ids on one connection`;
        this.log().debug({ connection: connection.id, user: connection.ticket.identity }, `closed a connection: ${reason}`);
        connection.close(CLOSE.policyViolation, reason);
        return null;
      }
      kept?.push(entry);
      if (owner !== undefined && owner !== connection) owner.awarenessClients.delete(entry.clientId);
      if (entry.state === null) {
        this.owners.delete(entry.clientId);
        connection.awarenessClients.delete(entry.clientId);
      } else {
        this.owners.set(entry.clientId, connection);
        connection.awarenessClients.add(entry.clientId);
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

  /** Any change of presence drops the frame of everyone's presence; presence that timed out is removed for everyone. */
  private readonly onUpdate = (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => {
    this.frame = null;
    if (origin !== 'timeout' || changes.removed.length === 0) return;
    this.onTimeout(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changes.removed)));
  };
}

/**
 * Whether `taker` may be the same user as `owner`, for presence: the same token `sub`, and not a
 * read-only connection taking over a read-write one's. Without a `sub` (an open server, or tokens
 * that carry none), also the same client address: a client reconnecting comes from where it was,
 * and anyone else on an open server could otherwise rename a user or move their cursor, and that
 * user's own editor would take the forged state on and publish it as its own. (Behind a proxy,
 * every client has the proxy's address; give tokens a `sub` there.)
 */
function sameUser(owner: RoomMember, taker: RoomMember): boolean {
  if (owner.ticket.identity !== taker.ticket.identity) return false;
  if (taker.ticket.mode === 'ro' && owner.ticket.mode === 'rw') return false;
  return owner.ticket.identity !== null || owner.ticket.remoteAddress === taker.ticket.remoteAddress;
}
