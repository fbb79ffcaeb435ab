/**
 * The command line a user meets first: --help explains every option with its default and
 * environment variable, bad values are refused clearly, and the start line says where and how.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connectClient, refusedUpgrade } from './helpers/clients.js';
import { removeDir, startServer, tempDataDir } from './helpers/server-process.js';
import { authArgs, token } from './helpers/tokens.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const MAIN = resolve(ROOT, 'dist/server/main.js');

/** Every option, with its environment variable. */
const OPTIONS = [
  ['--host', 'HOST'],
  ['--port', 'PORT'],
  ['--store', 'STORE'],
  ['--data-dir', 'DATA_DIR'],
  ['--postgres-url', 'POSTGRES_URL'],
  ['--postgres-query-timeout', 'POSTGRES_QUERY_TIMEOUT'],
  ['--redis-url', 'REDIS_URL'],
  ['--redis-prefix', 'REDIS_PREFIX'],
  ['--instance-id', 'INSTANCE_ID'],
  ['--fsync', 'FSYNC'],
  ['--max-message-size', 'MAX_MESSAGE_SIZE'],
  ['--max-name-length', 'MAX_NAME_LENGTH'],
  ['--unload-grace', 'UNLOAD_GRACE_MS'],
  ['--ping-interval', 'PING_INTERVAL_MS'],
  ['--batch-interval', 'BATCH_INTERVAL_MS'],
  ['--compact-after', 'COMPACT_AFTER'],
  ['--auth-secret', 'AUTH_SECRET'],
  ['--allowed-origins', 'ALLOWED_ORIGINS'],
  ['--allowed-hosts', 'ALLOWED_HOSTS'],
  ['--tls-cert', 'TLS_CERT'],
  ['--tls-key', 'TLS_KEY'],
  ['--trust-proxy', 'TRUST_PROXY'],
  ['--proxy-header', 'PROXY_HEADER'],
  ['--max-document-size', 'MAX_DOCUMENT_SIZE'],
  ['--max-connections-per-address', 'MAX_CONNECTIONS_PER_ADDRESS'],
  ['--max-sockets', 'MAX_SOCKETS'],
  ['--handshake-timeout', 'HANDSHAKE_TIMEOUT_MS'],
  ['--message-timeout', 'MESSAGE_TIMEOUT_MS'],
  ['--max-input-buffer', 'MAX_INPUT_BUFFER'],
  ['--max-message-rate', 'MAX_MESSAGE_RATE'],
  ['--compression', 'COMPRESSION'],
  ['--max-update-ms', 'MAX_UPDATE_MS'],
  ['--update-time-per-address', 'UPDATE_TIME_PER_ADDRESS'],
  ['--max-rooms', 'MAX_ROOMS'],
  ['--max-send-buffer', 'MAX_SEND_BUFFER'],
  ['--version-quiet', 'VERSION_QUIET'],
  ['--version-interval', 'VERSION_INTERVAL'],
  ['--keep-versions', 'KEEP_VERSIONS'],
  ['--metrics-token', 'METRICS_TOKEN'],
  ['--metrics-port', 'METRICS_PORT'],
  ['--webhook-url', 'WEBHOOK_URL'],
  ['--webhook-secret', 'WEBHOOK_SECRET'],
  ['--log-level', 'LOG_LEVEL'],
  ['--log-format', 'LOG_FORMAT'],
] as const;

interface Launch {
  readonly code: number | null;
  readonly stderr: string;
  /** Whether it said it listens; it is then killed, so a value wrongly accepted fails the test instead of hanging it. */
  readonly listened: boolean;
}

/**
 * Runs the server with `args` and only `env` (besides PATH) until it exits or says it listens, on a
 * free port of 127.0.0.1 and in a fresh data directory unless `args` or `env` say otherwise.
 */
