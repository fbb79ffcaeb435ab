/**
 * With `--auth-secret`, every WebSocket and document API request needs a valid HS256 token for
 * its document: anything else is refused before the upgrade, with 401 or 403 and the reason.
 */
import { generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, connectRaw, refusedUpgrade, waitForDoc } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';
import { authArgs, TEST_SECRET, token, withQuery } from '../helpers/tokens.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ args: authArgs });
});

afterAll(async () => {
  await server.stop();
  await removeDir(server.dataDir);
});

const now = () => Math.floor(Date.now() / 1000);

function sign(payload: JWTPayload, secret = TEST_SECRET, alg = 'HS256'): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
}

async function refusal(name: string, jwt: string | null, extra: Record<string, string> = {}): Promise<[number, { error: string; message: string }]> {
  const url = jwt === null ? `${server.wsUrl}/${name}` : withQuery(`${server.wsUrl}/${name}`, { token: jwt, ...extra });
  const [status, body] = await refusedUpgrade(url);
  return [status, JSON.parse(body) as { error: string; message: string }];
}

describe('tokens on WebSockets', () => {
  it('lets a valid token in: the official client syncs and writes with params: { token }', async () => {
    const jwt = await token('tokens/ok');
    const a = connectClient(server.wsUrl, 'tokens/ok', { params: { token: jwt } });
    const b = connectClient(server.wsUrl, 'tokens/ok', { params: { token: await token('tokens/*') } });
    await Promise.all([a.synced, b.synced]);
    a.doc.getText('t').insert(0, 'signed in');
    await waitForDoc(b.doc, () => b.doc.getText('t').toString() === 'signed in', 'b to see a');
    a.destroy();
    b.destroy();
  });

  it('refuses a missing, malformed, expired or tampered token with 401', async () => {
    expect(await refusal('tokens/x', null)).toEqual([401, { error: 'token-missing', message: expect.stringMatching(/token/) }]);
    expect((await refusal('tokens/x', 'not.a.jwt'))[1].error).toBe('token-invalid');
    const expired = await sign({ doc: 'tokens/x', mode: 'rw', exp: now() - 10 });
    expect(await refusal('tokens/x', expired)).toEqual([401, { error: 'token-expired', message: 'the token has expired' }]);
    // A read-only token whose payload was edited to say rw: the signature no longer matches.
    const [header, , signature] = (await token('tokens/x', 'ro')).split('.');
    const forged = Buffer.from(JSON.stringify({ doc: 'tokens/x', mode: 'rw', exp: now() + 3600 })).toString('base64url');
    expect(await refusal('tokens/x', `${header}.${forged}.${signature}`)).toEqual([
      401,
      { error: 'token-invalid', message: 'invalid token: its signature does not verify' },
    ]);
  });

  it('refuses a token signed with another secret, or with any algorithm but HS256', async () => {
    const claims = { doc: 'tokens/x', mode: 'rw', exp: now() + 3600 };
    const wrongSecret = await sign(claims, 'another-secret-of-at-least-thirty-two-bytes!!');
    expect((await refusal('tokens/x', wrongSecret))[1].message).toBe('invalid token: its signature does not verify');
    const unsecured = new UnsecuredJWT(claims).encode(); // alg: none
    const hs512 = await sign(claims, TEST_SECRET, 'HS512');
    const rs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign((await generateKeyPair('RS256')).privateKey);
    const es256 = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign((await generateKeyPair('ES256')).privateKey);
    for (const jwt of [unsecured, hs512, rs256, es256]) {
      expect(await refusal('tokens/x', jwt)).toEqual([401, { error: 'token-invalid', message: 'invalid token: only HS256 tokens are accepted' }]);
    }
  });

  it('refuses tokens whose claims are missing or not understood', async () => {
    const cases: JWTPayload[] = [
      { doc: 'tokens/x', mode: 'rw' }, // no exp: it could never be revoked
      { doc: 'tokens/x', exp: now() + 60 },
      { doc: 'tokens/x', mode: 'admin', exp: now() + 60 },
      { mode: 'rw', exp: now() + 60 },
      { doc: 'to*ens/*', mode: 'rw', exp: now() + 60 },
      { doc: 'tokens/x', mode: 'rw', admin: 'yes', exp: now() + 60 },
    ];
    for (const claims of cases) {
      const [status, body] = await refusal('tokens/x', await sign(claims));
      expect(status, JSON.stringify(claims)).toBe(401);
      expect(body.error).toBe('token-invalid');
    }
  });

  it('refuses a token for another document, or a prefix that does not cover it, with 403', async () => {
    expect(await refusal('tokens/other', await token('tokens/x'))).toEqual([
      403,
      { error: 'wrong-document', message: 'the token does not grant access to "tokens/other"' },
    ]);
    expect((await refusal('elsewhere/doc', await token('tokens/*')))[0]).toBe(403);
    expect((await refusal('tokens', await token('tokens/*')))[0]).toBe(403);
  });

  it('refuses a read-only token to a client that asks for mode=rw, with 403', async () => {
    expect(await refusal('tokens/x', await token('tokens/x', 'ro'), { mode: 'rw' })).toEqual([
      403,
      { error: 'wrong-mode', message: 'the token grants read-only access to "tokens/x"' },
    ]);
  });

  it('gives a plain request to the socket the refusal an upgrade gets, readable by any page, and 426 when it would be taken', async () => {
    // Browsers hide a refused upgrade's answer; the editor asks this way (editor/src/session.ts).
    const ask = async (name: string, tokenValue: string | null, params: Record<string, string> = {}) => {
      const response = await fetch(withQuery(`${server.httpUrl}/ws/${name}`, { ...(tokenValue === null ? {} : { token: tokenValue }), ...params }));
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      return [response.status, await response.json()] as const;
    };
    for (const [name, tokenValue, params] of [
      ['tokens/x', null, {}],
      ['tokens/x', 'not.a.jwt', {}],
      ['tokens/other', await token('tokens/x'), {}],
      ['tokens/x', await token('tokens/x', 'ro'), { mode: 'rw' }],
    ] as const) {
      expect(await ask(name, tokenValue, params), `${name} ${tokenValue}`).toEqual(await refusal(name, tokenValue, { ...params }));
    }
    expect(await ask('tokens/x', await token('tokens/x'))).toEqual([426, { error: 'upgrade-required', message: expect.any(String) }]);
  });

  it('closes a connection when its token expires, and logs who it was', async () => {
    const jwt = await token('tokens/expiring', 'rw', { ttlSeconds: 2, sub: 'alice' });
    const raw = connectRaw(withQuery(`${server.wsUrl}/tokens/expiring`, { token: jwt }));
    await raw.opened;
    expect(await raw.closed).toEqual({ code: 1008, reason: 'token expired' });
    await expect.poll(() => server.logs.some((line) => line.includes('"user":"alice"') && line.includes('closed a connection: token expired'))).toBe(true);
  });
});

