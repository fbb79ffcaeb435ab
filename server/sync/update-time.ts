/**
 * How much of the server's time applying updates may take: one update (`applyWithin`), and all the
 * updates from one client address (`AddressTimeBudget`).
 *
 * Yjs places an item by scanning from its origin past the items inserted there concurrently, and
 * forged origins can make that scan quadratic in an update's size. No check before applying can
 * bound it (the items an update scans may be its own), so the integration itself is bounded: a
 * check before each item integrated (`checkBeforeEachItem`) throws `UpdateTooSlow` once the update
 * is past its time, and the room refuses it like any update that broke midway. A bound per update
 * still lets a client send updates just under it, one after another; the budget per address bounds
 * that. Figures: docs/decisions/2026-12-07-update-intake.md.
 */
import { checkBeforeEachItem } from '../../protocol/yjs-internals.js';

/** Thrown from inside Yjs's integration when an update runs past its time (see `applyWithin`). */
export class UpdateTooSlow extends Error {
  constructor(readonly limitMs: number) {
    super(`the update took more than ${Math.round(limitMs)} ms to apply`);
    this.name = 'UpdateTooSlow';
  }
}

/** When the running `applyWithin` must stop (Infinity when none runs), and its limit. */
let deadline = Infinity;
let limitMs = 0;

/** The time an update of `bytes` may take to apply: `baseMs` plus 1 ms per KiB (0: no limit). */
export function updateTimeLimit(baseMs: number, bytes: number): number {
  return baseMs === 0 ? Infinity : baseMs + bytes / 1024;
}

/**
 * Runs `apply` (which applies one update), throwing `UpdateTooSlow` from within Yjs's integration
 * of the first item it reaches after `ms` milliseconds.
 */
export function applyWithin<T>(ms: number, apply: () => T): T {
  if (ms === Infinity) return apply();
  checkBeforeEachItem(checkDeadline);
  limitMs = ms;
  deadline = performance.now() + ms;
  try {
    return apply();
  } finally {
    deadline = Infinity;
  }
}

/** Throws `UpdateTooSlow` once the running `applyWithin` is past its time: for walks of our own. */
export function checkDeadline(): void {
  if (deadline !== Infinity && performance.now() > deadline) throw new UpdateTooSlow(limitMs);
}

/** A client address's time: what it may still spend, as of `at`. */
interface Balance {
  ms: number;
  at: number;
}

/**
 * Time that the updates of each client address may take to apply: `msPerSecond` on average, in
 * bursts of up to `burstMs`. An address whose balance has run out is refused before any more of its
 * updates are applied, until it has earned some back; one update may overdraw it (a large document
 * uploaded in one message must still go in). An address's entry goes once it has earned back its
 * whole burst.
 */
export class AddressTimeBudget {
  private readonly balances = new Map<string, Balance>();
  private spends = 0;

  /** `msPerSecond` 0 means no limit. */
  constructor(
    readonly msPerSecond: number,
    private readonly burstMs: number,
  ) {}

  /** False while `address` has no time left. */
  allows(address: string, now = performance.now()): boolean {
    if (this.msPerSecond === 0) return true;
    const balance = this.balances.get(address);
    return balance === undefined || this.refill(balance, now) > 0;
  }

  /** Counts `ms` spent applying an update from `address`. */
  spend(address: string, ms: number, now = performance.now()): void {
    if (this.msPerSecond === 0) return;
    const balance = this.balances.get(address);
    if (balance === undefined) this.balances.set(address, { ms: this.burstMs - ms, at: now });
    else balance.ms = this.refill(balance, now) - ms;
    // Now and then, forget the addresses that have earned everything back: no timer to stop.
    if (++this.spends % 1024 === 0) {
      for (const [key, entry] of this.balances) if (this.refill(entry, now) >= this.burstMs) this.balances.delete(key);
    }
  }

  /** Addresses with time spent that they have not earned back yet. */
  get size(): number {
    return this.balances.size;
  }

  private refill(balance: Balance, now: number): number {
    balance.ms = Math.min(this.burstMs, balance.ms + ((now - balance.at) / 1000) * this.msPerSecond);
    balance.at = now;
    return balance.ms;
  }
}
