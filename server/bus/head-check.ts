/**
 * The safety net of a bus that may lose messages: now and then, the stored heads of the loaded
 * documents are read in one query, and a holder still behind the head its document had at the
 * previous check catches up from the store. The update that moved the head was published right
 * after it was stored, so a holder still without it one interval later has lost it (a publish that
 * failed, a message dropped); one merely in flight at the check is not disturbed.
 *
 * The cost is one query per interval whose size is the number of loaded documents, and nothing
 * per update.
 */
import type { Position } from '../../persistence/document-store.js';
import type { BusListener } from '../sync/bus.js';

/** The stored heads of `names`, read in one query; a name never written may be left out (its head is 0). */
export type ReadHeads = (names: readonly string[]) => Promise<ReadonlyMap<string, Position>>;

/** How often the heads are checked, by default. */
export const HEAD_CHECK_MS = 2000;

/** The holders of each loaded document, as the bus knows them. */
export type Holders = () => Iterable<readonly [string, Iterable<BusListener>]>;

export class HeadCheck {
  /** The heads read at the previous check. */
  private previous: ReadonlyMap<string, Position> = new Map();
  private running = false;
  private readonly timer: NodeJS.Timeout;

  /** Checks every `intervalMs`; `onError` hears of a read that failed (the next check tries again). */
  constructor(
    private readonly readHeads: ReadHeads,
    private readonly holders: Holders,
    intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  /** One check (see the top of this file); a check still running makes this one do nothing. */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const names: string[] = [];
      for (const [name, listeners] of this.holders()) {
        const before = this.previous.get(name) ?? 0;
        let loaded = false;
        for (const listener of listeners) {
          const head = listener.head;
          if (head === null) continue;
          loaded = true;
          if (head < before) listener.missed();
        }
        if (loaded) names.push(name);
      }
      this.previous = names.length === 0 ? new Map() : await this.readHeads(names);
    } catch (error) {
      this.previous = new Map();
      this.onError(error);
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
