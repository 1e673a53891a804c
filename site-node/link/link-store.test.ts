/**
 * The site's memory of its topology read back (link-store.ts): a version saved by older site
 * software gets the defaults of the fields added since; one that no longer validates is
 * forgotten, so the hub pushes its current one.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { query } from '../../shared/pg/pool.js';
import type { Topology } from '../../shared/topology/schema.js';
import { loadTopology } from '../../shared/topology/validate.js';
import { pgSkip, siteTestDb, type SiteTestDb } from '../store/testing.js';
import { readLinkMemory, saveTopology, storedTopology } from './link-store.js';

const example = (): Topology =>
  loadTopology(
    readFileSync(fileURLToPath(new URL('../../deploy/examples/province.yaml', import.meta.url)), 'utf8'),
  );

/** The example as site software from before `endpoints.sipTransport` stored it. */
function withoutSipTransports(t: Topology): unknown {
  const old = JSON.parse(JSON.stringify(t)) as { sites: Array<{ endpoints: Record<string, unknown> }> };
  for (const s of old.sites) delete s.endpoints.sipTransport;
  return old;
}

test('a stored topology gets the defaults of fields added since; a broken one says why', () => {
  const t = example();
  assert.deepEqual(storedTopology(JSON.parse(JSON.stringify(t))), { ok: true, topology: t });
  const old = storedTopology(withoutSipTransports(t));
  assert.ok(old.ok);
  const transports = old.topology.sites.map((s) => s.kind === 'full' && s.endpoints.sipTransport);
  assert.deepEqual(transports.filter(Boolean), ['udp', 'udp', 'udp']);
  assert.deepEqual(storedTopology({ ...t, hubSite: 'nowhere' }), {
    ok: false,
    why: 'hubSite: unknown site "nowhere"',
  });
});

let db: SiteTestDb | undefined;
beforeAll(async () => {
  if (!pgSkip) db = await siteTestDb('link_store');
});
afterAll(() => db?.close());

test.skipIf(pgSkip)('read at start: filled in, or forgotten with the version', async () => {
  const pool = db!.pool;
  await saveTopology(pool, 4, example());
  await query(pool, `UPDATE hub_link SET topology = $1 WHERE id = 1`, [
    JSON.stringify(withoutSipTransports(example())),
  ]);
  const mem = await readLinkMemory(pool);
  assert.equal(mem.topologyVersion, 4);
  assert.equal(mem.forgotten, undefined);
  assert.ok(mem.topology?.sites.every((s) => s.kind !== 'full' || s.endpoints.sipTransport === 'udp'));

  await query(pool, `UPDATE hub_link SET topology = $1 WHERE id = 1`, [
    JSON.stringify({ ...example(), hubSite: 'nowhere' }),
  ]);
  const broken = await readLinkMemory(pool);
  assert.equal(broken.topologyVersion, 0, 'the hello names no version: the hub pushes its own');
  assert.equal(broken.topology, null);
  assert.equal(broken.forgotten, 'stored version 4: hubSite: unknown site "nowhere"');
});
