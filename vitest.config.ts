import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['tests/helpers/yield-between-tests.ts'],
    pool: 'forks',
    // Two cores: integration suites start real servers, so run at most two files at once.
    maxWorkers: 2,
    minWorkers: 1,
    // `npm run test:unit` runs the fast pure tests alone; `npm test` runs every project.
    projects: [
      // Pure code: no server, no shared corpus.
      { extends: true, test: { name: 'unit', include: ['tests/unit/**/*.test.ts'] } },
      // Pure code checked on the shared corpora (../shared/data), or at full size (a 200 MB line, a child process).
      { extends: true, test: { name: 'corpus', include: ['tests/corpus/**/*.test.ts'] } },
      // Real servers, real engines, real browsers, the packaged template, kill-and-restart faults.
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'tests/integration/**/*.test.ts',
            'tests/e2e/**/*.test.ts',
            'tests/deploy/**/*.test.ts',
            'tests/faults/**/*.test.ts',
          ],
        },
      },
    ],
  },
});
