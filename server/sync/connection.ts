/**
 * One client's WebSocket, as the sync engine sees it: what it may do, what it has sent, and a
 * send that never throws at a socket that went away.
 */
import type { WebSocket } from 'ws';

/** What the upgrade gate established about a connection before it was accepted. */
export interface ConnectionTicket {
  /** The validated, decoded document name. */
  readonly documentName: string;
  /** The client asked for "saved" and "error" messages (`ack=1`). */
  readonly acks: boolean;
  /** The peer's address, for logs and per-address limits. */
  readonly remoteAddress: string;
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
  /** A frame over the size limit (sent by the `ws` library itself). */
  messageTooBig: 1009,
  /** The server failed: a write or a load did not succeed. Reconnecting resyncs. */
  internalError: 1011,
} as const;

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
  private closing = false;

  constructor(
    readonly socket: WebSocket,
    readonly ticket: ConnectionTicket,
  ) {}

  /** True until the connection is closed by either side. */
  get isOpen(): boolean {
    return !this.closing && this.socket.readyState === this.socket.OPEN;
  }

  send(frame: Uint8Array): void {
    if (this.isOpen) this.socket.send(frame);
  }

  /** Closes with a code and a reason (cut to the 123 bytes a close frame allows). Idempotent. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
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
