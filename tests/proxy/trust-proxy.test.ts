/**
 * `--trust-proxy` with real server processes: from a trusted proxy, the client address its header
 * gives is what per-address limits count, presence belongs to and logs show; from anyone else a
 * forged header changes nothing. (The parsing itself: client-address.test.ts; through nginx:
 * tests/deploy/nginx.test.ts.)
 */
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import { presenceStates } from '../helpers/presence-frame.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectRaw, type RawClient, refusedUpgrade } from '../helpers/clients.js';
import { type ServerProcess, startTestServer } from '../helpers/server-process.js';

const MAIN = process.env['SERVER_MAIN'] ?? resolve(import.meta.dirname, '../../dist/server/main.js');
const cleanup = cleanupAfterEach();

/** A raw WebSocket to `doc`, sent with `headers` (a proxy's, or forged ones), open and past the server's sync step 1. */
async function open(server: ServerProcess, doc: string, headers: Record<string, string> = {}, localAddress = '127.0.0.1'): Promise<RawClient> {
  const raw = connectRaw(`${server.wsUrl}/${doc}`, { headers, localAddress });
  cleanup.push(() => raw.socket.terminate());
  await raw.opened;
  await raw.nextFrame(0);
  return raw;
}

function logLines(server: ServerProcess): Array<Record<string, unknown>> {
  return server.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The addresses of the connections the server logged as opened, in order. */
function openedAddresses(server: ServerProcess): unknown[] {
  return logLines(server)
    .filter((line) => line.msg === 'connection opened')
    .map((line) => line.address);
}

/** The address and status of each refused upgrade the server logged, in order. */
function refusals(server: ServerProcess): unknown[][] {
  return logLines(server)
    .filter((line) => String(line.msg).startsWith('refused an upgrade'))
    .map((line) => [line.address, line.status]);
}

const LIMIT_REFUSAL = JSON.stringify({ error: 'too-many-connections', message: 'this address already has 2 open connections (the limit is 2)' });

describe('from a peer that is not a trusted proxy', () => {
  it('ignores forged X-Forwarded-For and Forwarded headers: the per-address limit counts the real address, and the logs show it', async () => {
    for (const trust of [[], ['--trust-proxy', '10.0.0.0/8'], ['--trust-proxy', '10.0.0.0/8', '--proxy-header', 'forwarded']]) {
      const server = await startTestServer(cleanup, { args: [...trust, '--max-connections-per-address', '2', '--log-level', 'debug'] });
      await open(server, 'forged', { 'X-Forwarded-For': '198.51.100.1', Forwarded: 'for=198.51.100.1' });
      await open(server, 'forged', { 'X-Forwarded-For': '198.51.100.2', Forwarded: 'for=198.51.100.2' });
      const refused = await refusedUpgrade(`${server.wsUrl}/forged`, { 'X-Forwarded-For': '198.51.100.3', Forwarded: 'for=198.51.100.3' });
      expect(refused, trust.join(' ')).toEqual([429, LIMIT_REFUSAL]);
      // Logs come through a pipe, after the answers: waited for.
      await expect.poll(() => refusals(server), { message: trust.join(' ') }).toEqual([['127.0.0.1', 429]]);
      expect(openedAddresses(server), trust.join(' ')).toEqual(['127.0.0.1', '127.0.0.1']);
      expect(server.logs.join('\n')).not.toMatch(/"address":"198\.51\.100\./);
    }
  });
});

describe('from a trusted proxy', () => {
  it("counts each client by the proxy's X-Forwarded-For: two clients behind one proxy each get their own allowance", async () => {
    const server = await startTestServer(cleanup, { args: ['--trust-proxy', '127.0.0.1', '--max-connections-per-address', '2', '--log-level', 'debug'] });
    const first = { 'X-Forwarded-For': '198.51.100.1' };
    const second = { 'X-Forwarded-For': '198.51.100.2' };
    await open(server, 'shared', first);
    await open(server, 'shared', first);
    // The client's own claim, left of what the proxy appended, is not believed.
    expect(await refusedUpgrade(`${server.wsUrl}/shared`, { 'X-Forwarded-For': '203.0.113.9, 198.51.100.1' })).toEqual([429, LIMIT_REFUSAL]);
    await open(server, 'shared', second);
    await open(server, 'shared', second);
    expect(await refusedUpgrade(`${server.wsUrl}/shared`, second)).toEqual([429, LIMIT_REFUSAL]);
    // The proxy's own requests (no header) count for the proxy.
    await open(server, 'shared');

    await expect.poll(() => openedAddresses(server)).toEqual(['198.51.100.1', '198.51.100.1', '198.51.100.2', '198.51.100.2', '127.0.0.1']);
    expect(refusals(server)).toEqual([
      ['198.51.100.1', 429],
      ['198.51.100.2', 429],
    ]);
    expect(server.logs.join('\n')).not.toContain('203.0.113.9');
    const started = logLines(server).find((line) => line.trustProxy !== undefined);
    expect(started?.msg).toBe('client addresses from x-forwarded-for when the peer is a trusted proxy: 127.0.0.1/32');
  });

  it('reads Forwarded (RFC 7239) with --proxy-header forwarded, and then X-Forwarded-For not at all', async () => {
    const server = await startTestServer(cleanup, {
      env: { TRUST_PROXY: '127.0.0.0/8', PROXY_HEADER: 'forwarded' },
      args: ['--max-connections-per-address', '2', '--log-level', 'debug'],
    });
    const client = { Forwarded: 'for="[2001:db8:cafe::17]:4711";proto=https' };
    await open(server, 'rfc7239', client);
    await open(server, 'rfc7239', { Forwarded: 'for=203.0.113.9, for="[2001:DB8:CAFE:0::17]"' });
    expect(await refusedUpgrade(`${server.wsUrl}/rfc7239`, client)).toEqual([429, LIMIT_REFUSAL]);
    // X-Forwarded-For alone: the proxy's own address.
    await open(server, 'rfc7239', { 'X-Forwarded-For': '198.51.100.1' });
    await open(server, 'rfc7239', { 'X-Forwarded-For': '198.51.100.2' });
    expect(await refusedUpgrade(`${server.wsUrl}/rfc7239`, { 'X-Forwarded-For': '198.51.100.3' })).toEqual([429, LIMIT_REFUSAL]);
    await expect.poll(() => openedAddresses(server)).toEqual(['2001:db8:cafe::17', '2001:db8:cafe::17', '127.0.0.1', '127.0.0.1']);
  });

  it("does not hold the proxy's sockets to the per-address socket limit, as it does an untrusted peer's", async () => {
    // 2 WebSockets per address, and 64 more sockets of any kind.
    const server = await startTestServer(cleanup, { args: ['--trust-proxy', '127.0.0.1', '--max-connections-per-address', '2'] });
    const held: Socket[] = [];
    cleanup.push(() => held.forEach((socket) => socket.destroy()));
    const idle = (localAddress: string) =>
      new Promise<Socket>((done, fail) => {
        const socket = connect({ port: server.port, host: '127.0.0.1', localAddress }, () => done(socket));
        socket.once('error', fail);
        held.push(socket);
      });
    for (let i = 0; i < 66; i++) await Promise.all([idle('127.0.0.1'), idle('127.0.0.2')]);
    const [trusted, untrusted] = await Promise.all([idle('127.0.0.1'), idle('127.0.0.2')]);
    const answer = new Promise<string>((done) => trusted.once('data', (data: Buffer) => done(data.toString('latin1'))));
    trusted.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await answer).toMatch(/^HTTP\/1\.1 200 /);
    // The untrusted peer's 67th socket is answered 429 and closed as it arrives.
    let refusal = '';
    untrusted.on('data', (data: Buffer) => (refusal += data.toString('latin1')));
    await new Promise((done) => untrusted.once('close', done));
    expect(refusal).toMatch(/^HTTP\/1\.1 429 /);
  });

  it('gives presence to the forwarded address: another client behind the proxy cannot take it, the same one can', async () => {
    const server = await startTestServer(cleanup, { args: ['--trust-proxy', 'loopback'] });
    const doc = 'presence';
    const ada = await open(server, doc, { 'X-Forwarded-For': '198.51.100.1' });
    ada.socket.send(presence(600, 1, { name: 'Ada' }));
    await expect.poll(async () => (await presentNow(server, doc)).get(600)).toEqual({ name: 'Ada' });
    const mallory = await open(server, doc, { 'X-Forwarded-For': '198.51.100.2' });
    mallory.socket.send(presence(600, 9, { name: 'Mallory posing as Ada' }));
    mallory.socket.send(presence(601, 1, { name: 'Mallory' }));
    await expect.poll(async () => (await presentNow(server, doc)).get(601)).toEqual({ name: 'Mallory' });
    expect((await presentNow(server, doc)).get(600)).toEqual({ name: 'Ada' });
    // Ada again, on a new connection through the proxy: hers to take over.
    const again = await open(server, doc, { 'X-Forwarded-For': '198.51.100.1' });
    again.socket.send(presence(600, 10, { name: 'Ada, reconnected' }));
    await expect.poll(async () => (await presentNow(server, doc)).get(600)).toEqual({ name: 'Ada, reconnected' });
  });
});

it('refuses a --trust-proxy entry that is not an address, a range or loopback, naming it', async () => {
  const run = promisify(execFile);
  for (const [args, env] of [
    [['--trust-proxy', '10.0.0.0/8, proxy.example'], {}],
    [[], { TRUST_PROXY: '10.0.0.0/33' }],
    [['--trust-proxy', '*'], {}],
  ] as const) {
    const failure = (await run(process.execPath, [MAIN, '--port', '0', ...args], { env: { PATH: process.env.PATH ?? '', ...env } }).catch(
      (error: unknown) => error,
    )) as { code?: number; stderr?: string };
    const entry = args[1]?.split(',')[1]?.trim() ?? args[1] ?? Object.values(env)[0];
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain(`expected IP addresses or CIDR ranges such as 10.0.0.0/8 or fd00::/8, or loopback, got "${entry}"`);
  }
});

/** An awareness message publishing `state` for `clientId` at `clock`. */
function presence(clientId: number, clock: number, state: Record<string, unknown>): Uint8Array {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 1);
  encoding.writeVarUint(update, clientId);
  encoding.writeVarUint(update, clock);
  encoding.writeVarString(update, JSON.stringify(state));
  const message = encoding.createEncoder();
  encoding.writeVarUint(message, 1);
  encoding.writeVarUint8Array(message, encoding.toUint8Array(update));
  return encoding.toUint8Array(message);
}

/** Everyone's presence as the server holds it, by client id: what a newcomer is sent. */
async function presentNow(server: ServerProcess, doc: string): Promise<Map<number, unknown>> {
  const newcomer = await open(server, doc, {}, '127.0.0.3');
  newcomer.socket.send(Uint8Array.of(3));
  const states = presenceStates(await newcomer.nextFrame(1));
  newcomer.socket.close();
  return states;
}
