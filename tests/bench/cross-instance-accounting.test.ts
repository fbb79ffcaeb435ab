/**
 * The scale-out scenario's promise that cross-instance latency is only counted for updates that
 * arrived, and that an update an instance never passed on is a drop of the readers on that
 * instance. The real load generator types into relay floors standing in for instances
 * (`bench/peers/relay-floor.ts`): two relays that share nothing (a bus that carries nothing: every
 * cross-instance delivery must count as dropped, none of the same-instance ones), and one relay
 * named as both instances (a bus that loses nothing, then one that drops every 25th update).
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import type { LoadGenerator } from '../../bench/loadgen/client.js';
import type { SteadyPlan } from '../../bench/loadgen/plans.js';
import { describeWithTrace, TRACE_DIR } from '../persistence/helpers.js';
import { built } from './built.js';
import { type Relay, startRelay } from './relay.js';

type Client = typeof import('../../bench/loadgen/client.js');
type Scenario = typeof import('../../bench/scenarios/scenario.js');
type Proc = typeof import('../../bench/proc.js');

describeWithTrace('the benchmark counts cross-instance deliveries apart', () => {
  let loadgen: LoadGenerator;
  let scenario: Scenario;
  let cores: ReturnType<Proc['benchCores']>;
  let relays: Relay[] = [];

  beforeAll(async () => {
    process.env.BENCH_DATA_DIR ??= TRACE_DIR;
    const client = await built<Client>('loadgen/client.js');
    scenario = await built<Scenario>('scenarios/scenario.js');
    cores = (await built<Proc>('proc.js')).benchCores();
    loadgen = await client.LoadGenerator.start(cores.load, () => undefined);
  });

  afterAll(() => loadgen?.stop());

  afterEach(async () => {
    await Promise.all(
      relays.map(async (relay) => {
        const exited = once(relay.child, 'exit');
        relay.child.kill();
        await exited;
      }),
    );
    relays = [];
  });

  /** Two shared rooms, one writer each on instance 0, four readers each: two on instance 0, two on instance 1. */
  function plan(instances: Relay[]): SteadyPlan {
    const targets = instances.map((relay) => ({ urlTemplate: relay.url, pid: relay.child.pid! }));
    return {
      dialect: 'y-websocket',
      urlTemplate: targets[0]!.urlTemplate,
      serverPid: targets[0]!.pid,
      serverCore: cores.server,
      instances: targets,
      placement: 'shared',
      docs: ['shared-a', 'shared-b'],
      writersPerDoc: 1,
      readersPerDoc: 4,
      phases: [{ ratePerWriter: 50, durationMs: 1000 }],
      warmupMs: 0,
      leadInMs: 0,
      seed: 7,
      connectConcurrency: 8,
      drainTimeoutMs: 500,
    };
  }

  it('counts every update that never crossed as dropped by the cross-instance readers only', async () => {
    relays = [await startRelay(), await startRelay()];
    const result = await loadgen.steady(plan(relays));
    const phase = result.phases[0]!;
    const { same, cross } = phase.groups!;
    expect(phase.sent).toBeGreaterThanOrEqual(90);
    expect(same).toMatchObject({ readers: 4, expected: phase.sent * 2, delivered: phase.sent * 2, dropped: 0, duplicated: 0 });
    expect(cross).toMatchObject({ readers: 4, expected: phase.sent * 2, delivered: 0, dropped: phase.sent * 2, duplicated: 0 });
    expect(cross.latency.count).toBe(0);
    expect(phase.instanceCpuSeconds).toHaveLength(2);
    expect(scenario.steadyFailures(result)).toEqual([`${phase.sent * 2} of ${phase.sent * 4} deliveries dropped`]);
  });

  it('counts every delivery, and a latency for each, when nothing is lost', async () => {
    const relay = await startRelay();
    relays = [relay];
    const result = await loadgen.steady(plan([relay, relay]));
    const phase = result.phases[0]!;
    const { same, cross } = phase.groups!;
    expect(same).toMatchObject({ expected: phase.sent * 2, delivered: phase.sent * 2, dropped: 0 });
    expect(cross).toMatchObject({ expected: phase.sent * 2, delivered: phase.sent * 2, dropped: 0 });
    expect(same.latency.count + cross.latency.count).toBe(phase.sent * 4);
    expect(scenario.steadyFailures(result)).toEqual([]);
  });

  it('attributes each dropped delivery to exactly one group', async () => {
    const relay = await startRelay('drop');
    relays = [relay];
    const result = await loadgen.steady(plan([relay, relay]));
    const phase = result.phases[0]!;
    const { same, cross } = phase.groups!;
    const wrong = Math.floor(phase.sent / relay.faultEvery);
    expect(wrong).toBeGreaterThan(0);
    expect(phase.dropped).toBe(wrong);
    expect(same.dropped + cross.dropped).toBe(wrong);
    expect(same.delivered + cross.delivered).toBe(phase.delivered);
    expect(same.latency.count + cross.latency.count).toBe(phase.delivered);
  });
});
