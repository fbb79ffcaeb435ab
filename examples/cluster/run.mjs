#!/usr/bin/env node
/**
 * Several instances on one machine, in one command (`npm run cluster`): a private PostgreSQL and a
 * private Redis in a temporary directory, three server instances sharing them, and a load balancer
 * (`balancer.mjs`) in front. Ctrl-C stops everything and removes the directory.
 *
 *   npm run cluster                      # balancer on http://127.0.0.1:8080
 *   npm run cluster -- --port 9000 --instances 2
 *
 * Needs Debian's `postgresql` and `redis-server` packages (PG_BIN may name the folder holding
 * initdb and pg_ctl). As root, PostgreSQL runs as the `postgres` user.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBalancer } from './balancer.mjs';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, instances: { type: 'string', default: '3' } } });
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const main = join(root, 'dist/server/main.js');
const asRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'collab-cluster-'));
const children = [];
let stopping = false;

function pgBin() {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin/initdb'))) : [];
  if (versions.length === 0) throw new Error('PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN)');
  return join(base, versions.sort((a, b) => Number(a) - Number(b)).at(-1), 'bin');
}

/** Runs a PostgreSQL program, as the `postgres` user when root (PostgreSQL refuses to run as root). */
function pg(program, args) {
  const command = join(pgBin(), program);
  execFileSync(asRoot ? 'runuser' : command, asRoot ? ['-u', 'postgres', '--', command, ...args] : args, { stdio: 'ignore' });
}

function startPostgres() {
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'])), Number(execFileSync('id', ['-g', 'postgres'])));
  pg('initdb', ['-D', join(dir, 'pg'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '-N']);
  const settings = `-c listen_addresses='' -k ${dir} -c fsync=on -c synchronous_commit=on -c client_connection_check_interval=500`;
  pg('pg_ctl', ['-D', join(dir, 'pg'), '-l', join(dir, 'pg.log'), '-w', 'start', '-o', settings]);
  return `postgres://postgres@/postgres?host=${encodeURIComponent(dir)}`;
}

function startRedis() {
  const socket = join(dir, 'redis.sock');
  const redis = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  children.push(redis);
  return { url: `unix://${socket}`, socket };
}

/** Starts instance `i`; resolves with its "host:port" once it listens. Its log lines go to stdout, prefixed. */
function startInstance(i, postgresUrl, redisUrl) {
  const child = spawn(
    process.execPath,
    [main, '--host', '127.0.0.1', '--port', '0', '--postgres-url', postgresUrl, '--redis-url', redisUrl, '--instance-id', `i${i}`],
    {
      env: { ...process.env, LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  return new Promise((done, fail) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry = null;
      try {
        entry = JSON.parse(line);
      } catch {}
      console.log(`[i${i}] ${entry?.msg ?? line}`);
      if (entry?.msg?.startsWith('listening') && typeof entry.port === 'number') done(`127.0.0.1:${entry.port}`);
    });
    child.once('exit', (code) => (stopping ? undefined : fail(new Error(`instance i${i} exited with ${code}`))));
  });
}

async function waitFor(path) {
  for (let i = 0; i < 500 && !existsSync(path); i++) await new Promise((done) => setTimeout(done, 10));
}

async function stop() {
  if (stopping) return;
  stopping = true;
  console.log('stopping the instances, Redis and PostgreSQL');
  const exits = children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((done) => child.once('exit', done)) : null));
  for (const child of children.slice(1)) child.kill('SIGTERM');
  await Promise.all(exits.slice(1));
  children[0]?.kill('SIGTERM');
  await exits[0];
  try {
    pg('pg_ctl', ['-D', join(dir, 'pg'), '-m', 'fast', '-w', 'stop']);
  } catch {}
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
try {
  const postgresUrl = startPostgres();
  const redis = startRedis();
  await waitFor(redis.socket);
  const count = Number(values.instances);
  const backends = await Promise.all(Array.from({ length: count }, (_, i) => startInstance(i, postgresUrl, redis.url)));
  const balancer = await startBalancer(Number(values.port), () => backends);
  const url = `http://127.0.0.1:${balancer.address().port}`;
  console.log(`\n${count} instances behind ${url}: open ${url}/d/hello in two browsers (Ctrl-C stops everything)\n`);
} catch (error) {
  console.error(`could not start the cluster: ${error.message}`);
  await stop();
}
