/**
 * Open WebSockets per client address, so one host cannot take every socket the process can hold.
 *
 * A place is taken when the upgrade gate admits a request, not when the socket opens, so a burst
 * of simultaneous upgrades cannot all slip past the check; it is given back when the underlying
 * TCP socket closes, whatever happened in between.
 *
 * Behind a reverse proxy every connection comes from the proxy's address: raise the limit or set
 * it to 0 there (the proxy is the place to limit per client then).
 */
import type { Socket } from 'node:net';
import { HttpError } from '../errors.js';

/** The address a socket holds a place for, until it closes. */
const kAddress = Symbol('address held');
type HeldSocket = Socket & { [kAddress]?: string };

/** Open sockets per address, held to a maximum (see the top of this file). */
export class AddressLimit {
  /** Open sockets per address. A `Map`: addresses come from the network. */
  private readonly open = new Map<string, number>();
  /** The 'close' listener of every admitted socket: one function, not a closure per socket. */
  private readonly onClose: (this: HeldSocket) => void;

  /** `max` 0 means no limit. */
  constructor(private readonly max: number) {
    const limit = this;
    this.onClose = function (this: HeldSocket) {
      limit.release(this);
    };
  }

  /** Sockets held by `address` now. */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }

  /**
   * Takes a place for `socket` until it closes. Throws `HttpError(429)` when its address already
   * holds `max` sockets.
   */
  admit(address: string, socket: Socket): void {
    if (this.max === 0) return;
    const held = this.count(address);
    if (held >= this.max) {
      throw new HttpError(429, 'too-many-connections', `this address already has ${held} open connections (the limit is ${this.max})`);
    }
    this.open.set(address, held + 1);
    (socket as HeldSocket)[kAddress] = address;
    socket.on('close', this.onClose);
    // Closed while the gate was still deciding: 'close' may already have been emitted.
    if (socket.destroyed) this.release(socket);
  }

  /** Gives back the place `socket` holds, if it still holds one. */
  private release(socket: HeldSocket): void {
    const address = socket[kAddress];
    if (address === undefined) return;
    socket[kAddress] = undefined;
    const left = this.count(address) - 1;
    if (left > 0) this.open.set(address, left);
    else this.open.delete(address);
  }
}
