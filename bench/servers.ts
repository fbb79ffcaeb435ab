/**
 * The servers under test and how each is started, reached and stopped. Each runs as its own process,
 * pinned to the server core, with a fresh data directory per scenario, and with its own defaults.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, pinnedCommand } from './proc.js';
import type { Dialect } from './wire.js';

export type ServerName = 'ours' | 'ours-fsync' | 'y-websocket' | 'hocuspocus' | 'hocuspocus-4' | 'floor';

export const allServers: ServerName[] = ['ours', 'ours-fsync', 'y-websocket', 'hocuspocus', 'hocuspocus-4', 'floor'];

/** The repository root (this file runs as dist/bench/servers.js). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const packageVersion = (path: string): string => (JSON.parse(readFileSync(join(repoRoot, path, 'package.json'), 'utf8')) as { version: string }).version;

export interface ServerSpec {
  name: ServerName;
  /** Name and version, as the table shows it. */
  label: string;
  version: string;
  dialect: Dialect;
  /**
   * `ours`: this project's server (the ratio's numerator); `peer`: a server it is compared with;
   * `floor`: a reference that is no document server at all (see `peers/relay-floor.ts`), shown
   * beside the others and never counted as a peer.
   */
  role: 'ours' | 'peer' | 'floor';
  /** The scenarios it runs; all when absent. */
  scenarios?: readonly string[];
  /** Script, arguments and environment for a data directory and a port (0 where supported). */
  command: (dataDir: string, port: number) => { script: string; args: string[]; env: Record<string, string> };
  /** Whether the server can listen on port 0 and report the port it got. */
  reportsPort: boolean;
  /** The port, once `line` of its stdout says it is listening; null otherwise. */
  readyPort: (line: string, port: number) => number | null;
  urlTemplate: (port: number) => string;
  /**
   * How one instance of several sharing a PostgreSQL database and a Redis starts (the scale-out
   * scenario); absent for servers that cannot share documents between instances.
   */
  cluster?: (instance: ClusterInstance) => { script: string; args: string[]; env: Record<string, string> };
}

/** One instance of a scaled-out deployment: where the shared services are, and what it is called. */
export interface ClusterInstance {
  postgresUrl: string;
  redisSocket: string;
  /** Channel prefix of this deployment, so that deployments sharing one Redis never hear each other. */
  redisPrefix: string;
  instanceId: string;
  dataDir: string;
  port: number;
}

/**
 * Resolves after `ms` without holding the process open: a timeout raced against a server's start or
 * exit. (A plain timer kept the command alive for up to 30 s after its table was printed.)
 */
const deadline = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Our server and the peers log a JSON line `{ msg: "listening...", port }` when they accept connections. */
function jsonListening(line: string): number | null {
  if (!line.startsWith('{')) return null;
  try {
    const entry = JSON.parse(line) as { msg?: unknown; port?: unknown };
    return typeof entry.msg === 'string' && entry.msg.startsWith('listening') && typeof entry.port === 'number' ? entry.port : null;
  } catch {
    return null;
  }
}

// Defaults, except the abuse limits a one-machine load test trips by construction: every client
// comes from 127.0.0.1 (connections and update time per address), and ceiling writers type faster
// than any person.
const liftedLimits = ['--max-connections-per-address', '0', '--update-time-per-address', '0', '--max-message-rate', '0'];

function oursSpec(fsync: boolean): ServerSpec {
  const version = packageVersion('.');
  return {
    name: fsync ? 'ours-fsync' : 'ours',
    label: fsync ? 'ours --fsync' : 'ours',
    version,
    dialect: 'y-websocket',
    role: 'ours',
    command: (dataDir, port) => ({
      script: join(repoRoot, 'dist', 'server', 'main.js'),
      args: ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, ...liftedLimits, ...(fsync ? ['--fsync'] : [])],
      env: {},
    }),
    reportsPort: true,
    readyPort: jsonListening,
    urlTemplate: (port) => `ws://127.0.0.1:${port}/ws/{doc}`,
    ...(fsync
      ? {}
      : {
          cluster: (c: ClusterInstance) => ({
            script: join(repoRoot, 'dist', 'server', 'main.js'),
            args: [
              ...['--host', '127.0.0.1', '--port', String(c.port), '--data-dir', c.dataDir, '--postgres-url', c.postgresUrl],
              ...['--redis-url', `unix://${c.redisSocket}`, '--redis-prefix', c.redisPrefix, '--instance-id', c.instanceId, ...liftedLimits],
            ],
            env: {},
          }),
        }),
  };
}

