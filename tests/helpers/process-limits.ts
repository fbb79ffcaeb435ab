/**
 * A process's resource limits, for tests that make a resource run out for real: its soft limits,
 * read and set with `prlimit` (util-linux), and the descriptors it holds open, from /proc.
 *
 * - Open files: a process cannot open a descriptor numbered at or above its soft limit, and a new
 *   descriptor takes the lowest free number. Lowering the limit to the lowest number a store holds
 *   (opened after the process's own, which never close) exhausts descriptors for good: closing any
 *   of the store's, or of what came after it (sockets), frees a number no open can take.
 * - File size: a write past the limit is cut short, and the next fails with EFBIG (and sends
 *   SIGXFSZ, which ends a process that does not handle it).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';

/** The limits these helpers read and set: open files, and the size of a file written. */
export type Resource = 'nofile' | 'fsize';

/** The soft limit of process `pid` on `resource`: a number, or `unlimited`. */
export function softLimit(pid: number, resource: Resource): string {
  return execFileSync('prlimit', ['--pid', String(pid), `--${resource}`, '--output', 'SOFT', '--noheadings'])
    .toString()
    .trim();
}

/** Sets the soft limit of process `pid` on `resource` (the hard limit stays). Spawning prlimit takes a few descriptors. */
export function setSoftLimit(pid: number, resource: Resource, limit: number | string): void {
  execFileSync('prlimit', ['--pid', String(pid), `--${resource}=${limit}:`], { stdio: 'ignore' });
}

/** The lowest number of the descriptors process `pid` holds open on files directly in `dir`. */
export function lowestDescriptorIn(pid: number, dir: string): number {
  const real = realpathSync(dir); // what /proc shows, through any symbolic link
  let lowest = Number.POSITIVE_INFINITY;
  for (const entry of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${entry}`);
    } catch {
      continue; // closed while we looked
    }
    if (dirname(target) === real) lowest = Math.min(lowest, Number(entry));
  }
  if (!Number.isFinite(lowest)) throw new Error(`process ${pid} holds nothing open in ${dir}`);
  return lowest;
}
