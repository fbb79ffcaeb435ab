/**
 * A latency histogram with fixed 10 µs buckets up to 10 s: constant memory and O(1) recording, so
 * millions of deliveries cost nothing to record, and percentiles exact to 10 µs.
 */
const bucketMs = 0.01;
const bucketCount = 1_000_000;

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export class LatencyHistogram {
  private readonly buckets = new Uint32Array(bucketCount);
  private overflow: number[] = [];
  count = 0;
  private sum = 0;
  private max = 0;

  record(ms: number): void {
    const value = Math.max(ms, 0);
    const bucket = Math.floor(value / bucketMs);
    if (bucket < bucketCount) this.buckets[bucket]!++;
    else this.overflow.push(value);
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  /** The latency under which a fraction `q` (0..1) of the samples lie (upper bucket edge). */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < bucketCount; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return Math.min((i + 1) * bucketMs, this.max);
    }
    const sorted = [...this.overflow].sort((a, b) => a - b);
    return sorted[rank - seen - 1] ?? this.max;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      meanMs: this.count === 0 ? Number.NaN : this.sum / this.count,
      p50Ms: this.quantile(0.5),
      p90Ms: this.quantile(0.9),
      p99Ms: this.quantile(0.99),
      p999Ms: this.quantile(0.999),
      maxMs: this.count === 0 ? Number.NaN : this.max,
    };
  }
}
