/**
 * Redis failing under three instances: restarted mid-typing (nothing lost, everything converges,
 * presence comes back, and meanwhile the head check keeps the instances in step through
 * PostgreSQL), and one instance cut off from it by a proxy (the others converge, its presence
 * disappears from theirs within 3 s, it serves its own clients, says it is degraded, and rejoins).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, type YClient } from '../helpers/clients.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { eventually, Instances, postgresUrl } from '../helpers/instances.js';
import { postgresUnavailable, databaseOfSuite } from '../helpers/postgres.js';
import { describeWithRedis, RedisServer, redisPrefix, sharedRedis } from '../helpers/redis.js';
import { missing, Typist, typedIn, watchTyped } from '../helpers/typing.js';

const cleanup = cleanupAfterEach();

const track = cleanup.track;

/** Whether `watcher` shows the presence of `client`. */
function shows(watcher: YClient, client: YClient): boolean {
  return watcher.provider.awareness.getStates().get(client.doc.clientID)?.['user'] !== undefined;
}

async function converged(clients: readonly YClient[]): Promise<string[]> {
  await eventually(() => {
    const first = JSON.stringify(typedIn(clients[0]!));
    for (const client of clients) expect(JSON.stringify(typedIn(client))).toBe(first);
  });
  return typedIn(clients[0]!);
}

describeWithRedis(
  'Redis failing',
  () => {
    const own = databaseOfSuite();

    it('restarted mid-typing: nothing is lost, everything converges, and presence comes back', async () => {
      const redis = await RedisServer.start();
      cleanup.push(() => redis.remove());
      const instances = await Instances.start(cleanup, 3, {
        postgresUrl: postgresUrl(own.cluster, own.database.name),
        redisUrl: redis.url,
        redisPrefix: redisPrefix(),
      });
      const typists = [0, 1].map((i) => track(new Typist(instances.ws(i), 'restart', `T${i}-`)));
      const observer = track(connectClient(instances.ws(2), 'restart'));
      const seen = watchTyped(observer);
      await Promise.all([...typists.map((typist) => typist.client.synced), observer.synced]);
      typists[0]!.client.provider.awareness.setLocalStateField('user', { name: 'Ada' });
      await eventually(() => expect(shows(observer, typists[0]!.client)).toBe(true));
      for (const typist of typists) typist.start(5);
      await sleep(200);

      await redis.stop();
      await eventually(async () => expect(await instances.health(0)).toMatchObject({ status: 'degraded', bus: expect.stringContaining('Redis') }));
      const typedBefore = typists[0]!.typed.length;
      // Without Redis, the head check brings what is stored elsewhere through PostgreSQL...
      await eventually(() => expect(missing([`T0-${typedBefore + 1}`], seen)).toEqual([]), 10_000);
      // ...and the presence of a silent instance goes.
      await eventually(() => expect(shows(observer, typists[0]!.client)).toBe(false), 10_000);

      await redis.restart();
      await sleep(300);
      for (const typist of typists) typist.stop();
      const settled = await converged([...typists.map((typist) => typist.client), observer]);
      expect(missing([...typists[0]!.typed, ...typists[1]!.typed], settled)).toEqual([]);
      await eventually(() => expect(shows(observer, typists[0]!.client)).toBe(true), 10_000);
      for (const i of [0, 1, 2]) await eventually(async () => expect((await instances.health(i)).status).toBe('ok'));
      // Live again: a change crosses at once, not at the next head check.
      const started = performance.now();
      typists[1]!.type();
      await eventually(() => expect(missing(typists[1]!.typed, typedIn(observer))).toEqual([]));
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it('cut off from one instance: the others converge, its presence goes from theirs within 3 s, and it rejoins', async () => {
      const shared = sharedRedis();
      const proxy = await FaultProxy.start({ path: shared.socket }, { socketName: 'redis.sock' });
      cleanup.push(() => proxy.close());
      const urls = [shared.url, shared.url, `unix://${join(proxy.dir, 'redis.sock')}`];
      const instances = await Instances.start(cleanup, 3, {
        postgresUrl: postgresUrl(own.cluster, own.database.name),
        redisUrl: urls,
        redisPrefix: redisPrefix(),
      });
      const [a, b, c, alsoC] = [0, 1, 2, 2].map((i, k) => track(new Typist(instances.ws(i), 'cut', `${'abcd'[k]}-`)));
      await Promise.all([a, b, c, alsoC].map((typist) => typist!.client.synced));
      c!.client.provider.awareness.setLocalStateField('user', { name: 'Cy' });
      await eventually(() => expect(shows(a!.client, c!.client) && shows(b!.client, c!.client)).toBe(true));

      await proxy.cut();
      const cut = performance.now();
      await eventually(() => expect(shows(a!.client, c!.client) || shows(b!.client, c!.client)).toBe(false), 10_000);
      const gone = performance.now() - cut;
      expect(gone, 'presence of the cut-off instance removed (ms after the cut)').toBeLessThan(3200);
      // The others go on together; the cut-off one serves its own clients.
      for (const typist of [a, b, c]) for (let i = 0; i < 20; i++) typist!.type();
      await converged([a!.client, b!.client]);
      await eventually(() => expect(missing(c!.typed, typedIn(alsoC!.client))).toEqual([]));
      expect(await instances.health(2)).toMatchObject({ status: 'degraded', bus: expect.any(String) });
      expect((await instances.health(0)).status).toBe('ok');

      await proxy.restore();
      for (const typist of [a, b, c]) typist!.type();
      const settled = await converged([a!, b!, c!, alsoC!].map((typist) => typist.client));
      expect(missing([...a!.typed, ...b!.typed, ...c!.typed], settled)).toEqual([]);
      await eventually(() => expect(shows(a!.client, c!.client)).toBe(true), 10_000);
      await eventually(async () => expect((await instances.health(2)).status).toBe('ok'));
      console.log(`[redis cut] presence of the cut-off instance removed ${Math.round(gone)} ms after the cut`);
    });
  },
  postgresUnavailable(),
);
