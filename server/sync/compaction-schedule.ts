/**
 * When a room compacts its update log into the store's snapshot: once the log is long,
 * queued on the shared background queue (`background.ts`) rather than where it became due, and
 * once more when the room unloads, so the next load reads one record.
 */
import type * as Y from 'yjs';
import type { DocumentStore, Position } from '../../persistence/document-store.js';
import type { Logger } from '../logger.js';
import type { BackgroundQueue } from './background.js';
import { encodeIntegrated } from './waiting.js';

/** What the schedule needs of its room. */
export interface CompactionHost {
  readonly name: string;
  readonly doc: Y.Doc;
  /** The room failed: nothing more is compacted. */
  readonly failed: boolean;
  /** Updates appended whose write has not completed. */
  readonly unstored: number;
  /** The position of the last update stored. */
  readonly head: Position;
  /** Resolves once every update applied so far is stored (or the room failed). */
  drain(): Promise<void>;
  /** The document was encoded, `bytes` long (see `DocumentSize`). */
  measured(bytes: number): void;
  readonly log: Logger;
}

/** The options every room's compactions share. */
export interface CompactionOptions {
  /**
   * Compact the log once it holds this many updates. Each compaction picks its own point between three
   * quarters of this and all of it (see `nextCompactionAt`).
   */
  readonly compactAfter: number;
  /** Where a compaction that is due waits its turn: shared by every room. */
  readonly background: BackgroundQueue;
}

/** One room's compactions (see the top of this file). */
export class CompactionSchedule {
  /** Updates in the store's log since the last compaction. */
  private logLength: number;
  private compaction: Promise<void> | null = null;
  /** The log length at which the next compaction is due. */
  private compactAt: number;
  /** A compaction is queued on the background queue and has not run yet. */
  private queued = false;
  private stopped = false;

  constructor(
    private readonly host: CompactionHost,
    private readonly store: DocumentStore,
    private readonly options: CompactionOptions,
    logLength: number,
  ) {
    this.logLength = logLength;
    this.compactAt = nextCompactionAt(options.compactAfter);
    this.queueIfDue();
  }

  /** An update was appended to the log. */
  appended(): void {
    this.logLength++;
    this.queueIfDue();
  }

  /** Drains, then compacts the whole log (the room unloads). */
  async compactNow(): Promise<void> {
    await this.host.drain();
    if (this.host.failed) return;
    await this.compaction;
    if (this.logLength > 0) await this.compact();
  }

  /** No more compactions (the room is unloaded). */
  stop(): void {
    this.stopped = true;
  }

  /** Queues a compaction once the log reaches `compactAt`. */
  private queueIfDue(): void {
    if (this.stopped || this.queued || this.compaction || this.logLength < this.compactAt) return;
    this.queued = true;
    this.options.background.add(this.compactIfDue);
  }

  /** The queued compaction: by its turn the room may have compacted on its way out, been unloaded, or failed. */
  private readonly compactIfDue = (): void => {
    this.queued = false;
    if (this.stopped || this.host.failed || this.compaction || this.logLength < this.compactAt) return;
    void this.compact();
  };

  private compact(): Promise<void> {
    // What the store compacts: every update stored so far; those still being written stay in its log.
    const compacted = this.logLength - this.host.unstored;
    const upTo = this.host.head;
    const started = performance.now();
    const state = encodeIntegrated(this.host.doc);
    const encodeMs = performance.now() - started;
    this.host.measured(state.length);
    const compaction = this.store.compact(this.host.name, state, upTo).then(
      () => {
        this.logLength -= compacted;
        this.compaction = null;
        this.compactAt = nextCompactionAt(this.options.compactAfter);
        if (this.host.log.isLevelEnabled('debug')) {
          const done = { updates: compacted, bytes: state.length, encodeMs: Math.round(encodeMs * 10) / 10, logged: this.logLength };
          this.host.log.debug(done, 'compacted the update log into the snapshot');
        }
        // Updates that arrived meanwhile may have filled the log again.
        this.queueIfDue();
      },
      (error: unknown) => {
        this.compaction = null;
        // Nothing is lost: the log stays as it was and the next update past the threshold tries again.
        this.host.log.error({ err: error }, 'compaction failed; the update log is kept and compaction will be retried');
      },
    );
    this.compaction = compaction;
    return compaction;
  }
}

/**
 * Where the next compaction of a room is due: a random point between three quarters of `compactAfter`
 * and all of it, so that rooms with the same traffic do not all reach it in the same moment and
 * compact together, every time.
 */
export function nextCompactionAt(compactAfter: number): number {
  return compactAfter - Math.floor(Math.random() * (Math.floor(compactAfter / 4) + 1));
}
