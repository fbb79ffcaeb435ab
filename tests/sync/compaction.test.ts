/**
 * A document's update log is compacted into its snapshot while the document is open and busy, for
 * every busy document at once, and what was compacted survives a kill -9: the store then holds each
 * document as a snapshot and a short log, and loads it whole. Each compaction comes at its own
 * point, so that documents with the same traffic do not compact in the same moment.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LevelDocumentStore } from '../../persistence/index.js';
import { nextCompactionAt } from '../../server/sync/compaction-schedule.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { removeDir, startServer, tempDataDir } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

const COMPACT_AFTER = 20;
const DOCS = 12;
/** Keystrokes typed in each burst, as [from, to) positions. */
const BURSTS: ReadonlyArray<readonly [number, number]> = [
  [0, 25],
  [25, 47],
];

interface CompactionLine {
  readonly msg?: string;
  readonly doc?: string;
  readonly updates?: number;
}

describe('compaction', () => {
  it('compacts every busy document while it is open, and a kill -9 afterwards keeps each whole', async () => {
    const dataDir = await tempDataDir();
    cleanup.push(() => removeDir(dataDir));
    const server = await startServer({
      dataDir,
      args: ['--compact-after', String(COMPACT_AFTER), '--max-message-rate', '0'],
      env: { LOG_LEVEL: 'debug' },
    });
    cleanup.push(() => server.kill());
    const names = Array.from({ length: DOCS }, (_, i) => `busy-${i}`);
    const pairs = names.map((name) => ({ name, writer: connectClient(server.wsUrl, name), witness: connectClient(server.wsUrl, name) }));
    for (const { writer, witness } of pairs)
      cleanup.push(
        () => writer.destroy(),
        () => witness.destroy(),
      );
    await Promise.all(pairs.flatMap(({ writer, witness }) => [writer.synced, witness.synced]));

    // Every document crosses the threshold in the same moment: one keystroke per update, all at
    // once, in two bursts that each fill the log past the threshold.
    for (const [from, to] of BURSTS) {
      for (let i = from; i < to; i++) {
        for (const { writer } of pairs) writer.doc.getText('t').insert(i, String.fromCharCode(97 + (i % 26)));
      }
      // The server broadcasts an update only once it is stored.
      await Promise.all(pairs.map(({ name, witness }) => waitForDoc(witness.doc, () => witness.doc.getText('t').length === to, `${name} typed`)));
    }
    const expected = pairs[0]!.writer.doc.getText('t').toString();

    // Each compaction's log line says how many updates it compacted: every document is compacted down to a
    // log shorter than the threshold (each keystroke was one update).
    const compacted = (name: string): number =>
      server.logs
        .map((line) => JSON.parse(line) as CompactionLine)
        .filter((line) => line.msg === 'compacted the update log into the snapshot' && line.doc === name)
        .reduce((sum, line) => sum + line.updates!, 0);
    const total = BURSTS.at(-1)![1];
    await expect.poll(() => names.filter((name) => total - compacted(name) < COMPACT_AFTER), { timeout: 30_000 }).toEqual(names);

    await server.kill();
    const store = await LevelDocumentStore.open(dataDir);
    cleanup.push(() => store.close());
    for (const name of names) {
      const stored = await store.load(name);
      expect(stored.state, name).not.toBeNull();
      expect(stored.updates.length, name).toBeLessThan(COMPACT_AFTER);
      const doc = new Y.Doc();
      Y.applyUpdate(doc, stored.state!);
      for (const update of stored.updates) Y.applyUpdate(doc, update);
      expect(doc.getText('t').toString(), name).toBe(expected);
    }
  });

  it('picks each compaction point at random from three quarters of --compact-after up to all of it', () => {
    const points = Array.from({ length: 2_000 }, () => nextCompactionAt(1_000));
    expect(Math.min(...points)).toBeGreaterThanOrEqual(750);
    expect(Math.max(...points)).toBeLessThanOrEqual(1_000);
    // Spread out, not clustered: rooms with the same traffic must not compact in the same moment.
    expect(new Set(points).size).toBeGreaterThan(150);
    expect(new Set(points.map((point) => Math.floor((point - 750) / 50))).size).toBe(6);
    for (const small of [1, 2, 3]) expect(nextCompactionAt(small)).toBe(small);
  });
});
