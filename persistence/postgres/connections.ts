/**
 * The connections of a `PostgresDocumentStore`: one pool of a single connection for the appends
 * and deletions, which must run one at a time and in order, and one for reads and compactions.
 * Every new connection is checked before its first use (`checkDurability`), and every statement
 * has a time limit (`queryLimits`).
 */
import pg from 'pg';
import { checkDurability } from './schema.js';

/** Options of `PostgresDocumentStore.open`. */
export interface PostgresStoreOptions {
  /** The database: a connection string (`postgres://user@host/db`, `?host=/socket/dir` for a unix socket) or node-postgres's pool options. */
  readonly connection: string | pg.PoolConfig;
  /** The schema (namespace) that holds the store's tables, created if missing: a lowercase SQL identifier. Default `collab`. */
  readonly schema?: string;
  /** Connections at most: one writes the appends and deletions, the others read and compact. Default 8, at least 2. */
  readonly maxConnections?: number;
  /** Milliseconds to wait for a new connection before the call fails (as unavailable). Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Milliseconds a statement may take, from sending it to its last row, before the call fails (as
   * unavailable, like a lost connection: a write may have committed all the same); see
   * `queryLimits`. Default `DEFAULT_QUERY_TIMEOUT_MS`.
   */
  readonly queryTimeoutMs?: number;
}

/**
 * 30 s: long enough for the compaction or the load of a document at the size limit on a slow disk,
 * short enough that clients hear of an outage while their user still waits for a save.
 */
const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

/**
 * How long a statement may take. node-postgres's `query_timeout` is the bound: it counts on this
 * side, so it also ends a wait on a database or a network path that stopped answering (no reset,
 * no FIN) and on a commit stuck on the server's disk, where nothing PostgreSQL does can. A
 * statement it gives up on may still run, and commit, once its bytes arrive: it is treated as a
 * lost connection, and the connection is dropped. PostgreSQL's `statement_timeout`, at nine tenths
 * of it, makes a server that is alive but slow (a statement waiting for a lock held elsewhere)
 * cancel the statement first: rolled back whole, so not in doubt, and not left running with its
 * locks after this side gave up. Set per connection with SET, not as a startup parameter, which
 * poolers such as PgBouncer refuse.
 */
function queryLimits(timeoutMs: number): { readonly queryTimeoutMs: number; readonly statementTimeoutMs: number } {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2 ** 31 - 1)
    throw new RangeError(`a query timeout of ${timeoutMs} ms is not a timer's delay`);
  return { queryTimeoutMs: timeoutMs, statementTimeoutMs: Math.max(1, Math.floor(timeoutMs * 0.9)) };
}

/** The store's two pools (see the top of this file); `Pools.factory` makes fresh ones, as recovering from an outage does. */
export class Pools {
  readonly writer: pg.Pool;
  readonly readers: pg.Pool;

  private constructor(config: pg.PoolConfig, maxConnections: number) {
    this.writer = new pg.Pool({ ...config, max: 1, idleTimeoutMillis: 0 });
    this.readers = new pg.Pool({ ...config, max: maxConnections - 1 });
    // An idle connection that breaks (the server restarted) is dropped by its pool; the next call
    // that needs the database reports the outage, if it lasts.
    for (const pool of [this.writer, this.readers]) pool.on('error', () => undefined);
  }

  /**
   * A function that makes pools for `options`: TCP keepalive on, named `collab-server` in
   * `pg_stat_activity`, statements bounded (`queryLimits`).
   */
  static factory(options: PostgresStoreOptions): () => Pools {
    const base: pg.PoolConfig = typeof options.connection === 'string' ? { connectionString: options.connection } : options.connection;
    const limits = queryLimits(options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS);
    const config: pg.PoolConfig = {
      application_name: 'collab-server',
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      keepAlive: true,
      query_timeout: limits.queryTimeoutMs,
      ...base,
      onConnect: async (client) => {
        await client.query(`SET statement_timeout = ${limits.statementTimeoutMs}`);
        await checkDurability(client);
        await base.onConnect?.(client);
      },
    };
    const maxConnections = Math.max(2, options.maxConnections ?? 8);
    return () => new Pools(config, maxConnections);
  }

  /**
   * Runs `body` on a connection of `pool` (one of these), for a transaction. The connection is
   * discarded after an error, since it may be broken.
   */
  async transact<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    // Between two statements a broken connection is reported as an event, which must not go
    // unhandled: the next statement fails instead.
    const ignore = (): void => undefined;
    client.on('error', ignore);
    try {
      const result = await body(client);
      client.removeListener('error', ignore);
      client.release();
      return result;
    } catch (error) {
      client.removeListener('error', ignore);
      client.release(error instanceof Error ? error : true);
      throw error;
    }
  }

  /** Closes every connection, once the calls using them are over. */
  async end(): Promise<void> {
    await Promise.allSettled([this.writer.end(), this.readers.end()]);
  }
}
