/**
 * Whether the event loop is busy: the share of the last sampling period it spent running code
 * (event loop utilization) is at least a threshold. Sampled at most once per period, when asked,
 * so an idle process does no work for it.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Samples the event loop's utilization against a threshold (see the top of this file). */
export class LoopLoad {
  private sample: EventLoopUtilization = performance.eventLoopUtilization();
  private sampledAt = performance.now();
  private busy = false;

  /** `threshold`: the utilization (0 to 1) from which the loop counts as busy. */
  constructor(
    private readonly threshold: number,
    private readonly periodMs: number,
  ) {}

  /**
   * Whether the loop was busy over the last period that ended at least `periodMs` ago (over
   * everything since the previous sample, when nobody asked for a while).
   */
  isBusy(): boolean {
    const now = performance.now();
    if (now - this.sampledAt >= this.periodMs) {
      const sample = performance.eventLoopUtilization();
      this.busy = performance.eventLoopUtilization(sample, this.sample).utilization >= this.threshold;
      this.sample = sample;
      this.sampledAt = now;
    }
    return this.busy;
  }
}
