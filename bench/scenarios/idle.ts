/**
 * Idle: thousands of connections spread over many documents, synced and then silent. Measures the
 * server's resident memory once they are all open and it has settled.
 *
 * Before the baseline, every server answers one plain HTTP request, as a deployed server answers
 * its load balancer's health checks: whatever a server loads only for HTTP is then counted, as it
 * would be in production.
 */
import { rssBytes, sleep } from '../proc.js';
import { cleanUp, dataDirFor, outcome, withServer, type Scenario } from './scenario.js';

const MiB = 2 ** 20;

export const idle: Scenario = {
  name: 'idle',
  title: 'idle: many connections, many docs',
  run: async (ctx, spec) => {
    const { docs, connectionsPerDoc, settleMs } = ctx.config.idle;
    const total = docs * connectionsPerDoc;
    const dataDir = dataDirFor(ctx, spec, 'idle');
    const measured = await withServer(ctx, spec, dataDir, async (server) => {
      await sleep(500);
      const health = await fetch(`http://127.0.0.1:${server.port}/`);
      await health.arrayBuffer();
      const baseline = rssBytes(server.pid);
      const opened = await ctx.loadgen.openIdle({
        dialect: spec.dialect,
        urlTemplate: server.urlTemplate,
        serverPid: server.pid,
        serverCore: ctx.cores.server,
        docs,
        connectionsPerDoc,
        connectConcurrency: 100,
      });
      ctx.log(`  ${opened.opened}/${total} idle connections synced in ${Math.round(opened.ms)} ms`);
      await sleep(settleMs);
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) {
        samples.push(rssBytes(server.pid));
        await sleep(300);
      }
      const stillOpen = await ctx.loadgen.idleStillOpen();
      await ctx.loadgen.closeIdle();
      return { baseline, rss: Math.max(...samples), samples, opened, stillOpen };
    });
    cleanUp(ctx, dataDir);
    const failures: string[] = [];
    if (measured.opened.failed > 0) failures.push(`${measured.opened.failed} of ${total} connections failed: ${measured.opened.errors.join('; ')}`);
    if (measured.stillOpen < measured.opened.opened) failures.push(`${measured.opened.opened - measured.stillOpen} connections dropped while idle`);
    return outcome(idle, spec, {
      figures: [
        { key: 'rss', label: 'server RSS', value: measured.rss / MiB, unit: 'MiB', better: 'lower', target: { ratio: 0.6 } },
        {
          key: 'perConnection',
          label: 'RSS per connection',
          value: (measured.rss - measured.baseline) / total / 1024,
          unit: 'KiB',
          better: 'lower',
          info: true,
        },
      ],
      failures,
      notes: [`${total} connections on ${docs} docs; RSS before connecting ${(measured.baseline / MiB).toFixed(1)} MiB`],
      raw: measured,
    });
  },
};
