/**
 * The server side of one WebSocket (RFC 6455) on an upgraded TCP socket: the incoming half is
 * `FrameReceiver` (`receiver.ts`); this adds the outgoing half (frames, compressed when agreed, see
 * `deflate.ts`), ping and pong, and the closing handshake. One object of a dozen fields per
 * connection, its socket listeners shared by all (docs/decisions/2026-12-07-own-websocket-layer.md).
 */
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { CLOSE } from './close-codes.js';
import { COMPRESS_FROM, compressMessage, type DeflateParams } from './deflate.js';
import { binaryFrame, binaryFrameHeader, closeFrame, PING_FRAME, pongFrame } from './frame.js';
import { isValidCloseCode } from './incoming.js';
import type { MessageListener, MessageSocket, SharedMessage } from './message-socket.js';
import { FAILED, FrameReceiver, OPCODE_PING, OPCODE_PONG, type ReceiveLimits } from './receiver.js';
import { type SocketCounters, UNCOUNTED } from './socket-counters.js';

/** How long a closing handshake may take before the TCP connection is dropped, in milliseconds. */
const CLOSE_TIMEOUT_MS = 30_000;
/** How long a client that broke the protocol or a limit has to read the close frame before the connection is dropped. */
const FAILED_CLOSE_MS = 2000;
/**
 * Unsent bytes past which pings go unanswered: a client that pings faster than it reads must not
 * make the server queue pongs without bound (RFC 6455, section 5.5.3, allows answering only the
 * latest ping).
 */
const MAX_PONG_BACKLOG = 64 * 1024;
/** Messages from this size on are sent without copying them into a frame. */
const LARGE_MESSAGE = 64 * 1024;

/** The owning `ServerWebSocket` of a TCP socket, for the listeners shared by every socket. */
const kWebSocket = Symbol('server WebSocket');
type OwnedSocket = Socket & { [kWebSocket]?: ServerWebSocket };

enum State {
  Open,
  /** A close frame was sent or received: no more messages are reported. */
  Closing,
  Closed,
}

/** One server-side WebSocket (see the top of this file). */
export class ServerWebSocket extends FrameReceiver implements MessageSocket {
  private state = State.Open;
  private closeSent = false;
  private closeTimer: NodeJS.Timeout | null = null;

  /** The code and reason this side closed with, for the log; null until it does (or if the client closed first). */
  closedWith: { readonly code: number; readonly reason: string } | null = null;

  /** Set by `start`: the one object told of messages and of the close. */
  private listener: MessageListener = NOT_STARTED;

  /**
   * For `tcp`, whose opening handshake is complete, taking what `limits` allow (a number: binary
   * messages up to that many bytes, text refused, no other limit), and compressing as `deflate` says was agreed. Nothing is
   * read before `start`. What it reads, writes and how it closes is counted in `counters`, shared by every socket of a server.
   */
  constructor(
    private readonly tcp: Socket,
    limits: ReceiveLimits | number,
    deflate: DeflateParams | null = null,
    private readonly counters: SocketCounters = UNCOUNTED,
  ) {
    super(typeof limits === 'number' ? { maxPayload: limits, maxFrameRate: 0, refuseText: true, inputLimits: null } : limits, deflate);
  }

  /**
   * Starts reading, reporting to `listener`: first `head` (what the client sent right after its
   * handshake), then the socket, which must not have been destroyed yet (its 'close' would be missed).
   * A message is reported as a view of the bytes read, keeping alive at most `RETAINED_SLACK` bytes
   * besides its own (see `deliver`).
   */
  start(listener: MessageListener, head: Uint8Array): void {
    this.listener = listener;
    const tcp = this.tcp as OwnedSocket;
    tcp[kWebSocket] = this;
    tcp.setNoDelay(true);
    tcp.setTimeout(0);
    // When the client ends its side, after a close frame or without one, the stream ends ours:
    // no 'end' listener of our own, which would make the socket's one listener (Node's) an array
    // of two, 64 B per idle connection. `isOpen` turns false at the client's end.
    tcp.allowHalfOpen = false;
    tcp.on('data', ServerWebSocket.onData);
    tcp.on('error', ServerWebSocket.onError);
    tcp.on('close', ServerWebSocket.onClose);
    this.awaitFirstFrame();
    if (head.length > 0) {
      this.counters.bytesIn += head.length;
      this.read(Buffer.from(head));
    }
  }

