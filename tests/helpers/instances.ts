/**
 * Several server processes sharing one PostgreSQL database and one Redis, as a scaled-out
 * deployment runs them (without the load balancer: tests pick each client's instance, and move a
 * client by pointing its provider elsewhere, as a balancer would on its reconnection).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { YClient } from './clients.js';
import type { Cluster } from './postgres.js';
import { removeDir, type ServerProcess, startServer } from './server-process.js';

/** A database's connection string for `--postgres-url`, on the cluster's unix socket. */
export function postgresUrl(cluster: Cluster, database: string): string {
  return `postgres://postgres@/${database}?host=${encodeURIComponent(cluster.socketDir)}`;
}

export interface InstanceOptions {
  readonly postgresUrl: string;
  /** Each instance's Redis URL (one for all, or one per instance: a proxy before one of them). */
  readonly redisUrl: string | readonly string[];
  readonly redisPrefix: string;
  /** Further arguments for every instance. */
  readonly args?: readonly string[];
}

/** Running instances, by index; `start(i)` starts (or restarts) instance i. */
export class Instances {
  readonly servers: ServerProcess[] = [];

  private constructor(private readonly options: InstanceOptions) {}

  /** Starts `count` instances at once; `cleanup` stops them after the test. */
  static async start(cleanup: Array<() => unknown>, count: number, options: InstanceOptions): Promise<Instances> {
    const instances = new Instances(options);
    cleanup.push(() => instances.stopAll());
    await Promise.all(Array.from({ length: count }, (_, i) => instances.start(i)));
    return instances;
  }

  /** Starts instance `i` (id `i<i>`), replacing a stopped one. */
  async start(i: number): Promise<ServerProcess> {
    const { postgresUrl, redisUrl, redisPrefix, args = [] } = this.options;
    const redis = typeof redisUrl === 'string' ? redisUrl : redisUrl[i]!;
    const server = await startServer({
      args: ['--postgres-url', postgresUrl, '--redis-url', redis, '--redis-prefix', redisPrefix, '--instance-id', `i${i}`, '--max-message-rate', '0', ...args],
    });
    this.servers[i] = server;
    return server;
  }

  /** The server `i`'s WebSocket URL. */
  ws(i: number): string {
    return this.servers[i]!.wsUrl;
  }

  /** `/healthz` of instance `i`. */
  async health(i: number): Promise<{ status: string; bus?: string }> {
    return (await (await fetch(`${this.servers[i]!.httpUrl}/healthz`)).json()) as { status: string; bus?: string };
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.servers.map(async (server) => {
        await server.kill();
        await removeDir(server.dataDir);
      }),
    );
  }
}

/**
 * Moves `client` to `wsUrl` when its connection drops, as a load balancer sends a reconnecting
 * client to an instance that is up.
 */
export function reconnectTo(client: YClient, wsUrl: () => string): void {
  client.provider.on('status', ({ status }: { status: string }) => {
    if (status === 'disconnected') client.provider.serverUrl = wsUrl();
  });
}

/** Resolves once `check` passes, retried every 50 ms for up to `timeoutMs`; rejects with its last error. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await sleep(50);
    }
  }
}
