/**
 * Long histories: the first 100,000 keystroke transactions of the automerge-paper trace, stored
 * the way the engine stores them, must load and fold in time linear in the history. Only the ratio
 * of two timings is asserted (a quadratic fold), never a time: a slow machine is not a failure.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as Y from 'yjs';

import { applyStoredDocument, compactUpdates } from '../../persistence/compaction.js';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { describeWithTrace, Editor, hasPaperTrace, loadPaperTrace, makeTempDir, nextTurn } from './helpers.js';

const HISTORY = 100_000;
const COMPACT_EVERY = 1_000;
/** Appends per event-loop turn: a busy server's tick, and the size of each group-committed batch. */
const PER_TICK = 100;

let store: LevelDocumentStore;
let cleanup: () => Promise<void>;
/** One update per trace transaction, and the text after each prefix of them is applied. */
let updates: Uint8Array[];
/** 250 keystrokes typed after the history, which stay in the log after the last compaction. */
let tail: Uint8Array[];
let finalText: string;
let textAt25k: string;

beforeAll(async () => {
  if (!hasPaperTrace) return; // describeWithTrace reports it
  const trace = await loadPaperTrace();
  const editor = new Editor();
  updates = [];
  for (let i = 0; i < HISTORY; i++) {
    updates.push(editor.apply(trace.txns[i]!.patches));
    if (i + 1 === HISTORY / 4) textAt25k = editor.text.toString();
  }
  finalText = editor.text.toString();
  tail = editor.type('x'.repeat(250));
  const temp = await makeTempDir();
  cleanup = temp.cleanup;
  store = await LevelDocumentStore.open(temp.dir);
}, 60_000);

afterAll(async () => {
  await store?.close();
  await cleanup?.();
});

const ms = (start: number): number => Math.round(performance.now() - start);

describeWithTrace('a 100,000-update history', () => {
  it('compacted every 1,000 appends, loads and applies in well under a second', async () => {
    // Replay as the engine does: apply each keystroke to the room's doc, append it, and once
    // 1,000 are logged, compact with the doc's state without waiting for anything.
    const room = new Y.Doc();
    const writes: Promise<unknown>[] = [];
    const start = performance.now();
    for (let i = 0; i < HISTORY + 250; i++) {
      const update = i < HISTORY ? updates[i]! : tail[i - HISTORY]!;
      Y.applyUpdate(room, update);
      const written = store.append('paper', update);
      writes.push(written);
      if ((i + 1) % COMPACT_EVERY === 0) {
        // Once this update is journaled, up to where that write left the document, with the
        // doc's state then (which holds everything appended so far).
        writes.push(written.then((at) => store.compact('paper', Y.encodeStateAsUpdate(room), at.position('paper'))));
      }
      if ((i + 1) % PER_TICK === 0) await nextTurn();
    }
    await Promise.all(writes);
    console.log(`stored ${HISTORY + 250} updates with ${HISTORY / COMPACT_EVERY} compactions in ${ms(start)} ms`);
    expect(await store.logLength('paper')).toBe(250);

    const loadStart = performance.now();
    const stored = await store.load('paper');
    const doc = new Y.Doc();
    applyStoredDocument(doc, stored);
    const elapsed = ms(loadStart);
    console.log(`load + apply of the compacted 100k history: ${elapsed} ms (state ${stored.state?.byteLength} bytes, ${stored.updates.length} logged)`);

    expect(stored.updates).toHaveLength(250);
    expect(doc.getText('text').toString()).toBe(room.getText('text').toString());
  }, 120_000);

  it('uncompacted, loads and folds in linear time', async () => {
    const start = performance.now();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < HISTORY; i++) {
      writes.push(store.append('raw', updates[i]!));
      if ((i + 1) % 1000 === 0) await nextTurn();
    }
    await Promise.all(writes);
    const writeMs = ms(start);
    console.log(`appended ${HISTORY} updates (1,000 per tick) in ${writeMs} ms: ${Math.round(HISTORY / (writeMs / 1000))} updates/s`);

    const loadStart = performance.now();
    const stored = await store.load('raw');
    const readMs = ms(loadStart);
    expect(stored.updates).toHaveLength(HISTORY);

    // Warm up Yjs on a small fold so the timings below compare like with like.
    compactUpdates(stored.updates.slice(0, 2_000));
    const quarter = timeApply(stored.updates.slice(0, HISTORY / 4));
    const full = timeApply(stored.updates);
    console.log(
      `read ${HISTORY} logged updates: ${readMs} ms; apply 25k: ${quarter.ms} ms, apply 100k: ${full.ms} ms (ratio ${(full.ms / quarter.ms).toFixed(1)}, linear is 4, quadratic 16)`,
    );

    expect(quarter.text).toBe(textAt25k);
    expect(full.text).toBe(finalText);
    // Four times the history may cost at most ten times the time (plus noise), far from quadratic.
    expect(full.ms).toBeLessThan(10 * quarter.ms + 100);

    const foldStart = performance.now();
    const folded = compactUpdates(stored.updates);
    console.log(`compactUpdates of ${HISTORY} updates: ${ms(foldStart)} ms, ${folded.byteLength} bytes`);
    const check = new Y.Doc();
    Y.applyUpdate(check, folded);
    expect(check.getText('text').toString()).toBe(finalText);
  }, 120_000);
});

function timeApply(list: readonly Uint8Array[]): { ms: number; text: string } {
  const doc = new Y.Doc();
  const start = performance.now();
  applyStoredDocument(doc, { state: null, updates: list });
  return { ms: Math.max(1, ms(start)), text: doc.getText('text').toString() };
}
