/**
 * Clients that type, for tests of what survives crashes and outages: each pushes unique values to
 * the array `typed` and records which of them the server acknowledged ("saved", message 100);
 * an observer records which it saw. Whatever was acknowledged or seen must never be lost.
 */
import type * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import { decodeSaved, MESSAGE_SAVED } from '../../protocol/index.js';
import { connectClient, type YClient } from './clients.js';

/** A client that types `<label><n>` into `typed`, one value per tick, asking for acknowledgements. */
export class Typist {
  readonly client: YClient;
  readonly typed: string[] = [];
  /** The client's clock after each typed value. */
  private readonly clocks: number[] = [];
  private savedClock = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    wsUrl: string,
    name: string,
    readonly label: string,
  ) {
    this.client = connectClient(wsUrl, name, { params: { ack: '1' } });
    this.client.provider.messageHandlers[MESSAGE_SAVED] = (_encoder: unknown, decoder: decoding.Decoder) => {
      const saved = decodeSaved(decoder).stateVector.get(this.client.doc.clientID) ?? 0;
      this.savedClock = Math.max(this.savedClock, saved);
    };
  }

  /** Types one value every `everyMs`, `perTick` at a time. */
  start(everyMs = 2, perTick = 1): void {
    this.timer ??= setInterval(() => {
      for (let i = 0; i < perTick; i++) this.type();
    }, everyMs);
  }

  type(): void {
    const value = `${this.label}${this.typed.length}`;
    this.client.doc.getArray<string>('typed').push([value]);
    this.typed.push(value);
    this.clocks.push(Y.getState(this.client.doc.store, this.client.doc.clientID));
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The values the server said were saved. */
  acknowledged(): string[] {
    return this.typed.filter((_, i) => this.clocks[i]! <= this.savedClock);
  }

  destroy(): void {
    this.stop();
    this.client.destroy();
  }
}

/** The values of `typed` a client holds now. */
export function typedIn(client: YClient): string[] {
  return client.doc.getArray<string>('typed').toArray();
}

/** Records every value of `typed` that `client` ever held. */
export function watchTyped(client: YClient): Set<string> {
  const seen = new Set<string>();
  client.doc.getArray<string>('typed').observe((event) => {
    for (const delta of event.changes.delta) for (const value of (delta.insert as string[] | undefined) ?? []) seen.add(value);
  });
  return seen;
}

/** The values of `expected` missing from `held`. */
export function missing(expected: Iterable<string>, held: Iterable<string>): string[] {
  const have = new Set(held);
  return [...expected].filter((value) => !have.has(value));
}
