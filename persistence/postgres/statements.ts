/**
 * The statements of `PostgresDocumentStore` (the tables are in `schema.ts`), and what their rows
 * become. Each read is one statement, so it sees one snapshot of the database: a compaction or a
 * deletion committing meanwhile cannot make it miss updates.
 */
import type { ClientBase, Pool, QueryConfig, QueryResultRow } from 'pg';
import type { DocumentInfo, ListOptions, LoggedUpdate, Position, StoredDocument } from '../document-store.js';
import { documentKey } from './names.js';

/** A pool, or a client checked out of one (in a transaction). */
export type Queryable = Pick<Pool, 'query'> | ClientBase;

/** One append of a group: the document and the update, in call order. */
export interface AppendEntry {
  readonly name: string;
  readonly update: Uint8Array;
}

async function run<R extends QueryResultRow>(db: Queryable, config: QueryConfig): Promise<R[]> {
  return (await db.query<R>(config)).rows;
}

/** A bigint column (node-postgres gives it as a string) as a position. */
export function toPosition(value: string | number): Position {
  const position = Number(value);
  if (!Number.isSafeInteger(position)) throw new Error(`Corrupt store: a position reads ${JSON.stringify(value)}`);
  return position;
}

/** node-postgres gives Buffers; callers get plain Uint8Arrays, whose `slice` copies as they expect. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Logs `entries` in ONE statement, so in one transaction: each document's row is inserted, or
 * locked and its head bumped by its number of updates, in name order (two writers lock the rows
 * they share in the same order, so they never deadlock); its updates take the positions from the
 * old head + 1 up, in call order. The updates travel as one bytea and are cut out in the database,
 * so the statement's text is the same for every group. Resolves with each document's new head.
 */
export async function appendUpdates(db: Queryable, schema: string, entries: readonly AppendEntry[]): Promise<Map<string, Position>> {
  const documents = new Map<string, { count: number; bytes: number }>();
  for (const { name, update } of entries) {
    const document = documents.get(name) ?? { count: 0, bytes: 0 };
    document.count++;
    document.bytes += update.byteLength;
    documents.set(name, document);
  }
  const names = [...documents.keys()];
  const index = new Map(names.map((name, i) => [name, i + 1]));
  // Per update: its document, how many of the document's updates come after it here, where its bytes are.
  const later = new Map<string, number>();
  const rows = { document: [] as number[], back: [] as number[], start: [] as number[], length: [] as number[] };
  for (let i = entries.length - 1; i >= 0; i--) {
    const { name } = entries[i]!;
    const back = later.get(name) ?? 0;
    later.set(name, back + 1);
    rows.document.push(index.get(name)!);
    rows.back.push(back);
  }
  rows.document.reverse();
  rows.back.reverse();
  let offset = 1;
  for (const { update } of entries) {
    rows.start.push(offset);
    rows.length.push(update.byteLength);
    offset += update.byteLength;
  }
  const heads = await run<{ name: string; head: string }>(db, {
    name: `${schema}-append`,
    text: `WITH docs AS (
        INSERT INTO ${schema}.documents AS d (key, name, head, log_length, log_bytes, updated_at)
        SELECT i.key, i.name, i.n, i.n, i.bytes, now() FROM unnest($1::bytea[], $2::text[], $3::bigint[], $4::bigint[]) AS i(key, name, n, bytes)
        ORDER BY i.name COLLATE "C"
        ON CONFLICT (key) DO UPDATE SET head = d.head + excluded.head, deleted_at = NULL, log_length = d.log_length + excluded.log_length,
          log_bytes = d.log_bytes + excluded.log_bytes, updated_at = excluded.updated_at
        RETURNING d.id, d.key, d.name, d.head
      ), logged AS (
        INSERT INTO ${schema}.updates (document, seq, data)
        SELECT docs.id, docs.head - u.back, substring($9::bytea FROM u.start FOR u.length)
        FROM unnest($5::int[], $6::bigint[], $7::int[], $8::int[]) AS u(document, back, start, length)
        JOIN docs ON docs.key = ($1::bytea[])[u.document]
      )
      SELECT name, head FROM docs`,
    values: [
      names.map(documentKey),
      names,
      names.map((name) => documents.get(name)!.count),
      names.map((name) => documents.get(name)!.bytes),
      rows.document,
      rows.back,
      rows.start,
      rows.length,
      Buffer.concat(entries.map((entry) => entry.update)),
    ],
  });
  return new Map(heads.map((row) => [row.name, toPosition(row.head)]));
}

