import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Topology } from '../../shared/topology/schema.js';
import { loadTopology } from '../../shared/topology/validate.js';
import { loadSiteConfig } from '../config.js';
import { loadFlow } from '../ivr/load-flow.js';
import { topologyMisfits } from './topology-fit.js';

/** The example files an admin deploys (data, read as a site reads them). */
const example = (file: string): string =>
  fileURLToPath(new URL(`../../deploy/examples/${file}`, import.meta.url));

const topology: Topology = {
  version: 4,
  province: 'test',
  hubSite: 'cq',
  utcOffsetMinutes: 480,
  sites: [
    {
      id: 'cq',
      kind: 'full',
      city: 'Chongqing',
      endpoints: { cti: 'cq:1', sip: 'cq:2', sipTransport: 'udp' },
      capacity: { trunks: 10, agents: 4, ivrPorts: 4 },
      queues: ['retail', 'vip'],
    },
    {
      id: 'qj',
      kind: 'access',
      city: 'Qianjiang',
      endpoints: { sip: 'qj:2' },
      capacity: { trunks: 4, ivrPorts: 2 },
      center: 'cq',
      backupCenter: null,
    },
  ],
  overflow: [],
  cover: [],
};

test('a topology that offers only queues the ACD has fits, whatever else the ACD has', () => {
  assert.deepEqual(topologyMisfits(topology, { siteId: 'cq', queues: ['vip', 'retail', 'fx'] }), []);
});

test('a queue the topology offers at this site but its ACD lacks is named with the field', () => {
  assert.deepEqual(topologyMisfits(topology, { siteId: 'cq', queues: ['retail'] }), [
    'site cq offers queue vip in the topology, but its ACD has no such queue (it has retail)',
  ]);
});

test('a site with SIP fits when it listens on the transport the topology reaches it by', () => {
  assert.deepEqual(
    topologyMisfits(topology, { siteId: 'cq', queues: ['retail', 'vip'], sipListens: ['udp'] }),
    [],
  );
  const overTcp: Topology = structuredClone(topology);
  const cq = overTcp.sites[0]!;
  if (cq.kind === 'full') cq.endpoints.sipTransport = 'tcp';
  assert.deepEqual(
    topologyMisfits(overTcp, { siteId: 'cq', queues: ['retail', 'vip'], sipListens: ['udp', 'tcp'] }),
    [],
  );
  assert.deepEqual(topologyMisfits(overTcp, { siteId: 'cq', queues: ['retail'], sipListens: ['udp'] }), [
    'site cq offers queue vip in the topology, but its ACD has no such queue (it has retail)',
    'site cq is reached over tcp in the topology (endpoints.sipTransport), but its SIP listens only on udp (sip.listen)',
  ]);
  // A simulated site has no SIP: nothing to check.
  assert.deepEqual(topologyMisfits(overTcp, { siteId: 'cq', queues: ['retail', 'vip'] }), []);
});

test('a topology without this site, or that makes it an access gateway, does not fit', () => {
  assert.deepEqual(topologyMisfits(topology, { siteId: 'wz', queues: ['retail'] }), [
    'site wz is not in the topology',
  ]);
  assert.deepEqual(topologyMisfits(topology, { siteId: 'qj', queues: ['retail'] }), [
    'site qj is a site node with its own ACD, not an access gateway',
  ]);
});

test('every full site of the example province fits it: its example config, its ACD, its IVR flow', () => {
  const province = loadTopology(readFileSync(example('province.yaml'), 'utf8'));
  const full = province.sites.filter((s) => s.kind === 'full');
  assert.ok(full.length >= 3);
  for (const s of full) {
    const config = loadSiteConfig(example(`site-${s.id}.yaml`));
    assert.equal(config.siteId, s.id);
    assert.deepEqual(
      topologyMisfits(province, {
        siteId: s.id,
        queues: config.acd.queues.map((q) => q.id),
        ...(config.sip ? { sipListens: config.sip.listen.map((l) => l.transport) } : {}),
      }),
      [],
    );
    assert.doesNotThrow(() => loadFlow(config), `${s.id}'s flow routes only to its own queues`);
  }
});
