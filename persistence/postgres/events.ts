/**
 * The event queue of the PostgreSQL store (`persistence/event-queue.ts` says what it is): the
 * `queued_events` table of `schema.ts`, one row per key, found by the key's SHA-256 (a B-tree
 * entry caps the length of an indexed text; keys are as long as document names).
 *
 * Each call is one statement. A conditional one compares the revision in its `WHERE` (an `UPDATE`
 * or `DELETE`), or inserts only where no row is (`ON CONFLICT DO NOTHING`): under PostgreSQL's
 * default isolation a concurrent writer of the same row is waited for and the condition checked
 * again against what it committed, so two processes never both win the same compare-and-set.
 */
import type { EventListOptions, QueuedEvent } from '../event-queue.js';
import { documentKey } from './names.js';
import type { Queryable } from './statements.js';

/** The statement that creates the table in `schema`, if it is not there (stores made before it had none). */
export function createEventsTable(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${schema}.queued_events (
    key_hash bytea PRIMARY KEY,
    key text COLLATE "C" NOT NULL,
    revision text NOT NULL,
    data bytea NOT NULL)`;
}

/** Writes `event` as `EventQueue.putEvent` says; resolves whether it did. */
export async function putEvent(db: Queryable, schema: string, event: QueuedEvent, expected: string | null | undefined): Promise<boolean> {
  const values = [documentKey(event.key), event.key, event.revision, event.data];
  if (expected === undefined) {
    await db.query({
      text: `INSERT INTO ${schema}.queued_events (key_hash, key, revision, data) VALUES ($1, $2, $3, $4)
        ON CONFLICT (key_hash) DO UPDATE SET revision = excluded.revision, data = excluded.data`,
      values,
    });
    return true;
  }
  const { rowCount } =
    expected === null
      ? await db.query({
          text: `INSERT INTO ${schema}.queued_events (key_hash, key, revision, data) VALUES ($1, $2, $3, $4) ON CONFLICT (key_hash) DO NOTHING`,
          values,
        })
      : await db.query({
          text: `UPDATE ${schema}.queued_events SET revision = $3, data = $4 WHERE key_hash = $1 AND key = $2 AND revision = $5`,
          values: [...values, expected],
        });
  return rowCount === 1;
}

/** Removes the row of `key` if its revision is `revision`; resolves whether it did. */
export async function removeEvent(db: Queryable, schema: string, key: string, revision: string): Promise<boolean> {
  const { rowCount } = await db.query({
    text: `DELETE FROM ${schema}.queued_events WHERE key_hash = $1 AND key = $2 AND revision = $3`,
    values: [documentKey(key), key, revision],
  });
  return rowCount === 1;
}

/** The queued events by key in code point order (the column's collation is "C"), as `options` say. */
export async function listEvents(db: Queryable, schema: string, options: EventListOptions): Promise<QueuedEvent[]> {
  const { rows } = await db.query<{ key: string; revision: string; data: Buffer }>({
    text: `SELECT key, revision, data FROM ${schema}.queued_events
      WHERE starts_with(key, $1) AND ($2::text IS NULL OR key > $2) ORDER BY key LIMIT $3`,
    values: [options.prefix ?? '', options.after ?? null, options.limit ?? null],
  });
  return rows.map((row) => ({ key: row.key, revision: row.revision, data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) }));
}
