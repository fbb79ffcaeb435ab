/**
 * Crash: writers type steadily, the server is killed with SIGKILL at a random moment (seeded; the
 * same moments for every server), restarted on the same data, and every edit a reader had received
 * before the kill must still be there. Any lost edit fails the scenario.
 */
import { seededRandom } from '../random.js';
import { ServerProcess } from '../servers.js';
import { cleanUp, dataDirFor, outcome, type Scenario } from './scenario.js';

export const crash: Scenario = {
  name: 'crash',
  title: 'crash: kill -9 during typing, restart',
  run: async (ctx, spec) => {
    const { trials, docs, ratePerWriter, killAfterMs } = ctx.config.crash;
    const random = seededRandom(ctx.seed);
    const dataDir = dataDirFor(ctx, spec, 'crash');
    const perTrial: { killAtMs: number; sent: number; observed: number; present: number; lost: number }[] = [];
    for (let t = 0; t < trials; t++) {
      const killAtMs = Math.round(killAfterMs[0] + random() * (killAfterMs[1] - killAfterMs[0]));
      const session = `crash-${t}`;
      let server = await ServerProcess.start(spec, dataDir, ctx.cores.server);
      try {
        await ctx.loadgen.steady({
          dialect: spec.dialect,
          urlTemplate: server.urlTemplate,
          serverPid: server.pid,
          serverCore: ctx.cores.server,
          docs: Array.from({ length: docs }, (_, i) => `crash-${t}-${i}`),
          writersPerDoc: 1,
          readersPerDoc: 1,
          phases: [{ ratePerWriter, durationMs: killAfterMs[1] + 5000 }],
          warmupMs: 0,
          leadInMs: 0,
          seed: ctx.seed + t,
          connectConcurrency: 20,
          drainTimeoutMs: 2000,
          killAtMs,
          session,
        });
        await server.exited;
        server = await ServerProcess.start(spec, dataDir, ctx.cores.server);
        const verified = await ctx.loadgen.verify({
          dialect: spec.dialect,
          urlTemplate: server.urlTemplate,
          serverPid: server.pid,
          serverCore: ctx.cores.server,
          session,
          timeoutMs: 30_000,
        });
        perTrial.push({ killAtMs, ...verified });
        ctx.log(`  trial ${t + 1}: killed at ${killAtMs} ms, ${verified.observed} edits observed, ${verified.lost} lost`);
      } finally {
        await server.stop();
      }
    }
    cleanUp(ctx, dataDir);
    const observed = perTrial.reduce((sum, trial) => sum + trial.observed, 0);
    const lost = perTrial.reduce((sum, trial) => sum + trial.lost, 0);
    return outcome(crash, spec, {
      figures: [
        { key: 'lost', label: 'observed edits lost', value: lost, unit: '', better: 'lower', target: { equals: 0 }, ratio: false },
        { key: 'observed', label: 'edits observed', value: observed, unit: '', better: 'higher', info: true, ratio: false },
      ],
      failures: lost > 0 ? [`${lost} of ${observed} observed edits lost after kill -9`] : [],
      notes: [
        `${trials} trials, ${docs} docs, ${ratePerWriter} edits/s per writer; ` +
          `${perTrial.reduce((sum, trial) => sum + trial.sent, 0)} edits sent, ${observed} observed, ` +
          `${perTrial.reduce((sum, trial) => sum + trial.present, 0)} present after restart`,
      ],
      raw: perTrial,
    });
  },
};
