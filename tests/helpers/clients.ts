/**
 * Clients for tests: the official y-websocket provider (what apps use), and a raw socket for
 * sending bytes no well-behaved client would.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

// The official provider adds a process 'exit' listener per instance in Node; tests that open a
// dozen clients at once would otherwise print MaxListenersExceededWarning.
process.setMaxListeners(64);

export interface YClient {
  readonly doc: Y.Doc;
  readonly provider: WebsocketProvider;
  /** Resolves once the first sync with the server completed. */
  readonly synced: Promise<void>;
  destroy(): void;
}

/** Connects the official provider to `wsUrl/<name>`, with `ws` or the given `webSocket` class (see `certificates.ts`). */
export function connectClient(
  wsUrl: string,
  name: string,
  options: { params?: Record<string, string>; doc?: Y.Doc; connect?: boolean; webSocket?: typeof globalThis.WebSocket } = {},
): YClient {
  const doc = options.doc ?? new Y.Doc();
  const provider = new WebsocketProvider(wsUrl, name, doc, {
    WebSocketPolyfill: options.webSocket ?? (WebSocket as unknown as typeof globalThis.WebSocket),
    params: options.params,
    connect: options.connect ?? true,
    disableBc: true,
    maxBackoffTime: 200,
  });
  const synced = new Promise<void>((resolve) => {
    if (provider.synced) resolve();
    else provider.once('sync', () => resolve());
  });
  return {
    doc,
    provider,
    synced,
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}

/** One writer's keystrokes: each call types `text` at the end, as one update. */
export function typist(): (text: string) => Uint8Array {
  const doc = new Y.Doc();
  let last: Uint8Array = new Uint8Array(0);
  doc.on('update', (update: Uint8Array) => (last = update));
  return (text) => {
    doc.getText('t').insert(doc.getText('t').length, text);
    return last;
  };
}

/** Resolves when `predicate` holds for the doc, checked now and after each of its updates. */
export function waitForDoc(doc: Y.Doc, predicate: () => boolean, what = 'document condition', timeoutMs = 30_000): Promise<void> {
  return waitForEvent(doc, 'update', predicate, what, timeoutMs);
}

/**
 * Resolves when `predicate`, which reads several docs (that they agree), holds: checked now and after
 * an update of any of them, since the last update that makes it hold may reach any one.
 */
export function waitForDocs(docs: readonly Y.Doc[], predicate: () => boolean, what = 'documents condition', timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const stop = () => {
      clearTimeout(timer);
      for (const doc of docs) doc.off('update', check);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const check = () => {
      if (!predicate()) return;
      stop();
      resolve();
    };
    for (const doc of docs) doc.on('update', check);
  });
}

/** Resolves when `predicate` holds, checked now and after each `event` of `emitter` (a Y.Doc, an awareness). */
export function waitForEvent(
  emitter: { on(event: string, listener: () => void): void; off(event: string, listener: () => void): void },
  event: string,
  predicate: () => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const timer = setTimeout(() => {
      emitter.off(event, check);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const check = () => {
      if (!predicate()) return;
      clearTimeout(timer);
      emitter.off(event, check);
      resolve();
    };
    emitter.on(event, check);
  });
}

/**
 * An update (v1) of one string item of `client` at clock 0, in the root text `t`, placed by the
 * IDs it names as its origin and right origin: a forged item, for tests of how the server places
 * and checks items.
 */
export function forgedItem(client: number, origin: Y.ID, rightOrigin: Y.ID, text = 'X'): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 1); // one client
  encoding.writeVarUint(encoder, 1); // one struct
  encoding.writeVarUint(encoder, client);
  encoding.writeVarUint(encoder, 0);
  encoding.writeUint8(encoder, 4 | 0x80 | 0x40); // a string, with an origin and a right origin
  encoding.writeVarUint(encoder, origin.client);
  encoding.writeVarUint(encoder, origin.clock);
  encoding.writeVarUint(encoder, rightOrigin.client);
  encoding.writeVarUint(encoder, rightOrigin.clock);
  encoding.writeVarString(encoder, text);
  encoding.writeVarUint(encoder, 0); // no deletions
  return encoding.toUint8Array(encoder);
}

export interface RawClient {
  readonly socket: WebSocket;
  /** Binary frames received, in order. */
  readonly frames: Uint8Array[];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the next frame whose first varUint (message type) is `type`. */
  nextFrame(type: number, timeoutMs?: number): Promise<Uint8Array>;
}

/** A bare WebSocket that records what it receives. */
export function connectRaw(url: string, options: WebSocket.ClientOptions = {}): RawClient {
  const socket = new WebSocket(url, options);
  const frames: Uint8Array[] = [];
  const waiters: Array<{ type: number; resolve: (frame: Uint8Array) => void }> = [];
  socket.on('message', (data: Buffer) => {
    const frame = new Uint8Array(data);
    frames.push(frame);
    const type = decoding.readVarUint(decoding.createDecoder(frame));
    const index = waiters.findIndex((waiter) => waiter.type === type);
    if (index >= 0) waiters.splice(index, 1)[0]!.resolve(frame);
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    socket.once('error', reject);
  });
  opened.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return {
    socket,
    frames,
    opened,
    closed,
    nextFrame(type, timeoutMs = 10_000) {
      const seen = frames.find((frame) => decoding.readVarUint(decoding.createDecoder(frame)) === type);
      if (seen) {
        frames.splice(frames.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no frame of type ${type} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          type,
          resolve: (frame) => {
            clearTimeout(timer);
            frames.splice(frames.indexOf(frame), 1);
            resolve(frame);
          },
        });
      });
    },
  };
}

/**
 * Resolves with `[status, body]` of a refused WebSocket upgrade. Sent with node:http so the path
 * goes out exactly as written: WebSocket clients normalize "." and ".." segments away.
 */
export function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<[number, string]> {
  const { hostname, port, pathname, search } = new URL(url);
  const rawPath = url.slice(url.indexOf('/', url.indexOf('//') + 2)) || pathname + search;
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: hostname,
      port,
      path: rawPath,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    request.once('upgrade', (_response, socket) => {
      socket.destroy();
      reject(new Error(`the upgrade to ${rawPath} was accepted`));
    });
    request.once('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve([response.statusCode ?? 0, body]));
    });
    request.once('error', reject);
    request.end();
  });
}

/** A seeded pseudo-random generator (mulberry32), so a randomized test replays from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for a randomized test: `TEST_SEED` if set, else a fresh one. Printed so a failure replays. */
export function testSeed(label: string): number {
  const seed = process.env.TEST_SEED ? Number(process.env.TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[${label}] seed ${seed} (rerun with TEST_SEED=${seed})`);
  return seed;
}
