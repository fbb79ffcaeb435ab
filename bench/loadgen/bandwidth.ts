/**
 * Bandwidth: bytes on the wire, counted on each client's TCP socket (`counted-websocket.ts`), for a
 * new client's first sync of a stored document and for keystrokes typed with readers connected,
 * each with and without permessage-deflate offered.
 */
import { performance } from 'node:perf_hooks';
import * as Y from 'yjs';
import { socketUrl } from '../bench-socket.js';
import { CountedSocket, waitQuiet, type WireBytes } from '../counted-websocket.js';
import { DeliveryIndex } from '../delivery-index.js';
import { sleep } from '../proc.js';
import { emptyUpdate, FrameKind, newParsedFrame, openingMessages, parseFrame, syncStep2Message, updateMessage, type Dialect } from '../wire.js';
import { textAfter } from './cold-load.js';
import type { ClientBytes, FirstSyncPlan, FirstSyncResult, KeystrokeBytesPlan, KeystrokeBytesResult, SyncBytes } from './plans.js';
import { replayFor } from './writers.js';

const parsed = newParsedFrame();

export interface SyncingClientOptions {
  /** Apply what the server sends to this doc (and answer its sync step 1 from it, as a real client does). */
  doc?: Y.Doc;
  /** Every update and sync step 2 payload, after it was applied to `doc` if there is one. */
  onPayload?: (payload: Buffer, kind: FrameKind.SyncStep2 | FrameKind.Update) => void;
}

/**
 * A client of one document in one dialect over a `CountedSocket`: it sends the dialect's opening
 * messages (auth for Hocuspocus, then sync step 1 with an empty state vector) and answers the
 * server's sync step 1 with what it holds, as `y-protocols` clients do.
 */
export class SyncingClient {
  readonly socket: CountedSocket;
  /** Resolves when the server's sync step 2 arrived; rejects if the socket closed first. */
  readonly synced: Promise<void>;
  badFrames = 0;

  constructor(
    urlTemplate: string,
    private readonly dialect: Dialect,
    private readonly name: string,
    deflateOffered: boolean,
    private readonly options: SyncingClientOptions = {},
  ) {
    let resolveSynced!: () => void;
    this.synced = new Promise((resolve) => (resolveSynced = resolve));
    this.socket = new CountedSocket(socketUrl(urlTemplate, name), deflateOffered, {
      onOpen: () => {
        for (const message of openingMessages(dialect, name)) this.socket.send(message);
      },
      onMessage: (data) => this.onMessage(data, resolveSynced),
    });
    const closedFirst = this.socket.closed.then(() => {
      throw new Error(`socket for ${name} closed before sync: ${this.socket.closeReason}`);
    });
    this.synced = Promise.race([this.synced, closedFirst]);
    this.synced.catch(() => {}); // observed by whoever awaits it
  }

  private onMessage(data: Buffer, resolveSynced: () => void): void {
    try {
      parseFrame(this.dialect, data, parsed);
    } catch {
      this.badFrames++;
      return;
    }
    const kind = parsed.kind;
    if (kind === FrameKind.Other) return;
    const payload = data.subarray(parsed.payloadStart, parsed.payloadEnd);
    if (kind === FrameKind.SyncStep1) {
      const reply = this.options.doc === undefined ? emptyUpdate : Y.encodeStateAsUpdate(this.options.doc, payload);
      this.socket.send(syncStep2Message(this.dialect, this.name, reply));
      return;
    }
    if (this.options.doc !== undefined) Y.applyUpdate(this.options.doc, payload);
    this.options.onPayload?.(payload, kind);
    if (kind === FrameKind.SyncStep2) resolveSynced();
  }

  send(update: Uint8Array): void {
    this.socket.send(updateMessage(this.dialect, this.name, update));
  }
}

/** How to reach the server, for the functions below. */
export interface Endpoint {
  urlTemplate: string;
  dialect: Dialect;
}

/**
 * One new client's first sync of `doc`, which must end holding `expected` as its text: connects,
 * applies what the server sends to a fresh Y.Doc until the text is complete, waits for the
 * connection to fall quiet (whatever else the server sends on a first sync is counted), and counts
 * its socket's bytes. Leaves the socket open when `keepOpen` (the caller closes it).
 */
export async function measureFirstSync(
  endpoint: Endpoint,
  doc: string,
  expected: string,
  deflateOffered: boolean,
  limits: { timeoutMs: number; quietMs: number },
  keepOpen = false,
): Promise<{ bytes: SyncBytes; socket: CountedSocket }> {
  const ydoc = new Y.Doc();
  const text = ydoc.getText('text');
  let completedAt = Number.NaN;
  const start = performance.now();
  const client = new SyncingClient(endpoint.urlTemplate, endpoint.dialect, doc, deflateOffered, {
    doc: ydoc,
    onPayload: () => {
      if (Number.isNaN(completedAt) && text.length === expected.length && text.toString() === expected) completedAt = performance.now();
    },
  });
  const { socket } = client;
  while (Number.isNaN(completedAt) && !socket.isClosed && performance.now() - start < limits.timeoutMs) await sleep(2);
  if (!Number.isNaN(completedAt)) await waitQuiet([socket], limits.quietMs);
  const bytes = socket.bytes();
  if (!keepOpen) await closeAll([socket]);
  return {
    bytes: {
      deflateOffered,
      extensions: socket.extensions,
      ...bytes,
      messages: socket.messages,
      messageBytes: socket.messageBytes,
      pings: socket.pings,
      ms: completedAt - start,
      complete: !Number.isNaN(completedAt),
      length: text.length,
      expectedLength: expected.length,
    },
    socket,
  };
}

