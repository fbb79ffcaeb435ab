/**
 * Suites written against the default server run again here against one on PostgreSQL, with the
 * Redis bus: the same tests, unchanged, each server given a database of its own (the same one
 * when a test restarts a server on its data directory) and a channel prefix of this file's own.
 */
import { createHash } from 'node:crypto';
import { afterAll } from 'vitest';
import { postgresUrl } from '../helpers/instances.js';
import { describeWithPostgres, postgresUnavailable, sharedPostgres } from '../helpers/postgres.js';
import { redisPrefix, redisUnavailable, sharedRedis } from '../helpers/redis.js';
import { serveEveryServerWith } from '../helpers/server-process.js';

const problem = postgresUnavailable() ?? redisUnavailable();
if (problem !== null) {
  describeWithPostgres(`the suites on PostgreSQL and Redis (${problem})`, () => undefined);
} else {
  const cluster = await sharedPostgres();
  const prefix = redisPrefix();
  const databases = new Map<string, Promise<string>>();
  serveEveryServerWith(async (dataDir) => {
    let database = databases.get(dataDir);
    if (database === undefined) {
      const name = `s_${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
      database = cluster.admin(`CREATE DATABASE ${name}`).then(() => name);
      databases.set(dataDir, database);
    }
    return ['--postgres-url', postgresUrl(cluster, await database), '--redis-url', sharedRedis().url, '--redis-prefix', prefix];
  });
  afterAll(async () => {
    // The servers did run on PostgreSQL.
    if (databases.size === 0) throw new Error('no server of these suites was given a database');
    for (const database of databases.values()) await cluster.admin(`DROP DATABASE IF EXISTS ${await database} WITH (FORCE)`);
  });
  await import('../sync/sync.test.js');
  await import('../sync/durability.test.js');
  await import('../auth/read-only.test.js');
  await import('../auth/presence.test.js');
  await import('../auth/tokens.test.js');
  await import('../limits/messages.test.js');
}
