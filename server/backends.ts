/**
 * What the server stands on, opened from its options: the store (LevelDB in the data directory,
 * or PostgreSQL) and the document bus (none, or Redis with PostgreSQL). `main.ts` opens them
 * before it listens and closes them after the server has drained.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { DocumentStore } from '../persistence/document-store.js';
import { LevelDocumentStore } from '../persistence/level/store.js';
import { redactUrl } from './bus/redis-url.js';
import type { ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { type DocumentBus, LocalBus } from './sync/bus.js';

/** The opened store and bus, and how to say where they are. */
export interface Backends {
  readonly store: DocumentStore;
  readonly bus: DocumentBus;
  /** Where documents are, for the start line: never a password. */
  readonly where: string;
  /** The same for the log line's fields. */
  readonly fields: Readonly<Record<string, string>>;
  /** Bytes the store's journal holds, for the metrics (LevelDB's, see `LevelDocumentStore.journalBytes`); absent: no journal. */
  readonly journalBytes?: () => number;
  /** Closes the bus, then the store (see `DocumentStore.close`). */
  close(): Promise<void>;
}

/**
 * Opens the store `config` names, and the bus. Rejects with `StoreOpenError` when the store cannot
 * be opened (a PostgreSQL with `fsync` or `synchronous_commit` off among the reasons); a Redis out
 * of reach does not stop the start (see `RedisBus.connect`).
 */
export async function openBackends(config: ServerConfig, logger: Logger, storeFiles: number): Promise<Backends> {
  const instance = config.instanceId ?? randomUUID();
  if (config.store === 'level') {
    const dataDir = resolve(config.dataDir);
    const store = await openLevel(config, dataDir, logger, storeFiles);
    const durability = config.fsync ? 'fsync' : 'page-cache';
    return {
      store,
      bus: new LocalBus(instance),
      where: `documents in ${dataDir} (LevelDB, durability: ${durability})`,
      fields: { store: 'level', dataDir, durability },
      journalBytes: () => store.journalBytes,
      close: () => store.close(),
    };
  }
  // Loaded only here: a server on LevelDB starts without PostgreSQL's and Redis's clients.
  const { PostgresDocumentStore } = await import('../persistence/postgres/store.js');
  const database = redactUrl(config.postgresUrl!);
  const store = await PostgresDocumentStore.open({ connection: config.postgresUrl!, queryTimeoutMs: config.postgresQueryTimeoutMs });
  let bus: DocumentBus = new LocalBus(instance);
  let where = `documents in PostgreSQL ${database}`;
  const fields: Record<string, string> = { store: 'postgres', database, instance };
  if (config.redisUrl !== null) {
    const redis = redactUrl(config.redisUrl);
    const { RedisBus } = await import('./bus/redis-bus.js');
    bus = await RedisBus.connect({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      instance,
      readHeads: (names) => store.heads(names),
      logger,
    });
    where += `, shared with other instances over Redis ${redis} (channels ${config.redisPrefix}*) as instance ${instance}`;
    Object.assign(fields, { redis, redisPrefix: config.redisPrefix });
  } else {
    where += `, instance ${instance} (no --redis-url: other instances' changes reach this one's clients only when they reload)`;
  }
  return {
    store,
    bus,
    where,
    fields,
    async close() {
      await bus.close();
      await store.close();
    },
  };
}

async function openLevel(config: ServerConfig, dataDir: string, logger: Logger, storeFiles: number): Promise<LevelDocumentStore> {
  const store = await LevelDocumentStore.open(dataDir, {
    fsync: config.fsync,
    batchIntervalMs: config.batchIntervalMs,
    maxOpenFiles: storeFiles,
    onWarning: (message, error) => logger.warn({ err: error }, message),
  });
  const { replayed, ignoredBytes } = store.recovery;
  if (replayed > 0) logger.info({ replayed }, `recovered ${replayed} update(s) from the journal that were not yet indexed when the server stopped`);
  if (ignoredBytes > 0) {
    logger.warn({ ignoredBytes }, `ignored ${ignoredBytes} byte(s) at the end of the journal: a write cut short by a crash, never acknowledged`);
  }
  return store;
}
