/**
 * File descriptors: how many the process may open, and how they are shared between sockets and the
 * store. Sockets come from the network, so they get what is left once the store's share is kept:
 * past that cap new sockets are refused at once, and the store (LevelDB's files, the journal) never
 * runs out because of them.
 *
 * Node cannot change its own limits, so at start the soft limit is raised to the hard one with
 * util-linux's `prlimit` on this process (present on Debian and most Linux systems); where that is
 * not possible the soft limit stays as it is, and the log says so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Descriptors kept for the store, at most: LevelDB's open table files (see `storeFiles`), the journal, logs. */
const STORE_RESERVE_MAX = 1024;
/** And at least, however low the limit: a store with fewer is slow, and fails sooner. */
const STORE_RESERVE_MIN = 128;
/** Descriptors the rest of the process needs besides sockets and the store: stdio, the event loop, DNS, the editor's files. */
const PROCESS_RESERVE = 64;

export interface DescriptorBudget {
  /** The soft limit before and after raising it, and the hard limit; null where they cannot be read. */
  readonly before: number | null;
  readonly soft: number | null;
  readonly hard: number | null;
  /** Why the soft limit was not raised, if it could have been. */
  readonly notRaised: string | null;
  /** Sockets (TCP connections of any kind) the process may hold; 0 for no limit (the limit is unknown). */
  readonly sockets: number;
  /** LevelDB table files the store may keep open (`maxOpenFiles`). */
  readonly storeFiles: number;
}

/** Raises the soft descriptor limit to the hard one, where possible, and shares what there is (see the top of this file). */
export function planDescriptors(): DescriptorBudget {
  const before = readLimits();
  let notRaised: string | null = null;
  let after = before;
  if (before !== null && before.soft < before.hard) {
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`], { stdio: 'ignore', timeout: 5000 });
      after = readLimits();
    } catch (error) {
      notRaised = `prlimit failed: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  if (after === null)
    return { before: null, soft: null, hard: null, notRaised: 'the limits could not be read from /proc/self/limits', sockets: 0, storeFiles: 1000 };
  const reserve = Math.min(STORE_RESERVE_MAX, Math.max(STORE_RESERVE_MIN, Math.floor(after.soft / 4)));
  return {
    before: before?.soft ?? null,
    soft: after.soft,
    hard: after.hard,
    notRaised,
    sockets: Math.max(1, after.soft - reserve - PROCESS_RESERVE),
    storeFiles: Math.max(16, reserve - 32),
  };
}

/** The soft and hard limits on open files, from /proc/self/limits; null where unknown or unlimited. */
function readLimits(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('Max open files'));
    const match = line === undefined ? null : /^Max open files\s+(\d+)\s+(\d+)/.exec(line);
    return match === null ? null : { soft: Number(match[1]), hard: Number(match[2]) };
  } catch {
    return null;
  }
}
