import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { exampleSiteConfig, PROVINCE_TOPOLOGY } from '../../hub/demo/layout.js';
import type { Topology } from '../../hub/topology/schema.js';
import { loadTopology } from '../../hub/topology/validate.js';
import { loadSiteConfig } from '../config.js';
import { loadFlow } from '../ivr/load-flow.js';
import { topologyMisfits } from './topology-fit.js';

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
      endpoints: { cti: 'cq:1', sip: 'cq:2' },
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

test('a topology without this site, or that makes it an access gateway, does not fit', () => {
  assert.deepEqual(topologyMisfits(topology, { siteId: 'wz', queues: ['retail'] }), [
    'site wz is not in the topology',
  ]);
  assert.deepEqual(topologyMisfits(topology, { siteId: 'qj', queues: ['retail'] }), [
    'site qj is a site node with its own ACD, not an access gateway',
  ]);
});

test('every full site of the example province fits it: its example config, its ACD, its IVR flow', () => {
  const example = loadTopology(readFileSync(PROVINCE_TOPOLOGY, 'utf8'));
  const full = example.sites.filter((s) => s.kind === 'full');
  assert.ok(full.length >= 3);
  for (const s of full) {
    const config = loadSiteConfig(exampleSiteConfig(s.id));
    assert.equal(config.siteId, s.id);
    assert.deepEqual(
      topologyMisfits(example, { siteId: s.id, queues: config.acd.queues.map((q) => q.id) }),
      [],
    );
    assert.doesNotThrow(() => loadFlow(config), `${s.id}'s flow routes only to its own queues`);
  }
});
