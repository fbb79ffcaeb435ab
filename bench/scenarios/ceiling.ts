/**
 * Ceiling: the many-rooms load with the rate raised phase by phase until p99 latency passes the
 * limit (50 ms). The figure is the highest inbound update rate sustained within the limit, with
 * every delivery arriving and no backlog left behind (all delivered within the limit after the
 * last send: in a short phase a server falling behind shows it there before its p99 does). A
 * phase over the limit is run once more before the rate counts as not sustained, so that a burst
 * of other work on the machine does not end a server's run early.
 *
 * A sustained phase counts at its step's rate (updates per second per writer, times the writers),
 * not at the rate measured by the load generator's clock: that one ends each phase a little late
 * (its loop wakes up to a few milliseconds after the phase's end, later the more deliveries it is
 * receiving), so it reads 0.1 to 0.3% under the step, and most under the fastest servers. Only
 * a phase whose measured rate fell more than 2% short of its step (a load generator that could
 * not send on time) counts at the measured rate.
 */
import { cleanUp, dataDirFor, deliveryFailures, outcome, steadyFailures, withServer, type Scenario } from './scenario.js';

export const ceiling: Scenario = {
  name: 'ceiling',
  title: 'ceiling: many rooms, rising rate, p99 <= 50 ms',
  run: async (ctx, spec) => {
    const { docs, writersPerDoc, readersPerDoc, rates, phaseMs, p99LimitMs } = ctx.config.ceiling;
    const dataDir = dataDirFor(ctx, spec, 'ceiling');
    const result = await withServer(
      ctx,
      spec,
      dataDir,
      async (server) =>
        await ctx.loadgen.steady({
          dialect: spec.dialect,
          urlTemplate: server.urlTemplate,
          serverPid: server.pid,
          serverCore: ctx.cores.server,
          docs: Array.from({ length: docs }, (_, i) => `ceiling-${i}`),
          writersPerDoc,
          readersPerDoc,
          phases: rates.map((ratePerWriter) => ({ ratePerWriter, durationMs: phaseMs })),
          warmupMs: ctx.config.warmupMs,
          leadInMs: ctx.config.leadInMs,
          seed: ctx.seed,
          connectConcurrency: 50,
          drainTimeoutMs: 5000,
          stopWhenP99AboveMs: p99LimitMs,
          retryOverLimit: true,
        }),
    );
    cleanUp(ctx, dataDir);
    const failures = steadyFailures(result);
    // Sustained: p99 within the limit, nothing dropped, and no backlog left when sending stopped.
    const passing = result.phases.filter((phase) => phase.latency.p99Ms <= p99LimitMs && phase.drainMs <= p99LimitMs && deliveryFailures(phase).length === 0);
    const best = passing.reduce((max, phase) => Math.max(max, sustainedRate(phase)), 0);
    const notes: string[] = [
      result.phases
        .map(
          (phase) =>
            `${Math.round(phase.inboundPerSec)}/s${phase.retry ? ' again' : ''}: p99 ${phase.latency.p99Ms.toFixed(1)} ms, drained in ${Math.round(phase.drainMs)} ms`,
        )
        .join('; '),
    ];
    const last = result.phases.at(-1);
    if (last !== undefined && passing.includes(last) && result.phases.length === rates.length) {
      notes.push('the limit was not reached: the figure is a lower bound');
    }
    if (passing.length === 0 && failures.length === 0) notes.push(`p99 was above ${p99LimitMs} ms already at the lowest rate`);
    const loadBound = result.phases.find((phase) => phase.loadgenCpuSeconds / ((phase.sendMs + phase.drainMs) / 1000) > 0.9);
    if (loadBound !== undefined) notes.push(`load generator saturated at ${Math.round(loadBound.inboundPerSec)}/s`);
    return outcome(ceiling, spec, {
      figures: [{ key: 'sustained', label: 'sustained updates/s', value: best, unit: '/s', better: 'higher', target: { ratio: 2 } }],
      failures,
      notes,
      raw: result,
    });
  },
};

/** The rate a sustained phase counts at (see the top of this file). */
function sustainedRate(phase: { targetInboundPerSec: number; inboundPerSec: number }): number {
  return phase.inboundPerSec >= 0.98 * phase.targetInboundPerSec ? phase.targetInboundPerSec : phase.inboundPerSec;
}
