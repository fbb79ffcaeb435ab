/**
 * The tables of `PostgresDocumentStore`, in a schema (namespace) of their own, `collab` unless
 * told otherwise, and which databases the store may open.
 *
 *   store_format (one row)  program 'collab-server', format 1: what wrote the schema
 *   documents               one row per document ever written or deleted, never removed:
 *     id            the document's number, for its updates
 *     key           SHA-256 of the name's UTF-8 (unique; see `names.ts`)
 *     name          text, collation "C": `list` orders by code point
 *     head          the last position given to the document; bumped under the row's lock by
 *                   every write, so positions are gap-free and never reused, even across a deletion
 *     deleted_at    when the document was deleted, if not written since (a tombstone); else null
 *     snapshot      the compacted state (a Yjs update), or null
 *     snapshot_seq  the position up to which the log holds nothing the snapshot lacks: the
 *                   snapshot's position, or the head at a deletion
 *     log_length, log_bytes   the updates logged past snapshot_seq, and their bytes
 *     updated_at    the last append, compaction or deletion, by the database's clock
 *   updates                 one row per logged update: (document, seq) primary key, data bytea
 *   versions                (document_key, id) primary key: `info`, the `VersionInfo` as UTF-8
 *                           JSON, and `data`. Bytea, not text or jsonb, which cannot hold U+0000
 *                           (a label may); keyed by the document's key, since versions may be
 *                           written for a document that has no row yet.
 *   queued_events           the event queue (`events.ts`): key_hash (SHA-256 of the key) primary
 *                           key, key (text, collation "C"), revision, data. Added after format 1
 *                           was first released: opening creates it where it is missing, which
 *                           stores of format 1 without it read as an empty queue.
 *   documents_live_name     an index of the names of documents not deleted, for `list`: a page
 *                           of a prefix reads that range, not every row. Not on a column an
 *                           append changes, so appends stay HOT updates. Added after format 1
 *                           was first released: opening creates it where it is missing (once, as
 *                           it locks out writes while it is built over existing rows).
 *
 * Updates carry no foreign key: document rows are never deleted, and a key check would cost an
 * index lookup per update on the path every edit takes.
 *
 * Opening checks the schema before anything is read or written: one without tables is filled,
 * one holding `store_format` must say format `STORAGE_FORMAT`, and anything else (another
 * program's tables, another format) is refused with `StoreOpenError`, nothing changed. The
 * server must keep every commit it acknowledges: `fsync` or `synchronous_commit` off is refused on
 * every new connection, since either lets a crash lose commits already reported.
 */
import type { ClientBase, Pool } from 'pg';
import { StoreOpenError } from '../document-store.js';
import { createEventsTable } from './events.js';

/** The storage format this version reads and writes. */
export const STORAGE_FORMAT = 1;
const PROGRAM = 'collab-server';

/** A schema name this store accepts: plain lowercase SQL identifiers, so it needs no quoting anywhere. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws RangeError unless `schema` is a plain lowercase identifier. */
export function checkSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) throw new RangeError(`schema ${JSON.stringify(schema)} must be a lowercase SQL identifier (a-z, 0-9, _)`);
}

/** The statements that create the tables in `schema` (which exists). */
function createTables(schema: string): string[] {
  return [
    `CREATE TABLE ${schema}.store_format (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      program text NOT NULL,
      format integer NOT NULL)`,
    `CREATE TABLE ${schema}.documents (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      key bytea NOT NULL UNIQUE,
      name text COLLATE "C" NOT NULL,
      head bigint NOT NULL,
      deleted_at timestamptz,
      snapshot bytea,
      snapshot_seq bigint NOT NULL DEFAULT 0,
      log_length bigint NOT NULL,
      log_bytes bigint NOT NULL,
      updated_at timestamptz NOT NULL)`,
    `CREATE TABLE ${schema}.updates (
      document bigint NOT NULL,
      seq bigint NOT NULL,
      data bytea NOT NULL,
      PRIMARY KEY (document, seq))`,
    `CREATE TABLE ${schema}.versions (
      document_key bytea NOT NULL,
      id text COLLATE "C" NOT NULL,
      info bytea NOT NULL,
      data bytea NOT NULL,
      PRIMARY KEY (document_key, id))`,
    `INSERT INTO ${schema}.store_format (program, format) VALUES ('${PROGRAM}', ${STORAGE_FORMAT})`,
  ];
}

