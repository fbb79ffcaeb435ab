/**
 * One client's WebSocket, as the sync engine sees it: what it may do, what it has sent, and a
 * send that never throws at a socket that went away.
 */
import type { Socket } from 'node:net';
import type { AccessMode } from '../auth/token.js';
import { TokenBucket } from './rate-limit.js';
import type { Room } from './room.js';
import { ServerWebSocket, type WebSocketListener } from './websocket.js';

/** What the upgrade gate established about a connection before it was accepted. */
export interface ConnectionTicket {
  /** The validated, decoded document name. */
  readonly documentName: string;
  /** The client asked for "saved" and "error" messages (`ack=1`). */
  readonly acks: boolean;
  /** The peer's address, for logs and per-address limits. */
  readonly remoteAddress: string;
  /** `ro`: the connection receives the document but every update it sends is refused. */
  readonly mode: AccessMode;
  /** The token's `sub`, for logs; null without one. */
  readonly identity: string | null;
  /** When the token expires (ms since the epoch); the connection is closed then. Null: never. */
  readonly expiresAt: number | null;
}

/** Limits on one connection; see `ServerConfig`. */
export interface ConnectionLimits {
  /** Largest message, in bytes; a larger one closes the connection (1009). */
  readonly maxMessageSize: number;
  /** Messages per second, bursts of twice that; 0 for no limit. */
  readonly maxMessageRate: number;
  /** Unsent bytes besides document state being sent; past it the connection is closed (1013). */
  readonly maxSendBuffer: number;
}

/** WebSocket close codes this server uses, with their meaning. */
export const CLOSE = {
  /** The server is stopping. */
  goingAway: 1001,
  /** A frame that breaks the WebSocket protocol (sent by `ServerWebSocket`). */
  protocolError: 1002,
  /** A text frame: the protocol is binary. */
  unsupportedData: 1003,
  /** A message that does not decode, or an update the document cannot take (or a close reason that is not UTF-8). */
  invalidPayload: 1007,
  /** A policy was broken (rate, limits, permissions). */
  policyViolation: 1008,
  /** A message over the size limit (sent by `ServerWebSocket`), or a document grown past its limit. */
  messageTooBig: 1009,
  /** The server failed: a write or a load did not succeed. Reconnecting resyncs. */
  internalError: 1011,
  /** The client reads too slowly; reconnecting resyncs. */
  tryAgainLater: 1013,
} as const;

/** How long a slow consumer's close frame may wait behind its backlog before the socket is dropped. */
const SLOW_CLOSE_GRACE_MS = 1000;

/**
 * What happens on a connection, for the engine: one object for all connections, so that an idle
 * connection holds no closures of its own.
 */
export interface ConnectionEvents {
  message(connection: Connection, data: Uint8Array, binary: boolean): void;
  error(connection: Connection, error: Error): void;
  close(connection: Connection): void;
}

let nextConnectionId = 1;

/** Where a connection that asked for acknowledgements (`ack=1`) stands: kept only for those. */
export class AckState {
  /** Update-bearing messages received (sync step 2 and update). */
  received = 0;
  /** The highest `received` count acknowledged as saved, and the state vector it was saved at. */
  acked = 0;
  stateVector: Uint8Array | null = null;
  /** A "saved" message is queued for this tick. */
  queued = false;
}

export class Connection implements WebSocketListener {
  readonly id = nextConnectionId++;
  readonly socket: ServerWebSocket;
  /** Null unless the client asked for "saved" and "error" messages. */
  readonly acks: AckState | null;
  /** Cleared at each ping, set by each pong: a peer still false at the next ping is dead. */
  alive = true;
  /** The room this connection joined; null until its document is loaded. */
  room: Room | null = null;
  /** Frames received before the room was ready, handled once it is; null before the first (and once joined). */
  backlog: Uint8Array[] | null = null;
  /** Closes the connection when its token expires; null without an expiry. */
  expiryTimer: NodeJS.Timeout | null = null;
  /** Gives back the upgrade gate's hold on the room; null once given back. */
  private hold: (() => void) | null;
  /** Created at the first awareness state: most connections never publish one. */
  private awareness: Set<number> | null = null;
  /** Null without a rate limit. */
  private readonly bucket: TokenBucket | null;
  /** Bytes of document state (sync step 2) queued and not yet written out: exempt from `maxSendBuffer`. */
  private stateInFlight = 0;

  /** For `tcp`, upgraded; nothing is read before `socket.start`. */
  constructor(
    tcp: Socket,
    readonly ticket: ConnectionTicket,
    private readonly limits: ConnectionLimits,
    releaseHold: () => void,
    private readonly events: ConnectionEvents,
  ) {
    this.socket = new ServerWebSocket(tcp, limits.maxMessageSize, this);
    this.hold = releaseHold;
    this.acks = ticket.acks ? new AckState() : null;
    this.bucket = limits.maxMessageRate === 0 ? null : new TokenBucket(limits.maxMessageRate, limits.maxMessageRate * 2);
  }

  /** Awareness client ids this connection has published a state for; removed when it closes. */
  get awarenessClients(): Set<number> {
    return (this.awareness ??= new Set());
  }

  /** The code and reason this side closed with, for the log; null if the peer closed first. */
  get closedWith(): { readonly code: number; readonly reason: string } | null {
    return this.socket.closedWith;
  }

  /** Gives back the upgrade gate's hold on the room (once joined, or closed). Idempotent. */
  releaseHold(): void {
    const release = this.hold;
    if (release === null) return;
    this.hold = null;
    release();
  }

  /** Counts one received message against the rate limit; false when the connection is over it. */
  withinRate(): boolean {
    return this.bucket === null || this.bucket.take();
  }

  /** True until the connection is closed by either side. */
  get isOpen(): boolean {
    return this.socket.isOpen;
  }

  /** Sends a message (see `keepingUp`). */
  send(message: Uint8Array): void {
    if (this.keepingUp()) this.socket.send(message);
  }

  /** Sends a complete WebSocket frame built by `binaryFrame`, shared with the room's other connections. */
  sendFramed(frame: Buffer): void {
    if (this.keepingUp()) this.socket.sendFrame(frame);
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

  ping(): void {
    if (this.isOpen) this.socket.ping();
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

  // WebSocketListener: handed to the engine.

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
    this.events.close(this);
  }
}
