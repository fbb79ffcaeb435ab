/**
 * Limits checked before the upgrade: connections per client address (429), documents loaded at
 * once (503) and the origins of browser pages (403). Each refusal is a full HTTP response with a
 * JSON reason, and the server stays up for everyone else.
 */
import { readdirSync } from 'node:fs';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, connectRaw, refusedUpgrade, type RawClient } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

const servers: ServerProcess[] = [];
const sockets: RawClient[] = [];

async function serverWith(args: string[]): Promise<ServerProcess> {
  const server = await startServer({ args });
  servers.push(server);
  return server;
}

async function open(url: string, headers: Record<string, string> = {}): Promise<RawClient> {
  const raw = connectRaw(url, { headers });
  sockets.push(raw);
  await raw.opened;
  return raw;
}

afterEach(async () => {
  for (const raw of sockets.splice(0)) raw.socket.terminate();
  for (const server of servers.splice(0)) {
    await server.stop();
    await removeDir(server.dataDir);
  }
});

async function health(server: ServerProcess): Promise<{ rooms: number; connections: number }> {
  return (await fetch(`${server.httpUrl}/healthz`)).json() as Promise<{ rooms: number; connections: number }>;
}

describe('connections per client address', () => {
  it('refuses one more than the limit with 429, and admits again once one closes', async () => {
    const server = await serverWith(['--max-connections-per-address', '3']);
    const held = [await open(`${server.wsUrl}/a`), await open(`${server.wsUrl}/b`), await open(`${server.wsUrl}/a`)];
    const [status, body] = await refusedUpgrade(`${server.wsUrl}/c`);
    expect(status).toBe(429);
    expect(JSON.parse(body)).toEqual({ error: 'too-many-connections', message: 'this address already has 3 open connections (the limit is 3)' });
    // A burst of simultaneous upgrades cannot slip past the count together.
    const burst = await Promise.all(Array.from({ length: 5 }, () => refusedUpgrade(`${server.wsUrl}/d`)));
    expect(burst.map(([code]) => code)).toEqual([429, 429, 429, 429, 429]);

    held[0]!.socket.close();
    await held[0]!.closed;
    await expect.poll(async () => (await health(server)).connections).toBe(2);
    const again = await open(`${server.wsUrl}/c`);
    expect(again.socket.readyState).toBe(again.socket.OPEN);
  });
});

