/**
 * The command line a user meets first: --help explains every option with its default and
 * environment variable, bad values are refused clearly, and the start line says where and how.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { removeDir, startServer } from './helpers/server-process.js';

const run = promisify(execFile);
const MAIN = resolve(import.meta.dirname, '../dist/server/main.js');

describe('command line', () => {
  it('--help lists every option with its environment variable and default', async () => {
    const { stdout: raw } = await run(process.execPath, [MAIN, '--help']);
    const stdout = raw.replace(/\s+/g, ' ');
    for (const [flag, env] of [
      ['--host', 'HOST'],
      ['--port', 'PORT'],
      ['--data-dir', 'DATA_DIR'],
      ['--fsync', 'FSYNC'],
      ['--max-message-size', 'MAX_MESSAGE_SIZE'],
      ['--max-name-length', 'MAX_NAME_LENGTH'],
      ['--unload-grace', 'UNLOAD_GRACE_MS'],
      ['--ping-interval', 'PING_INTERVAL_MS'],
      ['--compact-after', 'COMPACT_AFTER'],
      ['--auth-secret', 'AUTH_SECRET'],
      ['--allowed-origins', 'ALLOWED_ORIGINS'],
      ['--max-document-size', 'MAX_DOCUMENT_SIZE'],
      ['--max-connections-per-address', 'MAX_CONNECTIONS_PER_ADDRESS'],
      ['--max-message-rate', 'MAX_MESSAGE_RATE'],
      ['--max-rooms', 'MAX_ROOMS'],
      ['--max-send-buffer', 'MAX_SEND_BUFFER'],
      ['--log-level', 'LOG_LEVEL'],
    ]) {
      expect(stdout).toContain(flag);
      expect(stdout).toContain(`env: ${env}`);
    }
    expect(stdout).toContain('default: "127.0.0.1"');
    expect(stdout).toContain('default: 1234');
    expect(stdout).toContain('default: "./data"');
    expect(stdout).toContain('default: same origin only');
  });

  it('refuses an auth secret too short to be safe, and origins that are not origins', async () => {
    const short = await run(process.execPath, [MAIN], { env: { ...process.env, AUTH_SECRET: 'hunter2' } }).catch((error: { code: number; stderr: string }) => error);
    expect((short as { stderr: string }).stderr).toMatch(/--auth-secret.*at least 32 bytes/);
    const origin = await run(process.execPath, [MAIN, '--allowed-origins', 'https://ok.example,https://x.example/path']).catch((error: { code: number; stderr: string }) => error);
    expect((origin as { stderr: string }).stderr).toMatch(/expected origins such as https:\/\/app.example.com.*got "https:\/\/x.example\/path"/);
  });

  it('refuses a bad value with a clear message and a non-zero exit', async () => {
    const failure = await run(process.execPath, [MAIN, '--port', 'eighty']).catch((error: { code: number; stderr: string }) => error);
    expect('code' in failure && failure.code).toBe(1);
    expect((failure as { stderr: string }).stderr).toMatch(/--port.*expected a whole number from 0 to 65535, got "eighty"/);
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
