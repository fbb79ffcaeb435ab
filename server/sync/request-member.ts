/**
 * A write that came over HTTP, as a room sees it: a member for the length of one request, which
 * sends one update through the same intake as a connection's (checks, limits, store, broadcast)
 * and receives nothing. It never joins the room's members, so every connection gets what it
 * wrote, and it holds no presence.
 */
import type { SharedMessage } from '../websocket/message-socket.js';
import type { ConnectionTicket, RoomMember } from './member.js';

/** Why intake refused a request's update: its error code, the reason, and the close code a connection would get. */
export interface RequestRefusal {
  readonly code: string;
  readonly reason: string;
  readonly closeCode: number;
}

/** Who sent a request: its address (for the update time budget) and its token's `sub`. */
export interface RequestOrigin {
  readonly remoteAddress: string;
  readonly identity: string | null;
}

/** Ids of request members count down from -1, apart from connections' ids. */
let nextRequestId = -1;

/** One HTTP write (see the top of this file). */
export class RequestMember implements RoomMember {
  readonly id = nextRequestId--;
  readonly ticket: ConnectionTicket;
  readonly acks = null;
  readonly awarenessClients = new Set<number>();
  /** What intake refused, if it did; the request is answered with it. */
  refusal: RequestRefusal | null = null;

  constructor(documentName: string, origin: RequestOrigin) {
    this.ticket = {
      documentName,
      acks: false,
      create: true,
      remoteAddress: origin.remoteAddress,
      mode: 'rw',
      identity: origin.identity,
      expiresAt: null,
    };
  }

  get isOpen(): boolean {
    return this.refusal === null;
  }

  send(_message: Uint8Array): void {}

  sendShared(_message: SharedMessage): void {}

  sendState(_message: Uint8Array): void {}

  close(closeCode: number, reason: string): void {
    this.refusal ??= { code: 'closed', reason, closeCode };
  }

  refuse(code: string, reason: string, closeCode: number): void {
    this.refusal ??= { code, reason, closeCode };
  }

  retryAfterReload(_message: Uint8Array): void {}
}
