/**
 * Process and machine facts read from /proc, plus the small helpers the harness needs to place
 * processes on cores and to find free ports. Linux only (the benchmark's home); where taskset is
 * missing the processes simply run unpinned.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

/** Whether `taskset` exists, so processes can be pinned to cores. */
export const hasTaskset = spawnSync('taskset', ['-V']).status === 0;

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on every mainstream Linux). */
const clockTicks = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number.parseInt(out.stdout ?? '', 10);
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

/** The command and arguments that run `cmd args` pinned to `core` (unpinned without taskset). */
export function pinnedCommand(core: number, cmd: string, args: string[]): [string, string[]] {
  return hasTaskset ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

/** Pins every thread of this process to `core`. */
export function pinSelf(core: number): void {
  if (hasTaskset) spawnSync('taskset', ['-a', '-cp', String(core), String(process.pid)]);
}

/** The two cores to use: the server's and the load generator's (both 0 on a single-core machine). */
export function benchCores(): { server: number; load: number } {
  return cpus().length >= 2 ? { server: 0, load: 1 } : { server: 0, load: 0 };
}

/** User plus system CPU seconds a process has used so far (all its threads). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces; the fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/**
 * Busy and total clock ticks of one core so far, from /proc/stat. Busy includes interrupt and
 * softirq time, which no process is charged for: on loopback, much of a socket write's cost lands
 * there, so a server can saturate its core while its own CPU seconds say otherwise.
 */
export function coreTicks(core: number): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  if (line === undefined) return { busy: 0, total: 0 };
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: total - idle, total };
}

/** Resident set size of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (match === null) throw new RangeError(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Apparent size in bytes of every file under `dir` (0 if it does not exist). */
export function dirBytes(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let total = 0;
  for (const name of names) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    total += stat.isDirectory() ? dirBytes(path) : stat.size;
  }
  return total;
}

/** A TCP port that was free a moment ago, for servers that cannot listen on port 0 and report it. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The soft limit on open files of this process (what spawned children inherit). */
export function openFileLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (match === null || match[1] === 'unlimited') return Number.POSITIVE_INFINITY;
  return Number(match[1]);
}

export interface MachineDescription {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  taskset: boolean;
}

/** What the results and the chart say about the machine they ran on. */
export function machineDescription(): MachineDescription {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    taskset: hasTaskset,
  };
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms));
