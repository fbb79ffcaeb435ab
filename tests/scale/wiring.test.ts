/**
 * The server process on PostgreSQL and Redis: what its start line says (never a password), a
 * database that does not keep what it commits refused, Redis out of reach at start (the instance
 * serves its own clients and says it is degraded), and a clean stop on SIGTERM.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.js';
import { connectClient, waitForDoc } from '../helpers/clients.js';
import { postgresUrl } from '../helpers/instances.js';
import { postgresUnavailable, databaseOfSuite } from '../helpers/postgres.js';
import { describeWithRedis, redisPrefix, sharedRedis } from '../helpers/redis.js';
import { removeDir, startServer, startTestServer } from '../helpers/server-process.js';

const cleanup = cleanupAfterEach();

describeWithRedis(
  'a server on PostgreSQL and Redis',
  () => {
    const own = databaseOfSuite();

    it('says in its start line which store, database, Redis and instance it uses, without the password, and stops cleanly on SIGTERM', async () => {
      const url = postgresUrl(own.cluster, own.database.name).replace('postgres@', 'postgres:hunter2@');
      const server = await startServer({
        args: ['--redis-url', sharedRedis().url, '--redis-prefix', redisPrefix(), '--instance-id', 'node-a'],
        env: { POSTGRES_URL: url },
      });
      try {
        const line = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).startsWith('listening'))!;
        expect(line).toMatchObject({ store: 'postgres', instance: 'node-a', redis: sharedRedis().url });
        expect(String(line.msg)).toContain(`documents in PostgreSQL postgres://postgres:***@/${own.database.name}`);
        expect(String(line.msg)).toContain('as instance node-a');
        expect(server.logs.join('\n')).not.toContain('hunter2');
        const client = connectClient(server.wsUrl, 'wired');
        cleanup.push(() => client.destroy());
        await client.synced;
        client.doc.getText('t').insert(0, 'stored in PostgreSQL');
        const sql = new pg.Client(own.database.connection);
        await sql.connect();
        cleanup.push(() => sql.end());
        await expect.poll(async () => (await sql.query("SELECT head FROM collab.documents WHERE name = 'wired'")).rows[0]?.head, { timeout: 5000 }).toBe('1');
      } finally {
        expect(await server.stop('SIGTERM')).toBe(0);
        await removeDir(server.dataDir);
      }
      expect(server.logs.some((l) => l.includes('stopped; every write is stored'))).toBe(true);
    });

    it('refuses a database that does not keep what it commits, saying why', async () => {
      const lax = await own.cluster.createDatabase();
      cleanup.push(() => lax.drop());
      await own.cluster.admin(`ALTER DATABASE ${lax.name} SET synchronous_commit = off`);
      const refused = await startServer({ args: ['--postgres-url', postgresUrl(own.cluster, lax.name)] }).then(
        () => null,
        (error: Error) => error.message,
      );
      expect(refused).toMatch(/synchronous_commit/);
    });

    it('starts with Redis out of reach, serves its own clients, and says it is degraded', async () => {
      const server = await startTestServer(cleanup, {
        args: ['--postgres-url', postgresUrl(own.cluster, own.database.name), '--redis-url', 'unix:///nonexistent/redis.sock'],
      });
      expect(server.logs.join('\n')).toContain('Redis is out of reach');
      const health = (await (await fetch(`${server.httpUrl}/healthz`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: 'degraded', bus: expect.stringContaining('Redis is out of reach') });
      const [writer, reader] = [connectClient(server.wsUrl, 'alone'), connectClient(server.wsUrl, 'alone')];
      cleanup.push(
        () => writer.destroy(),
        () => reader.destroy(),
      );
      await Promise.all([writer.synced, reader.synced]);
      writer.doc.getText('t').insert(0, 'still served');
      await waitForDoc(reader.doc, () => reader.doc.getText('t').toString() === 'still served');
    });
  },
  postgresUnavailable(),
);
