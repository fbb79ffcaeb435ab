/** A small seeded generator (mulberry32), so every random choice of a run replays from its seed. */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for a run: from `--seed`, else from the clock. */
export function newSeed(): number {
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}
