/**
 * Which server instance each client of a steady run connects to. With one server (no
 * `plan.instances`) every client goes to `plan.urlTemplate`. With several (the scale-out
 * scenario), `plan.placement` says:
 *
 * - `by-doc`: every client of room d on instance d % k, so instances hold disjoint documents.
 * - `shared`: every room's writers on instance 0, its reader r on instance r % k, so each room has
 *   readers on the writers' instance (same-instance) and on the others (cross-instance).
 *
 * A reader is cross-instance when its instance is not its room's writers' instance.
 */
import { cpuSeconds } from '../proc.js';
import type { SteadyPlan } from './plans.js';

export class Placement {
  readonly urls: string[];
  readonly pids: number[];

  constructor(private readonly plan: SteadyPlan) {
    this.urls = plan.instances?.map((instance) => instance.urlTemplate) ?? [plan.urlTemplate];
    this.pids = plan.instances?.map((instance) => instance.pid) ?? [plan.serverPid];
    if (this.urls.length === 0) throw new RangeError('a steady plan needs at least one instance');
  }

  get count(): number {
    return this.urls.length;
  }

  /** The instance room `doc`'s writers connect to. */
  writerInstance(doc: number): number {
    return this.plan.placement === 'by-doc' ? doc % this.count : 0;
  }

  /** The instance reader `r` (0-based within its room) of room `doc` connects to. */
  readerInstance(doc: number, r: number): number {
    return this.plan.placement === 'by-doc' ? doc % this.count : r % this.count;
  }

  /** Each instance's CPU seconds so far (NaN for one that is gone). */
  cpuSeconds(): number[] {
    return this.pids.map((pid) => {
      try {
        return cpuSeconds(pid);
      } catch {
        return Number.NaN;
      }
    });
  }
}
