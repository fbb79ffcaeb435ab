/**
 * Work that no client waits for (rooms compacting their logs into snapshots), run a little per
 * turn of the event loop rather than where it was asked for: rooms with the same traffic come due
 * together, and their compactions back to back would hold every delivery
 * (docs/decisions/2026-12-07-background-compaction.md).
 */
export class BackgroundQueue {
  private readonly tasks: Array<() => void> = [];
  private scheduled = false;

  /**
   * @param budgetMs how long the tasks of one turn may run: once a task ends past it, the rest
   *   wait for the next turn. At least one task runs per turn, however long it takes; 0 runs
   *   exactly one.
   * @param onError called with whatever a task throws; the tasks after it still run.
   */
  constructor(
    private readonly budgetMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Tasks queued and not yet run. */
  get size(): number {
    return this.tasks.length;
  }

  /** Runs `task` after the tasks queued before it, in a later turn of the event loop (`setImmediate`). */
  add(task: () => void): void {
    this.tasks.push(task);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const start = performance.now();
    // Taken out one at a time, so that a task may queue more: they run in a later turn.
    let count = this.tasks.length;
    do {
      const task = this.tasks.shift()!;
      try {
        task();
      } catch (error) {
        this.onError(error);
      }
    } while (--count > 0 && performance.now() - start < this.budgetMs);
    if (this.tasks.length > 0) this.schedule();
  };
}
