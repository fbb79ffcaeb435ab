/**
 * Compacts V8's heap once the process is idle after its old generation grew, giving back to the
 * operating system the memory a burst left behind.
 *
 * A burst of connections (a restart or a network failure makes every client reconnect at once)
 * promotes, besides what the connections keep, much short-lived state into the old generation. The
 * mark-compact that frees it leaves its pages committed and partly empty: V8 compacts only pages
 * that are mostly empty. V8's memory reducer would compact them, but only once it sees a low
 * allocation rate at one of its checks, which come 8 s apart: measured after 10,000 connections
 * opened in 3 s, at 13 s, with the heap committing 48 MiB instead of 32 until then. Node tells V8
 * nothing of idle time (Chrome does); the server knows it, so it asks for the compaction itself:
 * once per growth of 16 MiB, when the event loop was idle for a whole check interval.
 * Measured with the idle benchmark (10,000 connections on 1,000 documents): RSS 100.5 -> 92.5 MiB,
 * for one pause of about 110 ms, a second or two after the burst, while the event loop is idle.
 *
 * The pause grows with the live heap (about 4 ms per MiB here), so a heap over `MAX_HEAP_MIB` is
 * left to V8. A process started with `--expose-gc` has `gc` already; otherwise it is taken from a
 * fresh context with the flag set for that moment (the same runtime flag change as in
 * `young-generation.ts`). Were neither possible, nothing is done and V8 reclaims on its own time.
 */
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleCompactionOptions {
  /** How often the event loop's idleness and the heap are looked at, in milliseconds. Default 1000. */
  readonly checkIntervalMs?: number;
  /** Growth of the old generation's committed memory since the last compaction that calls for one, in MiB. Default 16. */
  readonly growthMiB?: number;
}

/** The event loop counts as idle below this share of busy time over a check interval. */
const IDLE_UTILIZATION = 0.05;
/** Live heap past which a compaction's pause would be too long: V8's own, incremental, reclaim is left to do it. */
const MAX_HEAP_MIB = 128;

const MiB = 2 ** 20;

/** What one compaction did, for the log. */
export interface Compaction {
  readonly ms: number;
  /** The old generation's committed memory before and after, in bytes. */
  readonly before: number;
  readonly after: number;
}

/**
 * Starts watching (see above); `onCompaction` hears of each compaction. Returns a function that
 * stops it. Call once, at startup.
 */
export function startIdleCompaction(onCompaction: (compaction: Compaction) => void, options: IdleCompactionOptions = {}): () => void {
  const { checkIntervalMs = 1000, growthMiB = 16 } = options;
  const gc = garbageCollector();
  if (gc === null) return () => undefined;
  let baseline = oldGenerationCommitted();
  let loop = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const interval = performance.eventLoopUtilization(loop);
    loop = performance.eventLoopUtilization();
    const before = oldGenerationCommitted();
    if (before < baseline) baseline = before;
    if (interval.utilization >= IDLE_UTILIZATION || before - baseline < growthMiB * MiB) return;
    if (getHeapStatistics().used_heap_size > MAX_HEAP_MIB * MiB) return;
    const start = performance.now();
    compact(gc);
    baseline = oldGenerationCommitted();
    onCompaction({ ms: performance.now() - start, before, after: baseline });
  }, checkIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A full garbage collection that compacts every page, not only the mostly empty ones. */
function compact(gc: () => void): void {
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

function oldGenerationCommitted(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_size ?? 0;
}

/** V8's `gc` function, or null if this V8 does not provide it. */
function garbageCollector(): (() => void) | null {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as () => void;
  setFlagsFromString('--expose-gc');
  try {
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : null');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
