/**
 * Cold load: replay a long trace into one document, one update per keystroke (or, where a plan
 * asks, per batch of keystrokes), as fast as the server accepts it (a watching reader paces the
 * writer); later, after the server restarted, time a fresh client from connecting to holding the
 * full text.
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
  const batch = Math.max(1, plan.batch ?? 1);
  const replay = replayFor(plan.clientId, Math.ceil(plan.keystrokes / batch), 'b4', batch);
  // Updates to send, and at most `window` keystrokes of them in flight.
  const total = Math.min(Math.ceil(plan.keystrokes / batch), replay.updates.length);
  const window = Math.max(1, Math.floor(plan.window / batch));
  progress(`generated ${total} ${batch === 1 ? 'keystroke updates' : `updates of ${batch} keystrokes`} in ${Math.round(performance.now() - generateStart)} ms`);
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
    while (sent < total && sent - delivered < window) {
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
  const keystrokes = Math.min(total * batch, replay.keystrokes);
  return { keystrokes, updates: total, sent, delivered, ms, length: textAfter(plan.clientId, total, batch).length };
}

/**
 * The text the writer's doc held after `count` keystrokes, or `count` updates of `batch` keystrokes
 * each (what a full load must show).
 */
export function textAfter(clientId: number, count: number, batch = 1): string {
  const replay = replayFor(clientId, count, 'b4', batch);
  if (replay.updates.length !== count) throw new RangeError(`client ${clientId} has ${replay.updates.length} updates, not ${count}`);
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
