/**
 * One client's WebSocket, as the sync engine sees it: what it may do (its ticket), what it sent
 * while its room was not ready (its backlog), when its token expires, whether it answers pings,
 * and a send that never throws at a socket that went away. This class owns all of that: only its
 * own methods change it, and its close clears it.
 */
import { encodeError } from '../../protocol/y-websocket.js';
import { MAX_TIMER_MS } from '../config.js';
import { CLOSE } from '../websocket/close-codes.js';
import type { MessageListener, MessageSocket, SharedMessage } from '../websocket/message-socket.js';
import { AckState, type ConnectionTicket, type RoomMember } from './member.js';
import type { RequestMember } from './request-member.js';
import type { Room } from './room.js';

/** Limits on one connection; see `ServerConfig`. (What it may send is held by its socket, see `ReceiveLimits`.) */
export interface ConnectionLimits {
  /** Unsent bytes besides document state being sent; past it the connection is closed (1013). */
  readonly maxSendBuffer: number;
}

/**
 * What happens on a connection, for the engine: one object for all connections, so that an idle
 * connection holds no closures of its own.
 */
export interface ConnectionEvents {
  message(connection: Connection, data: Uint8Array, binary: boolean): void;
  error(connection: Connection, error: Error): void;
  /** The connection closed; its timer, hold and backlog are already given up. */
  close(connection: Connection): void;
}

/** How long a slow consumer's close frame may wait behind its backlog before the socket is dropped. */
const SLOW_CLOSE_GRACE_MS = 1000;
/** Messages a connection may send while its room loads or reloads; one that sends more is closed. */
export const MAX_BACKLOG = 1024;

let nextConnectionId = 1;

/** One client's WebSocket (see the top of this file). */
export class Connection implements RoomMember, MessageListener {
  readonly id = nextConnectionId++;
  /** Null unless the client asked for "saved" and "error" messages. */
  readonly acks: AckState | null;
  /** The room this connection joined; null until its document is loaded. */
  private joined: Room<Connection | RequestMember> | null = null;
  /**
   * Messages received while the room was not ready (loading, or reloading after a failure),
   * handled once it is; null when nothing waits (before the first message, and once joined).
   */
  private backlog: Uint8Array[] | null = null;
  /** Closes the connection when its token expires; null without an expiry. */
  private expiryTimer: NodeJS.Timeout | null = null;
  /** Cleared at each ping, set by each pong: a peer still false at the next ping is dead. */
  private alive = true;
  /** Gives back the upgrade gate's hold on the room; null once given back. */
  private hold: (() => void) | null;
  /** Created at the first awareness state: most connections never publish one. */
  private awareness: Set<number> | null = null;
  /** Bytes of document state (sync step 2) queued and not yet written out: exempt from `maxSendBuffer`. */
  private stateInFlight = 0;

  /** For `socket`, whose owner reports its events to this connection (see `MessageListener`). */
  constructor(
    readonly socket: MessageSocket,
    readonly ticket: ConnectionTicket,
    private readonly limits: ConnectionLimits,
    releaseHold: () => void,
    private readonly events: ConnectionEvents,
  ) {
    this.hold = releaseHold;
    this.acks = ticket.acks ? new AckState() : null;
    if (ticket.expiresAt !== null) this.expireAt(ticket.expiresAt);
  }

  /** The room this connection is in; null until its document is loaded. */
  get room(): Room<Connection | RequestMember> | null {
    return this.joined;
  }

  /** Awareness client ids this connection has published a state for; removed when it closes. */
  get awarenessClients(): Set<number> {
    return (this.awareness ??= new Set());
  }

  /** The code and reason this side closed with, for the log; null if the peer closed first. */
  get closedWith(): { readonly code: number; readonly reason: string } | null {
    return this.socket.closedWith;
  }

  /** True until the connection is closed by either side. */
  get isOpen(): boolean {
    return this.socket.isOpen;
  }

  /** Joins `room` and gives back the gate's hold. */
  enter(room: Room<Connection | RequestMember>): void {
    this.releaseHold();
    this.joined = room;
    room.join(this);
  }

  /** Gives back the upgrade gate's hold on the room (once joined, or closed). Idempotent. */
  releaseHold(): void {
    const release = this.hold;
    if (release === null) return;
    this.hold = null;
    release();
  }

  // The backlog: what waits for the room.

  /** Whether messages wait for the room (see `backlog`). */
  get waiting(): boolean {
    return this.backlog !== null;
  }

