/**
 * Real PostgreSQL for the tests: Debian's `postgresql` package (`initdb`, `pg_ctl`), a private
 * cluster in a temporary directory, reached on a unix socket only, as SERVICES.md describes.
 *
 * - `sharedPostgres()`: one cluster for the whole `npm test` run, started by the first test file
 *   that asks (so runs without such files pay nothing) and stopped by the global setup's teardown
 *   (`tests/global-setup.ts`). Each test file takes a database of its own (`createDatabase`).
 * - `startCluster()`: a cluster of the test's own, to stop, crash or misconfigure.
 *
 * As root, `initdb` and `pg_ctl` run as the `postgres` user (runuser). Without the binaries, the
 * suites skip with the reason printed on a developer's machine and fail under `CI=true`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, watch } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { describeNeeding } from './binaries.js';

const run = promisify(execFile);

/** The newest PostgreSQL's binaries: `PG_BIN`, else `/usr/lib/postgresql/<newest>/bin`. */
export const PG_BIN = process.env['PG_BIN'] ?? newestBin();

function newestBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((entry) => existsSync(join(root, entry, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b));
  return versions.length === 0 ? null : join(root, versions[versions.length - 1]!, 'bin');
}

/** Why the PostgreSQL tests cannot run here, or null if they can. */
export function postgresUnavailable(): string | null {
  if (PG_BIN !== null && existsSync(join(PG_BIN, 'initdb'))) return null;
  return 'PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN to the folder holding initdb and pg_ctl)';
}

/** `describe` for tests that need PostgreSQL (see the top of this file). */
export function describeWithPostgres(title: string, body: () => void): void {
  describeNeeding(postgresUnavailable(), 'postgres', 'runs against PostgreSQL', title, body);
}

/** The settings every test cluster starts with: durable commits, and killed clients noticed within 0.5 s. */
const DURABLE = { fsync: 'on', synchronous_commit: 'on', client_connection_check_interval: '500' };

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL program, as the `postgres` user when this process is root (PostgreSQL refuses to run as root). */
async function pgRun(program: string, args: string[]): Promise<void> {
  const binary = join(PG_BIN!, program);
  await (asRoot ? run('runuser', ['-u', 'postgres', '--', binary, ...args]) : run(binary, args));
}

/** A private PostgreSQL cluster in a temporary directory, on a unix socket in that directory. */
export class Cluster {
  private constructor(
    /** The directory: `data/` holds the cluster, `log` its log; the socket is here too (the `host` to connect to). */
    readonly dir: string,
  ) {}

  /** Creates a cluster (initdb, about 1 s) and starts it with `settings` over the durable defaults. */
  static async create(settings: Record<string, string> = {}): Promise<Cluster> {
    const cluster = await Cluster.allocate();
    try {
      await cluster.init(settings);
    } catch (error) {
      await cluster.remove();
      throw error;
    }
    return cluster;
  }

  /** A cluster's directory, not yet initialized (see `init`). */
  static async allocate(): Promise<Cluster> {
    const dir = await mkdtemp(join(tmpdir(), 'collab-pg-'));
    if (asRoot) await chown(dir, ...(await postgresIds()));
    return new Cluster(dir);
  }

  /** The cluster in `dir`, made by another process. */
  static attach(dir: string): Cluster {
    return new Cluster(dir);
  }

  /** Creates the cluster's files, then starts it with `settings` over the durable defaults. */
  async init(settings: Record<string, string> = {}): Promise<void> {
    await pgRun('initdb', ['-D', join(this.dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '-N']);
    await this.start(settings);
  }

  /** The unix socket's directory: the `host` of a connection. */
  get socketDir(): string {
    return this.dir;
  }

  /** Starts the cluster (waiting until it takes connections) with `settings` over the durable defaults. */
  async start(settings: Record<string, string> = {}): Promise<void> {
    const options = Object.entries({ ...DURABLE, ...settings }).map(([name, value]) => `-c ${name}=${value}`);
    await pgRun('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'log'),
      '-w',
      'start',
      '-o',
      [`-c listen_addresses=''`, `-k ${this.dir}`, ...options].join(' '),
    ]);
  }