  /** True until a close frame is sent or received, the client ends its side, or the connection drops. */
  get isOpen(): boolean {
    return this.state === State.Open && !this.tcp.readableEnded;
  }

  /** Bytes written and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.tcp.writableLength;
  }

  /**
   * Sends one binary message, compressed if agreed and worth it; `onWritten` is called once it is
   * handed to the operating system (or failed).
   */
  send(payload: Uint8Array, onWritten?: () => void): void {
    let data = payload;
    let compressed = false;
    if (this.deflate !== null && payload.length >= COMPRESS_FROM) {
      const deflated = compressMessage(payload, this.deflate);
      if (deflated.length < payload.length) {
        data = deflated;
        compressed = true;
      }
    }
    if (data.length < LARGE_MESSAGE) {
      this.write(binaryFrame(data, compressed), onWritten);
      return;
    }
    // A large message (a document's state) is not copied into a frame: header and payload go out
    // in one write of two buffers.
    this.tcp.cork();
    this.write(binaryFrameHeader(data.length, compressed));
    this.write(data, onWritten);
    this.tcp.uncork();
  }

  /** Sends a message framed once for every socket that sends it (see `SharedMessage`). */
  sendShared(message: SharedMessage): void {
    this.write(this.deflate === null ? frameOf(message) : compressedFrameOf(message, this.deflate));
  }

  ping(): void {
    this.write(PING_FRAME);
  }

  /**
   * Starts the closing handshake: sends a close frame with `code` and `reason` (at most 123 bytes
   * of UTF-8), then waits for the client's, at most 30 s. Does nothing once closing.
   */
  close(code: number, reason: string): void {
    if (!this.isOpen) return;
    this.state = State.Closing;
    this.passOverMessages();
    this.sendClose(code, reason);
    this.armCloseTimer(CLOSE_TIMEOUT_MS);
  }

  /** Drops the TCP connection without a closing handshake. */
  terminate(): void {
    this.state = State.Closed;
    this.tcp.destroy();
  }

  protected message(data: Uint8Array, binary: boolean): void {
    // Once closing, the client's messages are read past, not reported: the owner is done with it.
    if (this.state === State.Open) this.listener.onMessage(data, binary);
  }

  protected get connected(): boolean {
    return this.state !== State.Closed;
  }

  protected control(opcode: number, payload: Uint8Array): void {
    if (opcode === OPCODE_PING) {
      if (this.state === State.Open && this.tcp.writableLength <= MAX_PONG_BACKLOG) this.write(pongFrame(payload));
    } else if (opcode === OPCODE_PONG) {
      this.listener.onPong();
    } else {
      this.onCloseFrame(payload);
    }
  }

  /** The client's close frame: answered with the same code (if it has not been sent one already), then the TCP connection ends. */
  private onCloseFrame(payload: Uint8Array): void {
    let code: number | null = null;
    if (payload.length >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      if (!isValidCloseCode(code)) {
        this.fail(CLOSE.protocolError, `invalid close code ${code}`);
        return;
      }
      if (!isUtf8(payload.subarray(2))) {
        this.fail(CLOSE.invalidPayload, 'the close reason is not valid UTF-8');
        return;
      }
    }
    this.doneReading = true;
    this.dropInput();
    if (this.state === State.Open) {
      this.state = State.Closing;
      // The same code back (RFC 6455, section 5.5.1), and no reason of ours.
      if (!this.closeSent) {
        this.closeSent = true;
        this.counters.closed('client', code);
        this.write(closeFrame(code, ''));
      }
      this.armCloseTimer(CLOSE_TIMEOUT_MS);
    }
    this.tcp.end();
  }

