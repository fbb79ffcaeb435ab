/**
 * The benchmark's promise that a server which drops, duplicates or misdelivers an update fails its
 * scenario, whatever its speed. The real load generator (its own process, as in a benchmark run)
 * types the real trace into the relay floor, once honest and once per kind of fault
 * (`bench/peers/relay-floor.ts --fault`), and must count exactly the deliveries the relay got wrong.
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import type { LoadGenerator } from '../../bench/loadgen/client.js';
import type { SteadyPlan, SteadyResult } from '../../bench/loadgen/plans.js';
import { describeWithTrace, TRACE_DIR } from '../persistence/helpers.js';
import { built } from './built.js';
import { type Relay, startRelay } from './relay.js';

type Client = typeof import('../../bench/loadgen/client.js');
type Scenario = typeof import('../../bench/scenarios/scenario.js');
type Proc = typeof import('../../bench/proc.js');

describeWithTrace('the benchmark counts every delivery a server gets wrong', () => {
  let client: Client;
  let scenario: Scenario;
  let loadgen: LoadGenerator;
  let cores: ReturnType<Proc['benchCores']>;
  const progress: string[] = [];
  let relay: Relay | null = null;

  beforeAll(async () => {
    process.env.BENCH_DATA_DIR ??= TRACE_DIR;
    client = await built<Client>('loadgen/client.js');
    scenario = await built<Scenario>('scenarios/scenario.js');
    cores = (await built<Proc>('proc.js')).benchCores();
    loadgen = await client.LoadGenerator.start(cores.load, (line) => progress.push(line));
  });

  afterAll(() => loadgen?.stop());

  afterEach(async () => {
    if (relay === null) return;
    const exited = once(relay.child, 'exit');
    relay.child.kill();
    await exited;
    relay = null;
  });

  /** Two rooms, one writer and three readers each, one second at 50 keystrokes/s per writer. */
  async function typeInto(target: Relay): Promise<SteadyResult> {
    const plan: SteadyPlan = {
      dialect: 'y-websocket',
      urlTemplate: `ws://127.0.0.1:${target.port}/ws/{doc}`,
      serverPid: target.child.pid!,
      serverCore: cores.server,
      docs: ['room-a', 'room-b'],
      writersPerDoc: 1,
      readersPerDoc: 3,
      phases: [{ ratePerWriter: 50, durationMs: 1000 }],
      warmupMs: 0,
      leadInMs: 0,
      seed: 5,
      connectConcurrency: 8,
      drainTimeoutMs: 500,
    };
    return await loadgen.steady(plan);
  }

  it('finds nothing wrong with an honest relay', async () => {
    relay = await startRelay();
    const result = await typeInto(relay);
    const [phase] = result.phases;
    // Real typing happened; how much of the planned 100 keystrokes depends on the machine's load,
    // and the accounting below is what this test holds.
    expect(phase!.sent).toBeGreaterThanOrEqual(25);
    expect(phase).toMatchObject({ expected: phase!.sent * 3, delivered: phase!.sent * 3, dropped: 0, duplicated: 0, misdelivered: 0 });
    expect(scenario.steadyFailures(result)).toEqual([]);
  });

  it('counts each delivery a relay leaves out, and fails the run', async () => {
    relay = await startRelay('drop');
    const result = await typeInto(relay);
    const [phase] = result.phases;
    const wrong = Math.floor(phase!.sent / relay.faultEvery);
    expect(wrong).toBeGreaterThan(0);
    expect(phase).toMatchObject({ dropped: wrong, duplicated: 0, misdelivered: 0, delivered: phase!.sent * 3 - wrong });
    expect(scenario.steadyFailures(result)).toEqual([`${wrong} of ${phase!.sent * 3} deliveries dropped`]);
  });

  it('counts each delivery a relay sends twice, and fails the run', async () => {
    relay = await startRelay('duplicate');
    const result = await typeInto(relay);
    const [phase] = result.phases;
    const wrong = Math.floor(phase!.sent / relay.faultEvery);
    expect(wrong).toBeGreaterThan(0);
    expect(phase).toMatchObject({ dropped: 0, duplicated: wrong, misdelivered: 0, delivered: phase!.sent * 3 });
    expect(scenario.steadyFailures(result)).toEqual([`${wrong} deliveries duplicated`]);
  });

  it('counts each delivery a relay sends to another room, and fails the run', async () => {
    relay = await startRelay('misdeliver');
    const result = await typeInto(relay);
    const [phase] = result.phases;
    // Each wrong update reaches the other room's three readers (its writer ignores it).
    const wrong = Math.floor(phase!.sent / relay.faultEvery) * 3;
    expect(wrong).toBeGreaterThan(0);
    expect(phase).toMatchObject({ dropped: 0, duplicated: 0, misdelivered: wrong, delivered: phase!.sent * 3 });
    expect(scenario.steadyFailures(result)).toEqual([`${wrong} deliveries to the wrong room`]);
  });
});
