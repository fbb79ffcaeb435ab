/**
 * Runs one fuzz scenario against a running server and keeps the oracle: a reference Y.Doc that
 * applies exactly the updates the server accepted from read-write connections, in the same order.
 *
 * Whether the server accepted a frame is observed, not predicted: after each frame the fuzzer sets
 * a presence state with a fresh clock and asks for everyone's presence; the server handles one
 * connection's messages in order, so an answer that includes that clock means the frame before was
 * handled without closing the connection, and a close means it was refused.
 *
 * An observer (a raw client that only listens) stays in the room throughout; at the end it, a
 * newcomer and two official clients must all hold what the reference holds.
 *
 * The fuzzer's connection asks for acknowledgements: each "saved" must cover every struct and
 * deletion of the update messages it counts (see `Acknowledgements`), and once nothing waits for a
 * dependency, the count must come to every message the connection sent.
 *
 * One subtlety: Yjs parks an update whose dependencies are missing in a pending queue, and retries
 * it only when a dependency it recorded arrives. The server neither stores nor sends what waits
 * there, so the observer, a newcomer, and the server after a restart hold what the reference has
 * integrated (`integrated`); when the room fails and reloads, what waited is gone from the server,
 * and from the reference too.
 */
import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { decodeClientMessage, decodeSaved, encodeSyncStep1, MESSAGE_SAVED } from '../../protocol/index.js';
import { encodeIntegrated } from '../../server/sync/waiting.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { withQuery } from '../helpers/tokens.js';
import { awareness, toFrame, type Operation } from './frames.js';

/** The presence client id the probe uses; fuzzed presence uses smaller ids only. */
const PROBE_CLIENT = 2 ** 31 + 7;
const PROBE_TIMEOUT_MS = 10_000;
/** Probe clocks, across runs. Steps of 2: a removal on close bumps the server's clock by 1. */
let probeClock = 1;

export interface FuzzTarget {
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly tokens: { readonly rw: string; readonly ro: string };
}

/** How often each kind of operation met each outcome, across runs: shows what the fuzz reached. */
export const outcomes = new Map<string, number>();

type Outcome = { readonly accepted: true } | { readonly accepted: false; readonly code: number; readonly reason: string };

export class FuzzRun {
  reference = new Y.Doc();
  /** What happened, one line per operation, for the failure report. */
  readonly trail: string[] = [];
  private socket: WebSocket | null = null;
  private mode: 'rw' | 'ro' = 'rw';
  private observer: Observer | null = null;
  private acknowledgements = new Acknowledgements();

  constructor(
    private readonly target: FuzzTarget,
    readonly name: string,
  ) {}

  /** Connects, sends the seed content, lets the observer in, and goes on in `mode`. */
  async start(seed: Uint8Array, mode: 'rw' | 'ro'): Promise<void> {
    await this.connect('rw');
    await this.send({ kind: 'update', which: 0, asStep2: false }, [seed]);
    if (mode === 'ro') await this.connect('ro');
    this.observer = new Observer(this.url('ro'));
    await this.observer.ready;
  }

  /** Sends one operation's frame (or reconnects), and keeps the reference in step. */
  async step(operation: Operation, updates: readonly Uint8Array[], seedStateVector: Uint8Array): Promise<void> {
    if (operation.kind === 'reconnect') {
      await this.connect(operation.mode);
      this.trail.push(`reconnect ${operation.mode}`);
      return;
    }
    await this.send(operation, updates, seedStateVector);
  }

