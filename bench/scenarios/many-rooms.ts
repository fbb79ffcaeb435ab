/**
 * Many rooms: many documents, each with two writers at 10 edits/s and four readers. Measures the
 * server's CPU per inbound update and the p99 delivery latency.
 */
import { cleanUp, dataDirFor, firstPhase, outcome, steadyFailures, withServer, type Scenario } from './scenario.js';

export const manyRooms: Scenario = {
  name: 'many-rooms',
  title: 'many rooms: 2 writers and 4 readers each',
  run: async (ctx, spec) => {
    const { docs, writersPerDoc, readersPerDoc, ratePerWriter, durationMs } = ctx.config.manyRooms;
    const dataDir = dataDirFor(ctx, spec, 'many-rooms');
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
          docs: Array.from({ length: docs }, (_, i) => `room-${i}`),
          writersPerDoc,
          readersPerDoc,
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
    return outcome(manyRooms, spec, {
      figures: [
        {
          key: 'cpuPerUpdate',
          label: 'CPU per update',
          value: (phase.serverCpuSeconds * 1e6) / phase.sent,
          unit: 'µs',
          better: 'lower',
          target: { ratio: 0.5 },
        },
        { key: 'p99', label: 'latency p99', value: phase.latency.p99Ms, unit: 'ms', better: 'lower', target: { ratio: 1 } },
      ],
      failures: steadyFailures(result),
      notes: [
        `${docs} rooms, ${phase.sent} updates in (${Math.round(phase.inboundPerSec)}/s), ` +
          `server CPU ${phase.serverCpuSeconds.toFixed(2)} s (core ${Math.round(phase.serverCoreBusy * 100)}% busy), load generator CPU ${phase.loadgenCpuSeconds.toFixed(2)} s`,
      ],
      raw: result,
    });
  },
};
