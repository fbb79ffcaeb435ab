/**
 * The sizes of every scenario, in full mode (issue 5's table) and in quick mode (the same shapes,
 * small enough that all scenarios against three servers run in about a minute).
 */
export interface BenchConfig {
  mode: 'full' | 'quick';
  /**
   * How many rounds of a scenario each server runs, interleaved with the other servers' (all
   * servers' round 1, then all servers' round 2...). Each figure is the median of the rounds (a
   * total, their sum), so a burst of other work on the machine moves one round, not the result.
   * Scenarios not listed run once.
   */
  rounds: Partial<Record<string, number>>;
  /** Typing before each steady measurement starts, at its first rate (not measured). */
  warmupMs: number;
  /** The start of each measured phase whose latency is not recorded (see `SteadyPlan.leadInMs`). */
  leadInMs: number;
  fanOut: { readers: number; ratePerWriter: number; durationMs: number };
  manyRooms: { docs: number; writersPerDoc: number; readersPerDoc: number; ratePerWriter: number; durationMs: number };
  idle: {
    docs: number;
    connectionsPerDoc: number;
    /** The settled RSS: held within 2% for `steadyMs`, after at least `minMs` idle, at most `maxMs` (see `scenarios/idle.ts`). */
    minMs: number;
    steadyMs: number;
    maxMs: number;
    /** When the early RSS, reported beside it, is taken. */
    earlyMs: number;
  };
  coldLoad: { keystrokes: number; restarts: number; window: number };
  crash: { trials: number; docs: number; ratePerWriter: number; killAfterMs: [number, number] };
  bandwidth: {
    /** Keystrokes of the B4 trace stored before the first syncs: all of them, in both modes (the whole document). */
    syncKeystrokes: number;
    /**
     * Keystrokes per update while storing it (typed in one transaction): 1 sends one update per
     * keystroke, as cold-load does. The server holds the same document either way (see `scenarios/bandwidth.ts`).
     */
    batch: number;
    /** Keystrokes typed one at a time for the per-keystroke figures, and the readers receiving them. */
    typed: number;
    readers: number;
  };
  ceiling: {
    docs: number;
    writersPerDoc: number;
    readersPerDoc: number;
    /** Per-writer rates, tried in order until p99 passes the limit. */
    rates: number[];
    phaseMs: number;
    p99LimitMs: number;
  };
  /** The scale-out scenario (`scenarios/scale-out.ts`). */
  scaleOut: {
    /** Instances per deployment, each measured; the last also gives the cross-instance latency. */
    instanceCounts: number[];
    /** Each instance's share of the server core (see `cpu-quota.ts`). */
    quotaPercent: number;
    /** The throughput ladder: disjoint documents, as many per instance whatever k, rates as the ceiling's. */
    docsPerInstance: number;
    writersPerDoc: number;
    readersPerDoc: number;
    rates: number[];
    phaseMs: number;
    p99LimitMs: number;
    /** Shared documents: one writer each on instance 0, readers spread over every instance. */
    latency: { docs: number; readersPerDoc: number; ratePerWriter: number; durationMs: number };
    /** kill -9 of instance 0 (holding the writers) of `instances`, while readers on the others observe. */
    crash: { trials: number; instances: number; docs: number; readersPerDoc: number; ratePerWriter: number; killAfterMs: [number, number] };
  };
}

/**
 * Per-writer rates of the scale-out ladder: steps of about 10%, so that a throughput ratio is
 * known to within a step (the ceiling's coarser steps would blur 1.8x into 1.6x or 2x).
 */
const SCALE_OUT_RATES = Array.from({ length: 40 }, (_, i) => Math.round(4 * 1.1 ** i * 10) / 10);

export const fullConfig: BenchConfig = {
  mode: 'full',
  rounds: { 'fan-out': 3, 'many-rooms': 3, ceiling: 3, 'scale-out': 3 },
  warmupMs: 2000,
  leadInMs: 500,
  // Three rounds of 1,000 edits: 3,000 in all, as before rounds.
  fanOut: { readers: 500, ratePerWriter: 150, durationMs: 6_667 },
  manyRooms: { docs: 100, writersPerDoc: 2, readersPerDoc: 4, ratePerWriter: 10, durationMs: 6_667 },
  idle: { docs: 1000, connectionsPerDoc: 10, minMs: 30_000, steadyMs: 25_000, maxMs: 120_000, earlyMs: 5000 },
  coldLoad: { keystrokes: 259_778, restarts: 3, window: 2000 },
  crash: { trials: 10, docs: 10, ratePerWriter: 30, killAfterMs: [500, 4000] },
  bandwidth: { syncKeystrokes: 259_778, batch: 1, typed: 1000, readers: 3 },
  ceiling: {
    docs: 100,
    writersPerDoc: 2,
    readersPerDoc: 4,
    rates: [2, 5, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200],
    phaseMs: 3000,
    p99LimitMs: 50,
  },
  scaleOut: {
    instanceCounts: [1, 2, 3],
    quotaPercent: 30,
    docsPerInstance: 20,
    writersPerDoc: 2,
    readersPerDoc: 2,
    rates: SCALE_OUT_RATES,
    phaseMs: 2000,
    p99LimitMs: 50,
    latency: { docs: 12, readersPerDoc: 6, ratePerWriter: 20, durationMs: 8000 },
    crash: { trials: 3, instances: 2, docs: 6, readersPerDoc: 2, ratePerWriter: 30, killAfterMs: [500, 3000] },
  },
};

export const quickConfig: BenchConfig = {
  mode: 'quick',
  rounds: {},
  warmupMs: 500,
  leadInMs: 250,
  fanOut: { readers: 200, ratePerWriter: 150, durationMs: 1500 },
  manyRooms: { docs: 40, writersPerDoc: 2, readersPerDoc: 4, ratePerWriter: 10, durationMs: 1500 },
  idle: { docs: 150, connectionsPerDoc: 10, minMs: 2000, steadyMs: 2000, maxMs: 10_000, earlyMs: 1000 },
  coldLoad: { keystrokes: 10_000, restarts: 1, window: 1000 },
  crash: { trials: 2, docs: 4, ratePerWriter: 30, killAfterMs: [300, 1000] },
  bandwidth: { syncKeystrokes: 259_778, batch: 1000, typed: 100, readers: 3 },
  ceiling: {
    docs: 40,
    writersPerDoc: 2,
    readersPerDoc: 4,
    rates: [5, 30, 70, 150],
    phaseMs: 1000,
    p99LimitMs: 50,
  },
  scaleOut: {
    instanceCounts: [1, 2, 3],
    quotaPercent: 30,
    docsPerInstance: 20,
    writersPerDoc: 2,
    readersPerDoc: 2,
    rates: SCALE_OUT_RATES.filter((_, i) => i % 3 === 0),
    phaseMs: 1000,
    p99LimitMs: 50,
    latency: { docs: 12, readersPerDoc: 6, ratePerWriter: 20, durationMs: 2500 },
    crash: { trials: 2, instances: 2, docs: 4, readersPerDoc: 2, ratePerWriter: 30, killAfterMs: [300, 1000] },
  },
};