  /** The checks every run ends with. Throws with the trail if one fails. */
  async check(): Promise<void> {
    try {
      const health = await fetch(`${this.target.httpUrl}/healthz`);
      if (health.status !== 200) throw new Error(`healthz answered ${health.status}`);
      this.acknowledgements.check();
      const store = this.reference.store;
      if (store.pendingStructs === null && store.pendingDs === null && this.socket?.readyState === WebSocket.OPEN) {
        await this.acknowledgements.allSaved(10_000);
      }
      const expected = integrated(this.reference);
      const observer = this.observer!;
      await observer.ready;
      const converged = () => sameDocument(observer.doc, expected);
      await waitForDoc(observer.doc, converged, 'the observer to converge on the reference', 10_000);

      const newcomer = connectClient(this.target.wsUrl, this.name, { params: { token: this.target.tokens.rw } });
      const second = connectClient(this.target.wsUrl, this.name, { params: { token: this.target.tokens.rw } });
      try {
        await Promise.all([newcomer.synced, second.synced]);
        if (!sameDocument(newcomer.doc, expected)) {
          throw new Error(`a newcomer got ${fingerprint(newcomer.doc)}, expected ${fingerprint(expected)}`);
        }
        // The honest edit becomes part of what the store must hold.
        newcomer.doc.once('update', (update: Uint8Array) => Y.applyUpdate(this.reference, update));
        newcomer.doc.getMap('honest').set('marker', this.name);
        await waitForDoc(second.doc, () => second.doc.getMap('honest').get('marker') === this.name, 'honest clients to converge', 10_000);
      } finally {
        newcomer.destroy();
        second.destroy();
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\nafter:\n  ${this.trail.join('\n  ')}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    this.observer?.stop();
    await this.disconnect();
  }

  private url(mode: 'rw' | 'ro', params: Record<string, string> = {}): string {
    return withQuery(`${this.target.wsUrl}/${this.name}`, { token: this.target.tokens[mode], ...params });
  }

  private async connect(mode: 'rw' | 'ro'): Promise<void> {
    await this.disconnect();
    this.mode = mode;
    const socket = new WebSocket(this.url(mode, { ack: '1' }));
    const acknowledgements = (this.acknowledgements = new Acknowledgements());
    socket.on('message', (data: Buffer) => acknowledgements.received(new Uint8Array(data)));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    this.socket = socket;
  }

  private async disconnect(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (!socket || socket.readyState === socket.CLOSED) return;
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.close();
    await closed;
  }

  private async send(operation: Operation, updates: readonly Uint8Array[], seedStateVector: Uint8Array = new Uint8Array([0])): Promise<void> {
    const frame = toFrame(operation, updates, seedStateVector);
    let outcome: Outcome;
    try {
      outcome = await this.probe(frame);
    } catch (error) {
      const sent = `${this.mode} ${operation.kind} (${frame.length} bytes)`;
      throw new Error(`${(error as Error).message}\nafter:\n  ${[...this.trail, `${sent}: no answer`].join('\n  ')}`, { cause: error });
    }
    this.trail.push(`${this.mode} ${operation.kind} (${frame.length} bytes): ${outcome.accepted ? 'accepted' : `closed ${outcome.code} ${outcome.reason}`}`);
    const key = `${this.mode} ${operation.kind}: ${outcome.accepted ? 'accepted' : `${outcome.code} ${outcome.reason.replace(/:.*/, '')}`}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    if (outcome.accepted) {
      if (typeof frame !== 'string') this.applyAccepted(frame);
      return;
    }
    // When an update broke the document, the server discarded the room and reloads it from the
    // store, which holds what it integrated of every update it accepted, and not what waited; when
    // too much waited, the server dropped it.
    if (/^(an update broke the document|too much waits)/.test(outcome.reason)) this.reference = integrated(this.reference);
    await this.connect(this.mode);
  }

  private probe(frame: Uint8Array | string): Promise<Outcome> {
    const socket = this.socket!;
    const clock = (probeClock += 2);
    return new Promise((resolve, reject) => {
      const done = (outcome: Outcome | Error) => {
        clearTimeout(timer);
        socket.off('message', onMessage);
        socket.off('close', onClose);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const onMessage = (data: Buffer) => {
        if (answersProbe(new Uint8Array(data), clock)) done({ accepted: true });
      };
      const onClose = (code: number, reason: Buffer) => done({ accepted: false, code, reason: reason.toString() });
      const timer = setTimeout(() => done(new Error(`the server neither answered nor closed within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      socket.on('message', onMessage);
      socket.once('close', onClose);
      socket.send(frame);
      socket.send(awareness(PROBE_CLIENT, clock, '{}'));
      socket.send(Uint8Array.of(3));
    });
  }

  /** The server handled `frame` without complaint: if it carried an update, it is in the document now. */
  private applyAccepted(frame: Uint8Array): void {
    const message = decodeClientMessage(frame);
    if (message.type !== 'sync-step-2' && message.type !== 'update') return;
    // Counted by the server either way; a read-only connection's is refused or changes nothing.
    this.acknowledgements.sent(this.mode === 'rw' ? message.update : null);
    if (this.mode === 'ro') return;
    let failure: unknown = null;
    this.reference.transact(() => {
      try {
        Y.applyUpdate(this.reference, message.update);
      } catch (error) {
        failure = error;
      }
    });
    if (failure !== null) throw new Error(`the server accepted an update the reference could not apply: ${String(failure)}\n  ${this.trail.join('\n  ')}`);
  }
}

/**
 * The update messages one connection sent, as the server counts them, and the "saved" messages it
 * got back. A "saved" (count, state vector) says the first `count` messages are stored: the state
 * vector must then cover every struct and deletion of each, which fails if the server
 * acknowledged a part that still waited for a dependency, and so was not stored.
 */
class Acknowledgements {
  /** Per counted message: its update, or null when there is nothing to cover (read-only). */
  private readonly counted: (Uint8Array | null)[] = [];
  private readonly unchecked: Array<{ count: number; stateVector: Map<number, number> }> = [];
  private latest = 0;
  private violation: string | null = null;
  private onSaved: (() => void) | null = null;

  sent(update: Uint8Array | null): void {
    this.counted.push(update);
    this.verify();
  }

