/**
 * The server side of one WebSocket (RFC 6455) on an upgraded TCP socket: frames in, frames out,
 * ping and pong, and the closing handshake. No extension is ever negotiated (see `handshake.ts`),
 * so every frame is plain. One object of a dozen fields per connection, its socket listeners shared
 * by all (docs/decisions/2026-12-07-own-websocket-layer.md). Frames are parsed straight from the
 * chunks the socket reads; a frame that spans chunks is gathered in one growing buffer.
 *
 * Everything read is untrusted. A frame that breaks the protocol closes the connection with 1002
 * and a reason; one over the size limit, with 1009, before its payload is buffered; a close
 * reason that is not UTF-8, with 1007; a message in too many fragments, with 1008.
 */
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { CLOSE } from './close-codes.js';
import { binaryFrame, binaryFrameHeader, closeFrame, PING_FRAME, pongFrame } from './frame.js';
import { FragmentedMessage, isValidCloseCode, MAX_HEADER, PendingFrame, unmask } from './incoming.js';
import type { MessageListener, MessageSocket, SharedMessage } from './message-socket.js';

/** How long a closing handshake may take before the TCP connection is dropped, in milliseconds. */
const CLOSE_TIMEOUT_MS = 30_000;
/** Fragments one message may come in: a client sending one-byte fragments is cut off. */
const MAX_FRAGMENTS = 16_384;
/**
 * Unsent bytes past which pings go unanswered: a client that pings faster than it reads must not
 * make the server queue pongs without bound (RFC 6455, section 5.5.3, allows answering only the
 * latest ping).
 */
const MAX_PONG_BACKLOG = 64 * 1024;
/**
 * Bytes of the chunk it was read from that a delivered message may keep alive besides its own;
 * past this it is copied (see `deliver`).
 */
const RETAINED_SLACK = 4096;
/** Messages from this size on are sent without copying them into a frame. */
const LARGE_MESSAGE = 64 * 1024;

const OPCODE_CONTINUATION = 0x0;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

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
export class ServerWebSocket implements MessageSocket {
  private state = State.Open;
  private closeSent = false;
  /** A close frame was received, or a frame broke the protocol: nothing more is read. */
  private doneReading = false;
  private closeTimer: NodeJS.Timeout | null = null;
  /** A frame that spans chunks, while it does (an object only then: most sockets hold none). */
  private pending: PendingFrame | null = null;
  /** A message sent in fragments, while it is (likewise). */
  private fragmented: FragmentedMessage | null = null;

  /** The code and reason this side closed with, for the log; null until it does (or if the client closed first). */
  closedWith: { readonly code: number; readonly reason: string } | null = null;

  /** Set by `start`: the one object told of messages and of the close. */
  private listener: MessageListener = NOT_STARTED;

