/**
 * One benchmark client connection: a WebSocket speaking one dialect for one document. It does the
 * sync handshake (answering the server's step 1 with an empty step 2) and hands every update frame
 * to a callback with its receipt time. It holds no Y.Doc: readers only count and timestamp frames.
 */
import { performance } from 'node:perf_hooks';
import { RawWebSocket } from './raw-websocket.js';
import { FrameKind, newParsedFrame, openingMessages, parseFrame, syncStep2Message, type Dialect } from './wire.js';

export interface SocketCallbacks {
  /** An update frame's payload (a view into the frame) and when it arrived (performance.now()). */
  onUpdate?: (payload: Buffer, receivedAt: number) => void;
  /** The payload of the server's sync step 2 (the document state the client lacked). */
  onSyncStep2?: (payload: Buffer, receivedAt: number) => void;
}

/** The URL of a document's socket: `template` with `{doc}` replaced by the encoded name. */
export function socketUrl(template: string, doc: string): string {
  return template.replace('{doc}', encodeURIComponent(doc));
}

const parsed = newParsedFrame();

export class BenchSocket {
  private readonly ws: RawWebSocket;
  /** Resolves when the server's sync step 2 arrived; rejects if the socket fails before. */
  readonly synced: Promise<void>;
  /** Resolves when the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  openedAt = 0;
  syncedAt = 0;
  isClosed = false;
  closeReason = '';
  /** Frames the client could not parse (should stay 0). */
  badFrames = 0;

  constructor(
    urlTemplate: string,
    readonly dialect: Dialect,
    readonly doc: string,
    private readonly callbacks: SocketCallbacks = {},
  ) {
    let resolveSynced!: () => void;
    let rejectSynced!: (error: Error) => void;
    this.synced = new Promise((resolve, reject) => {
      resolveSynced = resolve;
      rejectSynced = reject;
    });
    this.synced.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
    let resolveClosed!: () => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    this.openedAt = performance.now();
    this.ws = new RawWebSocket(socketUrl(urlTemplate, doc), {
      onOpen: () => {
        for (const message of openingMessages(dialect, doc)) this.ws.send(message);
      },
      onMessage: (data) => this.onMessage(data, resolveSynced),
      onClose: (reason) => {
        this.isClosed = true;
        this.closeReason = reason;
        rejectSynced(new Error(`socket for ${doc} closed before sync: ${reason}`));
        resolveClosed();
      },
    });
  }

  private onMessage(data: Buffer, resolveSynced: () => void): void {
    const receivedAt = performance.now();
    try {
      parseFrame(this.dialect, data, parsed);
    } catch {
      this.badFrames++;
      return;
    }
    switch (parsed.kind) {
      case FrameKind.Update:
        this.callbacks.onUpdate?.(data.subarray(parsed.payloadStart, parsed.payloadEnd), receivedAt);
        break;
      case FrameKind.SyncStep1:
        this.ws.send(syncStep2Message(this.dialect, this.doc));
        break;
      case FrameKind.SyncStep2:
        this.callbacks.onSyncStep2?.(data.subarray(parsed.payloadStart, parsed.payloadEnd), receivedAt);
        if (this.syncedAt === 0) this.syncedAt = receivedAt;
        resolveSynced();
        break;
      default:
        break;
    }
  }

  send(message: Uint8Array): void {
    this.ws.send(message);
  }

  close(): void {
    if (!this.isClosed) this.ws.close();
  }

  /** Drops the TCP connection without a closing handshake (for many sockets at once). */
  terminate(): void {
    if (!this.isClosed) this.ws.terminate();
  }
}

/**
 * Opens sockets `concurrency` at a time (so the server's accept queue is not flooded) and waits for
 * each to sync. Returns the sockets and how many failed.
 */
export async function openSockets(
  count: number,
  make: (index: number) => BenchSocket,
  concurrency: number,
  onProgress?: (done: number) => void,
): Promise<{ sockets: BenchSocket[]; failed: number; errors: string[] }> {
  const sockets: BenchSocket[] = [];
  const errors: string[] = [];
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const socket = make(next++);
      sockets.push(socket);
      try {
        await socket.synced;
      } catch (error) {
        if (errors.length < 5) errors.push(String(error));
      }
      done++;
      if (onProgress !== undefined && done % 500 === 0) onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const failed = sockets.filter((socket) => socket.syncedAt === 0).length;
  return { sockets, failed, errors };
}
