/**
 * Sockets per client address, so one host cannot take every socket the process can hold: at most
 * `max` open WebSockets, and at most `max + SOCKET_SLACK` TCP sockets of any kind (idle ones, plain
 * HTTP requests, handshakes in progress). A raw socket is counted as it is accepted and refused
 * there and then (429, and the connection ends); a WebSocket takes its place when the upgrade gate
 * admits it, so a burst of simultaneous upgrades cannot all slip past the check. Places are given
 * back when the TCP socket closes, whatever happened in between.
 *
 * Behind a reverse proxy every connection comes from the proxy's address: raise the limit or set
 * it to 0 there (the proxy is the place to limit per client then).
 */
import type { Socket } from 'node:net';
import { HttpError } from '../errors.js';
import { refuseSocket } from '../websocket/upgrade.js';

/** TCP sockets an address may hold besides its WebSockets: a browser's plain requests, handshakes in flight. */
export const SOCKET_SLACK = 64;

/** The address a socket counts for, and whether it holds a WebSocket's place too. */
const kAddress = Symbol('address held');
const kWebSocket = Symbol('WebSocket place held');
type HeldSocket = Socket & { [kAddress]?: string; [kWebSocket]?: boolean };

interface Counts {
  sockets: number;
  webSockets: number;
}

/** Sockets and WebSockets per address, held to their maximums (see the top of this file). */
export class AddressLimit {
  /** Per address: a `Map`, as addresses come from the network. */
  private readonly open = new Map<string, Counts>();
  /** The 'close' listener of every counted socket: one function, not a closure per socket. */
  private readonly onClose: (this: HeldSocket) => void;

  /** `max` 0 means no limit. */
  constructor(private readonly max: number) {
    const limit = this;
    this.onClose = function (this: HeldSocket) {
      limit.release(this);
    };
  }

  /** WebSockets held by `address` now. */
  count(address: string): number {
    return this.open.get(address)?.webSockets ?? 0;
  }

  /**
   * Counts a socket just accepted. Past the address's socket limit it is answered 429 and ended,
   * and false is returned; nothing more should be done with it.
   */
  accept(socket: Socket): boolean {
    if (this.max === 0) return true;
    const address = socket.remoteAddress ?? 'unknown';
    const counts = this.open.get(address) ?? { sockets: 0, webSockets: 0 };
    const most = this.max + SOCKET_SLACK;
    if (counts.sockets >= most) {
      refuseSocket(socket, new HttpError(429, 'too-many-connections', `this address already has ${counts.sockets} open sockets (the limit is ${most})`));
      return false;
    }
    counts.sockets++;
    this.open.set(address, counts);
    (socket as HeldSocket)[kAddress] = address;
    socket.on('close', this.onClose);
    return true;
  }

  /**
   * Takes a WebSocket's place for `socket`, accepted before, until it closes. Throws
   * `HttpError(429)` when its address already holds `max` WebSockets.
   */
  admit(address: string, socket: Socket): void {
    if (this.max === 0) return;
    const held = socket as HeldSocket;
    const counts = this.open.get(address);
    // Closed while the gate was still deciding: its places are given back already.
    if (held[kAddress] === undefined || counts === undefined) return;
    if (counts.webSockets >= this.max) {
      throw new HttpError(429, 'too-many-connections', `this address already has ${counts.webSockets} open connections (the limit is ${this.max})`);
    }
    counts.webSockets++;
    held[kWebSocket] = true;
  }

  /** Gives back the places `socket` holds, if it still holds any. */
  private release(socket: HeldSocket): void {
    const address = socket[kAddress];
    if (address === undefined) return;
    socket[kAddress] = undefined;
    const counts = this.open.get(address);
    if (counts === undefined) return;
    counts.sockets--;
    if (socket[kWebSocket]) counts.webSockets--;
    socket[kWebSocket] = false;
    if (counts.sockets <= 0) this.open.delete(address);
  }
}
