/**
 * The benchmark harness as `npm run bench` runs it: built into `dist/bench` (`npm test` builds it
 * first). Its load generator starts `worker.js` beside itself and its server specs find the
 * repository from their own location, so the tests use the built modules, typed as their sources.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const DIST_BENCH = resolve(import.meta.dirname, '../../dist/bench');

/** Imports `path` (relative to `dist/bench`), e.g. `built<typeof import('../../bench/proc.js')>('proc.js')`. */
export async function built<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(resolve(DIST_BENCH, path)).href)) as T;
}
