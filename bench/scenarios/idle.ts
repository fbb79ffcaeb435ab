/**
 * Idle: thousands of connections spread over many documents, synced and then silent. Measures the
 * server's resident memory once they are all open and it has settled.
 *
 * Settled means idle for `settleMs` (45 s in the full run), sampled every second. Opening 10,000
 * connections leaves every server holding the storm's garbage for a while, and when its garbage
 * collector returns that depends on the runtime (V8's memory reducer waits for the process to go
 * quiet, then runs on its own schedule): a figure taken seconds after the storm measures that
 * timing, not what an idle server holds. The figure is therefore the median of the last three
 * samples; the sample `earlyMs` after the last connection opened is reported beside it.
 *
 * Before the baseline, every server answers one plain HTTP request, as a deployed server answers
 * its load balancer's health checks: whatever a server loads only for HTTP is then counted, as it
 * would be in production.
 */
import { rssBytes, sleep } from '../proc.js';
import { cleanUp, dataDirFor, median, outcome, withServer, type Scenario } from './scenario.js';

const MiB = 2 ** 20;

export const idle: Scenario = {
  name: 'idle',
  title: 'idle: many connections, many docs',
  run: async (ctx, spec) => {
    const { docs, connectionsPerDoc, settleMs, earlyMs } = ctx.config.idle;
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
      const samples = await sampleRss(server.pid, settleMs, (atMs, rss) =>
        ctx.log(`  idle for ${Math.round(atMs / 1000)} s: RSS ${(rss / MiB).toFixed(1)} MiB`),
      );
      const early = samples.find((sample) => sample.atMs >= earlyMs) ?? samples[0]!;
      const settled = median(samples.slice(-3).map((sample) => sample.rss));
      const stillOpen = await ctx.loadgen.idleStillOpen();
      await ctx.loadgen.closeIdle();
      return { baseline, rss: settled, early: early.rss, samples, opened, stillOpen };
    });
    cleanUp(ctx, dataDir);
    const failures: string[] = [];
    if (measured.opened.failed > 0) failures.push(`${measured.opened.failed} of ${total} connections failed: ${measured.opened.errors.join('; ')}`);
    if (measured.stillOpen < measured.opened.opened) failures.push(`${measured.opened.opened - measured.stillOpen} connections dropped while idle`);
    return outcome(idle, spec, {
      figures: [
        { key: 'rss', label: `server RSS, ${settleMs / 1000} s idle`, value: measured.rss / MiB, unit: 'MiB', better: 'lower', target: { ratio: 0.6 } },
        { key: 'rssEarly', label: `server RSS, ${earlyMs / 1000} s idle`, value: measured.early / MiB, unit: 'MiB', better: 'lower', info: true },
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
      notes: [
        `${total} connections on ${docs} docs; RSS before connecting ${(measured.baseline / MiB).toFixed(1)} MiB`,
        `RSS while idle, one sample a second (MiB): ${measured.samples.map((sample) => (sample.rss / MiB).toFixed(0)).join(' ')}`,
      ],
      raw: measured,
    });
  },
};

/**
 * Samples the server's RSS once a second for `durationMs`, calling `progress` every ten samples.
 * Each sample carries the time since sampling began.
 */
async function sampleRss(pid: number, durationMs: number, progress: (atMs: number, rss: number) => void): Promise<{ atMs: number; rss: number }[]> {
  const samples: { atMs: number; rss: number }[] = [];
  const start = performance.now();
  for (let next = 1000; next <= durationMs; next += 1000) {
    await sleep(Math.max(0, start + next - performance.now()));
    const sample = { atMs: performance.now() - start, rss: rssBytes(pid) };
    samples.push(sample);
    if (samples.length % 10 === 0) progress(sample.atMs, sample.rss);
  }
  return samples;
}