  /** Fails the connection: a close frame with the reason, then the TCP connection ends. Returns `FAILED`. */
  protected fail(code: number, reason: string): typeof FAILED {
    this.dropInput();
    this.doneReading = true;
    if (this.state === State.Open) {
      this.state = State.Closing;
      this.sendClose(code, reason);
    }
    this.tcp.end();
    // Nothing more is parsed from a client that broke the protocol or a limit (what it sends is
    // read past): it gets a moment to read the close frame and end its side, then the connection goes.
    this.armCloseTimer(FAILED_CLOSE_MS);
    return FAILED;
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.closedWith = { code, reason };
    this.write(closeFrame(code, reason));
  }

  /** Writes to the TCP socket, counting the bytes. */
  private write(data: Uint8Array, onWritten?: () => void): void {
    this.counters.bytesOut += data.length;
    this.tcp.write(data, onWritten);
  }

  private armCloseTimer(ms: number): void {
    if (this.state === State.Closed) return;
    if (this.closeTimer !== null) {
      if (ms >= CLOSE_TIMEOUT_MS) return;
      clearTimeout(this.closeTimer);
    }
    this.closeTimer = setTimeout(destroy, ms, this.tcp);
    this.closeTimer.unref();
  }

  /** The TCP connection closed (emitted once). */
  private onClosed(): void {
    this.state = State.Closed;
    // A close the client began was counted as its frame came (`onCloseFrame`).
    if (this.closedWith !== null) this.counters.closed('server', this.closedWith.code);
    else if (!this.closeSent) this.counters.closed('none', null);
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.dropInput();
    this.listener.onClose();
  }

  // The socket's listeners, shared by every socket (no closures per connection): each finds its
  // ServerWebSocket on the socket it is called on.

  private static onData(this: Socket, chunk: Buffer): void {
    const socket = ownerOf(this);
    socket.counters.bytesIn += chunk.length;
    socket.read(chunk);
  }

  private static onError(this: Socket, error: Error): void {
    const socket = ownerOf(this);
    if (socket.state === State.Open) socket.state = State.Closing;
    socket.listener.onError(error);
    this.destroy();
  }

  private static onClose(this: Socket): void {
    const socket = ownerOf(this);
    this.removeListener('data', ServerWebSocket.onData);
    socket.onClosed();
  }
}

/** The listener of a socket not started yet: nothing is read before `start`, so it is never called. */
const NOT_STARTED: MessageListener = {
  onMessage: () => undefined,
  onPong: () => undefined,
  onError: () => undefined,
  onClose: () => undefined,
};

/** The frame of a shared message, built the first time it is sent (see `SharedMessage`). */
function frameOf(message: SharedMessage): Uint8Array {
  if (message.frame !== null) return message.frame;
  const frame = message.payload !== null ? binaryFrame(message.payload) : Buffer.concat(message.parts!.map(frameOf));
  message.frame = frame;
  return frame;
}

/** Likewise, compressed as `deflate` agreed; one cached frame serves the sockets with the standard window. */
function compressedFrameOf(message: SharedMessage, deflate: DeflateParams): Uint8Array {
  if (message.compressedFrame !== null && deflate.windowBits === 15) return message.compressedFrame;
  let frame: Uint8Array;
  if (message.payload === null) frame = Buffer.concat(message.parts!.map((part) => compressedFrameOf(part, deflate)));
  else if (message.payload.length < COMPRESS_FROM) frame = frameOf(message);
  else {
    const deflated = compressMessage(message.payload, deflate);
    frame = deflated.length < message.payload.length ? binaryFrame(deflated, true) : frameOf(message);
  }
  if (deflate.windowBits === 15) message.compressedFrame = frame;
  return frame;
}

function ownerOf(socket: Socket): ServerWebSocket {
  const owner = (socket as OwnedSocket)[kWebSocket];
  if (owner === undefined) throw new TypeError('a socket event for a socket no ServerWebSocket owns');
  return owner;
}

function destroy(socket: Socket): void {
  socket.destroy();
}
