/**
 * One client's WebSocket, as the sync engine sees it: what it may do, what it has sent, and a
 * send that never throws at a socket that went away.
 */
import type { WebSocket } from 'ws';
import type { AccessMode } from '../auth/token.js';
import type { Socket } from 'node:net';
import { underlyingSocket } from './frame.js';
import { TokenBucket } from './rate-limit.js';

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
  /** Gives back the hold the gate took on the document's room, once the connection joined it. Idempotent. */
  readonly releaseHold: () => void;
}

/** Limits on one connection; see `ServerConfig`. */
export interface ConnectionLimits {
  /** Messages per second, bursts of twice that; 0 for no limit. */
  readonly maxMessageRate: number;
  /** Unsent bytes besides document state being sent; past it the connection is closed (1013). */
  readonly maxSendBuffer: number;
}

/** WebSocket close codes this server uses, with their meaning. */
export const CLOSE = {
  /** The server is stopping. */
  goingAway: 1001,
  /** A text frame: the protocol is binary. */
  unsupportedData: 1003,
  /** A message that does not decode, or an update the document cannot take. */
  invalidPayload: 1007,
  /** A policy was broken (rate, limits, permissions). */
  policyViolation: 1008,
  /** A frame over the size limit (sent by the `ws` library itself), or a document grown past its limit. */
  messageTooBig: 1009,
  /** The server failed: a write or a load did not succeed. Reconnecting resyncs. */
  internalError: 1011,
  /** The client reads too slowly; reconnecting resyncs. */
  tryAgainLater: 1013,
} as const;

/** How long a slow consumer's close frame may wait behind its backlog before the socket is dropped. */
const SLOW_CLOSE_GRACE_MS = 1000;

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  /** Awareness client ids this connection has published a state for; removed when it closes. */
  readonly awarenessClients = new Set<number>();
  /** Update-bearing messages received (sync step 2 and update), for "saved" acknowledgements. */
  updatesReceived = 0;
  /** The highest `updatesReceived` count acknowledged as saved, and whether an ack is queued. */
  ackedCount = 0;
  ackedStateVector: Uint8Array | null = null;
  ackQueued = false;
  /** Cleared at each ping, set by each pong: a peer still false at the next ping is dead. */
  alive = true;
  /** The code and reason this side closed with, for the log; null if the peer closed first. */
  closedWith: { code: number; reason: string } | null = null;
  private closing = false;
  private readonly bucket: TokenBucket;
  private readonly tcp: Socket;
  /** Bytes of document state (sync step 2) queued and not yet written out: exempt from `maxSendBuffer`. */
  private stateInFlight = 0;

  constructor(
    readonly socket: WebSocket,
    readonly ticket: ConnectionTicket,
    private readonly limits: ConnectionLimits,
  ) {
    this.bucket = new TokenBucket(limits.maxMessageRate, limits.maxMessageRate * 2);
    this.tcp = underlyingSocket(socket);
  }

  /** Counts one received message against the rate limit; false when the connection is over it. */
  withinRate(): boolean {
    return this.bucket.take();
  }

  /** True until the connection is closed by either side. */
  get isOpen(): boolean {
    return !this.closing && this.socket.readyState === this.socket.OPEN;
  }

  /** Sends a message (see `keepingUp`). */
  send(frame: Uint8Array): void {
    if (this.keepingUp()) this.socket.send(frame);
  }

  /** Sends a complete WebSocket frame built by `binaryFrame`, shared with the room's other connections. */
  sendFramed(frame: Buffer): void {
    if (this.keepingUp()) this.tcp.write(frame);
  }

  /**
   * Sends the document state a client asked for (sync step 2). It may be as large as the document,
   * so it does not count against `maxSendBuffer` while it is queued: a slow link may still join a
   * large document.
   */
  sendState(frame: Uint8Array): void {
    if (!this.keepingUp()) return;
    this.stateInFlight += frame.length;
    this.socket.send(frame, () => {
      this.stateInFlight -= frame.length;
    });
  }

  /**
   * False when the connection is closed, or when its unsent data is already past `maxSendBuffer`:
   * the client is not keeping up, and rather than queue without bound it is cut off (it resyncs
   * when it reconnects).
   */
  private keepingUp(): boolean {
    if (!this.isOpen) return false;
    if (this.socket.bufferedAmount - this.stateInFlight <= this.limits.maxSendBuffer) return true;
    this.close(CLOSE.tryAgainLater, `too slow: more than ${this.limits.maxSendBuffer} bytes waiting to be sent; reconnect to resync`);
    // The peer is not reading, so the close frame may never get out: drop the socket soon.
    setTimeout(() => this.socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
    return false;
  }

  /** Closes with a code and a reason (cut to the 123 bytes a close frame allows). Idempotent. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closedWith = { code, reason };
    this.socket.close(code, truncateUtf8(reason, 123));
  }

  /** Drops the connection without a close handshake (dead peers). */
  terminate(): void {
    this.closing = true;
    this.socket.terminate();
  }

  /** Records that the socket closed from the other side. */
  markClosed(): void {
    this.closing = true;
  }
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut) > maxBytes - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}
