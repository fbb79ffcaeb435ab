/**
 * The orchestrator's handle on the load generator process: spawns it pinned to its core and calls
 * its methods over IPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinnedCommand } from '../proc.js';
import type {
  FetchPlan,
  FetchResult,
  FirstSyncPlan,
  FirstSyncResult,
  IdlePlan,
  IdleResult,
  KeystrokeBytesPlan,
  KeystrokeBytesResult,
  ReplayPlan,
  ReplayResult,
  SteadyPlan,
  SteadyResult,
  VerifyPlan,
  VerifyResult,
} from './plans.js';

interface Reply {
  id?: number;
  result?: unknown;
  error?: string;
  progress?: string;
  ready?: boolean;
}

export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly log: (line: string) => void,
  ) {
    child.on('message', (reply: Reply) => {
      if (reply.progress !== undefined) this.log(`  ${reply.progress}`);
      if (reply.id === undefined) return;
      const call = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error !== undefined) call?.reject(new Error(`load generator: ${reply.error}`));
      else call?.resolve(reply.result);
    });
    child.on('exit', (code, signal) => {
      for (const call of this.pending.values()) call.reject(new Error(`load generator exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  /** Starts the load generator pinned to `core`. */
  static async start(core: number, log: (line: string) => void): Promise<LoadGenerator> {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');
    // BENCH_LOADGEN_FLAGS: extra Node flags for the load generator (e.g. --cpu-prof to profile it).
    const flags = (process.env.BENCH_LOADGEN_FLAGS ?? '').split(' ').filter((flag) => flag.length > 0);
    const [cmd, args] = pinnedCommand(core, process.execPath, ['--max-old-space-size=6144', '--expose-gc', ...flags, script]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code} before it was ready`)));
    });
    return new LoadGenerator(child, log);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  private async call<T>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    return await new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, method, params });
    });
  }

  steady = async (plan: SteadyPlan): Promise<SteadyResult> => await this.call('steady', plan);
  verify = async (plan: VerifyPlan): Promise<VerifyResult> => await this.call('verify', plan);
  replay = async (plan: ReplayPlan): Promise<ReplayResult> => await this.call('replay', plan);
  fetch = async (plan: FetchPlan): Promise<FetchResult> => await this.call('fetch', plan);
  firstSyncs = async (plan: FirstSyncPlan): Promise<FirstSyncResult> => await this.call('firstSyncs', plan);
  keystrokeBytes = async (plan: KeystrokeBytesPlan): Promise<KeystrokeBytesResult> => await this.call('keystrokeBytes', plan);
  openIdle = async (plan: IdlePlan): Promise<IdleResult> => await this.call('openIdle', plan);
  idleStillOpen = async (): Promise<number> => await this.call('idleStillOpen', {});
  closeIdle = async (): Promise<void> => await this.call('closeIdle', {});

  stop(): void {
    this.child.disconnect();
  }
}
