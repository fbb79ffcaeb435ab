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
  /**
   * With `stopWhenP99AboveMs`: the run stops after this many rates in a row over the limit
   * (default 1). Where the cost of an update falls as the rate rises (a group commit shares one
   * transaction among more updates), one throttled step is not where the server runs out.
   */
  ratesOverLimit?: number;
  /**
   * Several instances of one deployment, each client connecting to one of them as `placement`
   * says (see `placement.ts`); `urlTemplate` and `serverPid` are then instance 0's.
   */
  instances?: { urlTemplate: string; pid: number }[];
  placement?: 'by-doc' | 'shared';
  /** The core the load generator (and, in the scale-out scenario, PostgreSQL and Redis) runs on, for how busy it was. */
  loadCore?: number;
  /** SIGKILL the server (with `instances`, instance 0) this long after typing started (crash trials). */
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
  /** With `loadCore`: the fraction of that core that was busy during the phase. */
  loadCoreBusy?: number;
  /** With `instances`: each instance's CPU seconds in the phase (NaN for one killed). */
  instanceCpuSeconds?: number[];
  /** With `instances`: deliveries and latency of readers on their writers' instance and on others. */
  groups?: Record<ReaderGroup, GroupResult>;
}

/** A reader on its room's writers' instance (`same`), or on another (`cross`). */
export type ReaderGroup = 'same' | 'cross';

export interface GroupResult extends DeliveryCounts {
  readers: number;
  latency: LatencySummary;
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
  /**
   * Keystrokes per update, typed in one transaction (see `TypingReplay`); 1 (the default) sends
   * each keystroke as its own update, as a typing client does.
   */
  batch?: number;
}

export interface ReplayResult {
  /** Keystrokes in the replay (the trace may hold fewer than asked). */
  keystrokes: number;
  /** The updates that carried them (as many, unless the plan batched them), sent and delivered to the reader. */
  updates: number;
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

/**
 * First syncs of a stored document, bytes counted on the wire (bandwidth): a primer client loads it
 * and stays connected (the room is then loaded, as when others are editing), then one client that
 * offers no extension and one that offers permessage-deflate as browsers do each connect, sync the
 * whole document, wait for the connection to fall quiet, and leave.
 */
export interface FirstSyncPlan extends Target {
  doc: string;
  /** The replay the document holds (`ReplayPlan`): its writer, its updates and their batch (the expected text). */
  clientId: number;
  updates: number;
  batch: number;
  timeoutMs: number;
  /** A sync's traffic is over once no byte moved either way for this long. */
  quietMs: number;
}

/** One client's first sync, as counted on its TCP socket. */
export interface SyncBytes {
  /** Whether the client offered permessage-deflate. */
  deflateOffered: boolean;
  /** The extensions the server agreed to (`Sec-WebSocket-Extensions` of its answer), '' for none. */
  extensions: string;
  /** TCP payload bytes from the server: the HTTP upgrade response, frame headers, payloads as sent. */
  received: number;
  /** TCP payload bytes to the server: the upgrade request, frame headers and masks, payloads as sent. */
  sent: number;
  /** WebSocket messages received, and their bytes once inflated. */
  messages: number;
  messageBytes: number;
  /** Server pings during the count (their frames and the pongs answering them are not counted). */
  pings: number;
  /** From starting to connect to the message that completed the text; NaN if never. */
  ms: number;
  complete: boolean;
  length: number;
  expectedLength: number;
}

export interface FirstSyncResult {
  /** The first client after the document was stored (no extension offered); it loads the room. */
  primer: SyncBytes;
  plain: SyncBytes;
  deflate: SyncBytes;
}

/**
 * Keystrokes counted on the wire (bandwidth): in a fresh room, a writer types `keystrokes` keystrokes
 * of a trace, one update message each, one at a time (the next once every reader has the last),
 * with `readers` readers connected; every client offers permessage-deflate or none does.
 */
export interface KeystrokeBytesPlan extends Target {
  doc: string;
  clientId: number;
  keystrokes: number;
  readers: number;
  deflateOffered: boolean;
  /** How long one keystroke may take to reach every reader before the run gives up. */
  timeoutMs: number;
  quietMs: number;
}

/** One client's traffic while the keystrokes were typed (after its sync, before it left). */
export interface ClientBytes {
  received: number;
  sent: number;
  messages: number;
  pings: number;
  extensions: string;
}

export interface KeystrokeBytesResult {
  deflateOffered: boolean;
  /** Keystrokes to type, typed (the run stops at one that does not reach every reader), and received by every reader. */
  keystrokes: number;
  sent: number;
  delivered: number;
  /** Bytes of the Yjs updates typed (the updates alone, without message or frame headers). */
  updateBytes: number;
  writer: ClientBytes;
  readers: ClientBytes[];
  ms: number;
}
