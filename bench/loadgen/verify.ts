/**
 * After a crash and restart: which keystrokes does the server still hold? A fresh client syncs each
 * room and every clock range it receives is credited to the keystroke that owns it; a keystroke is
 * present when all its clocks are. Lost = observed by a reader before the kill, but not present.
 */
import { performance } from 'node:perf_hooks';
import { BenchSocket, openSockets } from '../bench-socket.js';
import { sleep } from '../proc.js';
import type { VerifyPlan, VerifyResult } from './plans.js';
import type { SteadySession } from './steady.js';

export async function verifySession(session: SteadySession, plan: VerifyPlan): Promise<VerifyResult> {
  const start = performance.now();
  const { index, writers } = session;
  const presentClocks = writers.map((writer) => writer.replay.clockCount.slice(0, writer.sent).fill(0));
  const seenInsert = writers.map(() => new Set<number>());
  const seenDelete = writers.map(() => new Set<number>());
  let lastFrameAt = performance.now();
  const credit = (payload: Buffer): void => {
    lastFrameAt = performance.now();
    index.forEachClock(payload, (slot, clock, deleted) => {
      const writer = writers[slot]!;
      const seen = deleted ? seenDelete[slot]! : seenInsert[slot]!;
      if (seen.has(clock)) return;
      seen.add(clock);
      const k = (deleted ? writer.replay.deleteOwner : writer.replay.insertOwner)[clock];
      if (k !== undefined && k < writer.sent) presentClocks[slot]![k]!++;
    });
  };
  const docs = session.plan.docs;
  const { sockets, failed, errors } = await openSockets(
    docs.length,
    (i) => new BenchSocket(plan.urlTemplate, plan.dialect, docs[i]!, { onSyncStep2: credit, onUpdate: credit }),
    16,
  );
  if (failed > 0) throw new Error(`verify: ${failed} rooms failed to sync: ${errors.join('; ')}`);

  const count = (): { lost: number; present: number } => {
    let lost = 0;
    let present = 0;
    writers.forEach((writer, slot) => {
      for (let k = 0; k < writer.sent; k++) {
        const isPresent = presentClocks[slot]![k] === writer.replay.clockCount[k];
        if (isPresent) present++;
        else if (writer.observed[k] === 1) lost++;
      }
    });
    return { lost, present };
  };
  // A server may send the stored state after sync step 2 (y-websocket loads asynchronously): wait
  // until nothing is missing, or until the rooms have been quiet for a while.
  let counts = count();
  while (counts.lost > 0 && performance.now() - lastFrameAt < 1500 && performance.now() - start < plan.timeoutMs) {
    await sleep(50);
    counts = count();
  }
  for (const socket of sockets) socket.terminate();
  return {
    sent: writers.reduce((sum, writer) => sum + writer.sent, 0),
    observed: writers.reduce((sum, writer) => sum + writer.observed.reduce((a, b) => a + b, 0), 0),
    lost: counts.lost,
    present: counts.present,
    ms: performance.now() - start,
  };
}
