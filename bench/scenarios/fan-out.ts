/**
 * Fan-out: one document, one writer typing at 150 edits/s, hundreds of readers. Measures the
 * server's CPU seconds over the run and the latency from the writer's send to each reader's receipt.
 */
import { cleanUp, dataDirFor, firstPhase, outcome, steadyFailures, withServer, type Scenario } from './scenario.js';

export const fanOut: Scenario = {
  name: 'fan-out',
  title: 'fan-out: 1 doc, 1 writer, many readers',
  run: async (ctx, spec) => {
    const { readers, ratePerWriter, durationMs } = ctx.config.fanOut;
    const dataDir = dataDirFor(ctx, spec, 'fan-out');
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
          docs: ['fan-out'],
          writersPerDoc: 1,
          readersPerDoc: readers,
          phases: [{ ratePerWriter, durationMs }],
          warmupMs: ctx.config.warmupMs,
          leadInMs: ctx.config.leadInMs,
          seed: ctx.seed,
          connectConcurrency: 50,
          drainTimeoutMs: 5000,
        }),
    );
    cleanUp(ctx, dataDir);
    const phase = firstPhase(result);
    return outcome(fanOut, spec, {
      figures: [
        { key: 'cpu', label: 'server CPU s', value: phase.serverCpuSeconds, unit: 's', better: 'lower', target: { ratio: 0.5 }, combine: 'sum' },
        { key: 'p50', label: 'latency p50', value: phase.latency.p50Ms, unit: 'ms', better: 'lower', info: true },
        { key: 'p99', label: 'latency p99', value: phase.latency.p99Ms, unit: 'ms', better: 'lower', target: { ratio: 1 } },
      ],
      failures: steadyFailures(result),
      notes: [
        `${readers} readers, ${phase.sent} edits; server core ${Math.round(phase.serverCoreBusy * 100)}% busy; ` +
          `load generator CPU ${phase.loadgenCpuSeconds.toFixed(2)} s`,
      ],
      raw: result,
    });
  },
};
