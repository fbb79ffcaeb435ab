/**
 * Three instances on one PostgreSQL and one Redis, official clients on each, seeded concurrent
 * edits: every client, and a fresh client on each instance, ends with the same document; presence
 * crosses instances with its owner.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type * as Y from 'yjs';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, seededRandom, testSeed, waitForEvent, type YClient } from '../helpers/clients.js';
import { eventually, Instances, postgresUrl } from '../helpers/instances.js';
import { postgresUnavailable, sharedPostgres, type TestDatabase } from '../helpers/postgres.js';
import { describeWithRedis, redisPrefix, sharedRedis } from '../helpers/redis.js';

const cleanup = cleanupAfterEach();

function track(client: YClient): YClient {
  cleanup.push(() => client.destroy());
  return client;
}

/** What a client holds, comparable across clients (a map's keys are in the order this client heard of them: sorted). */
function contentOf(doc: Y.Doc): string {
  const map = Object.entries(doc.getMap('m').toJSON()).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify({ text: doc.getText('t').toString(), map, list: doc.getArray('l').toArray() });
}

describeWithRedis(
  'three instances',
  () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await (await sharedPostgres()).createDatabase();
    });
    afterAll(async () => {
      await database?.drop();
    });

    async function threeInstances(): Promise<Instances> {
      const cluster = await sharedPostgres();
      return Instances.start(cleanup, 3, { postgresUrl: postgresUrl(cluster, database.name), redisUrl: sharedRedis().url, redisPrefix: redisPrefix() });
    }

    it('converge under seeded concurrent edits from clients on every instance, fresh clients included', async () => {
      const seed = testSeed('three instances converge');
      const random = seededRandom(seed);
      const instances = await threeInstances();
      const clients = [0, 1, 2].flatMap((i) => [0, 1].map(() => track(connectClient(instances.ws(i), 'converge'))));
      await Promise.all(clients.map((client) => client.synced));
      for (let round = 0; round < 80; round++) {
        for (const [c, client] of clients.entries()) {
          const text = client.doc.getText('t');
          const roll = random();
          if (roll < 0.6) text.insert(Math.floor(random() * (text.length + 1)), `${c}${'abcdefgh'[Math.floor(random() * 8)]}`);
          else if (roll < 0.75 && text.length > 0) {
            const at = Math.floor(random() * text.length);
            text.delete(at, Math.min(1 + Math.floor(random() * 3), text.length - at));
          } else if (roll < 0.9) client.doc.getMap('m').set(`k${Math.floor(random() * 5)}`, `${c}:${round}`);
          else client.doc.getArray('l').push([`${c}:${round}`]);
        }
        if (random() < 0.3) await sleep(Math.floor(random() * 5));
      }
      await eventually(() => {
        const first = contentOf(clients[0]!.doc);
        for (const client of clients) expect(contentOf(client.doc), `seed ${seed}`).toBe(first);
      });
      const settled = contentOf(clients[0]!.doc);
      expect(clients[0]!.doc.getArray('l').length + clients[0]!.doc.getText('t').length).toBeGreaterThan(0);
      for (const i of [0, 1, 2]) {
        const fresh = track(connectClient(instances.ws(i), 'converge'));
        await fresh.synced;
        expect(contentOf(fresh.doc), `a fresh client on instance ${i} (seed ${seed})`).toBe(settled);
      }
    });

    it('show a client on one instance to clients on the others, and remove it everywhere when it leaves', async () => {
      const instances = await threeInstances();
      const ada = track(connectClient(instances.ws(0), 'present'));
      const watchers = [1, 2].map((i) => track(connectClient(instances.ws(i), 'present')));
      await Promise.all([ada, ...watchers].map((client) => client.synced));
      ada.provider.awareness.setLocalStateField('user', { name: 'Ada' });
      for (const watcher of watchers) {
        const awareness = watcher.provider.awareness;
        await waitForEvent(awareness, 'change', () => awareness.getStates().get(ada.doc.clientID)?.['user']?.name === 'Ada', 'Ada elsewhere');
      }
      // A client that joins later, on a third instance, sees her at once (it asked the others).
      const late = track(connectClient(instances.ws(2), 'present'));
      await late.synced;
      await waitForEvent(late.provider.awareness, 'change', () => late.provider.awareness.getStates().has(ada.doc.clientID), 'Ada for a late client', 5000);
      ada.destroy();
      for (const watcher of [...watchers, late]) {
        const awareness = watcher.provider.awareness;
        await waitForEvent(awareness, 'change', () => !awareness.getStates().has(ada.doc.clientID), 'Ada gone', 5000);
      }
    });
  },
  postgresUnavailable(),
);
