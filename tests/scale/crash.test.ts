/**
 * kill -9 of one of three instances while clients type on it and on the others, at seeded
 * moments: every edit any client saw or was told is saved survives; the clients of the killed
 * instance reconnect to another (as a load balancer sends them) and everyone converges. And the
 * same while compactions race on two instances: the snapshot's position never goes back, and a
 * load (on an instance that never held the document) holds every update.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, seededRandom, testSeed, type YClient } from '../helpers/clients.js';
import { eventually, Instances, postgresUrl, reconnectTo } from '../helpers/instances.js';
import { postgresUnavailable, databaseOfSuite } from '../helpers/postgres.js';
import { describeWithRedis, redisPrefix, sharedRedis } from '../helpers/redis.js';
import { missing, Typist, typedIn, watchTyped } from '../helpers/typing.js';

const cleanup = cleanupAfterEach();

const track = cleanup.track;

/** Resolves once `seen` holds `count` values. */
async function untilSeen(seen: Set<string>, count: number): Promise<void> {
  await eventually(() => expect(seen.size).toBeGreaterThanOrEqual(count), 30_000);
}

/** Resolves once every client holds the same values of `typed`, in the same order. */
async function converged(clients: readonly YClient[], what: string): Promise<string[]> {
  await eventually(() => {
    const first = JSON.stringify(typedIn(clients[0]!));
    for (const client of clients) expect(JSON.stringify(typedIn(client)), what).toBe(first);
  });
  return typedIn(clients[0]!);
}

describeWithRedis(
  'kill -9 of an instance',
  () => {
    const own = databaseOfSuite();

    function start(args: string[] = []): Promise<Instances> {
      return Instances.start(cleanup, 3, {
        postgresUrl: postgresUrl(own.cluster, own.database.name),
        redisUrl: sharedRedis().url,
        redisPrefix: redisPrefix(),
        args,
      });
    }

    it('loses nothing any client saw or was told is saved, and its clients converge on another instance', async () => {
      const seed = testSeed('kill -9 of an instance');
      const random = seededRandom(seed);
      const instances = await start();
      for (let trial = 0; trial < 2; trial++) {
        const name = `crash-${trial}`;
        const victim = Math.floor(random() * 3);
        const [near, far] = [0, 1, 2].filter((i) => i !== victim) as [number, number];
        // `gone` dies with its instance: what it typed survives only if it was stored.
        const gone = track(new Typist(instances.ws(victim), name, 'G'));
        const mover = track(new Typist(instances.ws(victim), name, 'M'));
        reconnectTo(mover.client, () => instances.ws(near));
        const other = track(new Typist(instances.ws(near), name, 'O'));
        const observer = track(connectClient(instances.ws(far), name));
        const seen = watchTyped(observer);
        await Promise.all([gone, mover, other].map((typist) => typist.client.synced).concat(observer.synced));
        for (const typist of [gone, mover, other]) typist.start(2);
        await untilSeen(seen, 20 + Math.floor(random() * 300));
        await instances.servers[victim]!.kill();
        const seenAtKill = [...seen];
        const savedAtKill = [...gone.acknowledged(), ...mover.acknowledged(), ...other.acknowledged()];
        gone.destroy();
        await sleep(300);
        mover.stop();
        other.stop();
        const what = `trial ${trial}, instance ${victim} killed (seed ${seed})`;
        const settled = await converged([mover.client, other.client, observer], what);
        const fresh = track(connectClient(instances.ws(far), name));
        await fresh.synced;
        expect(typedIn(fresh), what).toEqual(settled);
        expect(missing(seenAtKill, settled), `${what}: seen, then lost`).toEqual([]);
        expect(missing(savedAtKill, settled), `${what}: saved, then lost`).toEqual([]);
        expect(missing([...mover.typed, ...other.typed], settled), `${what}: typed by a client that lived`).toEqual([]);
        expect(seenAtKill.some((value) => value.startsWith('G')) || gone.typed.length === 0, what).toBe(true);
        await instances.start(victim);
      }
    });

    it('while compactions race on two instances, never moves the snapshot back, and a fresh load holds every update', async () => {
      const seed = testSeed('kill -9 during compactions');
      const random = seededRandom(seed);
      const instances = await start(['--compact-after', '12']);
      const sql = new pg.Client(own.cluster.connection(own.database.name));
      await sql.connect();
      cleanup.push(() => sql.end());
      for (let trial = 0; trial < 2; trial++) {
        const name = `compacting-${trial}`;
        // Poll the snapshot's position all along: it may only grow.
        const positions: number[] = [];
        let polling = true;
        const poll = (async () => {
          while (polling) {
            const { rows } = await sql.query<{ snapshot_seq: string }>('SELECT snapshot_seq FROM collab.documents WHERE name = $1', [name]);
            if (rows[0] !== undefined) positions.push(Number(rows[0].snapshot_seq));
            await sleep(2);
          }
        })();
        // Two writers on each of two instances; when theirs is killed, the even ones die with it, the odd ones move to the third.
        const homes = [0, 0, 1, 1];
        const writers = homes.map((home, k) => track(new Typist(instances.ws(home), name, `W${k}-`)));
        for (const writer of writers.filter((_, k) => k % 2 === 1)) reconnectTo(writer.client, () => instances.ws(2));
        await Promise.all(writers.map((writer) => writer.client.synced));
        for (const writer of writers) writer.start(1, 2);
        await sleep(150 + Math.floor(random() * 600));
        const victim = Math.floor(random() * 2);
        await instances.servers[victim]!.kill();
        const saved = writers.flatMap((writer) => writer.acknowledged());
        const dying = writers.filter((_, k) => homes[k] === victim && k % 2 === 0);
        for (const writer of dying) writer.destroy();
        const living = writers.filter((writer) => !dying.includes(writer));
        await sleep(200);
        for (const writer of living) writer.stop();
        polling = false;
        await poll;
        const what = `trial ${trial}, instance ${victim} killed (seed ${seed})`;
        await instances.start(victim);
        const settled = await converged(
          living.map((writer) => writer.client),
          what,
        );
        // An instance that never held the document loads it from the store, snapshot and log.
        const fresh = track(connectClient(instances.ws(victim), name));
        await fresh.synced;
        expect(typedIn(fresh), what).toEqual(settled);
        expect(missing(saved, settled), `${what}: saved, then lost`).toEqual([]);
        expect(
          positions.some((position) => position > 0),
          `${what}: compactions ran`,
        ).toBe(true);
        for (let i = 1; i < positions.length; i++) expect(positions[i], `${what}: the snapshot went back`).toBeGreaterThanOrEqual(positions[i - 1]!);
      }
    });
  },
  postgresUnavailable(),
);
