/**
 * The test runner (docs/architecture.md §3.8). Two projects:
 *   unit         the tests beside the code (shared/, hub/, site-node/, access-gateway/, proto/,
 *                deploy/): pure cores, in-memory peers, and database suites that skip when
 *                TEST_PG_URL is not set (`npm run test:unit` runs only these, with no services)
 *   integration  test/: real processes, PostgreSQL, Kafka, toxiproxy, SIPp (`npm test` brings
 *                the services up first)
 * Files run one at a time in their own forked worker, as the suites were written for (several
 * start real processes on the two cores this project's machines have); tests inside a file run
 * in order. Timeouts are generous upper bounds for real services on a loaded machine; tests wait
 * for conditions, never for fixed times.
 */
import { defineConfig } from 'vitest/config';

const CODE = ['shared', 'hub', 'site-node', 'access-gateway', 'proto', 'deploy'];

export default defineConfig({
  test: {
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: CODE.map((d) => `${d}/**/*.test.ts`), exclude: ['proto/gen/**'] },
      },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'] } },
    ],
    coverage: {
      provider: 'v8',
      include: ['shared/**/*.ts', 'hub/**/*.ts', 'site-node/**/*.ts'],
      exclude: ['**/*.test.ts', '**/testing.ts', '**/test-support.ts'],
      reporter: ['text-summary', ['json-summary', { file: 'coverage-summary.json' }]],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
      // Line-coverage floors per part, one point under what each part had when they were last
      // raised (hub 90.2 %, shared 96.5 %, site-node 92.5 %), to absorb run-to-run variation
      // (timing-dependent branches). `npm test` fails when a part falls below its floor;
      // raise a floor when its coverage has risen for good, never lower one to pass a run.
      thresholds: {
        'hub/**': { lines: 89 },
        'shared/**': { lines: 95 },
        'site-node/**': { lines: 91 },
      },
    },
  },
});