  received(frame: Uint8Array): void {
    const decoder = decoding.createDecoder(frame);
    if (decoding.readVarUint(decoder) !== MESSAGE_SAVED) return;
    const saved = decodeSaved(decoder);
    this.latest = saved.count;
    this.unchecked.push(saved);
    this.verify();
    this.onSaved?.();
  }

  /** Throws if a "saved" counted a message whose content it does not cover. */
  check(): void {
    if (this.violation !== null) throw new Error(this.violation);
  }

  /**
   * Resolves once every read-write message sent is counted as saved. (A refused read-only one is
   * answered with an error, and counted only by the next "saved".)
   */
  allSaved(timeoutMs: number): Promise<void> {
    const target = this.counted.findLastIndex((update) => update !== null) + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onSaved = null;
        reject(new Error(`${target} update messages sent, ${this.latest} acknowledged as saved after ${timeoutMs} ms, with nothing waiting`));
      }, timeoutMs);
      this.onSaved = () => {
        if (this.latest < target) return;
        clearTimeout(timer);
        this.onSaved = null;
        resolve();
      };
      this.onSaved();
    });
  }

  /** Checks each "saved" once the messages it counts are known (the answer to a probe may come after it). */
  private verify(): void {
    while (this.unchecked.length > 0 && this.unchecked[0]!.count <= this.counted.length) {
      const { count, stateVector } = this.unchecked.shift()!;
      for (const [index, update] of this.counted.slice(0, count).entries()) {
        if (update === null) continue;
        for (const [client, clock] of needs(update)) {
          if ((stateVector.get(client) ?? 0) >= clock) continue;
          this.violation ??= `"saved" ${count} covers client ${client} to ${stateVector.get(client) ?? 0}, but message ${index + 1} needs it to ${clock}`;
        }
      }
    }
  }
}

/** The clock each client must reach for all of `update`, structs and deletions, to be in a document. */
function needs(update: Uint8Array): Map<number, number> {
  const { to } = Y.parseUpdateMeta(update);
  const clocks = new Map(to);
  for (const [client, ranges] of Y.decodeUpdate(update).ds.clients) {
    for (const { clock, len } of ranges) clocks.set(client, Math.max(clocks.get(client) ?? 0, clock + len));
  }
  return clocks;
}

/** A client that only listens: it applies every sync step 2 and update the server sends it. */
class Observer {
  doc = new Y.Doc();
  ready!: Promise<void>;
  private socket!: WebSocket;
  private stopped = false;

  constructor(private readonly url: string) {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.socket.terminate();
  }

  /** A fresh document each time: after a room failure the server holds only what it stored. */
  private connect(): void {
    const doc = (this.doc = new Y.Doc());
    const socket = (this.socket = new WebSocket(this.url));
    this.ready = new Promise((resolve) => {
      socket.on('message', (data: Buffer) => {
        const decoder = decoding.createDecoder(new Uint8Array(data));
        if (decoding.readVarUint(decoder) !== 0) return;
        const syncType = decoding.readVarUint(decoder);
        if (syncType === 0) return;
        Y.applyUpdate(doc, decoding.readVarUint8Array(decoder));
        if (syncType === 1) resolve();
      });
    });
    socket.once('open', () => socket.send(encodeSyncStep1(Y.encodeStateVector(doc))));
    socket.once('close', () => {
      if (!this.stopped) this.connect();
    });
    socket.on('error', () => undefined);
  }
}

/** Whether `frame` is a presence answer holding the probe's state at `clock`. */
function answersProbe(frame: Uint8Array, clock: number): boolean {
  try {
    const decoder = decoding.createDecoder(frame);
    if (decoding.readVarUint(decoder) !== 1) return false;
    const update = decoding.createDecoder(decoding.readVarUint8Array(decoder));
    const count = decoding.readVarUint(update);
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(update);
      const entryClock = decoding.readVarUint(update);
      decoding.readVarString(update);
      if (clientId === PROBE_CLIENT && entryClock === clock) return true;
    }
  } catch {
    // not a presence message we can read: not the answer
  }
  return false;
}

/** What `doc` has integrated, without what waits in its pending queues: what the server stores and sends. */
export function integrated(doc: Y.Doc): Y.Doc {
  const loaded = new Y.Doc();
  Y.applyUpdate(loaded, encodeIntegrated(doc));
  return loaded;
}

/** Same structs and deletions, and the same content in the seed's types. */
export function sameDocument(actual: Y.Doc, expected: Y.Doc): boolean {
  return Y.equalSnapshots(Y.snapshot(actual), Y.snapshot(expected)) && fingerprint(actual) === fingerprint(expected);
}

function fingerprint(doc: Y.Doc): string {
  try {
    // A map's key order depends on the order its entries were integrated in, not on its content.
    const map = Object.entries(doc.getMap('m').toJSON()).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return JSON.stringify({ t: doc.getText('t').toString(), m: map, a: doc.getArray('a').toJSON() });
  } catch (error) {
    return `unreadable: ${(error as Error).message}`;
  }
}