export const serverSpecs: Record<ServerName, ServerSpec> = {
  ours: oursSpec(false),
  'ours-fsync': oursSpec(true),
  'y-websocket': {
    name: 'y-websocket',
    label: `y-websocket ${packageVersion('node_modules/y-websocket-server-v2')}`,
    version: packageVersion('node_modules/y-websocket-server-v2'),
    dialect: 'y-websocket',
    role: 'peer',
    // The reference server with its LevelDB persistence (y-leveldb) turned on by YPERSISTENCE.
    command: (dataDir, port) => ({
      script: join(repoRoot, 'node_modules', 'y-websocket-server-v2', 'bin', 'server.cjs'),
      args: [],
      env: { HOST: '127.0.0.1', PORT: String(port), YPERSISTENCE: dataDir },
    }),
    reportsPort: false,
    readyPort: (line, port) => (line.startsWith('running at') ? port : null),
    urlTemplate: (port) => `ws://127.0.0.1:${port}/{doc}`,
  },
  hocuspocus: {
    name: 'hocuspocus',
    label: `hocuspocus ${packageVersion('node_modules/@hocuspocus/server')}`,
    version: packageVersion('node_modules/@hocuspocus/server'),
    dialect: 'hocuspocus',
    role: 'peer',
    command: (dataDir, port) => ({
      script: join(repoRoot, 'dist', 'bench', 'peers', 'hocuspocus-server.js'),
      args: ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir],
      env: {},
    }),
    reportsPort: true,
    readyPort: jsonListening,
    urlTemplate: (port) => `ws://127.0.0.1:${port}/`,
  },
  'hocuspocus-4': {
    name: 'hocuspocus-4',
    label: `hocuspocus ${packageVersion('node_modules/hocuspocus-server-4')}`,
    version: packageVersion('node_modules/hocuspocus-server-4'),
    dialect: 'hocuspocus',
    role: 'peer',
    command: (dataDir, port) => ({
      script: join(repoRoot, 'dist', 'bench', 'peers', 'hocuspocus4-server.js'),
      args: ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir],
      env: {},
    }),
    reportsPort: true,
    readyPort: jsonListening,
    urlTemplate: (port) => `ws://127.0.0.1:${port}/`,
    cluster: (c) => ({
      script: join(repoRoot, 'dist', 'bench', 'peers', 'hocuspocus4-server.js'),
      args: [
        ...['--host', '127.0.0.1', '--port', String(c.port), '--postgres-url', c.postgresUrl],
        ...['--redis-socket', c.redisSocket, '--redis-prefix', c.redisPrefix.replace(/:$/, ''), '--instance-id', c.instanceId],
      ],
      env: {},
    }),
  },
  floor: {
    name: 'floor',
    label: 'floor (relay)',
    version: packageVersion('.'),
    dialect: 'y-websocket',
    role: 'floor',
    // It stores nothing, so it has nothing to load or to lose; the ceiling's ladder would only add minutes.
    scenarios: ['fan-out', 'many-rooms', 'idle'],
    command: (_dataDir, port) => ({
      script: join(repoRoot, 'dist', 'bench', 'peers', 'relay-floor.js'),
      args: ['--host', '127.0.0.1', '--port', String(port)],
      env: {},
    }),
    reportsPort: true,
    readyPort: jsonListening,
    urlTemplate: (port) => `ws://127.0.0.1:${port}/{doc}`,
  },
};

/** A running server process. */
export class ServerProcess {
  /** Every server started and not yet exited, so an interrupted run can stop them. */
  static readonly live = new Set<ServerProcess>();

  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly output: string[] = [];
  private exitedFlag = false;

  private constructor(
    readonly spec: ServerSpec,
    private readonly child: ChildProcess,
    readonly dataDir: string,
  ) {
    this.exited = new Promise((resolve) => {
      ServerProcess.live.add(this);
      child.on('exit', (code, signal) => {
        this.exitedFlag = true;
        ServerProcess.live.delete(this);
        resolve({ code, signal });
      });
    });
  }

  port = 0;

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return !this.exitedFlag;
  }

  get urlTemplate(): string {
    return this.spec.urlTemplate(this.port);
  }

  /** The last lines the server printed (for error messages). */
  tail(lines = 15): string {
    return this.output.slice(-lines).join('\n');
  }

  /**
   * Starts a server on `core` and resolves once it accepts connections; `commandFor` makes its
   * command line from the port (by default `spec.command` with `dataDir`).
   */
  static async start(
    spec: ServerSpec,
    dataDir: string,
    core: number,
    timeoutMs = 30_000,
    commandFor = (port: number) => spec.command(dataDir, port),
  ): Promise<ServerProcess> {
    const port = spec.reportsPort ? 0 : await freePort();
    const { script, args, env } = commandFor(port);
    // BENCH_SERVER_FLAGS: extra Node flags for the servers (e.g. --cpu-prof to profile them).
    const flags = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter((flag) => flag.length > 0);
    const [cmd, argv] = pinnedCommand(core, process.execPath, [...flags, script, ...args]);
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerProcess(spec, child, dataDir);
    const ready = new Promise<number>((resolve) => {
      let buffered = '';
      const onData = (chunk: Buffer): void => {
        buffered += chunk.toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          server.remember(line);
          const readyPort = spec.readyPort(line, port);
          if (readyPort !== null) resolve(readyPort);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
    });
    const outcome = await Promise.race([ready, server.exited.then(() => 'exited' as const), deadline(timeoutMs).then(() => 'timeout' as const)]);
    if (typeof outcome !== 'number') {
      if (outcome === 'timeout') child.kill('SIGKILL');
      throw new Error(`${spec.label} did not start (${outcome}):\n${server.tail()}`);
    }
    server.port = outcome;
    return server;
  }

  private remember(line: string): void {
    if (line.length === 0) return;
    this.output.push(line.length > 500 ? `${line.slice(0, 500)}...` : line);
    if (this.output.length > 200) this.output.splice(0, 100);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. Resolves to whether it exited by itself. */
  async stop(timeoutMs = 20_000): Promise<boolean> {
    if (!this.running) return true;
    this.child.kill('SIGTERM');
    const graceful = await Promise.race([this.exited.then(() => true), deadline(timeoutMs).then(() => false)]);
    if (!graceful) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    return graceful;
  }

  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}
