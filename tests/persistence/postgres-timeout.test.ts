/**
 * PostgresDocumentStore's time limit on statements (`queryTimeoutMs`, see `connections.ts`): a
 * database that stops answering (a proxy that hangs) fails an append within the limit as
 * unavailable, never acknowledged though it may commit once its bytes arrive, and the store
 * recovers on its own; a statement PostgreSQL keeps waiting (a lock held elsewhere) is cancelled
 * by the server first, so it rolls back whole and is not in doubt.
 */
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { StoreUnavailableError, type StoreWriteError } from '../../persistence/document-store.js';
import { PostgresDocumentStore, type PostgresStoreOptions } from '../../persistence/postgres/store.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { databaseOfSuite, describeWithPostgres } from '../helpers/postgres.js';
import { appendAll, Editor } from './helpers.js';

const QUERY_TIMEOUT_MS = 1000;

describeWithPostgres('PostgresDocumentStore when a statement takes too long', () => {
  const own = databaseOfSuite();
  let schema: string;
  const undo: Array<() => Promise<unknown>> = [];

  beforeEach(() => {
    schema = `s_${Math.random().toString(36).slice(2, 10)}`;
  });

  afterEach(async () => {
    for (const step of undo.splice(0).reverse()) await step();
  });

  async function open(connection: pg.PoolConfig, options: Partial<PostgresStoreOptions> = {}): Promise<PostgresDocumentStore> {
    const store = await PostgresDocumentStore.open({ connection, schema, queryTimeoutMs: QUERY_TIMEOUT_MS, ...options });
    undo.push(() => store.close().catch(() => undefined));
    return store;
  }

  /** Resolves with the store's next failure, and then its recovery. */
  function outage(store: PostgresDocumentStore): { failed: Promise<StoreWriteError>; recovered: Promise<void> } {
    return {
      failed: new Promise((resolve) => store.onFailure(resolve)),
      recovered: new Promise((resolve) => store.onRecovery(resolve)),
    };
  }

  it('fails an append the database does not answer within the limit, unacknowledged, and recovers once it answers', async () => {
    const proxy = await FaultProxy.forPostgres(own.cluster.socketDir);
    undo.push(() => proxy.close());
    const store = await open({ ...own.database.connection, host: proxy.dir });
    const { failed, recovered } = outage(store);
    const editor = new Editor();
    const acknowledged = editor.type('saved');
    await appendAll(store, 'doc', acknowledged);

    proxy.hang();
    const [unanswered] = editor.type('x');
    const sentAt = performance.now();
    const append = store.append('doc', unanswered!);
    await expect(append).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(append).rejects.toThrow('PostgreSQL failed a request (no answer within the query timeout)');
    const waitedMs = performance.now() - sentAt;
    expect(waitedMs).toBeGreaterThanOrEqual(QUERY_TIMEOUT_MS - 50);
    expect(waitedMs).toBeLessThan(QUERY_TIMEOUT_MS + 2000);
    expect(await failed).toBe(await append.catch((error: unknown) => error));
    await expect(store.load('doc')).rejects.toBeInstanceOf(StoreUnavailableError);

    await proxy.restore();
    await recovered;
    const [after] = editor.type('!');
    await store.append('doc', after!);
    // The unanswered append was never acknowledged; its statement was on its way, and ran when
    // the path healed: it is in doubt, stored or not, before or after later appends (Yjs applies
    // an update once). Positions stay gap-free either way.
    const { updates } = await store.load('doc');
    expect(updates.slice(0, acknowledged.length)).toEqual(acknowledged);
    const rest = updates.slice(acknowledged.length);
    expect([[after], [unanswered, after], [after, unanswered]]).toContainEqual(rest);
    const logged = (await store.readSince('doc', 0))!;
    expect(logged.map((row) => row.position)).toEqual(logged.map((_, k) => k + 1));
    const outcome = rest.length === 1 ? 'not stored' : Buffer.from(rest[0]!).equals(after!) ? 'stored after a later append' : 'stored before a later append';
    console.log(`[postgres timeout] append rejected after ${Math.round(waitedMs)} ms; in doubt, and ${outcome}`);
  });

  it('has PostgreSQL cancel a statement kept waiting before it gives up itself: rolled back, not in doubt', async () => {
    const store = await open(own.database.connection);
    const { failed, recovered } = outage(store);
    const editor = new Editor();
    const acknowledged = editor.type('saved');
    await appendAll(store, 'doc', acknowledged);
    // Another session holds the document's row, as a compaction of another instance would.
    const holder = new pg.Client(own.database.connection);
    await holder.connect();
    undo.push(() => holder.end());
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM ${schema}.documents WHERE name = 'doc' FOR UPDATE`);

    const [waiting] = editor.type('x');
    const append = store.append('doc', waiting!);
    await expect(append).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(append).rejects.toThrow('canceling statement due to statement timeout (SQLSTATE 57014)');
    await failed;
    await holder.query('COMMIT');
    await recovered;
    const [after] = editor.type('!');
    await store.append('doc', after!);
    expect((await store.load('doc')).updates).toEqual([...acknowledged, after]);
  });

  it('refuses a limit that is not a delay', async () => {
    for (const queryTimeoutMs of [0, -1, 1.5, 2 ** 31]) {
      await expect(PostgresDocumentStore.open({ connection: own.database.connection, schema, queryTimeoutMs })).rejects.toThrow(RangeError);
    }
  });
});
