/**
 * The incoming half of a server WebSocket (RFC 6455): frames parsed straight from the chunks the
 * socket reads, checked from their header before their payload is buffered, gathered while a frame
 * spans reads or a message comes in fragments, unmasked, inflated when compressed, and delivered
 * whole. `ServerWebSocket` extends it with the outgoing half and the connection's lifecycle: one
 * object per connection.
 *
 * Everything read is untrusted, and every refusal names a close code:
 *
 *   1002  a frame that breaks the protocol (reserved bits, opcodes, masking, control frame rules,
 *         fragmentation, a 64-bit length with its top bit set)
 *   1003  a text message, when the owner takes binary only: refused at its first frame
 *   1007  a close reason that is not UTF-8, a compressed message that does not inflate
 *   1008  more frames per second than allowed (control frames too), too many fragments, a message
 *         not finished in time (see `InputLimits`)
 *   1009  a message over the size limit, refused from its header (or as it inflates)
 *   1013  the server's budget of unfinished input is spent (see `InputLimits`)
 */
import { CLOSE } from './close-codes.js';
import { type DeflateParams, InflateError, inflateMessage } from './deflate.js';
import { FragmentedMessage, PendingFrame, unmask } from './incoming.js';
import type { InputHolder, InputLimits } from './input-limits.js';
import { TokenBucket } from './token-bucket.js';

/** What a socket takes from its peer. */
export interface ReceiveLimits {
  /** Largest message, in bytes (inflated, when compressed); a larger one closes the connection (1009). */
  readonly maxPayload: number;
  /** Frames per second the peer may send (every kind), in bursts of twice that; 0 for no limit. */
  readonly maxFrameRate: number;
  /** Refuse text messages at their first frame (1003): the owner speaks a binary protocol. */
  readonly refuseText: boolean;
  /** Where unfinished input is accounted and timed, shared by all sockets; null: only `maxPayload` bounds it. */
  readonly inputLimits: InputLimits | null;
}

/** Fragments one message may come in: a client sending one-byte fragments is cut off. */
const MAX_FRAGMENTS = 16_384;
/**
 * Bytes of the chunk it was read from that a delivered message may keep alive besides its own;
 * past this it is copied (see `deliver`).
 */
const RETAINED_SLACK = 4096;

export const OPCODE_CONTINUATION = 0x0;
export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

/** What `readFrame` returns for a frame that failed the connection. */
export const FAILED = 0;

export abstract class FrameReceiver implements InputHolder {
  /** A close frame was received, or a frame broke the protocol: nothing more is read. */
  protected doneReading = false;
  /**
   * This side sent its close frame: only the client's close frame matters now, and anything else is
   * passed over without being buffered (still counted against the frame rate).
   */
  protected closing = false;
  /** Bytes of a frame being passed over (while closing) still to come. */
  private skip = 0;
  /** A frame that spans chunks, while it does (an object only then: most sockets hold none). */
  private pending: PendingFrame | null = null;
  /** A message sent in fragments, while it is (likewise). */
  private fragmented: FragmentedMessage | null = null;
  /** Null without a frame rate limit. */
  private readonly frames: TokenBucket | null;
  /** What this socket last reported holding to `inputLimits`. */
  private reported = 0;
  /** No frame has come yet (`inputLimits` waits for the first). */
  private silent = true;

  constructor(
    protected readonly limits: ReceiveLimits,
    /** permessage-deflate as agreed with this client, or null. */
    protected readonly deflate: DeflateParams | null,
  ) {
    this.frames = limits.maxFrameRate === 0 ? null : new TokenBucket(limits.maxFrameRate, limits.maxFrameRate * 2);
  }

  /** Bytes held for a frame or message not complete yet. */
  get bufferedInput(): number {
    return (this.pending?.capacity ?? 0) + (this.fragmented?.length ?? 0);
  }

  /** Closes the connection for breaking an input limit (see `InputLimits`). */
  refuseInput(code: number, reason: string): void {
    this.fail(code, reason);
  }

  /** A whole message, inflated. */
  protected abstract message(data: Uint8Array, binary: boolean): void;
  /** A control frame (ping, pong or close), checked. */
  protected abstract control(opcode: number, payload: Uint8Array): void;
  /** Fails the connection with a close code and a reason; returns `FAILED`. */
  protected abstract fail(code: number, reason: string): typeof FAILED;
  /** False once the TCP connection closed: nothing more is parsed. */
  protected abstract get connected(): boolean;

