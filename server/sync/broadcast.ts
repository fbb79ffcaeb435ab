/**
 * Sending to a room's members: each message framed once for all of them (`SharedMessage`), the
 * members that sent an update left out of its broadcast.
 */
import { encodeUpdate } from '../../protocol/y-websocket.js';
import { SharedMessage } from '../websocket/message-socket.js';
import type { RoomMember } from './member.js';

/** Sends one message to every member but `except`; returns how many it went to. */
export function broadcast<M extends RoomMember>(members: ReadonlySet<M>, message: Uint8Array, except: M | null): number {
  if (members.size === 0 || (members.size === 1 && except !== null && members.has(except))) return 0;
  const shared = SharedMessage.of(message);
  for (const member of members) if (member !== except) member.sendShared(shared);
  return except !== null && members.has(except) ? members.size - 1 : members.size;
}

/**
 * Sends stored updates to every member but their senders (`senders[i]` sent `updates[i]`; null:
 * nobody here), in order, each update its own message; a member that sent none of them gets them
 * all in one write. Returns how many update messages went out (an update to 3 members counts 3).
 */
export function broadcastStored<M extends RoomMember>(members: ReadonlySet<M>, updates: readonly Uint8Array[], senders: readonly (M | null)[]): number {
  if (updates.length === 1) return broadcast(members, encodeUpdate(updates[0]!), senders[0] ?? null);
  const messages = updates.map((update) => SharedMessage.of(encodeUpdate(update)));
  const all = SharedMessage.together(messages);
  let sent = 0;
  for (const member of members) {
    if (!senders.includes(member)) {
      member.sendShared(all);
      sent += messages.length;
      continue;
    }
    const others = messages.filter((_, i) => senders[i] !== member);
    if (others.length > 0) member.sendShared(others.length === 1 ? others[0]! : SharedMessage.together(others));
    sent += others.length;
  }
  return sent;
}
