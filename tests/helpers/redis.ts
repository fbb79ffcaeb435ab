/**
 * Real Redis for the tests: Debian's `redis-server`, on a unix socket in a temporary directory,
 * without persistence, as SERVICES.md describes.
 *
 * - The run's shared server is started by the global setup (`tests/global-setup.ts`) when the
 *   binary is there (it starts in a few milliseconds), and stopped by its teardown; each test file
 *   takes a key prefix of its own (`redisPrefix`), so files never hear each other.
 * - `RedisServer.start()`: a server of the test's own, to stop, restart or put a proxy before.
 *
 * Without the binary, the suites skip with the reason printed on a developer's machine and fail
 * under `CI=true`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { describeNeeding } from './binaries.js';

const run = promisify(execFile);

/** Why the Redis tests cannot run here, or null if they can. */
export function redisUnavailable(): string | null {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return null;
  } catch {
    return 'redis-server is not installed (apt-get install redis-server)';
  }
}

/** `describe` for tests that need Redis and PostgreSQL (see the top of this file); `postgresProblem` from `postgresUnavailable`. */
export function describeWithRedis(title: string, body: () => void, postgresProblem: string | null = null): void {
  describeNeeding(redisUnavailable() ?? postgresProblem, 'redis', 'runs against Redis and PostgreSQL', title, body);
}

/** A private Redis server in a directory of its own, reached on `dir/redis.sock`. */
export class RedisServer {
  private constructor(readonly dir: string) {}

  /** Starts a server in a new temporary directory (or in `dir`, where one ran before). */
  static async start(dir?: string): Promise<RedisServer> {
    const server = new RedisServer(dir ?? (await mkdtemp(join(tmpdir(), 'collab-redis-'))));
    await server.restart();
    return server;
  }

  /** The server in `dir`, started by another process. */
  static attach(dir: string): RedisServer {
    return new RedisServer(dir);
  }

  get socket(): string {
    return join(this.dir, 'redis.sock');
  }

  /** The URL to give `--redis-url`. */
  get url(): string {
    return `unix://${this.socket}`;
  }

  /** Starts it again on the same socket, with nothing in it (no persistence); resolves once it answers. */
  async restart(): Promise<void> {
    await run('redis-server', [
      '--port',
      '0',
      '--unixsocket',
      this.socket,
      '--unixsocketperm',
      '700',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'yes',
      '--pidfile',
      join(this.dir, 'redis.pid'),
      '--logfile',
      join(this.dir, 'redis.log'),
      '--dir',
      this.dir,
    ]);
    for (let tries = 0; ; tries++) {
      try {
        if ((await this.cli('ping')).trim() === 'PONG') return;
      } catch (error) {
        if (tries > 200) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Runs a redis-cli command against it; resolves with what it printed. */
  async cli(...args: string[]): Promise<string> {
    return (await run('redis-cli', ['-s', this.socket, ...args])).stdout;
  }

  /** Stops it without saving, and waits until it is gone. */
  async stop(): Promise<void> {
    const pidFile = join(this.dir, 'redis.pid');
    const pid = existsSync(pidFile) ? Number(await readFile(pidFile, 'utf8')) : null;
    await this.cli('shutdown', 'nosave').catch(() => undefined);
    while (pid !== null && alive(pid)) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Stops it and removes its directory. */
  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared Redis's directory, or null when redis-server is not installed. */
    redisDir: string | null;
  }
}

/** The run's shared Redis (see the top of this file). */
export function sharedRedis(): RedisServer {
  const dir = inject('redisDir');
  if (dir === null) throw new Error('redis-server is not installed');
  return RedisServer.attach(dir);
}

/** A key prefix of this test file's own (and of each call's), for channels on the shared Redis. */
export function redisPrefix(): string {
  return `t${Math.random().toString(36).slice(2, 10)}:`;
}
