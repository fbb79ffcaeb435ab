/**
 * The load generator's writers: one TypingReplay per Yjs client id, generated once per process and
 * reused by every server of a run, so each server receives byte-identical updates.
 */
import { loadTrace, type TraceName } from '../trace.js';
import { TypingReplay } from '../typing.js';
import type { Random } from '../random.js';

const replays = new Map<string, TypingReplay>();

/**
 * The replay for `clientId` (created on first use) with at least `count` keystrokes generated, or
 * with `keystrokesPerUpdate` above 1, `count` updates of that many keystrokes each.
 */
export function replayFor(clientId: number, count: number, trace: TraceName = 'b4', keystrokesPerUpdate = 1): TypingReplay {
  const key = `${clientId}/${keystrokesPerUpdate}`;
  let replay = replays.get(key);
  if (replay === undefined) {
    replay = new TypingReplay(loadTrace(trace), clientId, keystrokesPerUpdate);
    replays.set(key, replay);
  }
  replay.generate(count);
  return replay;
}

/** `count` distinct Yjs client ids drawn from `random` (Yjs ids are 32-bit unsigned). */
export function clientIds(count: number, random: Random): number[] {
  const ids = new Set<number>();
  while (ids.size < count) ids.add(1 + Math.floor(random() * 0xfffffff0));
  return [...ids];
}