  /** Stops the cluster: `fast` disconnects clients and shuts down cleanly, `immediate` kills it as a crash would. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await pgRun('pg_ctl', ['-D', join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
  }

  /** Stops the cluster if it runs, and removes its directory. */
  async remove(): Promise<void> {
    if (existsSync(join(this.dir, 'data', 'postmaster.pid'))) await this.stop('immediate').catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Connection options of node-postgres for `database` on this cluster. */
  connection(database = 'postgres'): pg.PoolConfig {
    return { host: this.dir, user: 'postgres', database };
  }

  /** A new database of its own (`t_<random>`) on this cluster, with a collation other than "C" (ICU en-US), so tests see what ordering the store itself asks for. */
  async createDatabase(): Promise<TestDatabase> {
    const name = `t_${Math.random().toString(36).slice(2, 12)}`;
    await this.admin(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    return { name, connection: this.connection(name), drop: () => this.admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  }

  /** Runs one statement as the superuser, on `database`. */
  async admin(sql: string, database = 'postgres'): Promise<void> {
    const client = new pg.Client(this.connection(database));
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
}

/**
 * Call inside a suite: a database of the suite's own on the run's shared cluster, created before
 * its tests and dropped after them. Read `cluster` and `database` in tests and hooks, not before.
 */
export function databaseOfSuite(): { readonly cluster: Cluster; readonly database: TestDatabase } {
  let cluster: Cluster | undefined;
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    cluster = await sharedPostgres();
    database = await cluster.createDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the suite database is made in beforeAll: read it in a test or a hook');
    return value;
  };
  return {
    get cluster() {
      return ready(cluster);
    },
    get database() {
      return ready(database);
    },
  };
}

/** A database of one test file (see `Cluster.createDatabase`). */
export interface TestDatabase {
  readonly name: string;
  readonly connection: pg.PoolConfig;
  /** Drops it, closing what is still connected. */
  drop(): Promise<void>;
}

async function postgresIds(): Promise<[number, number]> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: group } = await run('id', ['-g', 'postgres']);
  return [Number(stdout.trim()), Number(group.trim())];
}

/** The run's directory, where the shared cluster is recorded (see `tests/global-setup.ts`). */
declare module 'vitest' {
  export interface ProvidedContext {
    testRunDir: string;
  }
}

/** Files in the run's directory: the lock the starting file takes, and what it reports. */
const LOCK = 'postgres.lock';
const STARTED = 'postgres.dir';
const READY = 'postgres.ready';
const FAILED = 'postgres.failed';

let shared: Promise<Cluster> | null = null;

/**
 * The run's shared cluster, started by the first test file to ask: it takes the lock (an atomic
 * mkdir) and starts it; the others wait for its report.
 */
export function sharedPostgres(): Promise<Cluster> {
  shared ??= attachShared(inject('testRunDir'));
  return shared;
}

async function attachShared(runDir: string): Promise<Cluster> {
  const reported = waitForReport(runDir);
  try {
    await mkdir(join(runDir, LOCK));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return reported;
  }
  reported.catch(() => undefined);
  try {
    const cluster = await Cluster.allocate();
    // Before initdb: the teardown removes it even if it never starts.
    await writeFile(join(runDir, STARTED), cluster.dir);
    await cluster.init();
    await writeFile(join(runDir, READY), cluster.dir);
    return cluster;
  } catch (error) {
    await writeFile(join(runDir, FAILED), String(error));
    throw error;
  }
}

/** Resolves with the shared cluster once a file reports it ready; rejects if it reports a failure. */
function waitForReport(runDir: string): Promise<Cluster> {
  return new Promise((resolve, reject) => {
    let reported = false;
    const check = (): void => {
      if (reported) return;
      if (existsSync(join(runDir, READY))) {
        reported = true;
        watcher.close();
        readFile(join(runDir, READY), 'utf8').then((dir) => resolve(Cluster.attach(dir)), reject);
      } else if (existsSync(join(runDir, FAILED))) {
        reported = true;
        watcher.close();
        readFile(join(runDir, FAILED), 'utf8').then((reason) => reject(new Error(`the shared PostgreSQL did not start: ${reason}`)), reject);
      }
    };
    const watcher = watch(runDir, check);
    check();
  });
}

/** Stops and removes the shared cluster, if a test file started one (the global teardown). */
export async function stopSharedPostgres(runDir: string): Promise<void> {
  const started = join(runDir, STARTED);
  if (existsSync(started)) await Cluster.attach(await readFile(started, 'utf8')).remove();
}
