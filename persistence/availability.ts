/**
 * Whether a store takes reads and writes, and what the listeners of `DocumentStore.onFailure` and
 * `onRecovery` hear. A store is in one of three states:
 *
 * - **available**;
 * - **unavailable** (`suspend`), after an error that can pass: it tries to recover on its own,
 *   first `RETRY_FIRST_MS` later, then twice as late after each failed attempt, up to
 *   `RETRY_MAX_MS`, and is available again once an attempt succeeds;
 * - **failed** for good (`fail`), after an error that leaves stored data in doubt, or one an
 *   attempt met that cannot pass: until the process restarts.
 *
 * Each store keeps one, so that every store reports the same states the same way. Failure
 * listeners are called on a later microtask, never from inside a call to the store (a write that
 * fails as it is made, say), since they act on everything that uses the store.
 */
import { StoreUnavailableError, StoreWriteError } from './document-store.js';

/** The wait before the first attempt to recover; it doubles after each failed attempt, up to `RETRY_MAX_MS`. */
export const RETRY_FIRST_MS = 100;
/** The longest wait between two attempts to recover. */
export const RETRY_MAX_MS = 5_000;
/**
 * An outage that begins sooner than this after a recovery resumes the waits where they were,
 * rather than at `RETRY_FIRST_MS`: a cause that passes only briefly (a disk with a little room
 * freed) must not fail every document ten times a second.
 */
const SETTLED_MS = 30_000;

/** The availability of one store (see the top of this file). */
export class StoreAvailability {
  private current: StoreWriteError | null = null;
  private readonly failureListeners: Array<(error: StoreWriteError) => void> = [];
  private readonly recoveryListeners: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;
  private attempting: Promise<void> | null = null;
  private delay = RETRY_FIRST_MS;
  private recoveredAt = Number.NEGATIVE_INFINITY;
  private stopped = false;

  /**
   * `recover` tries to bring the store back, and resolves once it takes writes again (it has
   * written something); `canPass` tells whether an error it met can pass (the store keeps
   * trying) or not (the store fails for good).
   */
  constructor(
    private readonly recover: () => Promise<void>,
    private readonly canPass: (error: unknown) => boolean,
  ) {}

  /** What reads and writes reject with now: null while available. */
  get failure(): StoreWriteError | null {
    return this.current;
  }

  /** Whether the store is unavailable for now (and trying to recover), rather than available or failed for good. */
  get unavailable(): boolean {
    return this.current instanceof StoreUnavailableError;
  }

  onFailure(listener: (error: StoreWriteError) => void): void {
    this.failureListeners.push(listener);
  }

  onRecovery(listener: () => void): void {
    this.recoveryListeners.push(listener);
  }

  /**
   * The store takes nothing more until it recovers: schedules the first attempt (unless stopped)
   * and tells the failure listeners. Does nothing when it is unavailable or failed already, so an
   * outage is reported once however many writes it fails.
   */
  suspend(error: StoreUnavailableError): void {
    if (this.current !== null) return;
    this.current = error;
    if (performance.now() - this.recoveredAt > SETTLED_MS) this.delay = RETRY_FIRST_MS;
    this.schedule();
    this.tell(error);
  }

  /** The store failed for good: it stops trying, and the failure listeners hear of it once. */
  fail(error: StoreWriteError): void {
    if (this.current !== null && !(this.current instanceof StoreUnavailableError)) return;
    this.current = error;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.tell(error);
  }

  /** Stops trying (the store closes); resolves once an attempt under way is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.attempting;
  }

  private tell(error: StoreWriteError): void {
    queueMicrotask(() => {
      for (const listener of this.failureListeners) listener(error);
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attempting = this.attempt().finally(() => {
        this.attempting = null;
      });
    }, this.delay);
    // An outage must not keep a process alive that has nothing else to do.
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
  }

  /** One attempt to recover; never rejects. */
  private async attempt(): Promise<void> {
    try {
      await this.recover();
    } catch (error) {
      if (!this.unavailable) return; // failed for good meanwhile
      if (this.canPass(error)) this.schedule();
      else this.fail(new StoreWriteError('The store failed: an attempt to recover from an outage met an error that does not pass', { cause: error }));
      return;
    }
    if (!this.unavailable) return;
    // Back, even if the store is closing meanwhile: it closes as a store that works.
    this.current = null;
    this.recoveredAt = performance.now();
    for (const listener of this.recoveryListeners) listener();
  }
}
