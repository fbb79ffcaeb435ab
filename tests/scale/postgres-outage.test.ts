/**
 * PostgreSQL stopped with `-m immediate` (a crash) under two instances while clients type on both:
 * nothing unstored is acknowledged (what a client that died meanwhile was told is saved is there
 * after the restart), `/healthz` says degraded meanwhile, and once PostgreSQL is back the servers
 * recover without a restart: clients reconnect, sync, and everything converges.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, type YClient } from '../helpers/clients.js';
import { eventually, Instances, postgresUrl } from '../helpers/instances.js';
import { Cluster, postgresUnavailable } from '../helpers/postgres.js';
import { describeWithRedis, redisPrefix, sharedRedis } from '../helpers/redis.js';
import { missing, Typist, typedIn, watchTyped } from '../helpers/typing.js';

const cleanup = cleanupAfterEach();

function track<T extends { destroy(): void }>(client: T): T {
  cleanup.push(() => client.destroy());
  return client;
}

describeWithRedis(
  'PostgreSQL crashing under the instances',
  () => {
    // A cluster of this file's own: it is crashed.
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await Cluster.create();
      await cluster.admin('CREATE DATABASE outage');
    });
    afterAll(async () => {
      await cluster?.remove();
    });

    it('acknowledges nothing unstored, and the servers recover on their own once it is back', async () => {
      const instances = await Instances.start(cleanup, 2, {
        postgresUrl: postgresUrl(cluster, 'outage'),
        redisUrl: sharedRedis().url,
        redisPrefix: redisPrefix(),
      });
      // `doomed` dies during the outage: what it was told is saved must be there without it.
      const doomed = track(new Typist(instances.ws(0), 'outage', 'D'));
      const survivors = [0, 1].map((i) => track(new Typist(instances.ws(i), 'outage', `S${i}-`)));
      const observer = track(connectClient(instances.ws(1), 'outage'));
      const seen = watchTyped(observer);
      await Promise.all([doomed, ...survivors].map((typist) => typist.client.synced).concat(observer.synced));
      for (const typist of [doomed, ...survivors]) typist.start(3);
      await eventually(() => expect(seen.size).toBeGreaterThan(100));

      await cluster.stop('immediate');
      await eventually(async () => {
        for (const i of [0, 1]) expect(await instances.health(i)).toMatchObject({ status: 'degraded', error: expect.stringContaining('unavailable') });
      });
      // Typing goes on against a store that takes nothing; then the doomed client goes.
      await sleep(500);
      const savedByDoomed = doomed.acknowledged();
      const seenBeforeRestart = [...seen];
      doomed.destroy();
      expect(savedByDoomed.length).toBeGreaterThan(0);

      await cluster.start();
      for (const i of [0, 1]) await eventually(async () => expect((await instances.health(i)).status).toBe('ok'), 30_000);
      await sleep(300);
      for (const typist of survivors) typist.stop();
      const clients: YClient[] = [...survivors.map((typist) => typist.client), observer];
      await eventually(() => {
        const first = JSON.stringify(typedIn(clients[0]!));
        for (const client of clients) expect(JSON.stringify(typedIn(client))).toBe(first);
      }, 30_000);
      // A fresh client on each instance reads the document anew from the store.
      for (const i of [0, 1]) {
        const fresh = track(connectClient(instances.ws(i), 'outage'));
        await fresh.synced;
        const stored = typedIn(fresh);
        expect(missing(savedByDoomed, stored), 'acknowledged, then lost').toEqual([]);
        expect(missing(seenBeforeRestart, stored), 'seen, then lost').toEqual([]);
        expect(missing([...survivors[0]!.typed, ...survivors[1]!.typed], stored), 'typed by a client that lived').toEqual([]);
      }
      // No restart was needed: the same processes serve.
      for (const server of instances.servers) expect(server.child.exitCode).toBeNull();
    });
  },
  postgresUnavailable(),
);
