/**
 * What version history costs, on the real B4 editing trace (`npm run bench:history`): the B4
 * document typed keystroke by keystroke, a version taken every 1/100th of the trace through the
 * server's own history (`DocumentHistory`) into a real LevelDB store, then:
 *
 * - bytes stored per version (keyframes and deltas), beside a whole snapshot per version;
 * - the time to load the document with those 100 versions beside none (versions live apart from
 *   the document's log, so a load must not read them), to list them, and to read a version back.
 *
 * The figures go in docs/decisions/2026-12-07-version-storage.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { LevelDocumentStore } from '../persistence/level/store.js';
import { DocumentHistory } from '../server/history/history.js';
import { createLogger } from '../server/logger.js';
import { loadTrace } from './trace.js';

const VERSIONS = 100;
const RUNS = 21;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed(body: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await body();
    times.push(performance.now() - start);
  }
  return median(times);
}

const trace = loadTrace('b4');
const dir = await mkdtemp(join(tmpdir(), 'history-cost-'));
let store = await LevelDocumentStore.open(dir);
const logger = createLogger({ logLevel: 'silent', logFormat: 'json' });
const historyOptions = { versionQuietMs: 0, versionIntervalMs: 60_000, keepVersions: { count: null, maxAgeMs: null }, logger };
let history = new DocumentHistory(store, historyOptions);
const doc = new Y.Doc();
const text = doc.getText('t');
let written = { b4: store.append('b4', new Uint8Array([0, 0])), bare: store.append('b4-bare', new Uint8Array([0, 0])) };
doc.on('update', (update: Uint8Array) => {
  written = { b4: store.append('b4', update), bare: store.append('b4-bare', update) };
});
const source = { name: 'b4', failed: false, snapshot: async () => ({ state: Y.encodeStateAsUpdate(doc), head: (await written.b4).position('b4') }) };
const every = Math.ceil(trace.txns.length / VERSIONS);
let wholeBytes = 0;
for (let i = 0; i < trace.txns.length; i++) {
  for (const [position, deleted, inserted] of trace.txns[i]!) {
    doc.transact(() => {
      if (deleted > 0) text.delete(position, deleted);
      if (inserted !== '') text.insert(position, inserted);
    });
  }
  if ((i + 1) % every === 0 || i === trace.txns.length - 1) {
    const version = await history.take(source, { kind: 'auto' });
    wholeBytes += version.size;
  }
}
await store.flush();
// As a server leaves a document once it unloads: its log compacted into one state.
const state = Y.encodeStateAsUpdate(doc);
await store.compact('b4', state, (await written.b4).position('b4'));
await store.compact('b4-bare', state, (await written.bare).position('b4-bare'));
// Closed and opened again, as after a restart: LevelDB has compacted the cleared log away.
await store.close();
store = await LevelDocumentStore.open(dir);
history = new DocumentHistory(store, historyOptions);
const versions = await store.listVersions('b4');
const stored = versions.reduce((sum, version) => sum + version.bytes, 0);
const keyframes = versions.filter((version) => version.base === null).length;
const loadWith = await timed(() => store.load('b4'));
const loadWithout = await timed(() => store.load('b4-bare'));
const list = await timed(() => history.list('b4'));
const newest = versions.at(-1)!.id;
const middle = versions[Math.floor(versions.length / 2)]!.id;
const readNewest = await timed(() => history.read('b4', newest));
const readMiddle = await timed(() => history.read('b4', middle));
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`B4: ${trace.txns.length} transactions, final document ${kib(Y.encodeStateAsUpdate(doc).length)}`);
console.log(`versions: ${versions.length} (${keyframes} keyframes), stored ${kib(stored)}, ${kib(stored / versions.length)} per version`);
console.log(
  `a whole snapshot per version instead: ${kib(wholeBytes)}, ${kib(wholeBytes / versions.length)} per version (${(wholeBytes / stored).toFixed(1)}x)`,
);
console.log(`load (median of ${RUNS}): ${loadWith.toFixed(2)} ms with ${versions.length} versions, ${loadWithout.toFixed(2)} ms without`);
console.log(`list versions ${list.toFixed(2)} ms; read the newest ${readNewest.toFixed(2)} ms, the middle one ${readMiddle.toFixed(2)} ms`);
await store.close();
await rm(dir, { recursive: true, force: true });
