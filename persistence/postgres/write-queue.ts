/**
 * The writes of a `PostgresDocumentStore` that run in order on the appends' connection. Appends
 * made together form a group (`group-commit.ts`); groups are written one at a time, in order, each
 * with those sealed while the previous one committed, as ONE statement (`batch.ts`). Deletions and
 * version writes wait for the groups before them. The queue also keeps every write of the store not
 * yet settled, those run beside it too (compactions, event writes), for `flush` and `close`; and
 * the last write to each document, which reads of it wait for.
 */
import type { Deferred } from '../deferred.js';
import type { Written } from '../document-store.js';
import { GroupCommit } from '../group-commit.js';
import type { VersionChanges } from '../versions.js';
import { BATCH_BYTES, documentsOf, type Group, groupBytes, writtenGroups } from './batch.js';
import type { Outages } from './outages.js';
import { type AppendEntry, appendUpdates, deleteDocument } from './statements.js';
import { writeVersions } from './versions.js';

/** A write that runs in order on the appends' connection. */
export type Task =
  | { readonly kind: 'append'; readonly group: Group }
  | { readonly kind: 'delete'; readonly name: string; readonly done: Deferred }
  | { readonly kind: 'versions'; readonly name: string; readonly changes: VersionChanges; readonly done: Deferred };

/** The write queue of one store (see the top of this file). */
export class WriteQueue {
  private readonly groups = new GroupCommit<AppendEntry, Written>((group) => this.enqueue({ kind: 'append', group }));
  private readonly tasks: Task[] = [];
  private writing = false;
  /** Every write not yet settled (sealed groups, deletions, compactions, event writes), for `flush` and `close`. */
  readonly writes = new Set<Deferred>();
  /** The last write of this store to each document, so that reads can wait for it. */
  private readonly lastWrite = new Map<string, { readonly done: Deferred }>();

  /** Writes go through `outages.guard`, on its pools, to the tables in `schema`. */
  constructor(
    private readonly outages: Outages,
    private readonly schema: string,
  ) {}

  /** Adds the update to the open group; resolves once the group is committed. */
  append(name: string, update: Uint8Array): Promise<Written> {
    const group = this.groups.add({ name, update });
    this.lastWrite.set(name, group);
    return group.result;
  }

  /** Seals the open group, if any: before the store closes. */
  seal(): void {
    this.groups.seal();
  }

  /** The last write of this store to `name` not yet settled, if any. */
  lastWriteTo(name: string): Deferred | undefined {
    return this.lastWrite.get(name)?.done;
  }

  /** Queues a deletion or a version write after the appends made before it; resolves when it is done. */
  enqueueOwn(task: Task & { kind: 'delete' | 'versions' }): Promise<void> {
    this.groups.seal();
    this.enqueue(task);
    this.lastWrite.set(task.name, task);
    // A promise of the caller's own, so that ignoring a failure is still reported as unhandled.
    return task.done.promise.then(() => undefined);
  }

  /** Settles a write's `done`, and forgets it as the last write to `names`. */
  settle(write: { readonly done: Deferred }, names: Iterable<string>, error: unknown): void {
    if (error === null) write.done.resolve();
    else write.done.reject(error);
    this.writes.delete(write.done);
    for (const name of names) if (this.lastWrite.get(name) === write) this.lastWrite.delete(name);
  }

  /** Every write not yet settled, and the open group. */
  outstanding(): Deferred[] {
    const open = this.groups.openGroup;
    return open === null ? [...this.writes] : [...this.writes, open.done];
  }

  private enqueue(task: Task): void {
    this.writes.add(task.kind === 'append' ? task.group.done : task.done);
    this.tasks.push(task);
    if (!this.writing) void this.drain();
  }

  /** Runs the queued writes in order, one at a time; appends waiting together go in one transaction. */
  private async drain(): Promise<void> {
    this.writing = true;
    while (this.tasks.length > 0) {
      const task = this.tasks.shift()!;
      if (task.kind !== 'append') {
        const write =
          task.kind === 'delete'
            ? () => deleteDocument(this.outages.pools.writer, this.schema, task.name)
            : () => this.outages.pools.transact(this.outages.pools.writer, (client) => writeVersions(client, this.schema, task.name, task.changes));
        await this.outages.guard(write).then(
          () => this.settle(task, [task.name], null),
          (error: unknown) => this.settle(task, [task.name], error),
        );
        continue;
      }
      const batch = [task.group];
      let bytes = groupBytes(task.group);
      while (this.tasks[0]?.kind === 'append' && bytes + groupBytes(this.tasks[0].group) <= BATCH_BYTES) {
        const next = (this.tasks.shift() as Task & { kind: 'append' }).group;
        bytes += groupBytes(next);
        batch.push(next);
      }
      await this.writeGroups(batch);
    }
    this.writing = false;
  }

  /** Writes `batch` in one transaction and settles each group: with where it left its documents, or with why it failed. */
  private async writeGroups(batch: Group[]): Promise<void> {
    let written: Written[];
    try {
      const heads = await this.outages.guard(() =>
        appendUpdates(this.outages.pools.writer, this.schema, batch.length === 1 ? batch[0]!.entries : batch.flatMap((group) => group.entries)),
      );
      written = writtenGroups(batch, heads);
    } catch (error) {
      for (const group of batch) {
        group.durable.reject(error);
        this.settle(group, documentsOf(group), error);
      }
      return;
    }
    for (const [i, group] of batch.entries()) {
      group.durable.resolve(written[i]!);
      this.settle(group, documentsOf(group), null);
    }
  }
}
