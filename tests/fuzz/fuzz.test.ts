/**
 * Property-based fuzzing against a running server: random and mutated frames (truncated and
 * corrupted sync messages, updates mutated from real ones, presence with odd JSON, huge varints,
 * messages in the wrong order), from read-write and read-only connections.
 *
 * After every run the server is up, an observer that was there all along, a newcomer and two
 * official clients hold the document the accepted messages alone produce; after all runs, a
 * restart shows that the store holds exactly that too.
 *
 * `npm test` runs a short fuzz; `npm run fuzz` a long one (`FUZZ_RUNS`, default 2000). A failure
 * prints fast-check's seed and shrunk counterexample; rerun with `TEST_SEED=<seed>`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as Y from 'yjs';
import { connectClient } from '../helpers/clients.js';
import { testSeed } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';
import { authArgs, token } from '../helpers/tokens.js';
import { recordEdits, scenario, seedDocument } from './frames.js';
import { FuzzRun, integrated, outcomes, sameDocument, type FuzzTarget } from './harness.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const MAX_OPERATIONS = 40;

let server: ServerProcess;
let target: FuzzTarget;
const finished = new Map<string, { expected: Y.Doc; trail: readonly string[] }>();

beforeAll(async () => {
  // Rate and size limits have their own tests; here they would only cut the fuzzing short.
  server = await startServer({ args: [...authArgs, '--max-message-rate', '0', '--max-message-size', '64KiB'] });
  target = await targetOf(server);
});

afterAll(async () => {
  await server.stop();
  await removeDir(server.dataDir);
});

async function targetOf(running: ServerProcess): Promise<FuzzTarget> {
  const ttlSeconds = 24 * 3600;
  return {
    wsUrl: running.wsUrl,
    httpUrl: running.httpUrl,
    tokens: { rw: await token('fuzz/*', 'rw', { ttlSeconds }), ro: await token('fuzz/*', 'ro', { ttlSeconds }) },
  };
}

it(
  'survives random and mutated frames, and holds exactly what the valid ones produce',
  async () => {
    const seed = testSeed('fuzz');
    const seedDoc = seedDocument();
    const seedUpdate = Y.encodeStateAsUpdate(seedDoc);
    const seedStateVector = Y.encodeStateVector(seedDoc);
    let runIndex = 0;

    const property = fc.asyncProperty(scenario(MAX_OPERATIONS), async ({ edits, foreignEdits, startMode, operations }) => {
      const editor = new Y.Doc();
      editor.clientID = 2;
      Y.applyUpdate(editor, seedUpdate);
      const foreign = new Y.Doc();
      foreign.clientID = 3;
      const updates = [...recordEdits(editor, edits), ...recordEdits(foreign, foreignEdits)];

      const run = new FuzzRun(target, `fuzz/run-${runIndex++}`);
      try {
        await run.start(seedUpdate, startMode);
        for (const operation of operations) await run.step(operation, updates, seedStateVector);
        await run.check();
        finished.set(run.name, { expected: integrated(run.reference), trail: run.trail });
      } finally {
        await run.close();
      }
    });
    await fc.assert(property, { seed, numRuns: RUNS, endOnFailure: process.env.FUZZ_SHRINK !== '1' });
    const summary = [...outcomes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, count]) => `  ${String(count).padStart(6)}  ${key}`);
    console.log(`[fuzz] ${runIndex} runs; outcomes:\n${summary.join('\n')}`);

    // Everything accepted was stored, and nothing else: a restart shows each run's reference.
    expect(await server.stop()).toBe(0);
    server = await startServer({ args: authArgs, dataDir: server.dataDir });
    target = await targetOf(server);
    for (const [name, { expected, trail }] of finished) {
      const reader = connectClient(target.wsUrl, name, { params: { token: target.tokens.ro } });
      await reader.synced;
      expect(sameDocument(reader.doc, expected), `${name} after a restart, after:\n  ${trail.join('\n  ')}`).toBe(true);
      reader.destroy();
    }
  },
  // Generous: a failing run shrinks, replaying against the server many times.
  Math.max(180_000, RUNS * 1000),
);
