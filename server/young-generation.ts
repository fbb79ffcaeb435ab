/**
 * A cap on V8's young generation, for a server that holds many idle connections: V8 doubles it
 * whenever much of a scavenge survives and keeps it at that size while idle, which opening
 * thousands of connections does, while the garbage of one message here is small. Growth is allowed
 * up to the cap, then stopped (V8 reads its growth factor at each growth). A size given on the
 * command line or in NODE_OPTIONS wins. Figures: docs/decisions/2026-12-07-young-generation-cap.md.
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