  /**
   * For `tcp`, whose opening handshake is complete. Messages longer than `maxPayload` bytes are
   * refused (1009). Nothing is read before `start`.
   */
  constructor(
    private readonly tcp: Socket,
    private readonly maxPayload: number,
  ) {}

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
    if (head.length > 0) this.read(Buffer.from(head));
  }

  /** True until a close frame is sent or received, the client ends its side, or the connection drops. */
  get isOpen(): boolean {
    return this.state === State.Open && !this.tcp.readableEnded;
  }

  /** Bytes written and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.tcp.writableLength;
  }

  /** Sends one binary message; `onWritten` is called once it is handed to the operating system (or failed). */
  send(payload: Uint8Array, onWritten?: () => void): void {
    if (payload.length < LARGE_MESSAGE) {
      this.tcp.write(binaryFrame(payload), onWritten);
      return;
    }
    // A large message (a document's state) is not copied into a frame: header and payload go out
    // in one write of two buffers.
    this.tcp.cork();
    this.tcp.write(binaryFrameHeader(payload.length));
    this.tcp.write(payload, onWritten);
    this.tcp.uncork();
  }

  /** Sends a message framed once for every socket that sends it (see `SharedMessage`). */
  sendShared(message: SharedMessage): void {
    this.tcp.write(frameOf(message));
  }

  ping(): void {
    this.tcp.write(PING_FRAME);
  }

  /**
   * Starts the closing handshake: sends a close frame with `code` and `reason` (at most 123 bytes
   * of UTF-8), then waits for the client's, at most 30 s. Does nothing once closing.
   */
  close(code: number, reason: string): void {
    if (!this.isOpen) return;
    this.state = State.Closing;
    this.sendClose(code, reason);
    this.armCloseTimer();
  }

  /** Drops the TCP connection without a closing handshake. */
  terminate(): void {
    this.state = State.Closed;
    this.tcp.destroy();
  }

  /** Reads one chunk from the socket. */
  private read(chunk: Buffer): void {
    if (this.doneReading) return;
    const pending = this.pending;
    if (pending === null) {
      this.readFrames(chunk);
      return;
    }
    pending.append(chunk);
    if (pending.length < pending.needed) return;
    this.pending = null;
    this.readFrames(pending.bytes());
  }

  /** Reads the frames in `data`, keeping an incomplete last one for the next chunk. */
  private readFrames(data: Buffer): void {
    let offset = 0;
    while (offset < data.length && !this.doneReading && this.state !== State.Closed) {
      const length = this.readFrame(data, offset);
      if (length > 0) {
        offset += length;
        continue;
      }
      // Kept as a copy, not a view: a few header bytes must not keep a whole chunk alive.
      if (length < 0) this.pending = new PendingFrame(data.subarray(offset), -length, this.maxPayload + MAX_HEADER);
      return;
    }
  }

  /**
   * Reads the frame at `offset`. Returns its length; minus the bytes needed before trying again
   * when `data` does not hold all of it yet; `FAILED` when it broke the protocol or the size limit,
   * which fails the connection.
   */
  private readFrame(data: Buffer, offset: number): number {
    const available = data.length - offset;
    if (available < 2) return this.need(2);
    const first = data[offset]!;
    const second = data[offset + 1]!;
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    if ((first & 0x70) !== 0) return this.fail(CLOSE.protocolError, 'reserved bits must be clear: no extension was negotiated');
    if ((second & 0x80) === 0) return this.fail(CLOSE.protocolError, 'client frames must be masked');
    const shortLength = second & 0x7f;
    const control = opcode >= OPCODE_CLOSE;
    if (control) {
      if (opcode > OPCODE_PONG) return this.fail(CLOSE.protocolError, `unknown opcode ${opcode}`);
      if (!fin) return this.fail(CLOSE.protocolError, 'control frames must not be fragmented');
      if (shortLength > 125) return this.fail(CLOSE.protocolError, 'control frames carry at most 125 bytes');
      if (opcode === OPCODE_CLOSE && shortLength === 1) return this.fail(CLOSE.protocolError, 'a close frame cannot carry 1 byte');
    } else if (opcode === OPCODE_CONTINUATION) {
      if (this.fragmented === null) return this.fail(CLOSE.protocolError, 'a continuation frame without a message to continue');
    } else if (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY) {
      if (this.fragmented !== null) return this.fail(CLOSE.protocolError, 'a new message before the fragmented one ended');
    } else {
      return this.fail(CLOSE.protocolError, `unknown opcode ${opcode}`);
    }

    const lengthBytes = shortLength === 126 ? 2 : shortLength === 127 ? 8 : 0;
    const headerLength = 2 + lengthBytes + 4;
    if (available < headerLength) return this.need(headerLength);
    let payloadLength = shortLength;
    if (lengthBytes === 2) {
      payloadLength = data.readUInt16BE(offset + 2);
    } else if (lengthBytes === 8) {
      const high = data.readUInt32BE(offset + 2);
      // Anything past 2^32 is far over any limit this server takes (and past 2^53 not a safe integer).
      if (high !== 0) return this.fail(CLOSE.messageTooBig, `message too big: the limit is ${this.maxPayload} bytes`);
      payloadLength = data.readUInt32BE(offset + 6);
    }
    if (!control && (this.fragmented?.length ?? 0) + payloadLength > this.maxPayload) {
      // Refused before its payload is buffered.
      return this.fail(CLOSE.messageTooBig, `message too big: the limit is ${this.maxPayload} bytes`);
    }
    const frameLength = headerLength + payloadLength;
    if (available < frameLength) return this.need(frameLength);

    const payload = data.subarray(offset + headerLength, offset + frameLength);
    unmask(payload, data, offset + headerLength - 4);
    if (control) this.onControl(opcode, payload);
    else this.onData(opcode, fin, payload);
    return frameLength;
  }

  private onData(opcode: number, fin: boolean, payload: Uint8Array): void {
    const fragmented = this.fragmented;
    if (fragmented === null) {
      if (fin) this.deliver(payload, opcode === OPCODE_BINARY);
      else this.fragmented = new FragmentedMessage(payload, opcode === OPCODE_BINARY, this.maxPayload);
      return;
    }
    if (fragmented.fragments >= MAX_FRAGMENTS) {
      this.fail(CLOSE.policyViolation, `a message may come in at most ${MAX_FRAGMENTS} fragments`);
      return;
    }
    fragmented.add(payload);
    if (!fin) return;
    this.fragmented = null;
    this.deliver(fragmented.bytes(), fragmented.binary);
  }

  /**
   * Reports a message, copied if the buffer it is a view of holds much more than it: many frames
   * read in one chunk (pongs, say) must not all stay in memory for as long as one small message
   * is kept (a document keeps views into the updates it applied).
   */
  private deliver(message: Uint8Array, binary: boolean): void {
    // Once closing, the client's messages are read past, not reported: the owner is done with it.
    if (this.state !== State.Open) return;
    const kept = message.buffer.byteLength - message.byteLength > RETAINED_SLACK ? new Uint8Array(message) : message;
    this.listener.onMessage(kept, binary);
  }

  private onControl(opcode: number, payload: Uint8Array): void {
    if (opcode === OPCODE_PING) {
      if (this.state === State.Open && this.tcp.writableLength <= MAX_PONG_BACKLOG) this.tcp.write(pongFrame(payload));
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
    this.dropFragments();
    if (this.state === State.Open) {
      this.state = State.Closing;
      // The same code back (RFC 6455, section 5.5.1), and no reason of ours.
      if (!this.closeSent) {
        this.closeSent = true;
        this.tcp.write(closeFrame(code, ''));
      }
      this.armCloseTimer();
    }
    this.tcp.end();
  }

  /** Fails the connection: a close frame with the reason, then the TCP connection ends. Returns `FAILED`. */
  private fail(code: number, reason: string): typeof FAILED {
    this.dropFragments();
    this.doneReading = true;
    if (this.state === State.Open) {
      this.state = State.Closing;
      this.sendClose(code, reason);
      this.armCloseTimer();
    }
    this.tcp.end();
    return FAILED;
  }

  /** What `readFrame` returns for a frame of which `data` does not hold `bytes` yet. */
  private need(bytes: number): number {
    return -bytes;
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.closedWith = { code, reason };
    this.tcp.write(closeFrame(code, reason));
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null || this.state === State.Closed) return;
    this.closeTimer = setTimeout(destroy, CLOSE_TIMEOUT_MS, this.tcp);
    this.closeTimer.unref();
  }

  private dropFragments(): void {
    this.fragmented = null;
    this.pending = null;
  }

  /** The TCP connection closed (emitted once). */
  private onClosed(): void {
    this.state = State.Closed;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.dropFragments();
    this.listener.onClose();
  }

  // The socket's listeners, shared by every socket (no closures per connection): each finds its
  // ServerWebSocket on the socket it is called on.

  private static onData(this: Socket, chunk: Buffer): void {
    ownerOf(this).read(chunk);
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

/** What `readFrame` returns for a frame that failed the connection. */
const FAILED = 0;

/** The frame of a shared message, built the first time it is sent (see `SharedMessage`). */
function frameOf(message: SharedMessage): Uint8Array {
  if (message.frame !== null) return message.frame;
  const frame = message.payload !== null ? binaryFrame(message.payload) : Buffer.concat(message.parts!.map(frameOf));
  message.frame = frame;
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
