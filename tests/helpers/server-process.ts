/**
 * Starts the real server as its own process (the built `dist/server/main.js`), on an ephemeral
 * port and a temporary data directory, and stops it the ways a user or a crash would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** The built server; `SERVER_MAIN` runs the tests against another build (to check that a test fails on older code). */
const MAIN = process.env['SERVER_MAIN'] ?? resolve(import.meta.dirname, '../../dist/server/main.js');

export interface ServerProcess {
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly httpUrl: string;
  /** ws://127.0.0.1:PORT/ws, the base URL for a y-websocket provider. */
  readonly wsUrl: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Every line the process printed so far, stdout and stderr. */
  readonly logs: string[];
  /** Sends a signal (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** `kill -9`: resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Data directory; a fresh temporary one by default. */
  dataDir?: string;
  /** Extra command-line arguments. */
  args?: string[];
  env?: Record<string, string>;
  /** Port to listen on; 0 (ephemeral) by default. Pass the old port to restart in place. */
  port?: number;
  /**
   * A command the server runs under, which execs it in the same process (`['prlimit',
   * '--nofile=400:400']` to start it with a lowered descriptor limit).
   */
  launcher?: string[];
}

/** Arguments every server of this test file gets after its own, made from its data directory (see `serveEveryServerWith`). */
let extraArgs: ((dataDir: string) => Promise<string[]>) | null = null;

/**
 * Makes every server this test file starts from now on take `args(dataDir)` too: how a suite
 * written for LevelDB runs against PostgreSQL (see `tests/scale/suites.test.ts`). The same data
 * directory gets the same arguments, so a server restarted in place finds what it stored.
 */
export function serveEveryServerWith(args: (dataDir: string) => Promise<string[]>): void {
  extraArgs = args;
}

export async function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'collab-test-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Starts a server and resolves once it logs that it is listening. */
export async function startServer(options: StartOptions = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? (await tempDataDir());
  const args = [MAIN, '--host', '127.0.0.1', '--port', String(options.port ?? 0), '--data-dir', dataDir];
  const launcher = options.launcher ?? [];
  const extra = extraArgs === null ? [] : await extraArgs(dataDir);
  const command = [...launcher, process.execPath, ...args, ...(options.args ?? []), ...extra];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const port = await new Promise<number>((done, fail) => {
    const onLine = (line: string) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg?.startsWith('listening') && typeof entry.port === 'number') done(entry.port);
      } catch {
        // not a JSON log line (a stack trace, say): kept in logs only
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
    void exited.then((code) => fail(new Error(`server exited with ${code} before listening:\n${logs.join('\n')}`)));
  });

  return {
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    dataDir,
    child,
    logs,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Starts a server for one test: `cleanup` (see `cleanupAfterEach`) stops it and removes its data
 * directory after the test.
 */
export async function startTestServer(cleanup: Array<() => unknown>, options: StartOptions = {}): Promise<ServerProcess> {
  const started = await startServer(options);
  cleanup.push(async () => {
    await started.stop();
    await removeDir(started.dataDir);
  });
  return started;
}
