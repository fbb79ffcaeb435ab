import { defineConfig } from 'vitest/config';

// Tests start real server processes, real browsers and PostgreSQL: generous timeouts, and no more
// parallel files than the machine has cores. The global setup stops what test files started.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
