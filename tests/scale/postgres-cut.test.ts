/**
 * One instance cut off from PostgreSQL by a proxy while clients type on all three: the other two
 * go on storing and converge; the cut-off one acknowledges nothing it could not store, says it is
 * degraded, and once the proxy lets it through again recovers without a restart, with nothing
 * any client was told is saved, or saw, lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, type YClient } from '../helpers/clients.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { eventually, Instances, postgresUrl } from '../helpers/instances.js';
import { postgresUnavailable, databaseOfSuite } from '../helpers/postgres.js';
import { describeWithRedis, redisPrefix, sharedRedis } from '../helpers/redis.js';
import { missing, Typist, typedIn, watchTyped } from '../helpers/typing.js';

const cleanup = cleanupAfterEach();

const track = cleanup.track;

function equalEverywhere(clients: readonly YClient[]): void {
  const first = JSON.stringify(typedIn(clients[0]!));
  for (const client of clients) expect(JSON.stringify(typedIn(client))).toBe(first);
}

describeWithRedis(
  'PostgreSQL cut off from one instance',
  () => {
    const own = databaseOfSuite();

    it('the others store and converge; it acknowledges nothing unstored and recovers on its own', async () => {
      const proxy = await FaultProxy.forPostgres(own.cluster.socketDir);
      cleanup.push(() => proxy.close());
      const direct = postgresUrl(own.cluster, own.database.name);
      const throughProxy = `postgres://postgres@/${own.database.name}?host=${encodeURIComponent(proxy.dir)}`;
      const instances = await Instances.start(cleanup, 3, {
        postgresUrl: [direct, direct, throughProxy],
        redisUrl: sharedRedis().url,
        redisPrefix: redisPrefix(),
      });
      const [a, b, c] = [0, 1, 2].map((i) => track(new Typist(instances.ws(i), 'pg-cut', `${'abc'[i]}-`)));
      const observers = [0, 1].map((i) => track(connectClient(instances.ws(i), 'pg-cut')));
      const seen = watchTyped(observers[0]!);
      await Promise.all([a!, b!, c!].map((typist) => typist.client.synced).concat(observers.map((observer) => observer.synced)));
      for (const typist of [a!, b!, c!]) typist.start(5);
      await eventually(() => expect(missing(['a-20', 'b-20', 'c-20'], seen)).toEqual([]));

      await proxy.cut();
      await eventually(async () => expect(await instances.health(2)).toMatchObject({ status: 'degraded', error: expect.stringContaining('unavailable') }));
      for (const i of [0, 1]) expect((await instances.health(i)).status).toBe('ok');
      // The others keep storing and seeing each other's edits while the third cannot store.
      const aBefore = a!.typed.length;
      const bBefore = b!.typed.length;
      await eventually(() => {
        expect(missing([`a-${aBefore + 20}`], typedIn(b!.client))).toEqual([]);
        expect(missing([`b-${bBefore + 20}`], typedIn(a!.client))).toEqual([]);
      });
      const savedByC = c!.acknowledged();

      await proxy.restore();
      await eventually(async () => expect((await instances.health(2)).status).toBe('ok'), 30_000);
      await sleep(300);
      for (const typist of [a!, b!, c!]) typist.stop();
      const clients = [a!, b!, c!].map((typist) => typist.client).concat(observers);
      await eventually(() => equalEverywhere(clients), 30_000);
      // Fresh clients on each instance read the document anew from the store.
      for (const i of [0, 1, 2]) {
        const fresh = track(connectClient(instances.ws(i), 'pg-cut'));
        await fresh.synced;
        const stored = typedIn(fresh);
        expect(missing(savedByC, stored), 'acknowledged by the cut-off instance, then lost').toEqual([]);
        expect(missing(c!.acknowledged(), stored), 'acknowledged after the cut, then lost').toEqual([]);
        expect(missing(seen, stored), 'seen, then lost').toEqual([]);
        expect(missing([...a!.typed, ...b!.typed, ...c!.typed], stored), 'typed by a client that lived').toEqual([]);
      }
      for (const server of instances.servers) expect(server.child.exitCode).toBeNull();
    });
  },
  postgresUnavailable(),
);
