/**
 * The versions of documents in the PostgreSQL store (`persistence/versions.ts` says what they are):
 * the `versions` table of `schema.ts`, one row per version, keyed by the document's key and the
 * version's id. The store keeps what it is given and looks inside nothing but the id.
 */
import type { ClientBase } from 'pg';
import type { VersionChanges, VersionInfo, VersionRecord } from '../versions.js';
import { documentKey } from './names.js';
import type { Queryable } from './statements.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** What is known of a version, as stored in `info` (UTF-8 JSON). */
function encodeInfo({ id, takenAt, kind, label, authors, position, size, base, bytes: dataBytes }: VersionInfo): Buffer {
  const bytes = textEncoder.encode(JSON.stringify({ id, takenAt, kind, label, authors, position, size, base, bytes: dataBytes }));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws if `bytes` is not a version's `info`. */
function decodeInfo(bytes: Uint8Array): VersionInfo {
  const value: unknown = JSON.parse(textDecoder.decode(bytes));
  const record = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || typeof record['id'] !== 'string' || typeof record['position'] !== 'number') {
    throw new Error('Corrupt store: a version record is not one');
  }
  return value as VersionInfo;
}

/** The versions of `name`, oldest first (ids sort by code unit, and the column's collation is "C"). */
export async function listVersions(db: Queryable, schema: string, name: string): Promise<VersionInfo[]> {
  const { rows } = await db.query<{ info: Buffer }>({
    text: `SELECT info FROM ${schema}.versions WHERE document_key = $1 ORDER BY id`,
    values: [documentKey(name)],
  });
  return rows.map((row) => decodeInfo(row.info));
}

/** One version of `name` with its data, or null. */
export async function readVersion(db: Queryable, schema: string, name: string, id: string): Promise<VersionRecord | null> {
  const { rows } = await db.query<{ info: Buffer; data: Buffer }>({
    text: `SELECT info, data FROM ${schema}.versions WHERE document_key = $1 AND id = $2`,
    values: [documentKey(name), id],
  });
  const row = rows[0];
  return row === undefined ? null : { ...decodeInfo(row.info), data: new Uint8Array(row.data) };
}

/** Removes, then writes, versions of `name`, in one transaction on `client`. */
export async function writeVersions(client: ClientBase, schema: string, name: string, { put = [], remove = [] }: VersionChanges): Promise<void> {
  const key = documentKey(name);
  await client.query('BEGIN');
  try {
    if (remove.length > 0)
      await client.query({ text: `DELETE FROM ${schema}.versions WHERE document_key = $1 AND id = ANY($2::text[])`, values: [key, remove] });
    for (const record of put) {
      await client.query({
        text: `INSERT INTO ${schema}.versions (document_key, id, info, data) VALUES ($1, $2, $3, $4)
          ON CONFLICT (document_key, id) DO UPDATE SET info = excluded.info, data = excluded.data`,
        values: [key, record.id, encodeInfo(record), record.data],
      });
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
