/**
 * The chaos suite's short selection for `npm test` (the whole suite is `npm run chaos -- all`,
 * docs/operations.md "Chaos suite"): one province, fuling's link cut under load (6 s instead
 * of 30) and one kill -9 of chongqing, restarted; then every invariant of test/chaos/
 * invariants.ts must hold. The verdict is printed whole, so a failure shows its numbers.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { runScenario, type ChaosEnv, type Scenario } from '../chaos/harness.js';
import { startPgCluster } from '../chaos/pg-cluster.js';
import { linkCut } from '../chaos/scenarios/link-cut.js';
import { siteKill } from '../chaos/scenarios/site-kill.js';

let env: ChaosEnv | undefined;

beforeAll(async () => {
  env = { hubPg: await startPgCluster('hub'), sitePg: await startPgCluster('sites') };
});

afterAll(() => {
  env?.hubPg.remove();
  env?.sitePg.remove();
});

const short: Scenario = {
  name: 'short',
  summary: 'a link cut, then a kill -9 of a site',
  async run(ctx) {
    await linkCut.run(ctx);
    await siteKill.run(ctx);
  },
};

test('a cut link and a killed site keep every invariant', { timeout: 300_000 }, async () => {
  // scale 0.2: a 6 s cut and one kill (site-kill's five kills scaled).
  const v = await runScenario(short, env!, { scale: 0.2, progress: (l) => process.stderr.write(l + '\n') });
  const failed = Object.entries(v.invariants).filter(([, c]) => !c.pass);
  assert.deepEqual(
    failed.map(([n]) => n),
    [],
    `chaos verdict:\n${JSON.stringify(v, null, 2)}`,
  );
  assert.ok(v.figures.rejoinMs !== null && v.figures.detectionMs !== null, JSON.stringify(v.figures));
});
