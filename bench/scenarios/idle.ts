/**
 * Idle: thousands of connections spread over many documents, synced and then silent. Measures the
 * server's resident memory once they are all open and it has settled.
 *
 * Settled means the RSS has held within 2% for `steadyMs` (25 s), after at least `minMs` of
 * idleness and at most `maxMs`, sampled every second. Opening 10,000 connections leaves every
 * server holding the storm's garbage for a while, and when its garbage collector gives it back
 * is the runtime's schedule, not the server's footprint: V8's memory reducer waits for a quiet
 * process, then runs up to three collections some 8 s or more apart (seen here from 13 s to
 * 45 s after the storm). A fixed moment would catch some servers before and some after. The
 * figure is the median of the last three samples; the sample `earlyMs` after the last
 * connection opened (before any of that) is reported beside it.
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
    const { docs, connectionsPerDoc, earlyMs } = ctx.config.idle;
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
      const { samples, steady } = await sampleUntilSteady(server.pid, ctx.config.idle, (atMs, rss) =>
        ctx.log(`  idle for ${Math.round(atMs / 1000)} s: RSS ${(rss / MiB).toFixed(1)} MiB`),
      );
      const early = samples.find((sample) => sample.atMs >= earlyMs) ?? samples[0]!;
      const settled = median(samples.slice(-3).map((sample) => sample.rss));
      const idleMs = samples.at(-1)!.atMs;
      ctx.log(`  ${steady ? 'settled' : 'still changing'} after ${Math.round(idleMs / 1000)} s idle: RSS ${(settled / MiB).toFixed(1)} MiB`);
      const stillOpen = await ctx.loadgen.idleStillOpen();
      await ctx.loadgen.closeIdle();
      return { baseline, rss: settled, early: early.rss, samples, steady, idleMs, opened, stillOpen };
    });
    cleanUp(ctx, dataDir);
    const failures: string[] = [];
    if (measured.opened.failed > 0) failures.push(`${measured.opened.failed} of ${total} connections failed: ${measured.opened.errors.join('; ')}`);
    if (measured.stillOpen < measured.opened.opened) failures.push(`${measured.opened.opened - measured.stillOpen} connections dropped while idle`);
    return outcome(idle, spec, {
      figures: [
        { key: 'rss', label: 'server RSS, settled', value: measured.rss / MiB, unit: 'MiB', better: 'lower', target: { ratio: 0.6 } },
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
        ...(measured.steady ? [] : [`RSS still changing after ${Math.round(measured.idleMs / 1000)} s idle: the settled figure is the last samples'`]),
      ],
      raw: measured,
    });
  },
};

/**
 * Samples the server's RSS once a second until it has held within 2% for `steadyMs`, and at
 * least `minMs` have passed; at most `maxMs`. Calls `progress` every ten samples. Each sample
 * carries the time since sampling began.
 */
async function sampleUntilSteady(
  pid: number,
  { minMs, steadyMs, maxMs }: { minMs: number; steadyMs: number; maxMs: number },
  progress: (atMs: number, rss: number) => void,
): Promise<{ samples: { atMs: number; rss: number }[]; steady: boolean }> {
  const samples: { atMs: number; rss: number }[] = [];
  const start = performance.now();
  for (let next = 1000; next <= maxMs; next += 1000) {
    await sleep(Math.max(0, start + next - performance.now()));
    const sample = { atMs: performance.now() - start, rss: rssBytes(pid) };
    samples.push(sample);
    if (samples.length % 10 === 0) progress(sample.atMs, sample.rss);
    if (sample.atMs < minMs || sample.atMs < steadyMs) continue;
    const window = samples.filter((earlier) => earlier.atMs >= sample.atMs - steadyMs).map((earlier) => earlier.rss);
    if (Math.max(...window) <= Math.min(...window) * 1.02) return { samples, steady: true };
  }
  return { samples, steady: false };
}
