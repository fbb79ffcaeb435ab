/**
 * Once per `npm test` run: a directory for the run, where a service shared by the test files
 * (PostgreSQL, see `helpers/postgres.ts`) is recorded by the first file that starts it; the run's
 * Redis (`helpers/redis.ts`), started here when redis-server is installed, since it starts in a
 * few milliseconds; and the teardown that stops both and removes the directory.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopSharedPostgres } from './helpers/postgres.js';
import { RedisServer, redisUnavailable } from './helpers/redis.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runDir = await mkdtemp(join(tmpdir(), 'collab-test-run-'));
  project.provide('testRunDir', runDir);
  let redis: RedisServer | null = null;
  if (redisUnavailable() === null) {
    await mkdir(join(runDir, 'redis'));
    redis = await RedisServer.start(join(runDir, 'redis'));
  }
  project.provide('redisDir', redis?.dir ?? null);
  return async () => {
    await redis?.stop();
    await stopSharedPostgres(runDir);
    await rm(runDir, { recursive: true, force: true });
  };
}