  /** Starts watching the first frame's deadline (see `InputLimits`). */
  protected awaitFirstFrame(): void {
    this.limits.inputLimits?.started(this);
  }

  /** Reads one chunk from the socket. */
  protected read(chunk: Buffer): void {
    let data = chunk;
    while (!this.doneReading && data.length > 0) {
      if (this.skip > 0) {
        const skipped = Math.min(this.skip, data.length);
        this.skip -= skipped;
        data = data.subarray(skipped);
        continue;
      }
      const pending = this.pending;
      if (pending === null) {
        this.readFrames(data);
        break;
      }
      data = pending.append(data);
      if (pending.length < pending.needed) break;
      // The frame (or the header that says how long it is) is whole: read it, then what follows.
      this.pending = null;
      this.readFrames(pending.bytes());
    }
    this.report();
  }

  /** This side is closing: the message being gathered is dropped, and what comes is passed over until the client's close frame. */
  protected passOverMessages(): void {
    this.closing = true;
    this.fragmented = null;
    this.report();
  }

  /** Forgets what was gathered (the connection is closing); nothing more is read. */
  protected dropInput(): void {
    this.fragmented = null;
    this.pending = null;
    this.report();
    if (this.silent) this.limits.inputLimits?.heard(this);
    this.silent = false;
  }

  /** Reads the frames in `data`, keeping an incomplete last one for the next chunk. */
  private readFrames(data: Buffer): void {
    let offset = 0;
    while (offset < data.length && !this.doneReading && this.connected) {
      const length = this.readFrame(data, offset);
      if (length > 0) {
        offset += length;
        continue;
      }
      // Kept as a copy, not a view: a few header bytes must not keep a whole chunk alive.
      if (length < 0) this.pending = new PendingFrame(data.subarray(offset), -length);
      return;
    }
  }

  /**
   * Reads the frame at `offset`. Returns its length; minus the bytes needed before trying again
   * when `data` does not hold all of it yet; `FAILED` when it broke the protocol or a limit.
   */
  private readFrame(data: Buffer, offset: number): number {
    const available = data.length - offset;
    if (available < 2) return -2;
    const first = data[offset]!;
    const second = data[offset + 1]!;
    const fin = (first & 0x80) !== 0;
    const reserved = first & 0x70;
    const opcode = first & 0x0f;
    const control = opcode >= OPCODE_CLOSE;
    if (reserved !== 0 && (reserved !== 0x40 || this.deflate === null)) {
      return this.fail(CLOSE.protocolError, 'reserved bits must be clear: no extension uses them');
    }
    if ((second & 0x80) === 0) return this.fail(CLOSE.protocolError, 'client frames must be masked');
    const shortLength = second & 0x7f;
    if (control) {
      if (opcode > OPCODE_PONG) return this.fail(CLOSE.protocolError, `unknown opcode ${opcode}`);
      if (!fin) return this.fail(CLOSE.protocolError, 'control frames must not be fragmented');
      if (shortLength > 125) return this.fail(CLOSE.protocolError, 'control frames carry at most 125 bytes');
      if (opcode === OPCODE_CLOSE && shortLength === 1) return this.fail(CLOSE.protocolError, 'a close frame cannot carry 1 byte');
    } else if (opcode === OPCODE_CONTINUATION) {
      if (this.fragmented === null) return this.fail(CLOSE.protocolError, 'a continuation frame without a message to continue');
      if (this.fragmented.fragments >= MAX_FRAGMENTS) return this.fail(CLOSE.policyViolation, `a message may come in at most ${MAX_FRAGMENTS} fragments`);
    } else if (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY) {
      if (this.fragmented !== null) return this.fail(CLOSE.protocolError, 'a new message before the fragmented one ended');
      if (opcode === OPCODE_TEXT && this.limits.refuseText)
        return this.fail(CLOSE.unsupportedData, 'text frames are not supported: send binary y-websocket messages');
    } else {
      return this.fail(CLOSE.protocolError, `unknown opcode ${opcode}`);
    }
    if (reserved !== 0 && (control || opcode === OPCODE_CONTINUATION)) {
      return this.fail(CLOSE.protocolError, 'only the first frame of a message may be compressed');
    }

    const lengthBytes = shortLength === 126 ? 2 : shortLength === 127 ? 8 : 0;
    const headerLength = 2 + lengthBytes + 4;
    if (available < headerLength) return -headerLength;
    let payloadLength = shortLength;
    if (lengthBytes === 2) {
      payloadLength = data.readUInt16BE(offset + 2);
    } else if (lengthBytes === 8) {
      const high = data.readUInt32BE(offset + 2);
      // RFC 6455, section 5.2: the most significant bit of a 64-bit length must be 0.
      if (high >= 0x80000000) return this.fail(CLOSE.protocolError, 'a 64-bit payload length must have its most significant bit clear');
      // Anything past 2^32 is far over any limit this server takes (and past 2^53 not a safe integer).
      if (high !== 0) return this.fail(CLOSE.messageTooBig, `message too big: the limit is ${this.limits.maxPayload} bytes`);
      payloadLength = data.readUInt32BE(offset + 6);
    }
    if (this.closing && opcode !== OPCODE_CLOSE) return this.passOver(available, headerLength + payloadLength);
    if (!control && (this.fragmented?.length ?? 0) + payloadLength > this.limits.maxPayload) {
      // Refused before its payload is buffered.
      return this.fail(CLOSE.messageTooBig, `message too big: the limit is ${this.limits.maxPayload} bytes`);
    }
    const frameLength = headerLength + payloadLength;
    if (available < frameLength) return -frameLength;

    // A whole frame: it counts against the rate, whatever its kind.
    if (this.frames !== null && !this.frames.take()) {
      return this.fail(CLOSE.policyViolation, `too many messages: the limit is ${this.limits.maxFrameRate} per second`);
    }
    if (this.silent) {
      this.silent = false;
      this.limits.inputLimits?.heard(this);
    }
    const payload = data.subarray(offset + headerLength, offset + frameLength);
    unmask(payload, data, offset + headerLength - 4);
    if (control) this.control(opcode, payload);
    else this.onData(opcode, fin, reserved !== 0, payload);
    return frameLength;
  }

