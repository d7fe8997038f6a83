import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['tests/helpers/yield-between-tests.ts'],
    pool: 'forks',
    // Two cores: integration suites start real servers, so run at most two files at once.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
