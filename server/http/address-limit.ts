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

export class AddressLimit {
  /** Open sockets per address. A `Map`: addresses come from the network. */
  private readonly open = new Map<string, number>();

  /** `max` 0 means no limit. */
  constructor(private readonly max: number) {}

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
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = this.count(address) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    };
    socket.once('close', release);
    // Closed while the gate was still deciding: 'close' may already have been emitted.
    if (socket.destroyed) release();
  }
}
