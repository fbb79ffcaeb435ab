/**
 * LoopLoad, on this process's own event loop: kept busy by running code, or idle on a timer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';

import { LoopLoad } from '../../persistence/loop-load.js';
import { spin } from './helpers.js';

describe('LoopLoad', () => {
  it('reports a loop that ran code through the last period as busy, and one that waited as idle', async () => {
    const load = new LoopLoad(0.5, 20);
    spin(40);
    expect(load.isBusy()).toBe(true);
    await sleep(60);
    expect(load.isBusy()).toBe(false);
    spin(40);
    expect(load.isBusy()).toBe(true);
  });

  it('keeps its answer until a period has passed since it last sampled', async () => {
    const load = new LoopLoad(0.5, 1000);
    // The first period has not passed: the loop counts as idle, however busy it is meanwhile.
    spin(40);
    expect(load.isBusy()).toBe(false);
    await sleep(10);
    expect(load.isBusy()).toBe(false);
  });
});
