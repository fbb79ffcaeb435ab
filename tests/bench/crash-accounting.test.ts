/**
 * The benchmark's crash scenario as `npm run bench` runs it (real load generator, real server
 * processes killed with SIGKILL and restarted on the same data): it must find every observed edit
 * lost on a server that keeps nothing (the relay floor), and none on ours.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

import type { LoadGenerator } from '../../bench/loadgen/client.js';
import type { ScenarioContext } from '../../bench/scenarios/scenario.js';
import { describeWithTrace, TRACE_DIR } from '../persistence/helpers.js';
import { built } from './built.js';

type Crash = typeof import('../../bench/scenarios/crash.js');
type Servers = typeof import('../../bench/servers.js');

describeWithTrace("the benchmark's crash scenario", () => {
  let crash: Crash['crash'];
  let serverSpecs: Servers['serverSpecs'];
  let loadgen: LoadGenerator;
  let ctx: ScenarioContext;
  const log: string[] = [];

  beforeAll(async () => {
    process.env.BENCH_DATA_DIR ??= TRACE_DIR;
    ({ crash } = await built<Crash>('scenarios/crash.js'));
    ({ serverSpecs } = await built<Servers>('servers.js'));
    const { quickConfig } = await built<typeof import('../../bench/config.js')>('config.js');
    const { benchCores } = await built<typeof import('../../bench/proc.js')>('proc.js');
    const { LoadGenerator: Generator } = await built<typeof import('../../bench/loadgen/client.js')>('loadgen/client.js');
    const cores = benchCores();
    loadgen = await Generator.start(cores.load, (line) => log.push(line));
    // Quick mode's crash: two trials of four writers at 30 edits/s, each killed 0.3 to 1 s in.
    ctx = { config: quickConfig, loadgen, cores, seed: 11, workDir: await mkdtemp(join(tmpdir(), 'bench-crash-')), keep: false, log: (line) => log.push(line) };
  });

  afterAll(async () => {
    loadgen?.stop();
    if (ctx) await rm(ctx.workDir, { recursive: true, force: true });
  });

  it('finds every observed edit lost on a server that keeps nothing', async () => {
    const outcome = await crash.run(ctx, serverSpecs.floor);
    const [lost, observed] = outcome.figures;
    expect(observed!.value).toBeGreaterThan(0);
    expect(lost!.value).toBe(observed!.value);
    expect(outcome.ok).toBe(false);
    expect(outcome.failures).toEqual([`${observed!.value} of ${observed!.value} observed edits lost after kill -9`]);
  });

  it('finds nothing lost on ours', async () => {
    const outcome = await crash.run(ctx, serverSpecs.ours);
    const [lost, observed] = outcome.figures;
    expect(observed!.value).toBeGreaterThan(0);
    expect(lost!.value).toBe(0);
    expect(outcome).toMatchObject({ ok: true, failures: [] });
  });
});
