/**
 * The writes of a `LevelDocumentStore` in call order, and the last one to each document, which a
 * read of it waits for. Sequence numbers are store-wide and assigned here when `append` is called,
 * so an append never reads before it writes.
 *
 * Appends made together form a group (`group-commit.ts`), written to the journal (`journal.ts`)
 * with one synchronous write: that makes them durable, and they resolve then (after an fdatasync
 * with `fsync`). The group then joins the queue that indexes everything into LevelDB
 * (`write-queue.ts`), off the appends' path. Compactions and deletions are queued tasks too,
 * which seal the open group first: the queue's order is call order.
 */
import type { Deferred } from '../deferred.js';
import { type Position, StoreWriteError, type Written } from '../document-store.js';
import { type AppendGroup, GroupCommit } from '../group-commit.js';
import type { Journal } from './journal.js';
import type { JournalRecord } from './journal-records.js';
import type { Outages } from './outages.js';
import type { DocumentTask, WriteQueue, WriteTask } from './write-queue.js';

type Group = AppendGroup<JournalRecord, Written>;

/** The write order of one store (see the top of this file). */
export class WriteOrder {
  private seq: number;
  private readonly groups = new GroupCommit<JournalRecord, Written>((group) => this.journalGroup(group));
  /** The last write touching each document (an open group, or a queued task), so reads can wait for it. */
  private readonly lastWrite = new Map<string, Group | WriteTask>();

  /** `lastSeq` is the highest sequence number in use; a write that fails reports to `outages`. */
  constructor(
    private readonly journal: Journal,
    private readonly writer: WriteQueue,
    lastSeq: number,
    private readonly fsync: boolean,
    private readonly outages: Outages,
  ) {
    this.seq = lastSeq;
  }

  /** The highest sequence number given to an append. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Adds the update to the open group, at the next sequence number; resolves once the group is durable. */
  append(name: string, update: Uint8Array): Promise<Written> {
    const group = this.groups.add({ name, seq: ++this.seq, update });
    this.lastWrite.set(name, group);
    return group.result;
  }

  /** Seals the open group, if any: before the store closes. */
  seal(): void {
    this.groups.seal();
  }

  /** Queues a compaction, a deletion or a change of versions behind every write made before it. */
  enqueue(task: DocumentTask): Promise<void> {
    this.groups.seal();
    this.writer.enqueue(task);
    this.lastWrite.set(task.name, task);
    // A promise of the caller's own, so that ignoring a failure is still reported as unhandled.
    return task.done.promise.then(() => undefined);
  }

  /** Waits for the queued writes to the document; rejects while the store is down, since reads could miss journaled appends. */
  async writtenTo(name: string): Promise<void> {
    const pending = this.lastWrite.get(name);
    if (pending) await pending.done.promise.catch(() => undefined);
    if (this.outages.failure) throw this.outages.failure;
  }

  /** The writer is done with `task` (`WriterHost.forget`): reads of its documents need not wait for it. */
  forget(task: WriteTask): void {
    const names = task.kind === 'index' ? task.added.keys() : task.kind === 'event' ? [] : [task.name];
    for (const name of names) if (this.lastWrite.get(name) === task) this.lastWrite.delete(name);
  }

  /** Every write not yet over: the writer's tasks, and the open group. */
  outstanding(): Array<{ readonly done: Deferred }> {
    const tasks: Array<{ readonly done: Deferred }> = this.writer.outstanding();
    const open = this.groups.openGroup;
    if (open !== null) tasks.push(open);
    return tasks;
  }

  /**
   * Journals a sealed group (one synchronous write), settles its appends, and queues it for
   * LevelDB. A group that cannot be journaled is not stored: its appends reject.
   */
  private journalGroup(group: Group): void {
    const appends = group.entries;
    try {
      if (this.outages.failure) throw this.outages.failure;
      this.journal.write(appends);
    } catch (cause) {
      const error = cause instanceof StoreWriteError ? cause : new StoreWriteError(describeAppends(appends), { cause });
      group.durable.reject(error);
      group.done.reject(error);
      // Reads of these documents must still wait for the writes queued before this group.
      const before = this.writer.last;
      for (const { name } of appends) {
        if (this.lastWrite.get(name) !== group) continue;
        if (before) this.lastWrite.set(name, before);
        else this.lastWrite.delete(name);
      }
      if (error !== cause) this.outages.writeFailed(error, 'the journal could not be written', null);
      return;
    }
    const written = new WrittenGroup(appends);
    if (this.fsync) {
      // The journal's syncs are group commits that settle in order: groups are durable in order.
      this.journal.sync().then(
        () => group.durable.resolve(written),
        (cause: unknown) => {
          const error = new StoreWriteError(describeAppends(appends), { cause });
          group.durable.reject(error);
          // What a file holds on disk after a failed sync is unknown, and the journal takes no more.
          this.outages.availability.fail(new StoreWriteError('The store failed: the journal could not be synced to disk', { cause: error }));
        },
      );
    } else {
      group.durable.resolve(written);
    }
    const task = this.writer.index(appends, group.done);
    for (const { name } of appends) if (this.lastWrite.get(name) === group) this.lastWrite.set(name, task);
  }
}

/** Where a journaled group left each document: the sequence number of its last update there. Keeps none of the updates. */
class WrittenGroup implements Written {
  private readonly last = new Map<string, number>();

  constructor(appends: readonly JournalRecord[]) {
    for (const { name, seq } of appends) this.last.set(name, seq);
  }

  position(name: string): Position {
    const position = this.last.get(name);
    if (position === undefined) throw new RangeError(`this write held no update of ${JSON.stringify(name)}`);
    return position;
  }
}

function describeAppends(appends: readonly JournalRecord[]): string {
  return `Could not write ${appends.length} update(s); they are not stored`;
}
