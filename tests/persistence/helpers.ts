/**
 * Shared fixtures of the persistence tests: temporary store directories, real Yjs updates from
 * editing a Y.Text, the automerge-paper editing trace, and a LevelDB whose writes can be held.
 */
import { closeSync, existsSync, openSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

import { ClassicLevel } from 'classic-level';
import * as Y from 'yjs';
import { describeNeeding } from '../helpers/binaries.js';
import type { DocumentStore, Position } from '../../persistence/document-store.js';
import { JOURNAL_PREFIX } from '../../persistence/level/journal.js';

/** A fresh directory under the OS temp dir; `cleanup` removes it (call from `afterEach`). */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'level-store-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A Y.Doc with a Y.Text named `text`, recording each update its transactions produce, in order. */
export class Editor {
  readonly doc = new Y.Doc();
  readonly text = this.doc.getText('text');
  readonly updates: Uint8Array[] = [];

  constructor() {
    this.doc.on('update', (update: Uint8Array) => this.updates.push(update));
  }

  /** Inserts `content` one character per transaction (one update each, like keystrokes); returns those updates. */
  type(content: string, at = this.text.length): Uint8Array[] {
    const first = this.updates.length;
    for (let i = 0; i < content.length; i++) this.doc.transact(() => this.text.insert(at + i, content[i]!));
    return this.updates.slice(first);
  }

  /** Applies one trace transaction as one Yjs transaction; returns its update. */
  apply(patches: readonly Patch[]): Uint8Array {
    this.doc.transact(() => {
      for (const [pos, del, ins] of patches) {
        if (del > 0) this.text.delete(pos, del);
        if (ins.length > 0) this.text.insert(pos, ins);
      }
    });
    return this.updates[this.updates.length - 1]!;
  }

  state(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc);
  }
}

/** The text of a document rebuilt from a state (or `null`) and updates. */
export function textOf(state: Uint8Array | null, updates: readonly Uint8Array[]): string {
  const doc = new Y.Doc();
  doc.transact(() => {
    if (state) Y.applyUpdate(doc, state);
    for (const update of updates) Y.applyUpdate(doc, update);
  });
  return doc.getText('text').toString();
}

export type Patch = readonly [position: number, deleted: number, inserted: string];

interface Trace {
  readonly endContent: string;
  readonly txns: readonly { readonly patches: readonly Patch[] }[];
}

/**
 * Where the editing traces live: `TRACE_DATA_DIR`, or `shared/data` beside the repository (where
 * the workplace and CI keep them).
 */
const PAPER_TRACE = process.env.TRACE_DATA_DIR
  ? join(process.env.TRACE_DATA_DIR, 'automerge-paper.json.gz')
  : fileURLToPath(new URL('../../../shared/data/automerge-paper.json.gz', import.meta.url));

/** Whether the automerge-paper trace is there. */
export const hasPaperTrace = existsSync(PAPER_TRACE);

/** The folder holding the traces (for processes that load them themselves, like the benchmark's). */
export const TRACE_DIR = dirname(PAPER_TRACE);

/**
 * `describe`, for tests that replay the real trace. Without the trace file they skip with a
 * message on a developer's machine, and fail under `CI=true`, where the trace must be present.
 */
export function describeWithTrace(title: string, body: () => void): void {
  const problem = hasPaperTrace ? null : `the editing trace ${PAPER_TRACE} is missing (set TRACE_DATA_DIR to the folder holding it)`;
  describeNeeding(problem, 'trace', 'replays the real editing trace', title, body);
}

/** The automerge-paper editing trace (CC BY 4.0, Joseph Gentle's editing-traces collection; see its README). */
export async function loadPaperTrace(): Promise<Trace> {
  return JSON.parse(gunzipSync(await readFile(PAPER_TRACE)).toString('utf8')) as Trace;
}

/**
 * A real ClassicLevel whose batch writes wait while `hold()` is in effect, so a test can observe
 * what happens while a write is in flight. The write itself is LevelDB's, unchanged.
 */
interface PrivateChainedBatch {
  _write(options?: { sync?: boolean }): Promise<void>;
}

export class HeldLevel extends ClassicLevel<string, Uint8Array> {
  private gate: Promise<void> = Promise.resolve();
  /** Batches that reached the storage layer (held or not). */
  started = 0;
  /** The `sync` option of each batch, in order. */
  readonly syncs: (boolean | undefined)[] = [];

