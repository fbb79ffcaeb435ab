/**
 * A WebSocket client that counts its bytes on the wire, for the bandwidth scenario. It is the `ws`
 * client, so that permessage-deflate, when a server agrees to it, is really used: messages from the
 * server inflated, messages to it deflated. The count is the TCP socket's own (`bytesRead`,
 * `bytesWritten`): the HTTP upgrade request and response, every frame header and mask, and every
 * payload as it went over the wire, compressed or not. Only control frames the server starts
 * (pings, and the pongs `ws` answers them with) are taken out, so a figure does not depend on
 * where a server's ping timer happened to fall.
 *
 * Offered, permessage-deflate is offered as browsers offer it
 * (`Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits`), and every message sent
 * is compressed, as browsers do (`ws` on its own compresses only messages from 1 KiB).
 *
 * The readers and writers of the other scenarios use `raw-websocket.ts` instead, which costs far
 * less per message; here there are only a few clients and what counts is their bytes.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { sleep } from './proc.js';

export interface WireBytes {
  /** TCP payload bytes received from the server. */
  received: number;
  /** TCP payload bytes sent to the server. */
  sent: number;
}

export interface CountedSocketEvents {
  /** One whole message, inflated if it was compressed. */
  onMessage?: (data: Buffer) => void;
  onOpen?: () => void;
}

/** The `Sec-WebSocket-Extensions` offer of a deflate-capable client, as Chromium and Firefox send it. */
export const BROWSER_DEFLATE_OFFER = 'permessage-deflate; client_max_window_bits';

export class CountedSocket {
  private readonly ws: WebSocket;
  private tcp: Socket | null = null;
  /** Bytes of the server's ping frames and of the client's pong frames answering them. */
  private controlIn = 0;
  private controlOut = 0;
  private agreed = '';
  /** Resolves once the handshake completed; rejects if the socket failed before. */
  readonly opened: Promise<void>;
  /** Resolves once the socket closed, for whatever reason. */
  readonly closed: Promise<void>;
  isClosed = false;
  closeReason = '';
  messages = 0;
  /** Bytes of the messages received, after inflating. */
  messageBytes = 0;
  pings = 0;

  constructor(
    url: string,
    readonly deflateOffered: boolean,
    events: CountedSocketEvents = {},
  ) {
    this.ws = new WebSocket(url, {
      // A browser compresses every message once deflate is agreed: no threshold.
      perMessageDeflate: deflateOffered ? { threshold: 0 } : false,
      // The socket under the HTTP request that becomes the WebSocket: its counters see every byte.
      // `ws` calls this with its request options (typed as `net.connect`, all of whose overloads
      // a function of those options cannot match).
      createConnection: ((options: { host?: string | null; port?: number | string | null }): Socket => {
        this.tcp = connect({ host: options.host ?? '127.0.0.1', port: Number(options.port), noDelay: true });
        return this.tcp;
      }) as unknown as typeof connect,
    });
    this.ws.binaryType = 'nodebuffer';
    // First, so the promises below see why it closed.
    this.ws.on('error', (error) => {
      this.closeReason ||= error.message;
    });
    this.ws.on('close', (code, reason) => {
      this.isClosed = true;
      this.closeReason ||= `closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`;
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new Error(`closed before it opened: ${this.closeReason}`)));
    });
    this.opened.catch(() => {}); // observed by whoever awaits it
    this.closed = new Promise((resolve) => this.ws.once('close', () => resolve()));
    this.ws.on('upgrade', (response) => {
      const header = response.headers['sec-websocket-extensions'];
      this.agreed = Array.isArray(header) ? header.join(', ') : (header ?? '');
    });
    this.ws.on('open', () => events.onOpen?.());
    this.ws.on('message', (data: Buffer) => {
      this.messages++;
      this.messageBytes += data.length;
      events.onMessage?.(data);
    });
    this.ws.on('ping', (data: Buffer) => {
      // A server's frame is unmasked; `ws` answers with a masked pong carrying the same data.
      this.pings++;
      this.controlIn += 2 + data.length;
      this.controlOut += 6 + data.length;
    });
  }

  /** The extensions the server agreed to, as its `Sec-WebSocket-Extensions` said, '' for none. */
  get extensions(): string {
    return this.agreed;
  }

  /** Bytes on the wire so far, both ways, without server pings and their pongs. */
  bytes(): WireBytes {
    if (this.tcp === null) return { received: 0, sent: 0 };
    return { received: this.tcp.bytesRead - this.controlIn, sent: this.tcp.bytesWritten - this.controlOut };
  }

  send(message: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(message);
  }

  close(): void {
    if (!this.isClosed) this.ws.close(1000);
  }

  terminate(): void {
    if (!this.isClosed) this.ws.terminate();
  }
}

/** Bytes of several sockets, summed (how `waitQuiet` sees them move). */
function total(sockets: readonly CountedSocket[]): number {
  let sum = 0;
  for (const socket of sockets) {
    const { received, sent } = socket.bytes();
    sum += received + sent;
  }
  return sum;
}

/**
 * Waits until no byte has moved either way on any of `sockets` for `quietMs` (at most `maxMs`):
 * the traffic a step set off (acknowledgements, late replies) is then all counted. Returns whether
 * it fell quiet in time.
 */
export async function waitQuiet(sockets: readonly CountedSocket[], quietMs: number, maxMs = 10 * quietMs): Promise<boolean> {
  const start = performance.now();
  let last = total(sockets);
  let since = performance.now();
  while (performance.now() - start < maxMs) {
    await sleep(Math.min(10, quietMs));
    const now = total(sockets);
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) {
      return true;
    }
  }
  return false;
}
