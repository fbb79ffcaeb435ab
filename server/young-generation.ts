/**
 * A cap on V8's young generation, for a server that holds many idle connections.
 *
 * V8 doubles the young generation (two semi-spaces, up to 16 MiB each on 64-bit Node) whenever
 * much of it survives a scavenge, and keeps it at that size while the process is idle. Opening
 * thousands of connections is exactly that (each leaves a few KiB that outlive their first
 * scavenge), so an idle server ended up holding 30 MiB of young generation, resident and empty:
 * the largest single item of its memory in the idle benchmark (10,000 connections). The garbage
 * of one message is small here, so semi-spaces past a few MiB buy little. Measured with the cap
 * below against none: idle benchmark RSS about 25 MiB lower; many-rooms benchmark, scavenges
 * took 370 to 670 ms instead of 210 ms of a 20 s run (2 to 5% of the server's CPU); fan-out,
 * 86 ms instead of 65 ms.
 *
 * Node cannot change the maximum size once V8 runs, but V8 reads its growth factor at each
 * growth: setting it to 1 stops the growth where it is. So growth is allowed up to the cap, then
 * stopped. (Node documents flags changed at run time as unsupported; this one was checked on
 * Node 20, V8 11.3. Were it ignored, the young generation would simply grow as before.) A size chosen by whoever starts the process (`--max-semi-space-size` on the command
 * line or in NODE_OPTIONS) wins: nothing is changed then.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The largest semi-space the young generation may grow to, in MiB. */
export const SEMI_SPACE_CAP_MIB = 4;

/** Caps the young generation at `SEMI_SPACE_CAP_MIB` semi-spaces (see above). Call once, at startup. */
export function capYoungGeneration(): void {
  const chosen = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (chosen.includes('semi-space-size') || chosen.includes('semi_space_size')) return;
  if (stopGrowthAtCap()) return;
  // Not there yet: look again after each garbage collection until it is.
  const observer = new PerformanceObserver(() => {
    if (stopGrowthAtCap()) observer.disconnect();
  });
  observer.observe({ entryTypes: ['gc'] });
}

/** Stops the young generation's growth if it has reached the cap; returns whether it has. */
function stopGrowthAtCap(): boolean {
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  // A V8 without this space has no young generation of this kind to cap.
  if (newSpace === undefined) return true;
  // `space_size` counts both semi-spaces.
  if (newSpace.space_size / 2 < SEMI_SPACE_CAP_MIB * 2 ** 20) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