  /** Starts a backlog, with `first` in it if given: the room is not ready for this connection. */
  startWaiting(first: Uint8Array | null): void {
    this.backlog = first === null ? [] : [first];
  }

  /** Adds a message to the backlog; false, and nothing added, once it holds `MAX_BACKLOG`. */
  wait(message: Uint8Array): boolean {
    const backlog = (this.backlog ??= []);
    if (backlog.length >= MAX_BACKLOG) return false;
    backlog.push(message);
    return true;
  }

  /** Takes the backlog out (the room is ready); null if nothing waited. */
  takeBacklog(): Uint8Array[] | null {
    const backlog = this.backlog;
    this.backlog = null;
    return backlog;
  }

  /** Puts messages not handled yet back at the head of the backlog, if one was started meanwhile. */
  putBack(messages: readonly Uint8Array[]): void {
    this.backlog?.unshift(...messages);
  }

  retryAfterReload(message: Uint8Array): void {
    this.backlog?.unshift(message);
  }

  // Liveness and expiry.

  /**
   * Pings the peer, and returns true, if it answered the previous ping; otherwise returns false and
   * sends nothing: the peer is dead, and the caller drops it.
   */
  pingIfAlive(): boolean {
    if (!this.alive) return false;
    this.alive = false;
    if (this.isOpen) this.socket.ping();
    return true;
  }

  /** Closes the connection when its token expires; a token valid past `MAX_TIMER_MS` re-arms in steps. */
  private expireAt(expiresAt: number): void {
    const left = expiresAt - Date.now();
    this.expiryTimer =
      left > MAX_TIMER_MS
        ? setTimeout(() => this.expireAt(expiresAt), MAX_TIMER_MS)
        : setTimeout(() => this.close(CLOSE.policyViolation, 'token expired'), Math.max(0, left));
    this.expiryTimer.unref();
  }

  // Sending.

  /** Sends a message (see `keepingUp`). */
  send(message: Uint8Array): void {
    if (this.keepingUp()) this.socket.send(message);
  }

  sendShared(message: SharedMessage): void {
    if (this.keepingUp()) this.socket.sendShared(message);
  }

  /**
   * Sends the document state a client asked for (sync step 2). It may be as large as the document,
   * so it does not count against `maxSendBuffer` while it is queued: a slow link may still join a
   * large document. One state at a time: a client that asks again before the last one went out
   * has the new one counted like any message, or else a client that asks over and over and never
   * reads would have the server queue a copy of the document for each request, without bound.
   */
  sendState(message: Uint8Array): void {
    if (!this.keepingUp()) return;
    if (this.stateInFlight > 0) {
      if (this.socket.bufferedAmount - this.stateInFlight + message.length > this.limits.maxSendBuffer) this.tooSlow();
      else this.socket.send(message);
      return;
    }
    this.stateInFlight = message.length;
    this.socket.send(message, () => {
      this.stateInFlight = 0;
    });
  }

  refuse(code: string, reason: string, closeCode: number): void {
    if (this.ticket.acks) this.send(encodeError(code, reason));
    this.close(closeCode, reason);
  }

  /**
   * False when the connection is closed, or when its unsent data is already past `maxSendBuffer`:
   * the client is not keeping up, and rather than queue without bound it is cut off (it resyncs
   * when it reconnects).
   */
  private keepingUp(): boolean {
    if (!this.isOpen) return false;
    if (this.socket.bufferedAmount - this.stateInFlight <= this.limits.maxSendBuffer) return true;
    this.tooSlow();
    return false;
  }

  /** Cuts off a client that does not read what it is sent (see `keepingUp`). */
  private tooSlow(): void {
    this.close(CLOSE.tryAgainLater, `too slow: more than ${this.limits.maxSendBuffer} bytes waiting to be sent; reconnect to resync`);
    // The peer is not reading, so the close frame may never get out: drop the socket soon.
    setTimeout(() => this.socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
  }

  /** Closes with a code and a reason (cut to the 123 bytes a close frame allows). Idempotent. */
  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  /** Drops the connection without a close handshake (dead peers). */
  terminate(): void {
    this.socket.terminate();
  }

  // MessageListener: what the socket reports, handed to the engine.

  onMessage(data: Uint8Array, binary: boolean): void {
    this.events.message(this, data, binary);
  }

  onPong(): void {
    this.alive = true;
  }

  onError(error: Error): void {
    this.events.error(this, error);
  }

  onClose(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.releaseHold();
    this.backlog = null;
    this.events.close(this);
  }
}