/**
 * Refuses, with `StoreOpenError`, a server that may lose acknowledged commits. Run on every new
 * connection: `synchronous_commit` can differ by database and role, and both can change while
 * the store runs.
 */
export async function checkDurability(client: ClientBase): Promise<void> {
  const { rows } = await client.query<{ fsync: string; synchronous_commit: string }>(
    "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit",
  );
  const { fsync, synchronous_commit: synchronousCommit } = rows[0]!;
  if (fsync === 'off') {
    throw new StoreOpenError(
      'PostgreSQL runs with fsync=off: a crash of its machine can lose or corrupt commits it reported, and this store tells clients an edit is saved once it is committed. Set fsync = on in postgresql.conf.',
    );
  }
  if (synchronousCommit === 'off') {
    throw new StoreOpenError(
      'PostgreSQL runs with synchronous_commit=off for this connection: it reports a commit before the commit is on disk, so a crash loses edits clients were told are saved. Set synchronous_commit = on (in postgresql.conf, or ALTER DATABASE / ALTER ROLE ... SET synchronous_commit = on).',
    );
  }
}

/**
 * Makes sure `schema` holds this store's tables in `STORAGE_FORMAT`, creating them if the schema
 * is missing or empty; throws `StoreOpenError`, having changed nothing, if it holds anything else.
 * One transaction, under a transaction-level advisory lock (`lockSpace`), so that two instances
 * opening a new database together do not both create the tables (the loser would fail).
 */
export async function prepareSchema(client: ClientBase, schema: string, lockSpace: number): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, 0)', [lockSpace]);
    const { rows } = await client.query<{ relname: string | null }>(
      'SELECT c.relname FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid WHERE n.nspname = $1 ORDER BY c.relname',
      [schema],
    );
    const relations = rows.flatMap((row) => (row.relname === null ? [] : [row.relname]));
    if (rows.length === 0) await client.query(`CREATE SCHEMA ${schema}`);
    if (relations.length === 0) {
      for (const statement of createTables(schema)) await client.query(statement);
    } else if (relations.includes('store_format')) {
      await checkFormat(client, schema);
    } else {
      throw new StoreOpenError(
        `The PostgreSQL schema "${schema}" holds tables that are not collab-server's (${relations.slice(0, 3).join(', ')}) and no store_format table: choose another schema. Nothing was changed.`,
      );
    }
    await client.query(createEventsTable(schema));
    await client.query(`CREATE INDEX IF NOT EXISTS documents_live_name ON ${schema}.documents (name) WHERE deleted_at IS NULL`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Throws `StoreOpenError` unless `schema.store_format` names this program and `STORAGE_FORMAT`. */
async function checkFormat(client: ClientBase, schema: string): Promise<void> {
  let marks: Array<{ program: unknown; format: unknown }>;
  try {
    marks = (await client.query(`SELECT program, format FROM ${schema}.store_format`)).rows;
  } catch (cause) {
    throw new StoreOpenError(
      `The PostgreSQL schema "${schema}" has a store_format table that is not collab-server's: choose another schema. Nothing was changed.`,
      { cause },
    );
  }
  const mark = marks.length === 1 ? marks[0]! : null;
  if (mark === null || mark.program !== PROGRAM || typeof mark.format !== 'number') {
    throw new StoreOpenError(
      `The PostgreSQL schema "${schema}" has a store_format table that does not name collab-server: choose another schema. Nothing was changed.`,
    );
  }
  if (mark.format !== STORAGE_FORMAT) {
    throw new StoreOpenError(
      `The PostgreSQL schema "${schema}" holds storage format ${mark.format}, written by ${mark.format > STORAGE_FORMAT ? 'a newer' : 'an older'} version of collab-server; this version reads format ${STORAGE_FORMAT}. Run a version that reads it; nothing was changed.`,
    );
  }
}

/**
 * A write that proves the database takes writes again and still holds this store: rejects with
 * `StoreOpenError` if the format marker is gone or changed (what was acknowledged may be gone with
 * it), and with the database's error if it takes no writes.
 */
export async function probe(db: Pick<Pool, 'query'>, schema: string): Promise<void> {
  const { rowCount } = await db.query(`UPDATE ${schema}.store_format SET format = format WHERE program = $1 AND format = $2`, [PROGRAM, STORAGE_FORMAT]);
  if (rowCount !== 1)
    throw new StoreOpenError(
      `The PostgreSQL schema "${schema}" no longer holds collab-server's format ${STORAGE_FORMAT} marker: the database was replaced or changed under the store`,
    );
}