async function launch(args: string[], env: Record<string, string> = {}): Promise<Launch> {
  const dataDir = await tempDataDir();
  const given = (flag: string, variable: string) => args.includes(flag) || variable in env;
  const defaults = [
    ...(given('--host', 'HOST') ? [] : ['--host', '127.0.0.1']),
    ...(given('--port', 'PORT') ? [] : ['--port', '0']),
    ...(given('--data-dir', 'DATA_DIR') ? [] : ['--data-dir', dataDir]),
  ];
  // Run in the data directory, so that even a DATA_DIR wrongly taken as '' stays in it.
  const child = spawn(process.execPath, [MAIN, ...defaults, ...args], {
    cwd: dataDir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let listened = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!listened && stdout.includes('listening on')) {
      listened = true;
      child.kill('SIGKILL');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once('close', done));
  await removeDir(dataDir);
  return { code, stderr, listened };
}

describe('command line', () => {
  it('--help lists every option with its environment variable and default', async () => {
    const { stdout: raw } = await run(process.execPath, [MAIN, '--help']);
    const stdout = raw.replace(/\s+/g, ' ');
    // As many environment variables as OPTIONS lists: an option added to the server is added there too.
    expect(stdout.match(/\benv: [A-Z_]+\)/g)).toHaveLength(OPTIONS.length);
    for (const [flag, env] of OPTIONS) {
      expect(stdout).toContain(flag);
      expect(stdout).toContain(`env: ${env}`);
    }
    expect(stdout).toMatch(/--unload-grace <ms>.*at most 2147483647/);
    expect(stdout).toMatch(/--ping-interval <ms>.*from 100 to 2147483647/);
    expect(stdout).toContain('default: "127.0.0.1"');
    expect(stdout).toContain('default: 1234');
    expect(stdout).toContain('default: "./data"');
    expect(stdout).toContain('default: same origin only');
    expect(stdout).toMatch(/--postgres-query-timeout <duration>.*\(default: 30s, env: POSTGRES_QUERY_TIMEOUT\)/);
  });

  it('refuses an auth secret too short to be safe, and origins and host names that are not ones', async () => {
    const short = await run(process.execPath, [MAIN], { env: { ...process.env, AUTH_SECRET: 'hunter2' } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((short as { stderr: string }).stderr).toMatch(/--auth-secret.*at least 32 bytes/);
    const origin = await run(process.execPath, [MAIN, '--allowed-origins', 'https://ok.example,https://x.example/path']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((origin as { stderr: string }).stderr).toMatch(/expected origins such as https:\/\/app.example.com.*got "https:\/\/x.example\/path"/);
    for (const name of ['https://docs.example.com', 'docs.example.com:443', 'a b']) {
      const host = await run(process.execPath, [MAIN, '--allowed-hosts', `ok.example,${name}`]).catch((error: { code: number; stderr: string }) => error);
      expect((host as { stderr: string }).stderr, name).toContain(`expected host names such as docs.example.com (no scheme, no port) or *, got "${name}"`);
    }
  });

  it('refuses a bad value with a clear message and a non-zero exit', async () => {
    const failure = await run(process.execPath, [MAIN, '--port', 'eighty']).catch((error: { code: number; stderr: string }) => error);
    expect('code' in failure && failure.code).toBe(1);
    expect((failure as { stderr: string }).stderr).toMatch(/--port.*expected a whole number from 0 to 65535, got "eighty"/);
  });

  it('reads version timing and retention with their units, and refuses what it cannot read', async () => {
    const retention = await Promise.all(['0', '30x', '100,200', '5d,3d', '1,2,3', '-1'].map((value) => launch(['--keep-versions', value])));
    for (const { code, stderr, listened } of retention) {
      expect([listened, code]).toEqual([false, 1]);
      expect(stderr).toContain('expected a count of versions (100), an age (30d, 12h, 90m) or both (100,30d)');
    }
    const quiet = await launch(['--version-quiet', '5 minutes']);
    expect([quiet.listened, quiet.code]).toEqual([false, 1]);
    expect(quiet.stderr).toContain('expected a duration such as 300000 (ms), 90s, 5m or 1h');
    const interval = await launch(['--version-interval', '10']);
    expect(interval.stderr).toContain('from 1000 ms');
    const taken = await launch(['--version-quiet', '90s', '--version-interval', '1h', '--keep-versions', '50,12h']);
    expect(taken.listened).toBe(true);
  });

  it('reads webhook URLs from flags and the environment, and refuses them without a secret or with credentials', async () => {
    const secret = 'a-webhook-secret-long-enough-for-hmac-sha256!!';
    const alone = await launch(['--webhook-url', 'http://127.0.0.1:9/hooks']);
    expect([alone.listened, alone.code]).toEqual([false, 1]);
    expect(alone.stderr).toContain('--webhook-url needs --webhook-secret (WEBHOOK_SECRET)');
    for (const url of ['ftp://example.com/x', 'http://user:pass@example.com/x', 'http://example.com/x#part', 'not a url']) {
      const refused = await launch(['--webhook-url', url, '--webhook-secret', secret]);
      expect([refused.listened, refused.code], url).toEqual([false, 1]);
      expect(refused.stderr, url).toContain('expected http(s) URLs without credentials or a #fragment');
    }
    const short = await launch(['--webhook-url', 'http://127.0.0.1:9/a', '--webhook-secret', 'short']);
    expect(short.stderr).toContain('the secret must be at least 32 bytes');
    const taken = await launch(['--webhook-url', 'http://127.0.0.1:9/a'], {
      WEBHOOK_URL: 'http://127.0.0.1:9/b, https://example.com/c',
      WEBHOOK_SECRET: secret,
    });
    expect(taken.listened).toBe(true);
  });

  it('refuses an empty or blank value for every option, from the environment or a flag, before listening', async () => {
    // Read as numbers, MAX_ROOMS= or --max-rooms '' were 0, which turns the limit off; HOST= listened on every interface.
    // Two options at a time: each launch is a process start.
    for (let first = 0; first < OPTIONS.length; first += 2) {
      const options = OPTIONS.slice(first, first + 2);
      const launches = await Promise.all(options.flatMap(([flag, env]) => [launch([], { [env]: '' }), launch([], { [env]: '  ' }), launch([flag, ''])]));
      for (const [k, { code, stderr, listened }] of launches.entries()) {
        const [flag, env] = options[Math.floor(k / 3)]!;
        const i = k % 3;
        const what = `${flag} ${['empty env', 'blank env', 'empty flag'][i]}`;
        expect(listened, what).toBe(false);
        expect(code, what).toBe(1);
        expect(stderr, what).toContain(`option '${flag} `);
        expect(stderr, what).toContain(`an empty value is not allowed; for the default, leave out ${flag} and unset ${env}`);
        if (i < 2) expect(stderr, what).toContain(`from env '${env}'`);
      }
    }
    // Three process starts per option, about a second each on a loaded machine: more than the default timeout.
  }, 180_000);

  it('refuses Redis without PostgreSQL, a store without its database, and URLs that are not ones, saying why', async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--redis-url', 'redis://127.0.0.1:6379'], {}, /--redis-url \(REDIS_URL\) needs the postgres store \(--postgres-url\)/],
      [[], { REDIS_URL: 'redis://127.0.0.1:6379', STORE: 'level' }, /--redis-url \(REDIS_URL\) needs the postgres store/],
      [['--store', 'postgres'], {}, /--store postgres needs --postgres-url \(POSTGRES_URL\)/],
      [
        ['--store', 'level', '--postgres-url', 'postgres://u@localhost/db'],
        {},
        /--postgres-url \(POSTGRES_URL\) is for the postgres store, and --store \(STORE\) says level/,
      ],
      [
        ['--postgres-url', 'mysql://u:s3cr3t-pw@localhost/db'],
        {},
        /expected a connection string such as postgres:\/\/.*got "mysql:\/\/u:\*\*\*@localhost\/db"/,
      ],
      [['--postgres-url', 'postgres://u@localhost/db', '--redis-url', 'http://localhost'], {}, /expected a URL such as redis:\/\/host:6379/],
      [['--instance-id', 'has space'], {}, /--instance-id.*expected 1 to 64 letters/],
      [['--store', 'sqlite'], {}, /--store.*Allowed choices are level, postgres/],
    ];
    const launches = await Promise.all(cases.map(([args, env]) => launch(args, env)));
    for (const [i, { code, stderr, listened }] of launches.entries()) {
      expect(listened, cases[i]![0].join(' ')).toBe(false);
      expect(code).toBe(1);
      expect(stderr).toMatch(cases[i]![2]);
    }
  });

  it('refuses numbers that are not plain whole numbers, and counts and sizes past the largest safe integer', async () => {
    const values = ['1e3', '0x10', '5.0', '-0', '+5', '-1', 'Infinity', '1_000', '9007199254740992'];
    const launches = await Promise.all(values.map((value) => launch(['--max-rooms', value])));
    for (const [i, { code, stderr, listened }] of launches.entries()) {
      expect(listened, values[i]).toBe(false);
      expect(code, values[i]).toBe(1);
      expect(stderr).toContain(
        `option '--max-rooms <count>' argument '${values[i]}' is invalid. expected a whole number from 0 to 9007199254740991, got "${values[i]}"`,
      );
    }
    const env = await launch([], { MAX_CONNECTIONS_PER_ADDRESS: '1e3' });
    expect([env.listened, env.code]).toEqual([false, 1]);
    expect(env.stderr).toMatch(/--max-connections-per-address.*from env 'MAX_CONNECTIONS_PER_ADDRESS'.*expected a whole number/);
    const size = await launch(['--max-message-size', '9999999999999999GiB']);
    expect([size.listened, size.code]).toEqual([false, 1]);
    expect(size.stderr).toMatch(/--max-message-size.*expected a size such as 4194304, 512KiB or 4MiB, got "9999999999999999GiB"/);
  });

  it('refuses a timer option past the longest delay a Node.js timer keeps, 2^31 - 1 ms, and takes that one', async () => {
    // Past it, Node fires the timer after 1 ms: every client was dropped at once, or every room unloaded.
    const launches = await Promise.all([
      launch(['--ping-interval', '2147483648']),
      launch([], { PING_INTERVAL_MS: '4000000000' }),
      launch(['--unload-grace', '2147483648']),
      launch([], { UNLOAD_GRACE_MS: '9007199254740991' }),
    ]);
    const expected = [
      /option '--ping-interval <ms>' argument '2147483648' is invalid\. expected a whole number from 100 to 2147483647 ms/,
      /option '--ping-interval <ms>' value '4000000000' from env 'PING_INTERVAL_MS' is invalid\. expected a whole number from 100 to 2147483647 ms/,
      /option '--unload-grace <ms>' argument '2147483648' is invalid\. expected a whole number from 0 to 2147483647 ms/,
      /option '--unload-grace <ms>' value '9007199254740991' from env 'UNLOAD_GRACE_MS' is invalid\. expected a whole number from 0 to 2147483647 ms/,
    ];
    for (const [i, { code, stderr, listened }] of launches.entries()) {
      expect(listened, String(expected[i])).toBe(false);
      expect(code, String(expected[i])).toBe(1);
      expect(stderr).toMatch(expected[i]!);
    }
    const server = await startServer({ args: ['--ping-interval', '2147483647', '--unload-grace', '2147483647'] });
    try {
      expect(await server.stop('SIGINT')).toBe(0);
      expect(server.logs.join('\n')).not.toContain('TimeoutOverflowWarning');
    } finally {
      await removeDir(server.dataDir);
    }
  });

  it('says why LevelDB could not open the data directory, not only that it could not', async () => {
    const dataDir = await tempDataDir();
    try {
      // A LOCK that cannot be opened as a file (a permission LevelDB lacks gives the same shape).
      await mkdir(resolve(dataDir, 'LOCK'));
      const failure = await run(process.execPath, [MAIN, '--port', '0', '--data-dir', dataDir]).catch((error: { code: number; stdout: string }) => error);
      expect('code' in failure && failure.code).toBe(1);
      const line = JSON.parse((failure as { stdout: string }).stdout.trim().split('\n').pop()!) as { msg: string };
      expect(line.msg).toBe(`could not start: Database failed to open: IO error: ${resolve(dataDir, 'LOCK')}: Is a directory`);
    } finally {
      await removeDir(dataDir);
    }
  });

  it('will not start on a data directory another server holds, saying so, and leaves that server running', async () => {
    const server = await startServer();
    try {
      const failure = await run(process.execPath, [MAIN, '--port', '0', '--data-dir', server.dataDir]).catch(
        (error: { code: number; stdout: string }) => error,
      );
      expect('code' in failure && failure.code).toBe(1);
      const line = JSON.parse((failure as { stdout: string }).stdout.trim().split('\n').pop()!) as { level: number; msg: string };
      expect(line.level).toBe(60);
      expect(line.msg).toBe(`could not start: The data directory ${server.dataDir} is in use by another process: is another collab-server running on it?`);
      const health = await fetch(`${server.httpUrl}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      expect(await server.stop('SIGINT')).toBe(0);
      await removeDir(server.dataDir);
    }
  });

  it("stops gracefully when `npm start`, the README's command, is sent SIGTERM", async () => {
    // npm passes the signal to the script's process: that was a shell, which died and left the
    // server running without draining, holding the port and the data directory.
    const dataDir = await tempDataDir();
    const npm = spawn('npm', ['start', '--silent', '--ignore-scripts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let exited = false;
    const checks: Array<() => void> = [];
    const recheck = () => checks.forEach((check) => check());
    npm.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      recheck();
    });
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.once('close', () => {
      exited = true;
      recheck();
    });
    /** Resolves once the output holds `text`; rejects if npm ends without it. */
    const said = (text: string) =>
      new Promise<void>((done, fail) => {
        const check = () => (output.includes(text) ? done() : exited && fail(new Error(`npm start ended without saying "${text}":\n${output}`)));
        checks.push(check);
        check();
      });
    try {
      await said('listening on');
      npm.kill('SIGTERM');
      await said('stopped; every write is stored');
      await new Promise((done) => (exited ? done(undefined) : npm.once('close', done)));
      // Nothing holds the directory: a new server opens it.
      const next = await launch(['--data-dir', dataDir]);
      expect(next.listened).toBe(true);
    } finally {
      npm.kill('SIGKILL');
      await removeDir(dataDir);
    }
  });

  it('logs one stop for one Ctrl-C under `npm start`, which the server gets twice (terminal and npm)', async () => {
    const dataDir = await tempDataDir();
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    const npm = spawn('npm', ['start', '--silent', '--ignore-scripts'], {
      cwd: ROOT,
      detached: true,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const closed = new Promise<void>((done) => npm.once('close', () => done()));
    const listening = new Promise<void>((done) =>
      npm.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('listening on')) done();
      }),
    );
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await listening;
      process.kill(-npm.pid!, 'SIGINT');
      await closed;
      expect(output).toContain('SIGINT: stopping');
      expect(output).toContain('stopped; every write is stored');
      expect(output).not.toContain('again');
    } finally {
      if (npm.exitCode === null) process.kill(-npm.pid!, 'SIGKILL');
      await removeDir(dataDir);
    }
  });

  it('logs refused requests and closed connections at debug level, without the token', async () => {
    const server = await startServer({ args: [...authArgs, '--log-level', 'debug'] });
    try {
      const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJkb2MiOiIqIn0.forgedsignature';
      const [status] = await refusedUpgrade(`${server.wsUrl}/team/notes?token=${forged}`);
      expect(status).toBe(401);
      expect((await fetch(`${server.httpUrl}/api/documents`)).status).toBe(401);
      const valid = await token('*');
      const client = connectClient(server.wsUrl, 'logged', { params: { token: valid } });
      await client.synced;
      client.destroy();
      const lines = () => server.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
      await expect.poll(() => lines().some((line) => line.msg === 'connection closed' && line.doc === 'logged')).toBe(true);
      expect(lines()).toContainEqual(
        expect.objectContaining({
          level: 20,
          path: '/ws/team/notes',
          status: 401,
          error: 'token-invalid',
          msg: expect.stringMatching(/^refused an upgrade: /),
        }),
      );
      expect(lines()).toContainEqual(expect.objectContaining({ level: 20, path: '/api/documents', status: 401, error: 'token-missing' }));
      expect(server.logs.join('\n')).not.toContain(forged);
      expect(server.logs.join('\n')).not.toContain(valid);
    } finally {
      expect(await server.stop('SIGINT')).toBe(0);
      await removeDir(server.dataDir);
    }
  });

  it('logs one start line with address, data directory, version and durability; environment variables work', async () => {
    const server = await startServer({ env: { FSYNC: 'true' } });
    try {
      const line = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith('listening'))!;
      expect(line.url).toBe(`http://127.0.0.1:${server.port}`);
      expect(line.dataDir).toBe(server.dataDir);
      expect(line.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(line.durability).toBe('fsync');
      expect(line.msg).toContain(server.dataDir);
    } finally {
      expect(await server.stop('SIGINT')).toBe(0);
      await removeDir(server.dataDir);
    }
  });
});