/**
 * First syncs of a stored document: a primer loads it and stays (so the room is loaded, as when
 * others are editing it), then a client offering no extension and one offering permessage-deflate
 * each sync it in turn.
 */
export async function firstSyncs(plan: FirstSyncPlan): Promise<FirstSyncResult> {
  const expected = textAfter(plan.clientId, plan.updates, plan.batch);
  const limits = { timeoutMs: plan.timeoutMs, quietMs: plan.quietMs };
  const primer = await measureFirstSync(plan, plan.doc, expected, false, limits, true);
  try {
    const plain = await measureFirstSync(plan, plan.doc, expected, false, limits);
    const deflate = await measureFirstSync(plan, plan.doc, expected, true, limits);
    return { primer: primer.bytes, plain: plain.bytes, deflate: deflate.bytes };
  } finally {
    await closeAll([primer.socket]);
  }
}

/**
 * Keystrokes typed one at a time into a fresh room with readers connected: the writer sends
 * keystroke k once every reader has keystroke k - 1, so each travels alone, as a person's typing
 * does. Every socket's bytes are counted from after its sync (once every socket fell quiet) to
 * after the last keystroke (once every socket fell quiet again: acknowledgements are counted).
 */
export async function keystrokeBytes(plan: KeystrokeBytesPlan): Promise<KeystrokeBytesResult> {
  const replay = replayFor(plan.clientId, plan.keystrokes);
  const total = Math.min(plan.keystrokes, replay.updates.length);
  const index = new DeliveryIndex();
  index.add(replay);
  const received = new Uint16Array(total);
  const seen = Array.from({ length: plan.readers }, () => new Uint8Array(total));
  let waitingFor = -1;
  let wake: (() => void) | null = null;
  const readers = seen.map(
    (mine) =>
      new SyncingClient(plan.urlTemplate, plan.dialect, plan.doc, plan.deflateOffered, {
        onPayload: (payload) => {
          const refs = index.resolve(payload);
          for (let i = 0; i < refs.length; i += 2) {
            const k = refs[i + 1]!;
            if (k >= total || mine[k] === 1) continue;
            mine[k] = 1;
            received[k]!++;
            if (k === waitingFor && received[k] === plan.readers) wake?.();
          }
        },
      }),
  );
  const writer = new SyncingClient(plan.urlTemplate, plan.dialect, plan.doc, plan.deflateOffered);
  const clients = [writer, ...readers];
  const sockets = clients.map((client) => client.socket);
  try {
    await Promise.all(clients.map((client) => client.synced));
    await waitQuiet(sockets, plan.quietMs);
    const before = sockets.map((socket) => ({ ...socket.bytes(), messages: socket.messages, pings: socket.pings }));
    const start = performance.now();
    let sent = 0;
    let delivered = 0;
    for (let k = 0; k < total; k++) {
      waitingFor = k;
      const arrived = new Promise<void>((resolve) => (wake = resolve));
      writer.send(replay.updates[k]!);
      sent++;
      if (received[k] !== plan.readers) await Promise.race([arrived, sleep(plan.timeoutMs)]);
      wake = null;
      if (received[k] !== plan.readers) break; // not delivered in time: the run reports how far it got
      delivered++;
    }
    const ms = performance.now() - start;
    await waitQuiet(sockets, plan.quietMs);
    const counted = sockets.map((socket, i): ClientBytes => {
      const now: WireBytes = socket.bytes();
      return {
        received: now.received - before[i]!.received,
        sent: now.sent - before[i]!.sent,
        messages: socket.messages - before[i]!.messages,
        pings: socket.pings - before[i]!.pings,
        extensions: socket.extensions,
      };
    });
    let updateBytes = 0;
    for (let k = 0; k < sent; k++) updateBytes += replay.updates[k]!.length;
    return {
      deflateOffered: plan.deflateOffered,
      keystrokes: total,
      sent,
      delivered,
      updateBytes,
      writer: counted[0]!,
      readers: counted.slice(1),
      ms,
    };
  } finally {
    await closeAll(sockets);
  }
}

/** Closes sockets with a closing handshake, and drops those that do not finish it within 2 s. */
async function closeAll(sockets: readonly CountedSocket[]): Promise<void> {
  for (const socket of sockets) socket.close();
  await Promise.race([Promise.all(sockets.map((socket) => socket.closed)), sleep(2000)]);
  for (const socket of sockets) socket.terminate();
}
