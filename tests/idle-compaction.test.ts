/**
 * The heap is compacted once the old generation has grown and the event loop is idle, and not
 * otherwise.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { startIdleCompaction, type Compaction } from '../server/idle-compaction.js';

const MiB = 2 ** 20;

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(20);
}

describe('idle compaction', () => {
  it('compacts once after the old generation grew, when the event loop goes idle', async () => {
    const compactions: Compaction[] = [];
    const stop = startIdleCompaction((compaction) => compactions.push(compaction), { checkIntervalMs: 100, growthMiB: 8 });
    try {
      // Objects kept across many scavenges are promoted: the old generation grows by tens of MiB
      // while the loop is busy, and all of it is garbage once dropped.
      let kept: object[] = [];
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 20_000; i++) kept.push({ round, i, text: `item ${i}` });
        await sleep(1);
      }
      expect(kept.length).toBe(800_000);
      kept = [];
      await until(() => compactions.length > 0, 5000);
      expect(compactions).toHaveLength(1);
      const [compaction] = compactions as [Compaction];
      expect(compaction.before - compaction.after).toBeGreaterThan(8 * MiB);
      const oldSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!;
      expect(oldSpace.space_size).toBeLessThanOrEqual(compaction.after + MiB);
      // No growth since: no second compaction.
      await sleep(400);
      expect(compactions).toHaveLength(1);
    } finally {
      stop();
    }
  });

  it('leaves an idle heap that has not grown alone', async () => {
    const compactions: Compaction[] = [];
    const stop = startIdleCompaction((compaction) => compactions.push(compaction), { checkIntervalMs: 50 });
    await sleep(400);
    stop();
    expect(compactions).toEqual([]);
  });
});
