/**
 * What a server's WebSockets count as they work: bytes in and out, and how they closed. One object
 * shared by every socket of a server, its numbers incremented in place (a field increment per read
 * or write, no call, no allocation), read by whoever reports them (`server/metrics/`). Nothing is
 * ever reset: each number only grows, as a Prometheus counter does.
 */

/**
 * Who ended a WebSocket: this side (its close frame, whatever the client answered), the client
 * (its close frame came first), or neither (the connection dropped without a closing handshake, or
 * was dropped for a missed ping).
 */
export type ClosedBy = 'server' | 'client' | 'none';

/** How many WebSockets closed one way (see `SocketCounters.closes`). */
export interface CloseCount {
  readonly by: ClosedBy;
  /** The close code as a string: the one sent by `by`, `none` when its close frame had none, or when nobody sent one. */
  readonly code: string;
  count: number;
}

/**
 * The codes of RFC 6455's own range (1000 to 1015) that a client's close frame is counted under;
 * any other code a client sends (4000 to 4999 are the application's to choose) counts as `other`,
 * so that clients cannot make the counts grow without bound.
 */
const FIRST_STANDARD_CODE = 1000;
const LAST_STANDARD_CODE = 1015;

/** The counts of one server's WebSockets (see the top of this file). */
export class SocketCounters {
  /** Bytes read from WebSockets once upgraded: their frames as they came, compressed or not, without TLS. */
  bytesIn = 0;
  /** Bytes of frames handed to WebSockets to send, compressed or not, without TLS. */
  bytesOut = 0;
  /** WebSockets closed, by who closed and with which code; at most a few dozen entries. */
  readonly closes = new Map<string, CloseCount>();

  /** A WebSocket closed, as `by` says, with `code` (null: no code). */
  closed(by: ClosedBy, code: number | null): void {
    const label = code === null ? 'none' : by === 'client' && (code < FIRST_STANDARD_CODE || code > LAST_STANDARD_CODE) ? 'other' : String(code);
    const key = `${by} ${label}`;
    const entry = this.closes.get(key);
    if (entry !== undefined) entry.count++;
    else this.closes.set(key, { by, code: label, count: 1 });
  }
}

/** Where sockets made without counters count: nobody reads it. */
export const UNCOUNTED = new SocketCounters();
