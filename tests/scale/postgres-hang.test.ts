/**
 * A server whose PostgreSQL stops answering (a proxy that hangs: no reset, no FIN, no byte either
 * way) while an official client types, with `--postgres-query-timeout 1s`: within seconds the
 * server says the store is unavailable and closes the writer, having acknowledged nothing it could
 * not store; once the path heals it recovers on its own, and every update the client typed is
 * stored. A stop (SIGTERM) during the hang ends within the timeout too.
 */
import * as decoding from 'lib0/decoding';
import { expect, it } from 'vitest';
import { MESSAGE_ERROR } from '../../protocol/index.js';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient } from '../helpers/clients.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { eventually, postgresUrl } from '../helpers/instances.js';
import { databaseOfSuite, describeWithPostgres } from '../helpers/postgres.js';
import { type ServerProcess, startTestServer } from '../helpers/server-process.js';
import { missing, Typist, typedIn } from '../helpers/typing.js';

const cleanup = cleanupAfterEach();
const track = cleanup.track;

/** Time the server may take to give up on a statement, and then to tell its clients, on a busy machine. */
const TOLD_WITHIN_MS = 10_000;

describeWithPostgres('PostgreSQL that stops answering', () => {
  const own = databaseOfSuite();

  /** A server on the suite's database through a proxy, with a query timeout of 1 s. */
  async function serverBehindProxy(): Promise<{ proxy: FaultProxy; server: ServerProcess }> {
    const proxy = await FaultProxy.forPostgres(own.cluster.socketDir);
    cleanup.push(() => proxy.close());
    const url = `postgres://postgres@/${own.database.name}?host=${encodeURIComponent(proxy.dir)}`;
    const server = await startTestServer(cleanup, { args: ['--postgres-url', url, '--postgres-query-timeout', '1s', '--max-message-rate', '0'] });
    // One that did not stop in the test is killed: stopping it while the proxy hangs may never end.
    cleanup.push(() => server.kill());
    return { proxy, server };
  }

  /** The values of `typed` in document `name` as a server of its own, reaching the database directly, loads them. */
  async function stored(name: string): Promise<string[]> {
    const server = await startTestServer(cleanup, { args: ['--postgres-url', postgresUrl(own.cluster, own.database.name)] });
    const reader = track(connectClient(server.wsUrl, name));
    await reader.synced;
    return typedIn(reader);
  }

  async function status(server: ServerProcess, path: '/healthz' | '/readyz'): Promise<[number, Record<string, unknown>]> {
    const response = await fetch(`${server.httpUrl}${path}`);
    return [response.status, (await response.json()) as Record<string, unknown>];
  }

  it('tells the writer within the timeout, acknowledges nothing unstored, and recovers on its own once it answers', async () => {
    const { proxy, server } = await serverBehindProxy();
    const writer = track(new Typist(server.wsUrl, 'pg-hang', 'w-'));
    // Told why (an error message, code first), then closed: 1011, the server failed a write.
    const told: string[] = [];
    writer.client.provider.messageHandlers[MESSAGE_ERROR] = (_encoder: unknown, decoder: decoding.Decoder) => told.push(decoding.readVarString(decoder));
    const closes: number[] = [];
    writer.client.provider.on('connection-close', (event: { code: number } | null) => closes.push(event?.code ?? 0));
    await writer.client.synced;
    writer.start(5);
    await eventually(() => expect(writer.acknowledged().length).toBeGreaterThanOrEqual(20));

    proxy.hang();
    const hungAt = performance.now();
    await eventually(() => expect(closes).toContain(1011), TOLD_WITHIN_MS);
    const toldAfterMs = performance.now() - hungAt;
    expect(told[0]).toBe('storage-failed');
    const [health, healthBody] = await status(server, '/healthz');
    expect([health, healthBody]).toMatchObject([503, { status: 'degraded', error: expect.stringContaining('no answer within the query timeout') }]);
    const [ready, readyBody] = await status(server, '/readyz');
    expect([ready, readyBody]).toMatchObject([503, { status: 'degraded' }]);
    // Whatever the writer was told is saved is in the database now, read past the hung proxy.
    const acknowledged = writer.acknowledged();
    expect(missing(acknowledged, await stored('pg-hang')), 'acknowledged, not stored').toEqual([]);
    // It types on meanwhile, and none of it is acknowledged while the database does not answer.
    const typedInHang = writer.typed.length;
    await eventually(() => expect(writer.typed.length).toBeGreaterThan(typedInHang + 50));
    expect(writer.acknowledged()).toEqual(acknowledged);
    expect((await status(server, '/healthz'))[0]).toBe(503);

    await proxy.restore();
    await eventually(async () => expect(await status(server, '/healthz')).toMatchObject([200, { status: 'ok' }]), 30_000);
    writer.stop();
    // The client reconnects on its own and sends what was not stored; all of it is acknowledged.
    await eventually(() => expect(writer.acknowledged()).toEqual(writer.typed), 30_000);
    expect(missing(writer.typed, await stored('pg-hang')), 'typed, acknowledged, then lost').toEqual([]);
    expect(await server.stop()).toBe(0);
    console.log(
      `[postgres hang] writer told after ${Math.round(toldAfterMs)} ms; ${acknowledged.length} acknowledged before, ${writer.typed.length} typed in all`,
    );
  });

  it('stops on SIGTERM during the hang, within the timeout, saying the store was unavailable', async () => {
    const { proxy, server } = await serverBehindProxy();
    const writer = track(new Typist(server.wsUrl, 'pg-hang-stop', 'w-'));
    await writer.client.synced;
    writer.start(5);
    await eventually(() => expect(writer.acknowledged().length).toBeGreaterThanOrEqual(20));

    proxy.hang();
    const stoppedAt = performance.now();
    const stopped = server.stop('SIGTERM');
    const bound = new Promise<string>((resolve) => setTimeout(() => resolve('still running'), TOLD_WITHIN_MS).unref());
    const code = await Promise.race([stopped, bound]);
    expect(code).toBe(1);
    console.log(`[postgres hang] stopped ${Math.round(performance.now() - stoppedAt)} ms after SIGTERM`);
    expect(server.logs.join('\n')).toContain('stopped while the store was unavailable');
    writer.stop();
    await proxy.restore();
    expect(missing(writer.acknowledged(), await stored('pg-hang-stop')), 'acknowledged, not stored').toEqual([]);
  });
});
