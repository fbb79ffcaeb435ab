/**
 * Where a restore writes (`restore.ts`): a LevelDB data directory, or the `collab` schema of a
 * PostgreSQL database, the stores a server starts on. Either must hold no document before the
 * restore, so a restore never merges into documents that exist, and a restore that fails midway
 * takes back what it wrote, leaving the target as empty as it found it.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import type { Client } from 'pg';
import type { DocumentStore } from '../../persistence/document-store.js';
import { LevelDocumentStore } from '../../persistence/level/store.js';
import { redactUrl } from '../bus/redis-url.js';

/** A store to fill: checked empty first, then opened; emptied again if the restore fails. */
export interface RestoreTarget {
  /** How messages name it: a directory, or a database URL without its password. */
  readonly shown: string;
  /** Throws, having changed nothing, unless it holds no document and no version. */
  checkEmpty(): Promise<void>;
  /** Opens the store, creating what a new one needs. */
  open(): Promise<DocumentStore>;
  /** Removes what the restore wrote (the store is closed). */
  discard(): Promise<void>;
}

/** A LevelDB data directory, absent or empty; synced on every write, as a restore is written once. */
export function dataDirTarget(dir: string): RestoreTarget {
  let existed = false;
  return {
    shown: dir,
    async checkEmpty() {
      const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      });
      if (entries !== null && entries.length > 0) {
        throw new Error(`refusing to restore into ${dir}: it is not empty (restore fills a new, empty data directory; nothing was changed)`);
      }
      existed = entries !== null;
    },
    async open() {
      await mkdir(dir, { recursive: true });
      return LevelDocumentStore.open(dir, { fsync: true });
    },
    async discard() {
      if (!existed) return rm(dir, { recursive: true, force: true });
      for (const entry of await readdir(dir)) await rm(`${dir}/${entry}`, { recursive: true, force: true });
    },
  };
}

/** The tables of a PostgreSQL store that hold documents, in the schema a server uses (`collab`). */
const SCHEMA = 'collab';
const CONTENT_TABLES = ['documents', 'updates', 'versions'] as const;

/**
 * The `collab` schema of the database at `url`: absent, without tables, or with a store's tables
 * holding no document, deleted ones included (a server started once and never written to).
 */
export function postgresTarget(url: string): RestoreTarget {
  const shown = redactUrl(url);
  return {
    shown,
    async checkEmpty() {
      const held = await query(url, async (client) => {
        const { rows } = await client.query<{ relname: string }>(
          "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
          [SCHEMA],
        );
        const tables = rows.map((row) => row.relname);
        // No store's tables: nothing held. Another program's tables, or another format, are refused when the store opens.
        if (!CONTENT_TABLES.every((table) => tables.includes(table))) return false;
        const { rows: found } = await client.query<{ held: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM ${SCHEMA}.documents) OR EXISTS (SELECT 1 FROM ${SCHEMA}.versions) AS held`,
        );
        return found[0]?.held === true;
      });
      if (held) {
        throw new Error(
          `refusing to restore into ${shown}: its schema "${SCHEMA}" holds documents (restore fills a store that holds none; nothing was changed)`,
        );
      }
    },
    async open() {
      const { PostgresDocumentStore } = await import('../../persistence/postgres/store.js');
      return PostgresDocumentStore.open({ connection: url, schema: SCHEMA });
    },
    async discard() {
      await query(url, (client) => client.query(`TRUNCATE ${CONTENT_TABLES.map((table) => `${SCHEMA}.${table}`).join(', ')}`));
    },
  };
}

/** Runs `body` on a connection of its own to `url`, closed afterwards. */
async function query<T>(url: string, body: (client: Client) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, application_name: 'collab-server restore' });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}
