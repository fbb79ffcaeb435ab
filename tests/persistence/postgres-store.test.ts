/**
 * PostgresDocumentStore beyond the contract: several store objects (instances) on one database,
 * compactions racing, group commit in one transaction, names, and which databases it refuses.
 * Each test has a schema of its own in this file's database on the run's shared cluster.
 */
import * as prng from 'lib0/prng';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { StoreOpenError, StoreUnavailableError, type StoreWriteError, type Written } from '../../persistence/document-store.js';
import { listQuery } from '../../persistence/postgres/statements.js';
import { PostgresDocumentStore, type PostgresStoreOptions } from '../../persistence/postgres/store.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { type Cluster, describeWithPostgres, sharedPostgres, type TestDatabase } from '../helpers/postgres.js';
import { appendAll, Editor, nextTurn, textOf } from './helpers.js';

describeWithPostgres('PostgresDocumentStore', () => {
  let cluster: Cluster;
  let database: TestDatabase;
  let schema: string;
  let sql: pg.Client;
  const stores: PostgresDocumentStore[] = [];

  beforeAll(async () => {
    cluster = await sharedPostgres();
    database = await cluster.createDatabase();
    sql = new pg.Client(database.connection);
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    await database?.drop();
  });

  beforeEach(() => {
    schema = `s_${Math.random().toString(36).slice(2, 10)}`;
  });

  afterEach(async () => {
    await Promise.allSettled(stores.splice(0).map((store) => store.close()));
    await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  async function open(options: Partial<PostgresStoreOptions> = {}): Promise<PostgresDocumentStore> {
    const store = await PostgresDocumentStore.open({ connection: database.connection, schema, ...options });
    stores.push(store);
    return store;
  }

  /** A document's snapshot position, as stored. */
  async function snapshotSeq(name: string): Promise<number> {
    const { rows } = await sql.query(`SELECT snapshot_seq FROM ${schema}.documents WHERE name = $1`, [name]);
    return Number(rows[0].snapshot_seq);
  }

  function seeded(title: string): prng.PRNG {
    const seed = Number(process.env['TEST_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`[postgres store] ${title}: seed ${seed} (rerun with TEST_SEED=${seed})`);
    return prng.create(seed);
  }

  it('gives two instances appending to the same documents at once gap-free, distinct positions, and both load everything', async () => {
    const gen = seeded('two instances');
    const instances = [await open(), await open()];
    const names = ['x', 'y'];
    // editors[i][d]: what instance i types into document d; its own client, so the updates never coincide.
    const editors = instances.map(() => names.map(() => new Editor()));
    const groups: Array<{ instance: number; name: string; updates: Uint8Array[]; written: Promise<Written> }> = [];
    for (let round = 0; round < 120; round++) {
      for (const [i, store] of instances.entries()) {
        // One instance writes x then y, the other y then x: the rows must be locked in one order, or the two deadlock.
        for (const d of i === 0 ? [0, 1] : [1, 0]) {
          const updates = editors[i]![d]!.type(`${i}`.repeat(prng.int32(gen, 1, 3)));
          const written = updates.map((update) => store.append(names[d]!, update));
          groups.push({ instance: i, name: names[d]!, updates, written: written[written.length - 1]! });
        }
      }
      // Sometimes let groups pile up behind a commit, so that they join one transaction.
      if (prng.bool(gen)) await Promise.all(groups.map((group) => group.written));
      else await nextTurn();
    }
    await Promise.all(groups.map((group) => group.written));

    for (const [d, name] of names.entries()) {
      const logged = (await instances[0]!.readSince(name, 0))!;
      const all = editors.flatMap((own) => own[d]!.updates);
      expect(logged.map((row) => row.position)).toEqual(all.map((_, k) => k + 1));
      const at = new Map(logged.map((row) => [row.position, row.update]));
      // Each group's position is that of its last update; each instance's updates are in its call order.
      for (const group of groups.filter((group) => group.name === name)) {
        expect(at.get((await group.written).position(name))).toEqual(group.updates[group.updates.length - 1]);
      }
      for (const own of editors) {
        const mine = new Set(own[d]!.updates);
        expect(logged.map((row) => row.update).filter((update) => own[d]!.updates.some((u) => equalBytes(u, update)))).toEqual([...mine]);
      }
      const [first, second] = await Promise.all(instances.map((store) => store.load(name)));
      expect(first).toEqual(second);
      expect(first!.head).toBe(all.length);
      expect(textOf(first!.state, first!.updates)).toHaveLength(all.length);
    }
  });

  it('writes the appends of one turn, across documents, in one transaction, each document at its own positions', async () => {
    const store = await open();
    await appendAll(store, 'b', new Editor().type('earlier'));
    const typed = ['a', 'b', 'c'].map((name) => ({ name, updates: new Editor().type(`${name}!`) }));
    const written = await Promise.all(typed.flatMap(({ name, updates }) => updates.map((update) => store.append(name, update))));
    expect(written.every((one) => one === written[0])).toBe(true);
    expect(['a', 'b', 'c'].map((name) => written[0]!.position(name))).toEqual([2, 9, 2]);
    expect(() => written[0]!.position('d')).toThrow(RangeError);
    // Rows a transaction wrote carry its id (xmin): the turn's updates and head bumps share one.
    const { rows } = await sql.query(
      `SELECT DISTINCT u.xmin::text FROM ${schema}.updates u JOIN ${schema}.documents d ON d.id = u.document WHERE u.seq > CASE d.name WHEN 'b' THEN 7 ELSE 0 END
       UNION SELECT DISTINCT xmin::text FROM ${schema}.documents WHERE name IN ('a', 'b', 'c')`,
    );
    expect(rows).toHaveLength(1);
  });

  it("reads the heads of many documents in one statement, another instance's appends included", async () => {
    const [mine, other] = [await open(), await open()];
    await appendAll(mine, 'a', new Editor().type('abc'));
    await appendAll(other, 'b', new Editor().type('xy'));
    await appendAll(other, 'a', new Editor().type('d'));
    await other.delete('b');
    const heads = await mine.heads(['a', 'b', 'never written', 'a']);
    expect(Object.fromEntries(heads)).toEqual({ a: 4, b: 2 });
    expect(await mine.heads([])).toEqual(new Map());
    await expect(mine.heads(['bad\u0000name'])).rejects.toThrow(RangeError);
  });

  it('ignores a late older compaction from another instance, and racing compactions never move the snapshot back', async () => {
    const gen = seeded('racing compactions');
    const [a, b] = [await open(), await open()];
    const editor = new Editor();
    const states: Array<{ upTo: number; state: Uint8Array }> = [];
    let highest = 0;
    for (let round = 0; round < 40; round++) {
      const upTo = await appendAll(a, 'doc', editor.type(`r${round};`));
      states.push({ upTo, state: editor.state() });
      // Two compactions at once, of two states seen at different moments, from two instances.
      const older = states[prng.int32(gen, 0, states.length - 1)]!;
      const newer = states[states.length - 1]!;
      const [first, second] = prng.bool(gen) ? [a, b] : [b, a];
      await Promise.all([first.compact('doc', older.state, older.upTo), second.compact('doc', newer.state, newer.upTo)]);
      // A late one: the older state, once the newer is committed.
      await (prng.bool(gen) ? a : b).compact('doc', older.state, older.upTo);
      const position = await snapshotSeq('doc');
      expect(position).toBeGreaterThanOrEqual(highest);
      highest = position;
      const stored = await b.load('doc');
      expect(textOf(stored.state, stored.updates)).toBe(editor.text.toString());
      expect(stored.head).toBe(upTo);
    }
    // Nothing else compacting: the newest compaction takes the snapshot to the head.
    await a.compact('doc', editor.state(), states[states.length - 1]!.upTo);
    expect(await snapshotSeq('doc')).toBe(states[states.length - 1]!.upTo);
    expect(await a.logLength('doc')).toBe(0);
  });

  it('keeps the head of a deleted document, so positions after it are greater, whichever instance writes', async () => {
    const [a, b] = [await open(), await open()];
    const editor = new Editor();
    const before = await appendAll(a, 'doc', editor.type('before'));
    await b.delete('doc');
    // A compaction of the deleted document, late: a no-op.
    await a.compact('doc', editor.state(), before);
    expect(await a.load('doc')).toEqual({ state: null, updates: [], head: before, deletedAt: expect.any(Number) });
    expect(await a.readSince('doc', 0)).toBeNull();
    const again = new Editor().type('again');
    const after = await appendAll(a, 'doc', again);
    expect(after).toBe(before + again.length);
    expect(await b.load('doc')).toEqual({ state: null, updates: again, head: after, deletedAt: null });
    expect(await b.readSince('doc', before)).toEqual(again.map((update, k) => ({ position: before + k + 1, update })));
  });

  it('takes names of any length and script, keeps distinct strings apart, and refuses lone surrogates', async () => {
    const store = await open();
    const names = ['x'.repeat(20_000), 'e\u0301', '\u00e9', '𝒳/y', 'it\'s "quoted" \\ {a,b}'];
    for (const [k, name] of names.entries()) await appendAll(store, name, new Editor().type(`text ${k}`));
    expect((await store.list()).map((info) => info.name)).toEqual([...names].sort(byCodePoint));
    for (const [k, name] of names.entries()) expect(textOf(null, (await store.load(name)).updates)).toBe(`text ${k}`);
    await expect(store.append('a\ud800', new Editor().type('x')[0]!)).rejects.toBeInstanceOf(RangeError);
  });

  it('lists a page of a prefix from an index of live names, which a store made before the index gets when opened', async () => {
    const store = await open();
    await appendAll(store, 'team-7/first', new Editor().type('a'));
    // Thousands of documents, written as the store writes its rows (appending each would take minutes).
    await sql.query(
      `INSERT INTO ${schema}.documents (key, name, head, log_length, log_bytes, updated_at)
        SELECT sha256(convert_to(n, 'UTF8')), n, 0, 0, 0, now() FROM (SELECT 'team-' || (g % 50) || '/doc-' || g AS n FROM generate_series(1, 20000) g) AS names`,
    );
    await sql.query(`ANALYZE ${schema}.documents`);
    const page = { prefix: 'team-7/', limit: 20 };
    const plan = async () => {
      const { text, values } = listQuery(schema, page);
      const { rows } = await sql.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    };
    expect(await plan()).toMatch(/Index (Only )?Scan (using|on) documents_live_name/);
    expect((await store.list(page)).map((info) => info.name)).toEqual(
      ['team-7/first', ...Array.from({ length: 400 }, (_, k) => `team-7/doc-${7 + 50 * k}`)].sort(byCodePoint).slice(0, 20),
    );
    // A store of the same format from before the index: opening adds it.
    await store.close();
    await sql.query(`DROP INDEX ${schema}.documents_live_name`);
    expect(await plan()).not.toMatch(/documents_live_name/);
    await open();
    expect(await plan()).toMatch(/Index (Only )?Scan (using|on) documents_live_name/);
  });

  it('keeps version records exactly as written, labels PostgreSQL text could not hold included, apart from the log', async () => {
    const store = await open();
    const label = 'before \u0000 and a lone \ud800, quoted "x"';
    const record = {
      id: 'v1',
      takenAt: 1,
      kind: 'named',
      label,
      authors: ['é'],
      position: 0,
      size: 3,
      base: null,
      bytes: 3,
      data: Uint8Array.of(1, 2, 3),
    } as const;
    await store.writeVersions('never-written', { put: [record] });
    expect(await store.readVersion('never-written', 'v1')).toEqual({ ...record, authors: ['é'] });
    // Versions alone do not make a document.
    expect(await store.list()).toEqual([]);
    expect(await store.load('never-written')).toEqual({ state: null, updates: [], head: 0, deletedAt: null });
  });

  it('fails for good, rather than write on, when the database it comes back to no longer holds its schema', async () => {
    const proxy = await FaultProxy.forPostgres(cluster.socketDir);
    try {
      const store = await open({ connection: { ...database.connection, host: proxy.dir } });
      const failures: StoreWriteError[] = [];
      store.onFailure((error) => failures.push(error));
      await appendAll(store, 'doc', new Editor().type('acknowledged'));
      await proxy.cut();
      await expect(store.load('doc')).rejects.toBeInstanceOf(StoreUnavailableError);
      // Meanwhile the database loses the store's tables (restored from an older backup, say).
      await sql.query(`DROP SCHEMA ${schema} CASCADE`);
      const failed = new Promise<void>((resolve) => store.onFailure(() => resolve()));
      await proxy.restore();
      await failed;
      expect(failures).toHaveLength(2);
      expect(failures[1]).not.toBeInstanceOf(StoreUnavailableError);
      expect(failures[1]!.message).toMatch(/an attempt to recover from an outage met an error that does not pass/);
      expect(String((failures[1]!.cause as Error).message)).toMatch(/relation "s_\w+\.store_format" does not exist/);
      await expect(store.append('doc', new Editor().type('x')[0]!)).rejects.toBe(failures[1]);
      expect((await sql.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rows).toHaveLength(0);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a server that does not keep what it commits, saying why', async () => {
    const refused = PostgresDocumentStore.open({ connection: { ...database.connection, options: '-c synchronous_commit=off' }, schema });
    await expect(refused).rejects.toBeInstanceOf(StoreOpenError);
    await expect(refused).rejects.toThrow(/synchronous_commit=off/);
    const { rows } = await sql.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    expect(rows).toHaveLength(0);
  });

  it('refuses a schema holding another program’s tables, or a format it does not read, changing nothing', async () => {
    await sql.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.documents (title text); INSERT INTO ${schema}.documents VALUES ('theirs')`);
    await expect(open()).rejects.toThrow(/holds tables that are not collab-server's \(documents\).*Nothing was changed/);
    expect(
      (await sql.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = $1 AND relkind = 'r'`, [schema])).rows,
    ).toEqual([{ relname: 'documents' }]);
    await sql.query(`CREATE TABLE ${schema}.store_format (program text, format int); INSERT INTO ${schema}.store_format VALUES ('someone-else', 1)`);
    await expect(open()).rejects.toThrow(/does not name collab-server/);
    await sql.query(`DROP SCHEMA ${schema} CASCADE; CREATE SCHEMA ${schema}`);

    // An empty schema is adopted; a format from a newer version is refused.
    const store = await open();
    await appendAll(store, 'doc', new Editor().type('kept'));
    await store.close();
    await sql.query(`UPDATE ${schema}.store_format SET format = 2`);
    const newer = open();
    await expect(newer).rejects.toBeInstanceOf(StoreOpenError);
    await expect(newer).rejects.toThrow(/holds storage format 2, written by a newer version of collab-server; this version reads format 1/);
    expect((await sql.query(`SELECT format FROM ${schema}.store_format`)).rows).toEqual([{ format: 2 }]);
    expect((await sql.query(`SELECT count(*)::int AS n FROM ${schema}.updates`)).rows).toEqual([{ n: 4 }]);
    await expect(open({ schema: 'Not-Plain' })).rejects.toBeInstanceOf(RangeError);
  });
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, k) => byte === b[k]);
}

function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