describe('refused upgrades', () => {
  it('do not keep their sockets open when the client never closes its side', async () => {
    const server = await serverWith([]);
    const descriptors = () => readdirSync(`/proc/${server.child.pid}/fd`).length;
    const before = descriptors();
    const clients = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const socket = connect(server.port, '127.0.0.1');
        // Never end our side, even after the server ends its own.
        socket.allowHalfOpen = true;
        socket.on('error', () => undefined);
        socket.write(
          `GET /ws/bad%zz${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
        return new Promise<Socket>((resolve) =>
          socket.once('data', (response: Buffer) => {
            expect(response.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
            resolve(socket);
          }),
        );
      }),
    );
    // The refusal is read; a moment later the server lets go of the socket (before, it kept every
    // one for as long as its client did, uncounted by --max-connections-per-address).
    await expect.poll(descriptors, { timeout: 10_000 }).toBeLessThanOrEqual(before);
    for (const socket of clients) socket.destroy();
    expect((await health(server)).connections).toBe(0);
  });
});

describe('documents loaded at once', () => {
  it('refuses a connection to one document more with 503, makes room by unloading idle ones', async () => {
    const server = await serverWith(['--max-rooms', '2', '--unload-grace', '600000']);
    await open(`${server.wsUrl}/one`);
    const two = await open(`${server.wsUrl}/two`);
    const [status, body] = await refusedUpgrade(`${server.wsUrl}/three`);
    expect(status).toBe(503);
    expect(JSON.parse(body)).toMatchObject({ error: 'too-many-documents' });
    // Loaded documents still take connections.
    await open(`${server.wsUrl}/one`);
    // Simultaneous upgrades to new documents are held to the limit too.
    const burst = await Promise.all(['x', 'y', 'z'].map((name) => refusedUpgrade(`${server.wsUrl}/${name}`)));
    expect(burst.map(([code]) => code)).toEqual([503, 503, 503]);

    // "two" has no connections left: idle, it gives way to "three" at once, not after its grace.
    two.socket.close();
    await two.closed;
    await expect.poll(async () => (await health(server)).connections).toBe(2);
    const client = connectClient(server.wsUrl, 'three');
    await client.synced;
    client.destroy();
    expect((await health(server)).rooms).toBe(2);
  });
});

describe('origins of browser pages', () => {
  it("by default admits the server's own pages and non-browser clients, and refuses other origins with 403", async () => {
    const server = await serverWith([]);
    await open(`${server.wsUrl}/doc`);
    await open(`${server.wsUrl}/doc`, { Origin: server.httpUrl });
    for (const origin of ['https://evil.example', 'http://127.0.0.1:1', 'null']) {
      const [status, body] = await refusedUpgrade(`${server.wsUrl}/doc`, { Origin: origin });
      expect(status, origin).toBe(403);
      expect(JSON.parse(body)).toMatchObject({ error: 'origin-not-allowed' });
    }
  });

  it('admits the origins listed in --allowed-origins, and any with *', async () => {
    const listed = await serverWith(['--allowed-origins', 'https://app.example.com, http://localhost:5173']);
    await open(`${listed.wsUrl}/doc`, { Origin: 'https://app.example.com' });
    await open(`${listed.wsUrl}/doc`, { Origin: 'http://localhost:5173' });
    await open(`${listed.wsUrl}/doc`, { Origin: listed.httpUrl });
    expect((await refusedUpgrade(`${listed.wsUrl}/doc`, { Origin: 'https://app.example.com.evil.example' }))[0]).toBe(403);
    const any = await serverWith(['--allowed-origins', '*']);
    await open(`${any.wsUrl}/doc`, { Origin: 'https://anywhere.example' });
  });
});

/** A plain GET of `path` with the `Host` header set to `host`: its status. */
function getAs(server: ServerProcess, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port: server.port, path, headers: { Host: host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once('error', reject);
  });
}

describe('host names (DNS rebinding)', () => {
  it('serves pages, the API and WebSockets for localhost and IP addresses only, by default', async () => {
    const server = await serverWith([]);
    const port = server.port;
    // A page at http://evil.example:<port>, its name made to resolve to this server: same origin.
    const rebound = `evil.example:${port}`;
    const [status, body] = await refusedUpgrade(`${server.wsUrl}/doc`, { Host: rebound, Origin: `http://${rebound}` });
    expect(status).toBe(403);
    expect(JSON.parse(body)).toEqual({
      error: 'host-not-allowed',
      message: `requests for "${rebound}" are refused: if this server is reached by that name, list it in --allowed-hosts (ALLOWED_HOSTS)`,
    });
    for (const path of ['/api/documents', '/', '/d/doc']) expect(await getAs(server, rebound, path), path).toBe(403);
    // The health check tells no names: probes may use any.
    expect(await getAs(server, rebound, '/healthz')).toBe(200);
    for (const host of [`localhost:${port}`, `localhost.:${port}`, `app.localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `10.1.2.3:${port}`]) {
      expect(await getAs(server, host, '/api/documents'), host).toBe(200);
    }
    await open(`${server.wsUrl}/doc`, { Host: `localhost:${port}`, Origin: `http://localhost:${port}` });
  });

  it('says at start when it listens beyond loopback with no names listed, and not on loopback', async () => {
    const wide = await serverWith(['--host', '0.0.0.0']);
    const local = await serverWith([]);
    // The open-server warning is the last line of the start.
    const started = (server: ServerProcess) => expect.poll(() => server.logs.some((line) => line.includes('no --auth-secret'))).toBe(true);
    await Promise.all([started(wide), started(local)]);
    const hint = (server: ServerProcess) => server.logs.filter((line) => line.includes('list the names this server is reached by in --allowed-hosts'));
    expect(hint(wide)).toHaveLength(1);
    expect(hint(local)).toHaveLength(0);
  });

  it('serves the names listed in --allowed-hosts too, and any with *', async () => {
    const listed = await serverWith(['--allowed-hosts', 'docs.example.com, Other.Example']);
    await open(`${listed.wsUrl}/doc`, { Host: 'docs.example.com', Origin: 'https://docs.example.com' });
    expect(await getAs(listed, 'other.example:8080', '/api/documents')).toBe(200);
    expect(await getAs(listed, 'docs.example.com.evil.example', '/api/documents')).toBe(403);
    const any = await serverWith(['--allowed-hosts', '*']);
    expect(await getAs(any, 'anything.example', '/api/documents')).toBe(200);
  });
});
