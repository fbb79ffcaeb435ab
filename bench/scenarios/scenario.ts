/**
 * What a scenario is and what it reports: per server, a few figures (each saying which way is
 * better and what ratio to the best peer the issue targets) and the failures that disqualify it.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig } from '../config.js';
import type { LoadGenerator } from '../loadgen/client.js';
import type { PhaseResult, SteadyResult } from '../loadgen/plans.js';
import type { DeliveryCounts } from '../loadgen/tally.js';
import { ServerProcess, type ServerSpec } from '../servers.js';

export interface Figure {
  key: string;
  label: string;
  value: number;
  unit: string;
  better: 'lower' | 'higher';
  /**
   * The target: for ours / best peer (e.g. 0.5 for "<= 0.5x"); or absolute, for our own
   * value: exactly `equals`, or `bound` at most (where lower is better) or at least (where higher is).
   */
  target?: { ratio: number } | { equals: number } | { bound: number };
  /** Shown for information; no target. */
  info?: boolean;
  /** False where a ratio to the best peer means nothing (counts of events). */
  ratio?: boolean;
  /** How rounds combine (see `combineRounds`): their median (the default), or their sum (totals over the same work). */
  combine?: 'median' | 'sum';
  /**
   * A quotient of two other figures of the outcome: over rounds, the quotient of their combined
   * values, not the median of each round's quotient (a round whose denominator is 0 would make
   * that infinite, and one noisy round would decide it).
   */
  quotientOf?: { numerator: string; denominator: string };
}

export interface ScenarioOutcome {
  scenario: string;
  server: string;
  label: string;
  ok: boolean;
  failures: string[];
  figures: Figure[];
  notes: string[];
  raw: unknown;
}

export interface ScenarioContext {
  config: BenchConfig;
  loadgen: LoadGenerator;
  cores: { server: number; load: number };
  /** The scenario's seed: the same for every server, so each gets the same keystrokes and kill times. */
  seed: number;
  /** A directory this scenario may use for data (removed afterwards unless --keep). */
  workDir: string;
  keep: boolean;
  log: (line: string) => void;
}

export interface Scenario {
  name: string;
  title: string;
  run: (ctx: ScenarioContext, spec: ServerSpec) => Promise<ScenarioOutcome>;
  /** Whether it runs against `spec` (all servers when absent). */
  supports?: (spec: ServerSpec) => boolean;
}

/** A fresh data directory for one server in one scenario. */
export function dataDirFor(ctx: ScenarioContext, spec: ServerSpec, scenario: string): string {
  const dir = join(ctx.workDir, `${scenario}-${spec.name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs `body` against a freshly started server, and stops it (gracefully) afterwards. */
export async function withServer<T>(ctx: ScenarioContext, spec: ServerSpec, dataDir: string, body: (server: ServerProcess) => Promise<T>): Promise<T> {
  const server = await ServerProcess.start(spec, dataDir, ctx.cores.server);
  try {
    return await body(server);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- ${spec.label} output:\n${server.tail()}`);
  } finally {
    await server.stop();
  }
}

export function cleanUp(ctx: ScenarioContext, dir: string): void {
  if (!ctx.keep) rmSync(dir, { recursive: true, force: true });
}

/** The failures a delivery count shows: anything dropped, duplicated or delivered to the wrong room. */
export function deliveryFailures(counts: DeliveryCounts, prefix = ''): string[] {
  const failures: string[] = [];
  if (counts.dropped > 0) failures.push(`${prefix}${counts.dropped} of ${counts.expected} deliveries dropped`);
  if (counts.duplicated > 0) failures.push(`${prefix}${counts.duplicated} deliveries duplicated`);
  if (counts.misdelivered > 0) failures.push(`${prefix}${counts.misdelivered} deliveries to the wrong room`);
  return failures;
}

export function outcome(
  scenario: Scenario,
  spec: ServerSpec,
  parts: { figures: Figure[]; failures: string[]; notes?: string[]; raw: unknown },
): ScenarioOutcome {
  return {
    scenario: scenario.name,
    server: spec.name,
    label: spec.label,
    ok: parts.failures.length === 0,
    failures: parts.failures,
    figures: parts.figures,
    notes: parts.notes ?? [],
    raw: parts.raw,
  };
}

/** The first measured phase of a steady run; throws (failing the scenario) if the warm-up failed. */
export function firstPhase(result: SteadyResult): PhaseResult {
  const phase = result.phases[0];
  if (phase === undefined) {
    const failures = result.warmup === null ? [] : deliveryFailures(result.warmup);
    throw new Error(`the warm-up failed: ${failures.join('; ')}`);
  }
  return phase;
}

/** Delivery failures of a steady run's warm-up and measured phases. */
export function steadyFailures(result: SteadyResult): string[] {
  return [
    ...(result.warmup === null ? [] : deliveryFailures(result.warmup, 'warm-up: ')),
    ...result.phases.flatMap((phase) => deliveryFailures(phase, result.phases.length > 1 ? `at ${Math.round(phase.targetInboundPerSec)}/s: ` : '')),
  ];
}

/**
 * One outcome from a server's rounds of a scenario (run interleaved with the other servers', so
 * a burst of other work on this shared machine falls on one round of one server rather than on
 * all of a server's measurement). Each figure is the median of the rounds' values (or their sum,
 * where the figure is a total); failures of any round fail the whole; the notes list every
 * round's values.
 */
export function combineRounds(rounds: ScenarioOutcome[]): ScenarioOutcome {
  if (rounds.length === 1) return rounds[0]!;
  const measured = rounds.filter((round) => round.figures.length > 0);
  const template = measured[0] ?? rounds[0]!;
  const combined = template.figures.map((figure) => {
    const values = measured.map((round) => round.figures.find((f) => f.key === figure.key)?.value ?? Number.NaN);
    const value = figure.combine === 'sum' ? values.reduce((a, b) => a + b, 0) : median(values);
    const how = figure.quotientOf !== undefined ? 'quotient of the medians' : figure.combine === 'sum' ? 'summed' : 'median';
    const summary = `${figure.label} ${values.map((v) => formatRoundValue(v)).join(' / ')} ${figure.unit} (${how})`;
    return { figure: { ...figure, value }, summary };
  });
  const figures = combined.map(({ figure }) => figure);
  for (const figure of figures) {
    if (figure.quotientOf === undefined) continue;
    const { numerator, denominator } = figure.quotientOf;
    const valueOf = (key: string) => figures.find((f) => f.key === key)?.value ?? Number.NaN;
    const divisor = valueOf(denominator);
    figure.value = divisor > 0 ? valueOf(numerator) / divisor : Number.NaN;
  }
  const perRound = combined.map(({ summary }) => summary).join('; ');
  const failures = rounds.flatMap((round, i) => round.failures.map((failure) => `round ${i + 1}: ${failure}`));
  return {
    ...template,
    ok: failures.length === 0 && measured.length === rounds.length,
    failures,
    figures,
    notes: [
      `${rounds.length} rounds, interleaved with the other servers: ${perRound}`,
      ...rounds.flatMap((round, i) => round.notes.map((note) => `round ${i + 1}: ${note}`)),
    ],
    raw: { rounds: rounds.map((round) => round.raw) },
  };
}

/** The middle value (the mean of the two middle ones for an even count), of the values that are numbers (NaN where none is). */
export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function formatRoundValue(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}
