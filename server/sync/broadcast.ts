/**
 * Sending to a room's members: each message framed once for all of them (`SharedMessage`), the
 * members that sent an update left out of its broadcast.
 */
import { encodeUpdate } from '../../protocol/y-websocket.js';
import { SharedMessage } from '../websocket/message-socket.js';
import type { RoomMember } from './member.js';

/** Sends one message to every member but `except`. */
export function broadcast<M extends RoomMember>(members: ReadonlySet<M>, message: Uint8Array, except: M | null): void {
  if (members.size === 0 || (members.size === 1 && except !== null && members.has(except))) return;
  const shared = SharedMessage.of(message);
  for (const member of members) if (member !== except) member.sendShared(shared);
}

/**
 * Sends stored updates to every member but their senders (`senders[i]` sent `updates[i]`; null:
 * nobody here), in order, each update its own message; a member that sent none of them gets them
 * all in one write.
 */
export function broadcastStored<M extends RoomMember>(members: ReadonlySet<M>, updates: readonly Uint8Array[], senders: readonly (M | null)[]): void {
  if (updates.length === 1) {
    broadcast(members, encodeUpdate(updates[0]!), senders[0] ?? null);
    return;
  }
  const messages = updates.map((update) => SharedMessage.of(encodeUpdate(update)));
  const all = SharedMessage.together(messages);
  for (const member of members) {
    if (!senders.includes(member)) {
      member.sendShared(all);
      continue;
    }
    const others = messages.filter((_, i) => senders[i] !== member);
    if (others.length > 0) member.sendShared(others.length === 1 ? others[0]! : SharedMessage.together(others));
  }
}
