/**
 * Sockets per client address, so one host cannot take every socket the process can hold: at most
 * `max` open WebSockets, and at most `max + SOCKET_SLACK` TCP sockets of any kind (idle ones, plain
 * HTTP requests, handshakes in progress). A raw socket is counted by its peer's address as it is
 * accepted, before any byte of it is read, and refused there and then; a WebSocket takes its place
 * under its client address (which a trusted proxy's header may give, see `client-address.ts`) when
 * the upgrade gate admits it, so a burst of simultaneous upgrades cannot all slip past the check.
 * Places are given back when the socket closes, whatever happened in between.
 *
 * A trusted proxy's sockets are not held to the socket limit: each carries some client's
 * connection, and those are counted by client address; `--max-sockets` bounds them all. Behind an
 * untrusted proxy every connection comes from the proxy's address: trust it (`--trust-proxy`), or
 * raise the limit or set it to 0 and limit per client at the proxy.
 */
import type { Socket } from 'node:net';
import { HttpError } from '../errors.js';
import { refuseSocket } from '../websocket/upgrade.js';

/** TCP sockets an address may hold besides its WebSockets: a browser's plain requests, handshakes in flight. */
export const SOCKET_SLACK = 64;

/** The address a socket is counted for as a socket, and as a WebSocket. */
const kSocketAddress = Symbol('socket place held');
const kWebSocketAddress = Symbol('WebSocket place held');
type HeldSocket = Socket & { [kSocketAddress]?: string; [kWebSocketAddress]?: string };

/** How an `AddressLimit` treats sockets besides its maximum. */
export interface AddressLimitOptions {
  /** Peers whose raw sockets are not held to the socket limit (trusted proxies). Default: none. */
  readonly exempt?: (address: string) => boolean;
  /**
   * How a socket past the limit is refused. Default: a 429 response, for a plain-text HTTP
   * server; a TLS server, which has not made its handshake yet, just closes it.
   */
  readonly refuse?: (socket: Socket, refusal: HttpError) => void;
}

/** Sockets and WebSockets per address, held to their maximums (see the top of this file). */
export class AddressLimit {
  /** Per address: `Map`s, as addresses come from the network. */
  private readonly sockets = new Map<string, number>();
  private readonly webSockets = new Map<string, number>();
  /** The 'close' listeners of counted sockets: one function each, not a closure per socket. */
  private readonly onSocketClose: (this: HeldSocket) => void;
  private readonly onWebSocketClose: (this: HeldSocket) => void;

  /** `max` 0 means no limit. */
  constructor(
    private readonly max: number,
    private readonly options: AddressLimitOptions = {},
  ) {
    const limit = this;
    this.onSocketClose = function (this: HeldSocket) {
      limit.release(limit.sockets, this, kSocketAddress);
    };
    this.onWebSocketClose = function (this: HeldSocket) {
      limit.release(limit.webSockets, this, kWebSocketAddress);
    };
  }

  /** WebSockets held by `address` now. */
  count(address: string): number {
    return this.webSockets.get(address) ?? 0;
  }

  /**
   * Counts a socket just accepted. Past the address's socket limit it is refused (see
   * `AddressLimitOptions.refuse`), and false is returned; nothing more should be done with it.
   */
  accept(socket: Socket): boolean {
    if (this.max === 0) return true;
    const address = socket.remoteAddress ?? 'unknown';
    if (this.options.exempt?.(address)) return true;
    const held = this.sockets.get(address) ?? 0;
    const most = this.max + SOCKET_SLACK;
    if (held >= most) {
      (this.options.refuse ?? refuseSocket)(
        socket,
        new HttpError(429, 'too-many-connections', `this address already has ${held} open sockets (the limit is ${most})`),
      );
      return false;
    }
    this.sockets.set(address, held + 1);
    (socket as HeldSocket)[kSocketAddress] = address;
    socket.on('close', this.onSocketClose);
    return true;
  }

  /**
   * Takes a WebSocket's place for client `address` until `socket` (the request's) closes. Throws
   * `HttpError(429)` when `address` already holds `max` WebSockets.
   */
  admit(address: string, socket: Socket): void {
    if (this.max === 0) return;
    // Closed while the gate was still deciding: it would never give its place back.
    if (socket.destroyed) return;
    const held = this.webSockets.get(address) ?? 0;
    if (held >= this.max) {
      throw new HttpError(429, 'too-many-connections', `this address already has ${held} open connections (the limit is ${this.max})`);
    }
    this.webSockets.set(address, held + 1);
    (socket as HeldSocket)[kWebSocketAddress] = address;
    socket.on('close', this.onWebSocketClose);
  }

  /** Gives back the place `socket` holds in `counts`, if it still holds one. */
  private release(counts: Map<string, number>, socket: HeldSocket, key: typeof kSocketAddress | typeof kWebSocketAddress): void {
    const address = socket[key];
    if (address === undefined) return;
    socket[key] = undefined;
    const held = (counts.get(address) ?? 0) - 1;
    if (held > 0) counts.set(address, held);
    else counts.delete(address);
  }
}
