/**
 * Cold load: replay a long trace into one document, one update per keystroke, as fast as the
 * server accepts it (a watching reader paces the writer); later, after the server restarted, time
 * a fresh client from connecting to holding the full text.
 */
import { performance } from 'node:perf_hooks';
import * as Y from 'yjs';
import { BenchSocket } from '../bench-socket.js';
import { DeliveryIndex } from '../delivery-index.js';
import { sleep } from '../proc.js';
import { updateMessage } from '../wire.js';
import type { FetchPlan, FetchResult, ReplayPlan, ReplayResult } from './plans.js';
import { replayFor } from './writers.js';

export async function replayTrace(plan: ReplayPlan, progress: (line: string) => void): Promise<ReplayResult> {
  const generateStart = performance.now();
  const replay = replayFor(plan.clientId, plan.keystrokes);
  const total = Math.min(plan.keystrokes, replay.updates.length);
  progress(`generated ${total} keystroke updates in ${Math.round(performance.now() - generateStart)} ms`);
  const index = new DeliveryIndex();
  index.add(replay);
  const seen = new Uint8Array(total);
  let delivered = 0;
  let wake: (() => void) | null = null;
  const reader = new BenchSocket(plan.urlTemplate, plan.dialect, plan.doc, {
    onUpdate: (payload) => {
      const refs = index.resolve(payload);
      for (let i = 0; i < refs.length; i += 2) {
        const k = refs[i + 1]!;
        if (k < total && seen[k] === 0) {
          seen[k] = 1;
          delivered++;
        }
      }
      wake?.();
    },
  });
  const writer = new BenchSocket(plan.urlTemplate, plan.dialect, plan.doc);
  await Promise.all([reader.synced, writer.synced]);
  const start = performance.now();
  let sent = 0;
  let lastReport = start;
  while (delivered < total) {
    while (sent < total && sent - delivered < plan.window) {
      writer.send(updateMessage(plan.dialect, plan.doc, replay.updates[sent++]!));
    }
    const before = delivered;
    await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(10_000)]);
    wake = null;
    if (delivered === before) break; // stalled: report what arrived
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      progress(`replayed ${delivered}/${total}`);
    }
  }
  const ms = performance.now() - start;
  reader.close();
  writer.close();
  await Promise.race([Promise.all([reader.closed, writer.closed]), sleep(5000)]);
  return { keystrokes: total, sent, delivered, ms, length: textAfter(plan.clientId, total).length };
}

/** The text the writer's doc held after `count` keystrokes (what a full load must show). */
function textAfter(clientId: number, count: number): string {
  const replay = replayFor(clientId, count);
  if (replay.updates.length !== count) throw new RangeError(`client ${clientId} has ${replay.updates.length} keystrokes, not ${count}`);
  return replay.content();
}

export async function fetchFullState(plan: FetchPlan, keystrokes: number): Promise<FetchResult> {
  const expected = textAfter(plan.clientId, keystrokes);
  const doc = new Y.Doc();
  const text = doc.getText('text');
  let completedAt = Number.NaN;
  let start = 0;
  const apply = (payload: Buffer, receivedAt: number): void => {
    Y.applyUpdate(doc, payload);
    if (Number.isNaN(completedAt) && text.length === expected.length && text.toString() === expected) completedAt = receivedAt;
  };
  start = performance.now();
  const socket = new BenchSocket(plan.urlTemplate, plan.dialect, plan.doc, { onSyncStep2: apply, onUpdate: apply });
  while (Number.isNaN(completedAt) && !socket.isClosed && performance.now() - start < plan.timeoutMs) await sleep(2);
  socket.terminate();
  return {
    ms: completedAt - start,
    complete: !Number.isNaN(completedAt),
    length: text.length,
    expectedLength: expected.length,
  };
}