  constructor(dir: string) {
    super(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  }

  private releaseGate: () => void = () => undefined;

  /** Holds every batch started from now on until `release()`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.releaseGate = resolve));
  }

  /** Lets held batches (and later ones) proceed. */
  release(): void {
    this.gate = Promise.resolve();
    this.releaseGate();
  }

  /** Resolves once `count` batches have reached the storage layer. */
  async waitForBatches(count: number): Promise<void> {
    while (this.started < count) await nextTurn();
  }

  // abstract-level's private write hooks (not in its typings): the public `batch(ops)` encodes,
  // then calls `_batch`; `batch()` returns what `_chainedBatch` made, whose `write` calls its `_write`.
  async _batch(...args: unknown[]): Promise<void> {
    await this.admitBatch((args[1] as { sync?: boolean } | undefined)?.sync);
    const write = (ClassicLevel.prototype as unknown as { _batch(...a: unknown[]): Promise<void> })._batch;
    return write.apply(this, args);
  }

  _chainedBatch(): unknown {
    const make = (ClassicLevel.prototype as unknown as { _chainedBatch(): PrivateChainedBatch })._chainedBatch;
    const batch = make.call(this);
    const write = batch._write.bind(batch);
    batch._write = async (options) => {
      await this.admitBatch(options?.sync);
      return write(options);
    };
    return batch;
  }

  /**
   * Range clears (`db.clear`) to refuse from now on, as if the process died before LevelDB ran
   * them: whatever was written before stays, the range is left as it was.
   */
  refuseClears = 0;

  async _clear(...args: unknown[]): Promise<void> {
    if (this.refuseClears > 0) {
      this.refuseClears--;
      throw new Error('clear refused by the test (the process stopped before it ran)');
    }
    const clear = (ClassicLevel.prototype as unknown as { _clear(...a: unknown[]): Promise<void> })._clear;
    return clear.apply(this, args);
  }

  private async admitBatch(sync: boolean | undefined): Promise<void> {
    this.started++;
    this.syncs.push(sync);
    await this.gate;
  }
}

/** Resolves on the next turn of the event loop, after the store's scheduled flush has started. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs code, without yielding to the event loop, for `ms` milliseconds: a busy event loop. */
export function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Points the descriptor this process holds open on the journal file in `dir` at `target` instead
 * (`/dev/full`: every write fails with ENOSPC), the way a disk fills up under a running store.
 * Closing a descriptor frees its number and `open` takes the lowest free one, so the store's own
 * descriptor is reused (lower numbers freed meanwhile, by sockets that closed, are held while it
 * is, then freed again). Returns a function that points it back at the journal file.
 */
export function redirectJournal(dir: string, target: string): () => void {
  const [fd, file] = journalDescriptor(dir);
  const swap = (path: string): void => {
    closeSync(fd);
    const lower: number[] = [];
    try {
      for (;;) {
        const reopened = openSync(path, 'a');
        if (reopened === fd) return;
        if (reopened > fd) {
          closeSync(reopened);
          throw new Error(`could not reuse descriptor ${fd} for ${path}: another took it`);
        }
        lower.push(reopened);
      }
    } finally {
      for (const held of lower) closeSync(held);
    }
  };
  swap(target);
  return () => swap(file);
}

function journalDescriptor(dir: string): [number, string] {
  for (const entry of readdirSync('/proc/self/fd')) {
    let file: string;
    try {
      file = readlinkSync(`/proc/self/fd/${entry}`);
    } catch {
      continue; // a descriptor closed while we looked (readdir's own)
    }
    if (dirname(file) === dir && basename(file).startsWith(JOURNAL_PREFIX)) return [Number(entry), file];
  }
  throw new Error(`this process has no journal open in ${dir}`);
}

/** Bytes in the journal files in `dir`. */
export function journalBytes(dir: string): number {
  return readdirSync(dir)
    .filter((entry) => entry.startsWith(JOURNAL_PREFIX))
    .reduce((sum, entry) => sum + statSync(join(dir, entry)).size, 0);
}

/** Appends `updates` to `name`, in order; resolves with the position of the last, up to which a compaction may fold them. */
export async function appendAll(store: DocumentStore, name: string, updates: readonly Uint8Array[]): Promise<Position> {
  const written = await Promise.all(updates.map((update) => store.append(name, update)));
  return written.length === 0 ? 0 : written[written.length - 1]!.position(name);
}
