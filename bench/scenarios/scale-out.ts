/**
 * Scale-out: k = 1, 2, 3 instances of one server sharing PostgreSQL and Redis (ours with
 * `--postgres-url --redis-url`; Hocuspocus 4.7 with its Redis and Database extensions), each
 * instance pinned to the server core and held to the same CPU quota, while PostgreSQL, Redis and
 * the load generator share the other core. Three measurements:
 *
 * - Throughput: disjoint documents (`docsPerInstance` per instance, all clients of a document on
 *   one instance), the per-writer rate raised as in the ceiling scenario until p99 passes 50 ms;
 *   the highest rate sustained with nothing dropped and the backlog drained within 50 ms. With
 *   the same documents per instance whatever k, a design whose work per update does not grow
 *   with k sustains k times the rate of one instance. CPU per update per instance is read at the
 *   highest per-writer rate every k sustained (the same load per instance for every k).
 * - Latency, at the largest k: shared documents, each with one writer on instance 0 and readers
 *   spread over all instances; p50/p99 of the readers on instance 0 (same-instance) beside those
 *   on the others (cross-instance). Every reader must get every keystroke exactly once.
 * - Crash: writers on instance 0, readers on the others; instance 0 gets SIGKILL while typing; the
 *   others are stopped, a fresh instance is started on the same database, and every keystroke a
 *   reader observed must be there.
 */
import { Cluster } from '../cluster.js';
import type { PhaseResult, SteadyPlan } from '../loadgen/plans.js';
import { seededRandom } from '../random.js';
import { type BenchServices, benchServices } from '../services.js';
import type { ServerSpec } from '../servers.js';
import { deliveryFailures, type Figure, median, outcome, type Scenario, type ScenarioContext, type ScenarioOutcome, steadyFailures } from './scenario.js';

interface Ladder {
  k: number;
  sustained: number;
  phases: PhaseResult[];
  failures: string[];
  throttled: { periods: number; ms: number }[];
}

export const scaleOut: Scenario = {
  name: 'scale-out',
  title: 'scale-out: 1, 2, 3 instances on PostgreSQL and Redis, each with a CPU quota',
  supports: (spec) => spec.cluster !== undefined,
  run: async (ctx, spec) => {
    const services = benchServices(ctx.cores.load);
    services.group?.add(ctx.loadgen.pid);
    try {
      return await measure(ctx, spec, services);
    } finally {
      services.group?.release(ctx.loadgen.pid);
    }
  },
};

