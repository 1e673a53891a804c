/**
 * A site does not trust the topology JSON the hub pushes: it validates each version with the
 * shared topology rules (shared/topology/compiled.ts), and a version that does not validate
 * is refused like one that does not fit its queues. Against a scripted hub over real mTLS, on
 * a real site database: the hub pushes a valid version, then one that is well-formed JSON but
 * not a valid topology, then one that is not JSON at all. The site adopts the first, refuses
 * the other two with a reason naming what is wrong (it reaches the hub in the ack, and shows
 * in `fedctl status`), keeps running the first, and saves nothing of the refused ones.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SiteMessage } from '../../proto/gen/federation.js';
import type { Topology } from '../../shared/topology/schema.js';
import { loadTopology } from '../../shared/topology/validate.js';
import { waitFor } from '../../test/support/wait.js';
import { pgSkip, type SiteTestDb } from '../store/testing.js';
import type { GrpcHubLink } from './hub-link.js';
import { readLinkMemory } from './link-store.js';
import { encodeHub, startScriptedHub, type ScriptedHub, type ScriptedLinkCall } from './testing.js';

const good = loadTopology(
  readFileSync(fileURLToPath(new URL('../../deploy/examples/province.yaml', import.meta.url)), 'utf8'),
);
const cq = good.sites.findIndex((s) => s.id === 'chongqing');
/** Well-formed JSON that includes this site, but not a valid topology: two problems. */
const invalid = structuredClone(good) as unknown as {
  sites: Array<{ capacity: Record<string, unknown> }>;
  overflow: Array<{ to: string[] }>;
};
invalid.sites[cq]!.capacity.trunks = -1;
invalid.overflow[0]!.to = ['nowhere'];

let hub: ScriptedHub;
let db: SiteTestDb;
let link: GrpcHubLink;
const acks: Array<{ version: number; error: string }> = [];
const offered: number[] = [];

function push(call: ScriptedLinkCall, version: number, json: string): void {
  call.write(
    encodeHub({
      body: {
        $case: 'topology',
        value: { version, topologyJson: Buffer.from(json), appliedAtMs: Date.now(), appliedBy: 'alice' },
      },
    }),
  );
}

function scriptedLink(call: ScriptedLinkCall): void {
  call.on('data', (m: SiteMessage) => {
    if (m.body?.$case === 'topologyAck') acks.push(m.body.value);
    if (m.body?.$case !== 'hello') return;
    call.write(
      encodeHub({
        body: {
          $case: 'welcome',
          value: {
            hubId: 'hub',
            softwareVersion: '0.1.0',
            contractVersion: 1,
            capabilities: ['topology'],
            heartbeatIntervalMs: 200,
            drained: false,
            topologyVersion: 7,
          },
        },
      }),
    );
    push(call, 5, JSON.stringify(good));
    push(call, 6, JSON.stringify(invalid));
    push(call, 7, '{"province": "truncated...');
  });
  call.on('error', () => undefined);
}

beforeAll(async () => {
  if (pgSkip) return;
  hub = await startScriptedHub({
    label: 'hub_link_topology',
    script: scriptedLink,
    // What the site's own check (its queues) sees: only versions that validated reach it.
    link: { onTopology: (_t: Topology, version: number) => void offered.push(version) },
  });
  ({ db, link } = hub);
});

afterAll(async () => {
  await hub?.close();
});

test.skipIf(pgSkip)(
  'a pushed topology that does not validate is refused, named, and not adopted',
  async () => {
    await waitFor('the site acknowledged all three pushes', () => acks.length >= 3);
    assert.deepEqual(acks[0], { version: 5, error: '' });

    assert.equal(acks[1]!.version, 6);
    assert.equal(
      acks[1]!.error,
      `topology version 6 does not validate: 2 problems: sites[${cq}].capacity.trunks: Too small: ` +
        `expected number to be >=0; overflow[0].to[0]: unknown site "nowhere"`,
    );
    assert.equal(acks[2]!.version, 7);
    assert.match(acks[2]!.error, /^topology version 7 is not JSON: /);

    assert.deepEqual(offered, [5], 'only the valid version reached the fit check');
    assert.equal(link.topologyVersion, 5, 'the site keeps running the version it adopted');
    assert.deepEqual(link.topology, good);
    const saved = await readLinkMemory(db.pool);
    assert.equal(saved.topologyVersion, 5, 'nothing of the refused versions saved');
    assert.deepEqual(saved.topology, good);
  },
);
