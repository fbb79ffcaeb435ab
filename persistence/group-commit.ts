/**
 * Group commit: appends made together, across all documents, are written together.
 *
 * Appends join the open group; the group is sealed (handed to the store's `commit`, which writes
 * it in one go) once the code that made them is done. When depends on how busy the event loop is:
 *
 * - Mostly idle (under half of the last `LOOP_SAMPLE_MS` spent running code): a microtask later,
 *   so a socket read's updates are durable, and broadcast, before the next read is handled.
 * - Busy: at the end of the turn's I/O callbacks (`setImmediate`). A busy turn handles many socket
 *   reads; their appends, across all documents, then take one write, and each document's updates
 *   go out in one socket write per connection. Waiting for the end of the turn can only delay the
 *   first reads' updates, so it is done only when busy (docs/decisions/2026-12-07-journal-before-leveldb.md).
 *
 * Every append of a group gets the group's one promise: one per update would allocate, on the hot
 * path, what outlives a young-generation collection.
 */
import { type Deferred, handledDeferred } from './deferred.js';
import { LoopLoad } from './loop-load.js';

/** The event loop's utilization from which appends are grouped by turn, and how often it is sampled. */
const BUSY_LOOP_UTILIZATION = 0.5;
/** How often the event loop's load is sampled, in milliseconds. */
export const LOOP_SAMPLE_MS = 50;

/**
 * Appends gathered to be written together. `durable` settles the callers' promise (`result`) with
 * what the store resolves it with; `done` settles once everything the store does with the group
 * is over (a write behind the durable one, say), for `flush` and `close`.
 */
export interface AppendGroup<E, R> {
  readonly entries: E[];
  readonly durable: Deferred<R>;
  readonly done: Deferred<void>;
  /** The promise every append of the group returns: the callers' own. */
  readonly result: Promise<R>;
}

/** Gathers appends of type `E` into groups whose callers' promise resolves with `R` (see the top of this file). */
export class GroupCommit<E, R> {
  private open: AppendGroup<E, R> | null = null;
  private scheduled = false;
  private readonly loopLoad = new LoopLoad(BUSY_LOOP_UTILIZATION, LOOP_SAMPLE_MS);

  /** `commit` writes a sealed group and settles its `durable` (and later its `done`); it must not throw. */
  constructor(private readonly commit: (group: AppendGroup<E, R>) => void) {}

  /** The group new appends join, if one is open. */
  get openGroup(): AppendGroup<E, R> | null {
    return this.open;
  }

  /** Adds `entry` to the open group (opening one if needed), which is sealed once the caller's code is done; returns the group. */
  add(entry: E): AppendGroup<E, R> {
    let group = this.open;
    if (group === null) {
      const durable = handledDeferred<R>();
      group = { entries: [], durable, done: handledDeferred(), result: durable.promise.then((value) => value) };
      this.open = group;
    }
    group.entries.push(entry);
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.loopLoad.isBusy()) setImmediate(this.sealScheduled);
      else queueMicrotask(this.sealScheduled);
    }
    return group;
  }

  /** Seals the open group now, if there is one: before a write that must follow it, or a close. */
  seal(): void {
    const group = this.open;
    if (group === null) return;
    this.open = null;
    this.commit(group);
  }

  private readonly sealScheduled = (): void => {
    this.scheduled = false;
    this.seal();
  };
}