  /** While closing: a frame that is not a close frame goes unread, and unbuffered; returns the bytes taken now. */
  private passOver(available: number, frameLength: number): number {
    if (this.frames !== null && !this.frames.take())
      return this.fail(CLOSE.policyViolation, `too many messages: the limit is ${this.limits.maxFrameRate} per second`);
    if (available >= frameLength) return frameLength;
    this.skip = frameLength - available;
    return available;
  }

  private onData(opcode: number, fin: boolean, compressed: boolean, payload: Uint8Array): void {
    const fragmented = this.fragmented;
    if (fragmented === null) {
      if (fin) this.deliver(payload, opcode === OPCODE_BINARY, compressed);
      else this.fragmented = new FragmentedMessage(payload, opcode === OPCODE_BINARY, compressed);
      return;
    }
    fragmented.add(payload);
    if (!fin) return;
    this.fragmented = null;
    this.deliver(fragmented.bytes(), fragmented.binary, fragmented.compressed);
  }

  /**
   * Reports a message, inflated if compressed, and copied if the buffer it is a view of holds much
   * more than it: many frames read in one chunk must not all stay in memory for as long as one
   * small message is kept (a document keeps views into the updates it applied).
   */
  private deliver(message: Uint8Array, binary: boolean, compressed: boolean): void {
    let data = message;
    if (compressed) {
      try {
        data = inflateMessage(message, this.limits.maxPayload);
      } catch (error) {
        if (!(error instanceof InflateError)) throw error;
        this.fail(error.tooBig ? CLOSE.messageTooBig : CLOSE.invalidPayload, error.message);
        return;
      }
    }
    const kept = data.buffer.byteLength - data.byteLength > RETAINED_SLACK ? new Uint8Array(data) : data;
    this.message(kept, binary);
  }

  /** Tells `inputLimits` what this socket holds now, if that changed. */
  private report(): void {
    const limits = this.limits.inputLimits;
    if (limits === null) return;
    const held = this.bufferedInput;
    if (held === this.reported) return;
    const delta = held - this.reported;
    this.reported = held;
    limits.changed(this, delta);
  }
}