async function measure(ctx: ScenarioContext, spec: ServerSpec, services: BenchServices): Promise<ScenarioOutcome> {
  const cfg = ctx.config.scaleOut;
  const options = { spec, services, core: ctx.cores.server, quotaPercent: cfg.quotaPercent, workDir: ctx.workDir };
  const ladders: Ladder[] = [];
  let latency: PhaseResult | null = null;
  const failures: string[] = [];
  // Each round starts at another k (by its seed), so that drift on the machine is not read as a trend in k.
  const shift = ctx.seed % cfg.instanceCounts.length;
  const order = [...cfg.instanceCounts.slice(shift), ...cfg.instanceCounts.slice(0, shift)];
  for (const k of order) {
    const cluster = await Cluster.start(options, k);
    try {
      ctx.log(`  ${k} instance${k > 1 ? 's' : ''}: throughput ladder on ${k * cfg.docsPerInstance} documents`);
      const result = await ctx.loadgen.steady({
        ...basePlan(ctx, spec, cluster),
        docs: Array.from({ length: k * cfg.docsPerInstance }, (_, i) => `scale-${k}-${i}`),
        placement: 'by-doc',
        writersPerDoc: cfg.writersPerDoc,
        readersPerDoc: cfg.readersPerDoc,
        phases: cfg.rates.map((ratePerWriter) => ({ ratePerWriter, durationMs: cfg.phaseMs })),
        warmupMs: ctx.config.warmupMs,
        stopWhenP99AboveMs: cfg.p99LimitMs,
        retryOverLimit: true,
        ratesOverLimit: 2,
      });
      const passing = result.phases.filter((p) => p.latency.p99Ms <= cfg.p99LimitMs && p.drainMs <= cfg.p99LimitMs && deliveryFailures(p).length === 0);
      const sustained = passing.reduce((max, p) => Math.max(max, p.inboundPerSec >= 0.98 * p.targetInboundPerSec ? p.targetInboundPerSec : p.inboundPerSec), 0);
      ladders.push({ k, sustained, phases: result.phases, failures: steadyFailures(result).map((f) => `k=${k}: ${f}`), throttled: cluster.throttled() });
      if (k === Math.max(...cfg.instanceCounts) && k > 1) {
        ctx.log(`  ${k} instances: same- and cross-instance latency on ${cfg.latency.docs} shared documents`);
        const shared = await ctx.loadgen.steady({
          ...basePlan(ctx, spec, cluster),
          docs: Array.from({ length: cfg.latency.docs }, (_, i) => `shared-${k}-${i}`),
          placement: 'shared',
          writersPerDoc: 1,
          readersPerDoc: cfg.latency.readersPerDoc,
          phases: [{ ratePerWriter: cfg.latency.ratePerWriter, durationMs: cfg.latency.durationMs }],
          warmupMs: ctx.config.warmupMs,
        });
        failures.push(...steadyFailures(shared).map((f) => `shared documents: ${f}`));
        latency = shared.phases[0] ?? null;
      }
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${cluster.tails()}`);
    } finally {
      await cluster.stop();
    }
  }
  ladders.sort((a, b) => a.k - b.k);
  failures.unshift(...ladders.flatMap((ladder) => ladder.failures));
  const crash = await crashTrials(ctx, spec, options);
  if (crash.lost > 0) failures.push(`${crash.lost} of ${crash.observed} observed edits lost after kill -9 of one instance`);
  return outcome(scaleOut, spec, {
    figures: figures(ctx, ladders, latency, crash),
    failures,
    notes: notes(ctx, ladders, latency, crash),
    raw: { ladders, latency, crash },
  });
}

function basePlan(
  ctx: ScenarioContext,
  spec: ServerSpec,
  cluster: Cluster,
): Omit<SteadyPlan, 'docs' | 'writersPerDoc' | 'readersPerDoc' | 'phases' | 'warmupMs'> {
  return {
    dialect: spec.dialect,
    urlTemplate: cluster.targets[0]!.urlTemplate,
    serverPid: cluster.targets[0]!.pid,
    serverCore: ctx.cores.server,
    loadCore: ctx.cores.load,
    instances: cluster.targets,
    leadInMs: ctx.config.leadInMs,
    seed: ctx.seed,
    connectConcurrency: 20,
    drainTimeoutMs: 5000,
  };
}

/** CPU µs per update of each instance in `phase` (each instance receives 1/k of the updates). */
function cpuPerUpdate(phase: PhaseResult): number[] {
  const cpu = phase.instanceCpuSeconds ?? [];
  return cpu.map((seconds) => (seconds * 1e6) / (phase.sent / cpu.length));
}

/**
 * The phase at the highest per-writer rate that every k sustained, per k (the same load per
 * instance); the first phase of each where some k sustained none.
 */
function comparablePhases(ladders: Ladder[], limitMs: number): Map<number, PhaseResult> {
  const ok = (p: PhaseResult): boolean => p.latency.p99Ms <= limitMs && p.drainMs <= limitMs && deliveryFailures(p).length === 0;
  const rate = Math.min(...ladders.map((ladder) => Math.max(0, ...ladder.phases.filter(ok).map((p) => p.ratePerWriter))));
  const pick = (ladder: Ladder): PhaseResult | undefined => (rate === 0 ? ladder.phases[0] : ladder.phases.find((p) => ok(p) && p.ratePerWriter === rate));
  return new Map(ladders.flatMap((ladder) => (pick(ladder) === undefined ? [] : [[ladder.k, pick(ladder)!] as const])));
}

function figures(ctx: ScenarioContext, ladders: Ladder[], latency: PhaseResult | null, crash: CrashResult): Figure[] {
  const cfg = ctx.config.scaleOut;
  const at = (k: number): number => ladders.find((ladder) => ladder.k === k)?.sustained ?? Number.NaN;
  const comparable = comparablePhases(ladders, cfg.p99LimitMs);
  const result: Figure[] = [];
  for (const ladder of ladders) {
    result.push({
      key: `sustained${ladder.k}`,
      label: `k=${ladder.k}: sustained updates/s`,
      value: ladder.sustained,
      unit: '/s',
      better: 'higher',
      info: true,
    });
  }
  for (const [k, target] of [
    [2, 1.8],
    [3, 2.5],
  ] as const) {
    if (!cfg.instanceCounts.includes(k)) continue;
    result.push({
      key: `scaling${k}`,
      label: `k=${k} / k=1 throughput`,
      value: at(1) > 0 ? at(k) / at(1) : Number.NaN,
      unit: 'x',
      better: 'higher',
      target: { bound: target },
      ratio: false,
      quotientOf: { numerator: `sustained${k}`, denominator: 'sustained1' },
    });
  }
  for (const ladder of ladders) {
    const phase = comparable.get(ladder.k);
    const value = phase === undefined ? Number.NaN : median(cpuPerUpdate(phase));
    result.push({ key: `cpu${ladder.k}`, label: `k=${ladder.k}: CPU per update per instance`, value, unit: 'µs', better: 'lower', info: true });
  }
  if (latency?.groups !== undefined) {
    const { same, cross } = latency.groups;
    result.push(
      { key: 'sameP50', label: 'same-instance p50', value: same.latency.p50Ms, unit: 'ms', better: 'lower', info: true },
      { key: 'sameP99', label: 'same-instance p99', value: same.latency.p99Ms, unit: 'ms', better: 'lower', info: true },
      { key: 'crossP50', label: 'cross-instance p50', value: cross.latency.p50Ms, unit: 'ms', better: 'lower', info: true },
      { key: 'crossP99', label: 'cross-instance p99', value: cross.latency.p99Ms, unit: 'ms', better: 'lower', info: true },
      {
        key: 'crossOverSame',
        label: 'cross / same-instance p99',
        value: cross.latency.p99Ms / same.latency.p99Ms,
        unit: 'x',
        better: 'lower',
        target: { bound: 2 },
        ratio: false,
        quotientOf: { numerator: 'crossP99', denominator: 'sameP99' },
      },
    );
  }
  result.push(
    { key: 'lost', label: 'crash: observed edits lost', value: crash.lost, unit: '', better: 'lower', target: { equals: 0 }, ratio: false },
    { key: 'observed', label: 'crash: edits observed', value: crash.observed, unit: '', better: 'higher', info: true, ratio: false },
  );
  return result;
}

function notes(ctx: ScenarioContext, ladders: Ladder[], latency: PhaseResult | null, crash: CrashResult): string[] {
  const cfg = ctx.config.scaleOut;
  const comparable = comparablePhases(ladders, cfg.p99LimitMs);
  const lines = ladders.map((ladder) => {
    const phase = comparable.get(ladder.k);
    const cpu =
      phase === undefined
        ? 'none'
        : cpuPerUpdate(phase)
            .map((v) => v.toFixed(0))
            .join(' / ');
    const top = ladder.phases.at(-1);
    const throttled = ladder.throttled.map((t) => `${t.periods} periods (${Math.round(t.ms)} ms)`).join(', ');
    return (
      `k=${ladder.k}: sustained ${Math.round(ladder.sustained)}/s; CPU per update per instance ${cpu} µs at ${phase?.ratePerWriter ?? '?'}/s per writer; ` +
      `last phase ${Math.round(top?.inboundPerSec ?? 0)}/s: p99 ${top?.latency.p99Ms.toFixed(1) ?? '?'} ms, drained in ${Math.round(top?.drainMs ?? 0)} ms, ` +
      `server core ${Math.round((top?.serverCoreBusy ?? 0) * 100)}% busy, load core ${Math.round((top?.loadCoreBusy ?? 0) * 100)}% busy; throttled ${throttled}`
    );
  });
  if (latency?.groups !== undefined) {
    const { same, cross } = latency.groups;
    lines.push(
      `shared documents: ${same.readers} same-instance readers, ${cross.readers} cross-instance readers, ${latency.sent} updates at ${Math.round(latency.inboundPerSec)}/s; ` +
        `same p50/p99 ${same.latency.p50Ms.toFixed(2)}/${same.latency.p99Ms.toFixed(2)} ms, cross ${cross.latency.p50Ms.toFixed(2)}/${cross.latency.p99Ms.toFixed(2)} ms`,
    );
  }
  lines.push(`crash: ${crash.trials} trials with ${cfg.crash.instances} instances, ${crash.sent} edits sent, ${crash.observed} observed, ${crash.lost} lost`);
  return lines;
}

interface CrashResult {
  trials: number;
  sent: number;
  observed: number;
  lost: number;
}

/** The crash trials (see the top of this file): each on a fresh database. */
async function crashTrials(ctx: ScenarioContext, spec: ServerSpec, options: Parameters<typeof Cluster.start>[0]): Promise<CrashResult> {
  const cfg = ctx.config.scaleOut.crash;
  const random = seededRandom(ctx.seed ^ 0x5eed);
  const total: CrashResult = { trials: cfg.trials, sent: 0, observed: 0, lost: 0 };
  for (let t = 0; t < cfg.trials; t++) {
    const killAtMs = Math.round(cfg.killAfterMs[0] + random() * (cfg.killAfterMs[1] - cfg.killAfterMs[0]));
    const session = `scale-crash-${t}`;
    const cluster = await Cluster.start(options, cfg.instances);
    let fresh: Cluster | null = null;
    try {
      await ctx.loadgen.steady({
        ...basePlan(ctx, spec, cluster),
        docs: Array.from({ length: cfg.docs }, (_, i) => `crash-${t}-${i}`),
        placement: 'shared',
        writersPerDoc: 1,
        readersPerDoc: cfg.readersPerDoc,
        phases: [{ ratePerWriter: cfg.ratePerWriter, durationMs: cfg.killAfterMs[1] + 5000 }],
        warmupMs: 0,
        leadInMs: 0,
        seed: ctx.seed + t,
        killAtMs,
        session,
      });
      await cluster.stop();
      fresh = await Cluster.start({ ...options, postgresUrl: cluster.postgresUrl }, 1);
      const target = fresh.targets[0]!;
      const verified = await ctx.loadgen.verify({
        dialect: spec.dialect,
        urlTemplate: target.urlTemplate,
        serverPid: target.pid,
        serverCore: ctx.cores.server,
        session,
        timeoutMs: 30_000,
      });
      total.sent += verified.sent;
      total.observed += verified.observed;
      total.lost += verified.lost;
      ctx.log(`  crash trial ${t + 1}: instance 0 killed at ${killAtMs} ms, ${verified.observed} edits observed, ${verified.lost} lost`);
    } finally {
      await cluster.stop();
      await fresh?.stop();
    }
  }
  return total;
}
