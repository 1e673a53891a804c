import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { OverflowPolicy } from '../../shared/topology/schema.js';
import { DEFAULT_CLOSED_OVERFLOW_WAIT_MS, closedOverflowWaits } from './closed-wait.js';

const policy = (over: Partial<OverflowPolicy> & { afterHours?: boolean }): OverflowPolicy => ({
  id: 'p',
  from: 'wanzhou',
  queues: ['retail'],
  to: ['chongqing'],
  when: {
    waitingOver: null,
    oldestWaitOverMs: null,
    serviceLevelBelow: null,
    noAgentsLoggedIn: false,
    afterHours: over.afterHours ?? false,
  },
  excludePriorities: [10],
  maxHops: 1,
  ...over,
});

const queues = [
  { queueId: 'retail', configuredMs: null },
  { queueId: 'vip', configuredMs: null },
];

describe('closedOverflowWaits', () => {
  test('a queue under an afterHours policy from this site waits the default', () => {
    const m = closedOverflowWaits('wanzhou', [policy({ afterHours: true })], queues);
    assert.equal(m.get('retail'), DEFAULT_CLOSED_OVERFLOW_WAIT_MS);
    assert.equal(m.get('vip'), null);
  });

  test("the site config's own value wins", () => {
    const m = closedOverflowWaits(
      'wanzhou',
      [policy({ afterHours: true })],
      [{ queueId: 'retail', configuredMs: 4_000 }],
    );
    assert.equal(m.get('retail'), 4_000);
  });

  test("another site's policy, or one without afterHours, leaves the configured value", () => {
    assert.equal(
      closedOverflowWaits('wanzhou', [policy({ afterHours: true, from: 'fuling' })], queues).get('retail'),
      null,
    );
    assert.equal(closedOverflowWaits('wanzhou', [policy({})], queues).get('retail'), null);
    assert.equal(
      closedOverflowWaits('wanzhou', [], [{ queueId: 'retail', configuredMs: 3_000 }]).get('retail'),
      3_000,
    );
  });
});
