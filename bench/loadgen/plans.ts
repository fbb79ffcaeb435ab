/**
 * What the orchestrator asks of the load generator and what it answers: plain data, sent over the
 * IPC channel between the two processes.
 */
import type { LatencySummary } from '../histogram.js';
import type { Dialect } from '../wire.js';
import type { DeliveryCounts } from './tally.js';

/** How to reach one server: its dialect, and its socket URL with `{doc}` for the document name. */
export interface Target {
  dialect: Dialect;
  urlTemplate: string;
  serverPid: number;
  /** The core the server is pinned to (for how busy that core was). */
  serverCore: number;
}

export interface SteadyPlan extends Target {
  docs: string[];
  writersPerDoc: number;
  readersPerDoc: number;
  phases: { ratePerWriter: number; durationMs: number }[];
  /** Type this long at the first phase's rate before measuring (JIT, caches, first loads). */
  warmupMs: number;
  /**
   * The first this many milliseconds of each phase are its lead-in: its keystrokes are delivered
   * and accounted like any other, but their latency is not recorded. The load generator collects
   * its garbage before each phase (see `steady.ts`) and runs slowly for 100 to 200 ms after;
   * against the relay floor at 16,000 updates/s, that put 17 to 38 ms on the first deliveries of
   * every phase and the phase's p99 at 7 to 15 ms (three runs); with a 500 ms lead-in, 4.8 and 5.2
   * ms (two runs). A server that cannot sustain a rate falls further behind as the phase goes on,
   * after the lead-in.
   */
  leadInMs: number;
  seed: number;
  connectConcurrency: number;
  /** A phase ends its drain when no delivery arrived for this long. */
  drainTimeoutMs: number;
  /**
   * Stop after the first phase whose p99 latency exceeds this, or whose backlog took longer than
   * this to drain once sending stopped (a server falling behind, in a phase too short for p99 to show it).
   */
  stopWhenP99AboveMs?: number;
  /**
   * With `stopWhenP99AboveMs`: a phase over the limit is run once more at the same rate before the
   * run stops, and the run goes on if that one is within it. A burst of other work on a shared
   * machine can push one short phase over; a server that cannot sustain the rate fails both.
   */
  retryOverLimit?: boolean;
  /** SIGKILL the server this long after typing started (crash trials). */
  killAtMs?: number;
  /** Keep the run's ledger under this name for `verify`. */
  session?: string;
}

export interface PhaseResult extends DeliveryCounts {
  ratePerWriter: number;
  targetInboundPerSec: number;
  sendMs: number;
  sent: number;
  inboundPerSec: number;
  latency: LatencySummary;
  drainMs: number;
  serverCpuSeconds: number;
  /** Fraction of the server's core that was busy (any process, and interrupts) during the phase. */
  serverCoreBusy: number;
  loadgenCpuSeconds: number;
  /** The part of it spent in the kernel (socket reads and writes). */
  loadgenSystemSeconds: number;
  /** A second run of the phase before it, which was over the limit (see `retryOverLimit`). */
  retry: boolean;
}

export interface SteadyResult {
  connectMs: number;
  readers: number;
  writers: number;
  /** The warm-up phase: not measured, but its deliveries are checked like any other. */
  warmup: PhaseResult | null;
  phases: PhaseResult[];
  killed: boolean;
  /** Keystrokes sent, and keystrokes at least one reader received, over the whole run. */
  sent: number;
  observed: number;
  unknownRanges: number;
  badFrames: number;
}

/** Verify a crashed session against the restarted server. */
export interface VerifyPlan extends Target {
  session: string;
  timeoutMs: number;
}

export interface VerifyResult {
  sent: number;
  observed: number;
  /** Observed keystrokes the restarted server does not hold. */
  lost: number;
  /** Keystrokes the restarted server holds (observed or not). */
  present: number;
  ms: number;
}

/** Replay a trace into one document as fast as the server takes it (cold load, part 1). */
export interface ReplayPlan extends Target {
  doc: string;
  keystrokes: number;
  /** At most this many keystrokes sent and not yet seen by the watching reader. */
  window: number;
  clientId: number;
}

export interface ReplayResult {
  /** Keystrokes in the replay (the trace may hold fewer than asked). */
  keystrokes: number;
  sent: number;
  delivered: number;
  ms: number;
  /** Characters in the text after the replay. */
  length: number;
}

/** Connect to a stored document and wait for its full state (cold load, part 2). */
export interface FetchPlan extends Target {
  doc: string;
  clientId: number;
  timeoutMs: number;
}

export interface FetchResult {
  /** From starting to connect to receiving the frame that completed the state; NaN if never. */
  ms: number;
  complete: boolean;
  length: number;
  expectedLength: number;
}

/** Open many idle connections and keep them open (idle memory). */
export interface IdlePlan extends Target {
  docs: number;
  connectionsPerDoc: number;
  connectConcurrency: number;
}

export interface IdleResult {
  opened: number;
  failed: number;
  ms: number;
  errors: string[];
}
