/**
 * The private PostgreSQL and Redis of a benchmark run (the scale-out scenario), started as
 * `/work/shared/SERVICES.md` and the tests' helpers do: Debian's packages, unix sockets in one
 * temporary directory, PostgreSQL with `fsync` and `synchronous_commit` on, Redis without
 * persistence. Both are pinned to the load generator's core, away from the instances, in a cgroup
 * of high weight (so that other work on a shared machine takes less from them).
 *
 * `benchServices(core)` starts them on first use; `stopBenchServices()` stops both and removes the
 * directory, synchronously, so that it also runs from a SIGINT handler.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { CpuQuota, quotaSupport } from './cpu-quota.js';
import { hasTaskset } from './proc.js';

export interface BenchServices {
  dir: string;
  /** PostgreSQL's socket directory (the `host` of a connection). */
  postgresHost: string;
  redisSocket: string;
  /** A new empty database; resolves with its `--postgres-url`. */
  createDatabase(): Promise<string>;
  /** Runs one query on database `database` and returns its rows. */
  query<T extends pg.QueryResultRow>(database: string, sql: string): Promise<T[]>;
  /** The pids of PostgreSQL's processes and of Redis (for their CPU). */
  pids(): number[];
  /**
   * Their cgroup (high weight, no quota; see `cpu-quota.ts`), which the load generator joins while
   * it drives the instances; null where cgroups are not writable.
   */
  group: CpuQuota | null;
}

/** Why the scenario cannot run here, or null. */
export function servicesUnavailable(): string | null {
  if (pgBin() === null) return 'PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)';
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server is not installed (apt-get install redis-server)';
  return null;
}

function pgBin(): string | null {
  if (process.env.PG_BIN !== undefined) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb')));
  return versions.length === 0 ? null : join(root, versions.sort((a, b) => Number(a) - Number(b)).at(-1)!, 'bin');
}

const asRoot = process.getuid?.() === 0;
let started: BenchServices | null = null;

/** Runs a command pinned to `core`, as the `postgres` user when `asPostgres` and this process is root. */
function runPinned(core: number, asPostgres: boolean, command: string, args: string[]): void {
  const user = asPostgres && asRoot ? ['runuser', '-u', 'postgres', '--'] : [];
  const pin = hasTaskset ? ['taskset', '-c', String(core)] : [];
  const argv = [...pin, ...user, command, ...args];
  execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
}

/** Starts PostgreSQL and Redis on `core`, once per run (about 2 s). */
export function benchServices(core: number): BenchServices {
  if (started !== null) return started;
  const problem = servicesUnavailable();
  if (problem !== null) throw new Error(problem);
  const bin = pgBin()!;
  const dir = mkdtempSync(join(tmpdir(), 'collab-bench-services-'));
  const services: BenchServices = {
    dir,
    postgresHost: dir,
    redisSocket: join(dir, 'redis.sock'),
    createDatabase: async () => {
      const name = `b_${Math.random().toString(36).slice(2, 12)}`;
      await services.query('postgres', `CREATE DATABASE ${name}`);
      return `postgres://postgres@/${name}?host=${encodeURIComponent(dir)}`;
    },
    query: async <T extends pg.QueryResultRow>(database: string, sql: string) => {
      const client = new pg.Client({ host: dir, user: 'postgres', database });
      await client.connect();
      try {
        return (await client.query<T>(sql)).rows;
      } finally {
        await client.end();
      }
    },
    pids: () => [...postgresPids(dir), ...redisPid(dir)],
    group: null,
  };
  started = services;
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'])), Number(execFileSync('id', ['-g', 'postgres'])));
  const data = join(dir, 'data');
  runPinned(core, true, join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '-N']);
  const settings = `-c listen_addresses='' -k ${dir} -c fsync=on -c synchronous_commit=on -c client_connection_check_interval=500 -c max_connections=200`;
  runPinned(core, true, join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'postgres.log'), '-w', 'start', '-o', settings]);
  runPinned(core, false, 'redis-server', [
    ...['--port', '0', '--unixsocket', services.redisSocket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no'],
    ...['--daemonize', 'yes', '--pidfile', join(dir, 'redis.pid'), '--logfile', join(dir, 'redis.log'), '--dir', dir],
  ]);
  for (let tries = 0; spawnSync('redis-cli', ['-s', services.redisSocket, 'ping']).stdout?.toString().trim() !== 'PONG'; tries++) {
    if (tries > 200) throw new Error('Redis did not start');
    spawnSync('sleep', ['0.01']);
  }
  if (quotaSupport().flavour !== null) {
    services.group = CpuQuota.create('services', null);
    // PostgreSQL's backends are forked by the postmaster later, into its group.
    for (const pid of services.pids()) services.group.add(pid);
  }
  return services;
}

/** Stops PostgreSQL and Redis, if started, and removes their directory. Synchronous (see the top). */
export function stopBenchServices(keep = false): void {
  if (started === null) return;
  const { dir, redisSocket } = started;
  started = null;
  const bin = pgBin()!;
  const stop = [join(bin, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop'];
  if (existsSync(join(dir, 'data', 'postmaster.pid'))) spawnSync(asRoot ? 'runuser' : stop[0]!, asRoot ? ['-u', 'postgres', '--', ...stop] : stop.slice(1));
  const pid = redisPid(dir)[0];
  spawnSync('redis-cli', ['-s', redisSocket, 'shutdown', 'nosave']);
  for (let i = 0; pid !== undefined && i < 500 && alive(pid); i++) spawnSync('sleep', ['0.01']);
  if (!keep) rmSync(dir, { recursive: true, force: true });
}

function postgresPids(dir: string): number[] {
  const pidFile = join(dir, 'data', 'postmaster.pid');
  if (!existsSync(pidFile)) return [];
  const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  const children = spawnSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).stdout ?? '';
  return [
    postmaster,
    ...children
      .split('\n')
      .filter((line) => line.length > 0)
      .map(Number),
  ];
}

function redisPid(dir: string): number[] {
  const pidFile = join(dir, 'redis.pid');
  return existsSync(pidFile) ? [Number(readFileSync(pidFile, 'utf8'))] : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
