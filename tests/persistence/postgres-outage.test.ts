/**
 * PostgresDocumentStore against a PostgreSQL cluster of this file's own, which it stops, crashes
 * and misconfigures: `pg_ctl -m immediate` (every backend killed, as in a crash of the server)
 * while appends are in flight, then a start; and a server running with fsync off.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { StoreOpenError, StoreUnavailableError, type StoreWriteError, type Written } from '../../persistence/document-store.js';
import { PostgresDocumentStore } from '../../persistence/postgres/store.js';
import { Cluster, describeWithPostgres } from '../helpers/postgres.js';
import { appendAll, Editor, textOf } from './helpers.js';

describeWithPostgres('PostgresDocumentStore when PostgreSQL stops', () => {
  let cluster: Cluster;
  const stores: PostgresDocumentStore[] = [];

  beforeAll(async () => {
    cluster = await Cluster.create();
  });

  afterAll(async () => {
    await cluster?.remove();
  });

  afterEach(async () => {
    await Promise.allSettled(stores.splice(0).map((store) => store.close()));
  });

  async function open(): Promise<PostgresDocumentStore> {
    const store = await PostgresDocumentStore.open({ connection: cluster.connection() });
    stores.push(store);
    return store;
  }

  it('refuses a server running with fsync off, saying why, and creates nothing', async () => {
    await cluster.stop();
    await cluster.start({ fsync: 'off' });
    try {
      const refused = open();
      await expect(refused).rejects.toBeInstanceOf(StoreOpenError);
      await expect(refused).rejects.toThrow(/fsync=off: a crash of its machine can lose or corrupt commits it reported/);
    } finally {
      await cluster.stop();
      await cluster.start();
    }
    const store = await open();
    expect(await store.load('doc')).toEqual({ state: null, updates: [], head: 0, deletedAt: null });
  });

  it('acknowledges nothing unstored when PostgreSQL crashes under appends, and recovers on its own once it is back', async () => {
    const store = await open();
    const failures: StoreWriteError[] = [];
    store.onFailure((error) => failures.push(error));
    let recoveries = 0;
    const recovered = new Promise<void>((resolve) =>
      store.onRecovery(() => {
        recoveries++;
        resolve();
      }),
    );
    const editor = new Editor();
    const typed: Array<{ update: Uint8Array; written: Promise<Written> }> = [];
    let crashed: Promise<void> | null = null;
    let previous: Promise<unknown> = Promise.resolve();
    // Bursts of keystrokes, one commit in flight and the next burst waiting behind it, until the
    // store says it is unavailable; the server is killed once 100 appends are acknowledged.
    let acknowledged = 0;
    while (failures.length === 0) {
      const burst = editor.type('abcde').map((update) => ({ update, written: store.append('doc', update) }));
      typed.push(...burst);
      for (const { written } of burst)
        written.then(
          () => acknowledged++,
          () => undefined,
        );
      await previous;
      previous = Promise.allSettled(burst.map(({ written }) => written));
      if (acknowledged >= 100) crashed ??= cluster.stop('immediate');
    }
    expect(failures[0]).toBeInstanceOf(StoreUnavailableError);
    expect(failures[0]!.message).toMatch(/^The store is unavailable: PostgreSQL failed a request \(.+\); it retries on its own$/);
    await expect(store.append('doc', editor.type('x')[0]!)).rejects.toBe(failures[0]);
    await expect(store.load('doc')).rejects.toBe(failures[0]);

    await crashed;
    const outcomes = await Promise.allSettled(typed.map(({ written }) => written));
    const acked = outcomes.findIndex((outcome) => outcome.status === 'rejected');
    // Acknowledged appends are a prefix of those made: none after one that failed.
    expect(acked).toBeGreaterThanOrEqual(100);
    expect(outcomes.slice(acked).every((outcome) => outcome.status === 'rejected')).toBe(true);

    await cluster.start();
    await recovered;
    const stored = await store.load('doc');
    // Every acknowledged update is there, at the position it was given. Past them, at most the
    // batch whose commit the crash cut: PostgreSQL may have committed it, never acknowledged.
    expect(stored.updates.length).toBeGreaterThanOrEqual(acked);
    expect(stored.updates).toEqual(typed.slice(0, stored.updates.length).map(({ update }) => update));
    const logged = (await store.readSince('doc', 0))!;
    expect(logged.map((row) => row.position)).toEqual(logged.map((_, k) => k + 1));
    for (const [k, outcome] of outcomes.slice(0, acked).entries()) {
      // The position of the last update of the append's group: its own or later, and acknowledged too.
      const position = (outcome as PromiseFulfilledResult<Written>).value.position('doc');
      expect(position).toBeGreaterThanOrEqual(k + 1);
      expect(position).toBeLessThanOrEqual(acked);
    }
    console.log(
      `[postgres outage] ${acked} acknowledged, ${stored.updates.length - acked} stored unacknowledged, ${typed.length - acked} rejected: ${failures[0]!.message}`,
    );

    // It writes again, without a restart, and said so once.
    const after = new Editor().type('after');
    const head = await appendAll(store, 'after', after);
    expect(head).toBe(after.length);
    expect(failures).toHaveLength(1);
    expect(recoveries).toBe(1);
    const reopened = await open();
    expect(textOf(null, (await reopened.load('doc')).updates)).toBe(textOf(null, stored.updates));
  });
});