/** The snapshot, the log past it and the head of `name`, and when it was deleted (a deleted document has no snapshot or log). */
export async function loadDocument(db: Queryable, schema: string, name: string): Promise<StoredDocument> {
  const rows = await run<{ seq: string | null; data: Buffer | null; head: string | null; deleted_at: number | null }>(db, {
    name: `${schema}-load`,
    text: `SELECT NULL::bigint AS seq, d.snapshot AS data, d.head, ${epochMs('d.deleted_at')} AS deleted_at FROM ${schema}.documents d WHERE d.key = $1
      UNION ALL
      SELECT u.seq, u.data, NULL, NULL FROM ${schema}.documents d JOIN ${schema}.updates u ON u.document = d.id AND u.seq > d.snapshot_seq WHERE d.key = $1
      ORDER BY seq NULLS FIRST`,
    values: [documentKey(name)],
  });
  const [document, ...logged] = rows;
  if (document === undefined) return { state: null, updates: [], head: 0, deletedAt: null };
  return {
    state: document.data === null ? null : plain(document.data),
    updates: logged.map((row) => plain(row.data!)),
    head: toPosition(document.head!),
    deletedAt: document.deleted_at,
  };
}

/** A timestamptz column as milliseconds since the epoch (floored: never later than the commit), or null. */
function epochMs(column: string): string {
  return `floor(extract(epoch FROM ${column}) * 1000)::float8`;
}

/** The updates of `name` after `after`; null when its snapshot (or a deletion) took some of them from the log. */
export async function readLogSince(db: Queryable, schema: string, name: string, after: Position): Promise<LoggedUpdate[] | null> {
  const rows = await run<{ snapshot_seq: string; seq: string | null; data: Buffer | null }>(db, {
    name: `${schema}-since`,
    text: `SELECT d.snapshot_seq, u.seq, u.data FROM ${schema}.documents d LEFT JOIN ${schema}.updates u ON u.document = d.id AND u.seq > $2
      WHERE d.key = $1 ORDER BY u.seq`,
    values: [documentKey(name), after],
  });
  if (rows.length === 0) return [];
  if (toPosition(rows[0]!.snapshot_seq) > after) return null;
  return rows.flatMap((row) => (row.seq === null ? [] : [{ position: toPosition(row.seq), update: plain(row.data!) }]));
}

/** The heads of those of `names` that were ever written, in one statement. */
export async function readHeads(db: Queryable, schema: string, names: readonly string[]): Promise<Map<string, Position>> {
  const rows = await run<{ name: string; head: string }>(db, {
    name: `${schema}-heads`,
    text: `SELECT name, head FROM ${schema}.documents WHERE key = ANY($1::bytea[])`,
    values: [names.map(documentKey)],
  });
  return new Map(rows.map((row) => [row.name, toPosition(row.head)]));
}

/** The number of updates logged past the snapshot of `name`. */
export async function readLogLength(db: Queryable, schema: string, name: string): Promise<number> {
  const rows = await run<{ log_length: string }>(db, {
    name: `${schema}-log-length`,
    text: `SELECT log_length FROM ${schema}.documents WHERE key = $1`,
    values: [documentKey(name)],
  });
  return rows.length === 0 ? 0 : toPosition(rows[0]!.log_length);
}

/**
 * The documents not deleted, by name in code point order (the column's collation is "C"), as
 * `options` say.
 */
export async function listDocuments(db: Queryable, schema: string, options: ListOptions): Promise<DocumentInfo[]> {
  const rows = await run<{ name: string; updated_at: number; size: string }>(db, listQuery(schema, options));
  return rows.map((row) => ({ name: row.name, updatedAt: row.updated_at, size: toPosition(row.size) }));
}

