/**
 * The unit tier as a developer runs it without services (`npm run test:unit`): a database suite
 * beside the code shows as skipped, not as passed and not as "skipped 0", and the run closes
 * with the plain counts line CI reads.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('npm run test:unit without TEST_PG_URL reports the database suites as skipped', () => {
  const env = { ...process.env };
  delete env.TEST_PG_URL;
  const r = spawnSync('bash', ['test/run.sh', '--unit', 'site-node/store/schema.test.ts'], {
    env: { ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^tests: 0 passed, 0 failed, [1-9]\d* skipped$/m);
  assert.match(r.stdout, /Tests\s+\d+ skipped/);
});
