/**
 * The outages of a `LevelDocumentStore` (docs/decisions/2026-12-07-transient-store-failures.md).
 * A write that fails with an error that can pass (`io-errors.ts`: no descriptors, no disk space)
 * makes the store unavailable (`availability.ts`) until an attempt to recover, which does in this
 * process what a restart would, succeeds; any other failure of the journal, or of LevelDB under
 * journaled appends, fails it for good.
 */
import { StoreAvailability } from '../availability.js';
import { StoreUnavailableError, StoreWriteError } from '../document-store.js';
import { canPass, reasonOf } from './io-errors.js';
import type { Journal } from './journal.js';
import { encodeSeq, type LevelDatabase, readIndexedSeq, SEQ_KEY } from './keys.js';
import type { MetaCache } from './meta-cache.js';
import type { WriteQueue } from './write-queue.js';

/** The outages of one store (see the top of this file). */
export class Outages {
  /** Whether the store takes reads and writes, and its attempts to recover when it does not. */
  readonly availability = new StoreAvailability(() => this.recover(), canPass);
  /** Whether LevelDB failed a write since the store last worked: recovering opens it again. */
  private levelFailed = false;

  /** `idle` resolves once the store's writes and reads under way are over, however they end. */
  constructor(
    private readonly db: LevelDatabase,
    private readonly journal: Journal,
    private readonly metas: MetaCache,
    private readonly writer: WriteQueue,
    private readonly fsync: boolean,
    private readonly idle: () => Promise<void>,
  ) {}

  /** What reads and writes reject with now: null while the store works. */
  get failure(): StoreWriteError | null {
    return this.availability.failure;
  }

  /** LevelDB could not index journaled appends (the writer's `WriterHost.indexFailed`). */
  indexFailed(error: StoreWriteError): void {
    // Not a batch the writer skipped because the store was down: LevelDB itself failed.
    if (error !== this.failure) this.levelFailed = true;
    this.writeFailed(error, 'LevelDB could not index journaled updates', 'they are kept in the journal');
  }

  /**
   * A write to the journal, or LevelDB's indexing of journaled appends, failed (`what`; `kept`
   * says where its updates are, if anywhere). With an error that can pass, the store is
   * unavailable until it recovers; otherwise it fails for good. Either way it takes nothing more
   * (LevelDB may lack journaled appends, which reads would miss), and the journal keeps what it
   * has. Nothing when the store is down already: its recovery, or the next start, redoes whatever
   * failed since.
   */
  writeFailed(error: StoreWriteError, what: string, kept: string | null): void {
    if (this.failure) return;
    const reason = reasonOf(error);
    if (canPass(error)) {
      const message = `The store is unavailable: ${what} (${reason}); ${kept === null ? '' : `${kept}, and `}it retries on its own`;
      this.availability.suspend(new StoreUnavailableError(message, { cause: error }));
    } else {
      const message = `The store failed: ${what} (${reason})${kept === null ? '' : `; ${kept} for the next start`}`;
      this.availability.fail(new StoreWriteError(message, { cause: error }));
    }
  }

  /**
   * One attempt to recover from an error that can pass, doing in this process what a restart
   * would. Once the writer and the reads are done (nothing new starts while the store is down):
   * if LevelDB failed a write (its own, or this recovery's last), it is closed and opened again
   * (it keeps a background error until then); the journal's records past what LevelDB holds are
   * indexed (or, with none, the indexed sequence number is written again); and the journal takes
   * a probe write. Both have taken a write when it resolves.
   */
  private async recover(): Promise<void> {
    await this.idle();
    const reopen = this.levelFailed;
    // Until LevelDB has taken the write below: an error it kept from before fails the next attempt too.
    this.levelFailed = true;
    if (reopen) {
      await this.db.close();
      await this.db.open();
      this.metas.clear();
    }
    const indexed = await readIndexedSeq(this.db);
    this.writer.indexedSeq = indexed;
    const unindexed = this.journal.readBack(indexed);
    if (unindexed.length > 0) await this.writer.replay(unindexed);
    else await this.db.put(SEQ_KEY, encodeSeq(indexed), { sync: this.fsync });
    this.levelFailed = false;
    this.journal.release(this.writer.indexedSeq);
    this.journal.probe();
  }
}
