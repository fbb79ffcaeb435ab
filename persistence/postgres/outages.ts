/**
 * The outages of a `PostgresDocumentStore`, and the connections they replace. Every request of the
 * store goes through `guard`: an error that can pass (`errors.ts`: PostgreSQL out of reach,
 * restarting, out of disk) makes the store unavailable (`availability.ts`); it rejects every call
 * until an attempt to recover (fresh connections, each checked as at opening, and a write to the
 * format marker) succeeds. Any other error fails it for good.
 */
import { StoreAvailability } from '../availability.js';
import { StoreUnavailableError, StoreWriteError } from '../document-store.js';
import type { Pools } from './connections.js';
import { canPass, reasonOf } from './errors.js';
import { probe } from './schema.js';

/** The outages of one store (see the top of this file). */
export class Outages {
  /** Whether the store takes reads and writes, and its attempts to recover when it does not. */
  readonly availability = new StoreAvailability(() => this.recover(), canPass);

  /** `idle` resolves once the store's writes and reads under way are over, however they end. */
  constructor(
    private current: Pools,
    private readonly makePools: () => Pools,
    private readonly schema: string,
    private readonly idle: () => Promise<void>,
  ) {}

  /** The connections to use now: fresh ones once the store has recovered from an outage. */
  get pools(): Pools {
    return this.current;
  }

  /** What reads and writes reject with now: null while the store works. */
  get failure(): StoreWriteError | null {
    return this.availability.failure;
  }

  /**
   * Runs `body` against the database while the store works. A failure of the database makes the
   * store unavailable (an error that can pass) or failed for good (any other), and `body`'s
   * promise rejects with that error; RangeError (a broken contract) passes through as it is.
   */
  async guard<T>(body: () => Promise<T>): Promise<T> {
    if (this.failure) throw this.failure;
    try {
      return await body();
    } catch (cause) {
      if (cause instanceof RangeError) throw cause;
      if (this.failure) throw this.failure;
      const reason = reasonOf(cause);
      if (canPass(cause)) {
        const error = new StoreUnavailableError(`The store is unavailable: PostgreSQL failed a request (${reason}); it retries on its own`, { cause });
        this.availability.suspend(error);
        throw error;
      }
      const error = new StoreWriteError(`The store failed: PostgreSQL failed a request (${reason})`, { cause });
      this.availability.fail(error);
      throw error;
    }
  }

  /**
   * One attempt to recover, doing what a restart would: once the writes and reads under way are
   * over (nothing new starts while the store is down), fresh connections replace the old (each
   * checked for durability as it connects), and a write to the format marker proves the database
   * takes writes and still holds this store.
   */
  private async recover(): Promise<void> {
    await this.idle();
    const fresh = this.makePools();
    try {
      await probe(fresh.writer, this.schema);
    } catch (error) {
      await fresh.end();
      throw error;
    }
    const old = this.current;
    this.current = fresh;
    void old.end();
  }
}
