import { defineConfig } from 'vitest/config';

// Tests start real server processes and real browsers: generous timeouts, and no more parallel
// files than the machine has cores.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
