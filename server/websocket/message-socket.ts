/**
 * What a protocol's connection sees of its socket: whole messages in, messages out, pings, and
 * closing. The RFC 6455 socket (`websocket.ts`) is one; a protocol module (the sync engine's
 * `Connection`) takes any, so a second wire protocol on the same sockets is a module of its own.
 */

/** What a socket reports, to the one object that owns it. */
export interface MessageListener {
  /**
   * A complete message. `data` is a view into the bytes read, valid for as long as it is kept.
   * `binary` is false for a text message, reported as it is, its UTF-8 unchecked.
   */
  onMessage(data: Uint8Array, binary: boolean): void;
  /** A pong (the answer to `ping`). */
  onPong(): void;
  /** The socket failed; `onClose` follows. */
  onError(error: Error): void;
  /** The connection closed, for whatever reason. Called once; nothing is reported after it. */
  onClose(): void;
}

/**
 * One message sent to many sockets: the first socket that sends it builds its frame, and every
 * other writes that same frame, so a broadcast is framed once however many sockets it reaches.
 * Several such messages may go `together`, in one write.
 */
export class SharedMessage {
  /** The frame (or frames, one after the other), once a socket built it; only the transport uses it. */
  frame: Uint8Array | null = null;
  /** Likewise, compressed for the sockets that agreed to permessage-deflate with its standard window. */
  compressedFrame: Uint8Array | null = null;

  private constructor(
    /** The message; null for messages sent together. */
    readonly payload: Uint8Array | null,
    /** The messages sent together; null for one message. */
    readonly parts: readonly SharedMessage[] | null,
  ) {}

  /** One message. */
  static of(payload: Uint8Array): SharedMessage {
    return new SharedMessage(payload, null);
  }

  /** Several messages, in order, sent in one write (each framed once, whichever of them it was sent with). */
  static together(parts: readonly SharedMessage[]): SharedMessage {
    return new SharedMessage(null, parts);
  }
}

/** A socket as a protocol's connection uses it. */
export interface MessageSocket {
  /** True until a close is sent or received, the peer ends its side, or the connection drops. */
  readonly isOpen: boolean;
  /** Bytes written and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** The code and reason this side closed with, for the log; null until it does (or if the peer closed first). */
  readonly closedWith: { readonly code: number; readonly reason: string } | null;
  /** Sends one binary message; `onWritten` is called once it is handed to the operating system (or failed). */
  send(message: Uint8Array, onWritten?: () => void): void;
  /** Sends a message that other sockets send too (see `SharedMessage`). */
  sendShared(message: SharedMessage): void;
  ping(): void;
  /** Starts the closing handshake with `code` and `reason` (cut to what a close frame carries). Does nothing once closing. */
  close(code: number, reason: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
}
