/**
 * A scaled-out deployment for the benchmark: k instances of one server sharing a fresh PostgreSQL
 * database and a Redis channel prefix of their own (on the run's private services, `services.ts`),
 * each pinned to the server core and held to a CPU quota of its own (`cpu-quota.ts`).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CpuQuota } from './cpu-quota.js';
import type { BenchServices } from './services.js';
import { type ClusterInstance, ServerProcess, type ServerSpec } from './servers.js';

export interface ClusterOptions {
  spec: ServerSpec;
  services: BenchServices;
  /** The core every instance is pinned to. */
  core: number;
  /** Each instance's share of that core, in percent; null runs them pinned but unlimited. */
  quotaPercent: number | null;
  /** A directory for the instances' data directories (ours keeps nothing there with PostgreSQL). */
  workDir: string;
  /** The database to use; a new one when absent. */
  postgresUrl?: string;
}

export class Cluster {
  readonly instances: ServerProcess[] = [];
  private readonly quotas: CpuQuota[] = [];
  private static made = 0;

  private constructor(
    private readonly options: ClusterOptions,
    readonly postgresUrl: string,
    readonly redisPrefix: string,
  ) {}

  /** Starts `count` instances (ids i0, i1, ...) and resolves once all accept connections. */
  static async start(options: ClusterOptions, count: number): Promise<Cluster> {
    if (options.spec.cluster === undefined) throw new RangeError(`${options.spec.label} cannot run as several instances`);
    const postgresUrl = options.postgresUrl ?? (await options.services.createDatabase());
    const cluster = new Cluster(options, postgresUrl, `b${Math.random().toString(36).slice(2, 10)}:`);
    try {
      for (let i = 0; i < count; i++) await cluster.startInstance(i);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async startInstance(i: number): Promise<ServerProcess> {
    const { spec, services, core, workDir, quotaPercent } = this.options;
    const dataDir = join(workDir, `${spec.name}-${++Cluster.made}-i${i}`);
    mkdirSync(dataDir, { recursive: true });
    const instance = (port: number): ClusterInstance => ({
      postgresUrl: this.postgresUrl,
      redisSocket: services.redisSocket,
      redisPrefix: this.redisPrefix,
      instanceId: `i${i}`,
      dataDir,
      port,
    });
    const server = await ServerProcess.start(spec, dataDir, core, 30_000, (port) => spec.cluster!(instance(port)));
    this.instances[i] = server;
    if (quotaPercent !== null) {
      const quota = (this.quotas[i] ??= CpuQuota.create(`${spec.name}-i${i}`, quotaPercent));
      quota.add(server.pid);
    }
    return server;
  }

  /** The instances as a steady plan names them. */
  get targets(): { urlTemplate: string; pid: number }[] {
    return this.instances.map((server) => ({ urlTemplate: server.urlTemplate, pid: server.pid }));
  }

  /** Times each instance's group was throttled so far. */
  throttled(): { periods: number; ms: number }[] {
    return this.quotas.map((quota) => quota.throttled());
  }

  /** Stops every instance still running (SIGTERM, so each drains what it holds). */
  async stop(): Promise<void> {
    await Promise.all(this.instances.map(async (server) => await server.stop()));
  }

  /** The last lines each instance printed. */
  tails(): string {
    return this.instances.map((server, i) => `--- instance i${i}:\n${server.tail(8)}`).join('\n');
  }
}
