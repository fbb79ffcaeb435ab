/**
 * When `document.updated` goes out: a document's changes are gathered in a window that opens at
 * its first change and closes once its changes pause for `quietMs` (2 s), or at the latest
 * `maxMs` (10 s) after it opened, however long they go on. So a receiver hears of a document at
 * most once per window while people type, and within 2 s of their last keystroke.
 *
 * Each change costs a map lookup and a clock read: the window's one timer is not reset per change
 * but checked when it fires, and set again for what is left.
 */

/** What the windows tell their owner. */
export interface WindowEvents {
  /** A window opened for `name` at `at` (ms since the epoch): its first change is stored. */
  opened(name: string, at: number): void;
  /** The window of `name` closed: its event may go out. */
  closed(name: string): void;
}

interface Window {
  readonly first: number;
  last: number;
  timer: NodeJS.Timeout;
}

/** The open windows of every document (see the top of this file). */
export class UpdateWindows {
  private readonly open = new Map<string, Window>();

  constructor(
    private readonly quietMs: number,
    private readonly maxMs: number,
    private readonly events: WindowEvents,
  ) {}

  /** Documents with a window open now. */
  get size(): number {
    return this.open.size;
  }

  /** A change of `name` was stored just now. */
  changed(name: string): void {
    const now = Date.now();
    const window = this.open.get(name);
    if (window !== undefined) {
      window.last = now;
      return;
    }
    const opened: Window = { first: now, last: now, timer: this.timer(name, this.quietMs) };
    this.open.set(name, opened);
    this.events.opened(name, now);
  }

  /** Drops every window without closing it (their events stay held: see `Webhooks.close`). */
  close(): void {
    for (const window of this.open.values()) clearTimeout(window.timer);
    this.open.clear();
  }

  private timer(name: string, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.check(name), ms);
    // A window never holds the process open: its event is queued already (see `Webhooks`).
    timer.unref();
    return timer;
  }

  private check(name: string): void {
    const window = this.open.get(name);
    if (window === undefined) return;
    const due = Math.min(window.last + this.quietMs, window.first + this.maxMs);
    const now = Date.now();
    if (now < due) {
      window.timer = this.timer(name, due - now);
      return;
    }
    this.open.delete(name);
    this.events.closed(name);
  }
}
