/**
 * The real editing traces in ../shared/data (see its README): character-by-character histories of
 * real documents, by Joseph Gentle's editing-traces collection, CC BY 4.0.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** One patch: `[position, deletedCount, insertedText]`, applied like `Array.prototype.splice`. */
export type Patch = [number, number, string];

export interface EditingTrace {
  name: string;
  txns: Patch[][];
  endContent: string;
}

/** The trace files, by short name. */
export const traceFiles = {
  b4: 'automerge-paper.json.gz',
  blog: 'seph-blog1.json.gz',
} as const;

export type TraceName = keyof typeof traceFiles;

/** Where the traces live: `BENCH_DATA_DIR`, or `../shared/data` beside the repository. */
export function traceDir(): string {
  if (process.env.BENCH_DATA_DIR !== undefined) return process.env.BENCH_DATA_DIR;
  // dist/bench/trace.js -> repository root is two levels up.
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return join(repo, '..', 'shared', 'data');
}

const loaded = new Map<TraceName, EditingTrace>();

/** Loads (once per process) and returns a trace. */
export function loadTrace(name: TraceName): EditingTrace {
  let trace = loaded.get(name);
  if (trace === undefined) {
    const raw = JSON.parse(gunzipSync(readFileSync(join(traceDir(), traceFiles[name]))).toString('utf8')) as {
      endContent: string;
      txns: { patches: Patch[] }[];
    };
    trace = { name, txns: raw.txns.map((txn) => txn.patches), endContent: raw.endContent };
    loaded.set(name, trace);
  }
  return trace;
}
