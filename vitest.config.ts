import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One bound for every test and hook, generous: on a 2-core machine busy with other work a pipeline scenario
    // runs several times slower than alone, and a test that fails only because the machine is busy says nothing.
    // A test that hangs still fails, at this bound.
    testTimeout: 600_000,
    hookTimeout: 600_000,
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
