/**
 * Once per `npm test` run: a directory for the run, where a service shared by the test files
 * (PostgreSQL, see `helpers/postgres.ts`) is recorded by the first file that starts it, and the
 * teardown that stops it and removes the directory. Files that need no service cost nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopSharedPostgres } from './helpers/postgres.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runDir = await mkdtemp(join(tmpdir(), 'collab-test-run-'));
  project.provide('testRunDir', runDir);
  return async () => {
    await stopSharedPostgres(runDir);
    await rm(runDir, { recursive: true, force: true });
  };
}