describe('tokens on the document API', () => {
  it('needs a token, and lists only the documents it covers', async () => {
    for (const name of ['api/team/a', 'api/team/b', 'api/private']) {
      const client = connectClient(server.wsUrl, name, { params: { token: await token(name) } });
      await client.synced;
      client.doc.getText('t').insert(0, name);
      client.destroy();
    }
    const list = async (query: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${server.httpUrl}/api/documents${query}`, { headers });
      return [response.status, (await response.json()) as { documents?: Array<{ name: string }>; error?: string }] as const;
    };
    const names = async (query: string, headers: Record<string, string> = {}) =>
      (await list(query, headers))[1].documents!.map((d) => d.name).filter((n) => n.startsWith('api/'));

    expect(await list('')).toEqual([401, { error: 'token-missing', message: expect.any(String) }]);
    expect((await list('?token=garbage'))[0]).toBe(401);
    const everything = await token('*', 'ro');
    await expect.poll(() => names(`?token=${everything}`)).toEqual(['api/private', 'api/team/a', 'api/team/b']);
    expect(await names(`?token=${await token('api/team/*', 'ro')}`)).toEqual(['api/team/a', 'api/team/b']);
    expect(await names('', { authorization: `Bearer ${await token('api/private')}` })).toEqual(['api/private']);
    // Health tells counts, not names: it stays open.
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  });
});

describe('without a secret', () => {
  it('runs open and warns at start', async () => {
    const open = await startServer();
    try {
      await expect.poll(() => open.logs.find((line) => line.includes('"auth":"open"'))).toMatch(/the server is open/);
      const client = connectClient(open.wsUrl, 'anything');
      await client.synced;
      client.destroy();
      expect((await fetch(`${open.httpUrl}/api/documents`)).status).toBe(200);
      expect(server.logs.some((line) => line.includes('"auth":"open"'))).toBe(false);
    } finally {
      await open.stop();
      await removeDir(open.dataDir);
    }
  });
});
