/**
 * A CPU quota per server instance: each instance of the scale-out scenario runs in a cgroup of
 * its own, allowed `percent` of one core (cgroup v1 `cpu.cfs_quota_us` over `cpu.cfs_period_us`,
 * or cgroup v2 `cpu.max`, whichever this machine has writable). With k instances sharing the
 * server core, each held to the same share, total throughput can only grow with k if the work per
 * update on each instance does not grow with k.
 *
 * The period is 10 ms rather than the kernel's 100 ms default: a throttled instance waits for
 * the next period, and at 100 ms with a 30% share that wait is up to 70 ms, more than the 50 ms
 * latency limit; at 10 ms it is at most 7 ms.
 *
 * Each group also gets a high weight (v1 `cpu.shares` 8192, v2 `cpu.weight` 800, eight times a
 * process's default): on a machine other work also uses, an instance still gets its whole share,
 * and never more. `CpuQuota.create(name, null)` makes such a group without a quota (the services
 * and the load generator, on the other core).
 *
 * Groups are named `collab-bench-<pid>-<name>`; `removeQuotas()` removes every group this process
 * made (a group can only be removed once its processes have exited).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PERIOD_US = 10_000;
const WEIGHT = { v1: 8192, v2: 800 };

type Flavour = { kind: 'v1'; root: string } | { kind: 'v2'; root: string };

/** The cgroup hierarchy to make quota groups in, or null (with the reason) where none is writable. */
export function quotaSupport(): { flavour: Flavour | null; reason: string } {
  const v1 = '/sys/fs/cgroup/cpu';
  if (existsSync(join(v1, 'cpu.cfs_quota_us')) && writable(v1)) return { flavour: { kind: 'v1', root: v1 }, reason: 'cgroup v1 cpu controller' };
  for (const v2 of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    const controllers = join(v2, 'cgroup.subtree_control');
    if (existsSync(controllers) && readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu') && writable(v2)) {
      return { flavour: { kind: 'v2', root: v2 }, reason: 'cgroup v2 cpu.max' };
    }
  }
  return { flavour: null, reason: 'no writable cgroup cpu controller (run as root on Linux)' };
}

function writable(dir: string): boolean {
  const probe = join(dir, `collab-bench-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

const made = new Set<string>();

/** A cgroup holding processes to `percent` of one core. */
export class CpuQuota {
  private constructor(
    readonly dir: string,
    private readonly flavour: Flavour,
  ) {}

  /** Makes group `name` with the quota (none for null); throws where cgroups are not writable (see `quotaSupport`). */
  static create(name: string, percent: number | null): CpuQuota {
    const { flavour, reason } = quotaSupport();
    if (flavour === null) throw new Error(reason);
    const dir = join(flavour.root, `collab-bench-${process.pid}-${name}`);
    if (!existsSync(dir)) mkdirSync(dir);
    made.add(dir);
    const quota = percent === null ? null : Math.round((PERIOD_US * percent) / 100);
    if (flavour.kind === 'v1') {
      writeFileSync(join(dir, 'cpu.shares'), String(WEIGHT.v1));
      // The period first: the new group's quota is unlimited (-1) until the next line.
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota ?? -1));
    } else {
      writeFileSync(join(dir, 'cpu.weight'), String(WEIGHT.v2));
      writeFileSync(join(dir, 'cpu.max'), `${quota ?? 'max'} ${PERIOD_US}`);
    }
    return new CpuQuota(dir, flavour);
  }

  /** Moves process `pid` (all its threads) into the group. */
  add(pid: number): void {
    writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** Moves process `pid` back to the root group (before its group is removed while it lives on). */
  release(pid: number): void {
    writeFileSync(join(this.flavour.root, 'cgroup.procs'), String(pid));
  }

  /** Times the group's processes were throttled, and for how long in all (ms), so far. */
  throttled(): { periods: number; ms: number } {
    const stat = readFileSync(join(this.dir, 'cpu.stat'), 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(stat)?.[1] ?? 0);
    // v1 reports throttled_time in ns, v2 throttled_usec in µs.
    return { periods: field('nr_throttled'), ms: field('throttled_time') / 1e6 + field('throttled_usec') / 1e3 };
  }
}

/** Removes every group this process made; groups whose processes have not exited yet are retried for up to 2 s. */
export function removeQuotas(): void {
  for (const dir of made) {
    for (let tries = 0; ; tries++) {
      try {
        rmdirSync(dir);
        made.delete(dir);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          made.delete(dir);
          break;
        }
        if (tries >= 200) break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }
}