/**
 * The statement of `listDocuments`. Unnamed, so PostgreSQL plans it with its values: a page of a
 * prefix is then a range of the live-name index (`documents_live_name`, see `schema.ts`), not a
 * scan of every document. `name >= $1` repeats what `starts_with` says, for PostgreSQL before 15,
 * which cannot turn `starts_with` into an index range: the scan then at least starts there.
 */
export function listQuery(schema: string, options: ListOptions): QueryConfig {
  return {
    text: `SELECT name, ${epochMs('updated_at')} AS updated_at, coalesce(octet_length(snapshot), 0) + log_bytes AS size
      FROM ${schema}.documents WHERE deleted_at IS NULL AND name >= $1 AND starts_with(name, $1) AND ($2::text IS NULL OR name > $2)
      ORDER BY name LIMIT $3`,
    values: [options.prefix ?? '', options.after ?? null, options.limit ?? null],
  };
}

/**
 * Deletes `name` in one statement: its row (made if there is none) becomes a tombstone that keeps
 * the head (so positions after a re-creation are greater than any before) with snapshot_seq at the
 * head (so a late compaction of the deleted document is a no-op, and `readSince` of an older
 * position is null); its updates and versions go.
 */
export async function deleteDocument(db: Queryable, schema: string, name: string): Promise<void> {
  await db.query({
    text: `WITH d AS (
        INSERT INTO ${schema}.documents AS d (key, name, head, log_length, log_bytes, updated_at, deleted_at) VALUES ($1, $2, 0, 0, 0, now(), now())
        ON CONFLICT (key) DO UPDATE SET deleted_at = now(), snapshot = NULL, snapshot_seq = d.head, log_length = 0, log_bytes = 0, updated_at = now()
        RETURNING d.id
      ), gone AS (
        DELETE FROM ${schema}.updates u USING d WHERE u.document = d.id
      )
      DELETE FROM ${schema}.versions WHERE document_key = $1`,
    values: [documentKey(name), name],
  });
}

/** What `compactDocument` did. */
export type CompactionOutcome = 'compacted' | 'covered' | 'busy';

/**
 * Replaces the log of `name` up to `upTo` with `state`, in one transaction on `client`:
 * compare-and-set on the snapshot's position (`snapshot_seq < upTo`, checked again under the
 * row's lock), so a late older compaction, this process's or another's, is a no-op ('covered').
 * A transaction-level advisory lock on the document only avoids two compactions writing the same
 * snapshot twice: when another holds it, this one does nothing ('busy'). Correctness never rests
 * on the lock. Throws RangeError for a position never written.
 */
export async function compactDocument(
  client: ClientBase,
  schema: string,
  lock: [number, number],
  name: string,
  state: Uint8Array,
  upTo: Position,
): Promise<CompactionOutcome> {
  const key = documentKey(name);
  await client.query('BEGIN');
  try {
    const [found] = await run<{ head: string; locked: boolean }>(client, {
      text: `SELECT head, pg_try_advisory_xact_lock($2, $3) AS locked FROM ${schema}.documents WHERE key = $1`,
      values: [key, lock[0], lock[1]],
    });
    if (upTo > (found === undefined ? 0 : toPosition(found.head)))
      throw new RangeError(`cannot compact ${JSON.stringify(name)} up to position ${upTo}: it was never written`);
    let outcome: CompactionOutcome = found === undefined ? 'covered' : found.locked ? 'compacted' : 'busy';
    if (outcome === 'compacted') {
      const [updated] = await run<{ id: string }>(client, {
        text: `UPDATE ${schema}.documents SET snapshot = $2, snapshot_seq = $3, updated_at = now() WHERE key = $1 AND snapshot_seq < $3 RETURNING id`,
        values: [key, state, upTo],
      });
      if (updated === undefined) outcome = 'covered';
      else {
        await client.query({
          text: `WITH gone AS (DELETE FROM ${schema}.updates WHERE document = $1 AND seq <= $2 RETURNING octet_length(data) AS bytes)
            UPDATE ${schema}.documents SET log_length = log_length - (SELECT count(*) FROM gone), log_bytes = log_bytes - (SELECT coalesce(sum(bytes), 0) FROM gone)
            WHERE id = $1`,
          values: [updated.id, upTo],
        });
      }
    }
    await client.query('COMMIT');
    return outcome;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
