/**
 * A token bucket: `rate` messages per second on average, bursts of up to `capacity` at once.
 * Refilled lazily from the clock on each `take`, so an idle connection costs no timer.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  /** `rate` 0 means no limit. */
  constructor(
    private readonly rate: number,
    private readonly capacity: number,
    now = performance.now(),
  ) {
    this.tokens = capacity;
    this.refilledAt = now;
  }

  /** Takes one token; false when the bucket is empty (the caller is over its rate). */
  take(now = performance.now()): boolean {
    if (this.rate === 0) return true;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
