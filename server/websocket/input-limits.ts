/**
 * What incoming data may hold of the server, across all sockets: no socket keeps an unfinished
 * message (a fragmented one, or a frame that spans reads) for longer than `messageTimeoutMs`, every
 * socket sends its first frame within `firstFrameTimeoutMs` of its upgrade, and all the bytes held
 * for unfinished messages together stay under `maxBufferedBytes`: past it, the sockets holding the
 * most are closed (1013) until the rest fits. One sweep a fraction of a timeout apart checks the
 * deadlines, and runs only while some socket is watched, so an idle server does no work for it.
 */
import { CLOSE } from './close-codes.js';

/** A socket, as the limits see it. */
export interface InputHolder {
  /** Bytes held for a message or frame not complete yet. */
  readonly bufferedInput: number;
  /** Closes the socket for breaking a limit: a close frame with `code` and `reason`, then the connection ends. */
  refuseInput(code: number, reason: string): void;
}

export interface InputLimitOptions {
  /** Bytes of unfinished incoming messages all sockets together may hold. */
  readonly maxBufferedBytes: number;
  /** Milliseconds a message may take to arrive in full once its first byte has. */
  readonly messageTimeoutMs: number;
  /** Milliseconds a socket may take, from its upgrade, to send its first frame. */
  readonly firstFrameTimeoutMs: number;
}

export class InputLimits {
  /** Sockets holding unfinished input, with when they started to. */
  private readonly holding = new Map<InputHolder, number>();
  /** Sockets that have sent no frame yet, with when they started. */
  private readonly silent = new Map<InputHolder, number>();
  private held = 0;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(readonly options: InputLimitOptions) {}

  /** Bytes of unfinished input all sockets hold now. */
  get bufferedBytes(): number {
    return this.held;
  }

  /** A socket started: it must send a frame in time. */
  started(socket: InputHolder): void {
    this.silent.set(socket, performance.now());
    this.sweepSoon();
  }

  /** A socket sent a frame. */
  heard(socket: InputHolder): void {
    this.silent.delete(socket);
  }

  /**
   * A socket's unfinished input changed by `delta` bytes (its `bufferedInput` is the new total; 0
   * when it holds nothing). Past the server's budget, the sockets holding the most are closed.
   */
  changed(socket: InputHolder, delta: number): void {
    this.held += delta;
    if (socket.bufferedInput === 0) this.holding.delete(socket);
    else if (!this.holding.has(socket)) {
      this.holding.set(socket, performance.now());
      this.sweepSoon();
    }
    if (this.held > this.options.maxBufferedBytes) this.shed();
  }

  /** A socket closed: it holds nothing and waits for nothing. */
  closed(socket: InputHolder): void {
    this.silent.delete(socket);
    if (this.holding.delete(socket)) this.held -= socket.bufferedInput;
  }

  /** Closes the sockets holding the most until the others fit in the budget. */
  private shed(): void {
    const largest = [...this.holding.keys()].sort((a, b) => b.bufferedInput - a.bufferedInput);
    const reason = 'the server holds too much unfinished input from its clients; send again later';
    for (const socket of largest) {
      if (this.held <= this.options.maxBufferedBytes) break;
      socket.refuseInput(CLOSE.tryAgainLater, reason);
    }
  }

  private sweepSoon(): void {
    if (this.sweeper !== null) return;
    const period = Math.max(10, Math.min(1000, this.options.messageTimeoutMs / 4, this.options.firstFrameTimeoutMs / 4));
    this.sweeper = setInterval(this.sweep, period);
    this.sweeper.unref();
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    const { messageTimeoutMs, firstFrameTimeoutMs } = this.options;
    for (const [socket, since] of this.silent) {
      if (now - since >= firstFrameTimeoutMs) socket.refuseInput(CLOSE.policyViolation, `no message within ${firstFrameTimeoutMs} ms of the upgrade`);
    }
    for (const [socket, since] of this.holding) {
      if (now - since >= messageTimeoutMs)
        socket.refuseInput(CLOSE.policyViolation, `a message must arrive in full within ${messageTimeoutMs} ms of its first byte`);
    }
    if (this.silent.size === 0 && this.holding.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  };
}
