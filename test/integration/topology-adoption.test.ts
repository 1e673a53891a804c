/**
 * A site acts on a topology version only once it has adopted it (docs/architecture.md §5.4,
 * §5.9 "afterHours"): the real hub and a real wanzhou site in this process
 * (test/support/federated-site.ts), on their own databases. The topology's part a site acts on
 * here is a queue's closed wait, which an `afterHours` policy from the site sets (12 s for its
 * queues). Each version pushed below makes `wanzhou-busy` (retail, credit-card) such a policy:
 *
 *   - one that does not fit the site (it names a queue wanzhou's ACD has not got): refused by
 *     the check before the save, retail's closed wait unchanged;
 *   - one that fits but that the site's database will not store (a check constraint on
 *     `hub_link`, a real PostgreSQL failure of the save): refused, retail's closed wait
 *     unchanged, the version the site runs unchanged;
 *   - the same version again once the database takes it (the hub pushes it after the site's
 *     next Hello): adopted, and retail waits 12 s for a move when closed.
 */
import { afterEach, beforeEach, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { pgSkip } from '../../hub/store/testing.js';
import { PROVINCE_TOPOLOGY } from '../../deploy/demo/layout.js';
import { DEFAULT_CLOSED_OVERFLOW_WAIT_MS } from '../../site-node/overflow/closed-wait.js';
import { startTestProvince, type TestProvince } from '../support/federation.js';
import { startFederatedSite, type FederatedSite } from '../support/federated-site.js';
import { waitFor } from '../support/wait.js';

const skip = pgSkip || !process.env.TOXIPROXY_URL;
/** The save of any version after the first fails on wanzhou's database while it stands. */
const REFUSE_SAVE = 'test_refuses_topology_save';

let p: TestProvince;
let wz: FederatedSite;
let dir: string;

beforeEach(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'topology-adoption-'));
  p = await startTestProvince({ label: 'topo_adopt_hub' });
  wz = await startFederatedSite(p, 'wanzhou');
  await waitFor('wanzhou running version 1', () => wz.site.hubLink!.topologyVersion === 1);
}, 120_000);

afterEach(async () => {
  await wz?.close();
  await p?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Line {
  msg: string;
  version?: number;
  err?: { message?: string };
}
const siteSaid = (msg: string, version: number): Line | undefined =>
  wz.lines.map((l) => JSON.parse(l) as Line).find((l) => l.msg === msg && l.version === version);

interface TopologyDoc {
  version: number;
  sites: Array<{ id: string; queues: string[] }>;
  overflow: Array<{ id: string; when: Record<string, unknown> }>;
}

/**
 * Version `version` of the province: the example with wanzhou-busy (retail, credit-card) also
 * asking after hours.
 */
function withAfterHours(version: number, edit?: (doc: TopologyDoc) => void): string {
  const doc = parseYaml(readFileSync(PROVINCE_TOPOLOGY, 'utf8')) as TopologyDoc;
  doc.version = version;
  doc.overflow.find((pol) => pol.id === 'wanzhou-busy')!.when.afterHours = true;
  edit?.(doc);
  const path = join(dir, `province-${version}.yaml`);
  writeFileSync(path, toYaml(doc));
  return path;
}

async function apply(path: string): Promise<void> {
  const r = await p.fedctl('apply', path);
  assert.equal(r.code, 0, r.err);
}

const retailWait = (): number | null | undefined => wz.site.engine.closedOverflowWaitMs('retail');

test.skipIf(skip)(
  "a version the site refuses, whether it does not fit or its save fails, leaves the queues' closed waits as they were; adopted, it applies",
  async () => {
    assert.equal(retailWait(), null, 'version 1 has no afterHours policy from wanzhou');

    // Version 2 does not fit: wanzhou offers a queue its ACD has not got.
    await apply(withAfterHours(2, (doc) => doc.sites.find((s) => s.id === 'wanzhou')!.queues.push('fx')));
    const misfit = await waitFor('wanzhou to refuse version 2', () =>
      siteSaid('topology version refused; keeping the one running', 2),
    );
    assert.match(misfit.err?.message ?? '', /offers queue fx/);
    assert.equal(retailWait(), null, 'a misfit changes nothing');

    // Version 3 fits, but the site's database will not store it.
    await wz.pool.query(`ALTER TABLE hub_link ADD CONSTRAINT ${REFUSE_SAVE} CHECK (topology_version <= 1)`);
    await apply(withAfterHours(3));
    const unsaved = await waitFor('wanzhou to refuse version 3', () =>
      siteSaid('topology version refused; keeping the one running', 3),
    );
    assert.match(unsaved.err?.message ?? '', new RegExp(REFUSE_SAVE));
    assert.equal(retailWait(), null, 'not acted on: the version was not stored');
    assert.equal(wz.site.hubLink!.topologyVersion, 1, 'still running version 1');
    assert.equal(siteSaid('topology version adopted', 3), undefined);
    await waitFor('the hub to hear the refusal', () =>
      p.hub.registry.get('wanzhou')!.topologyError.includes(REFUSE_SAVE),
    );

    // The database takes it again: the hub pushes version 3 after the site's next Hello.
    await wz.pool.query(`ALTER TABLE hub_link DROP CONSTRAINT ${REFUSE_SAVE}`);
    await wz.setLink(false);
    await waitFor('the hub to see wanzhou down', () => p.hub.registry.get('wanzhou')?.link.state === 'down');
    await wz.setLink(true);
    // The site acts on a version before it acknowledges it: with the ack at the hub, it is applied.
    await waitFor('the hub to hear wanzhou adopt version 3', () => {
      const e = p.hub.registry.get('wanzhou')!;
      return e.topologyVersion === 3 && e.topologyError === '';
    });
    assert.equal(wz.site.hubLink!.topologyVersion, 3);
    assert.equal(
      retailWait(),
      DEFAULT_CLOSED_OVERFLOW_WAIT_MS,
      'adopted: retail waits for a move when closed',
    );
  },
  90_000,
);
