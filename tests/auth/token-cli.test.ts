/**
 * The operators' token command (`npm run token`): it prints a token the server accepts, with the
 * claims asked for, and refuses to sign with a weak or missing secret.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/clients.js';
import { removeDir, startServer } from '../helpers/server-process.js';
import { authArgs, TEST_SECRET, withQuery } from '../helpers/tokens.js';

const run = promisify(execFile);
const TOKEN_MAIN = resolve(import.meta.dirname, '../../dist/server/token-main.js');

async function mint(args: string[], env: Record<string, string> = { AUTH_SECRET: TEST_SECRET }): Promise<string> {
  const { stdout } = await run(process.execPath, [TOKEN_MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
  return stdout.trim();
}

describe('the token command', () => {
  it('prints a token with the claims asked for, signed with AUTH_SECRET', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await mint(['--doc', 'team/*', '--mode', 'rw', '--ttl', '15m', '--sub', 'ada']);
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(TEST_SECRET));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({ doc: 'team/*', mode: 'rw', sub: 'ada' });
    expect(payload.exp! - before).toBeGreaterThanOrEqual(15 * 60);
    expect(payload.exp! - before).toBeLessThanOrEqual(15 * 60 + 2);
  });

  it('mints an admin token with --admin, and refuses it read-only', async () => {
    const { payload } = await jwtVerify(await mint(['--doc', '*', '--mode', 'rw', '--admin']), new TextEncoder().encode(TEST_SECRET));
    expect(payload).toMatchObject({ doc: '*', mode: 'rw', admin: true });
    const plain = await jwtVerify(await mint(['--doc', '*', '--mode', 'rw']), new TextEncoder().encode(TEST_SECRET));
    expect(plain.payload.admin).toBeUndefined();
    const failure = await mint(['--doc', '*', '--admin']).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/--admin needs --mode rw/);
  });

  it('mints read-only tokens for an hour unless told otherwise, and takes the secret as a flag', async () => {
    const { payload } = await jwtVerify(await mint(['--doc', 'notes', '--secret', TEST_SECRET], {}), new TextEncoder().encode(TEST_SECRET));
    expect(payload.mode).toBe('ro');
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('refuses a missing or short secret, a bad lifetime and a bad document claim', async () => {
    const failures: Array<[string[], Record<string, string>, RegExp]> = [
      [['--doc', 'x'], {}, /--secret/],
      [['--doc', 'x'], { AUTH_SECRET: 'short' }, /at least 32 bytes/],
      [['--doc', 'x', '--ttl', 'forever'], { AUTH_SECRET: TEST_SECRET }, /expected a lifetime/],
      [['--doc', 'a*b'], { AUTH_SECRET: TEST_SECRET }, /prefix ending in "\*"/],
      [['--doc', 'x', '--mode', 'admin'], { AUTH_SECRET: TEST_SECRET }, /--mode/],
    ];
    for (const [args, env, message] of failures) {
      const failure = await mint(args, env).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code, args.join(' ')).toBe(1);
      expect(failure?.stderr).toMatch(message);
    }
  });

  it('refuses claims the server would refuse, as a usage error rather than a crash', async () => {
    // A 257-character --sub used to mint a token every server refuses; a 4097-character --doc crashed with a stack trace.
    const failures: Array<[string[], RegExp]> = [
      [['--doc', 'x', '--sub', 'u'.repeat(257)], /option '--sub <id>' argument 'u+' is invalid\. expected a user id of 1 to 256 characters, got 257/],
      [['--doc', 'x', '--sub', ''], /option '--sub <id>' argument '' is invalid\. expected a user id of 1 to 256 characters, got 0/],
      [['--doc', 'a'.repeat(4097)], /option '--doc <name>' argument 'a+' is invalid\. expected a document name or prefix of at most 4096 characters, got 4097/],
      [['--doc', 'x', '--secret', ' '.repeat(48)], /option '--secret <secret>' argument ' +' is invalid\. an empty secret is not allowed/],
    ];
    for (const [args, message] of failures) {
      const failure = await mint(args).then(
        () => null,
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      const what = args.map((arg) => arg.slice(0, 20)).join(' ');
      expect(failure?.code, what).toBe(1);
      expect(failure?.stdout, what).toBe('');
      expect(failure?.stderr, what).toMatch(message);
      expect(failure?.stderr, what).toContain('Usage: collab-server-token');
      expect(failure?.stderr, what).not.toMatch(/TokenError|invalid token|\n\s+at /);
    }
  });

  it('mints tokens the server accepts, up to the longest claims it verifies', async () => {
    const server = await startServer({ args: authArgs });
    try {
      const client = connectClient(server.wsUrl, 'minted', { params: { token: await mint(['--doc', 'minted', '--mode', 'rw']) } });
      await client.synced;
      client.destroy();
      const longest = await mint(['--doc', `${'a'.repeat(4095)}*`, '--sub', 'u'.repeat(256)]);
      const response = await fetch(withQuery(`${server.httpUrl}/api/documents`, { token: longest }));
      expect(response.status, await response.clone().text()).toBe(200);
      expect(await response.json()).toEqual({ documents: [], next: null });
    } finally {
      await server.stop();
      await removeDir(server.dataDir);
    }
  });
});
