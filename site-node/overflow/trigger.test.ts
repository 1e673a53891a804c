import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { OverflowPolicy } from '../../shared/topology/schema.js';
import { overflowAsks, type QueueView, type WaitingCall } from './trigger.js';

const NOW = 1_000_000;

function policy(when: Partial<OverflowPolicy['when']>, extra: Partial<OverflowPolicy> = {}): OverflowPolicy {
  return {
    id: 'wz-busy',
    from: 'wanzhou',
    queues: ['retail'],
    to: ['chongqing', 'fuling'],
    when: {
      waitingOver: null,
      oldestWaitOverMs: null,
      serviceLevelBelow: null,
      noAgentsLoggedIn: false,
      afterHours: false,
      ...when,
    },
    excludePriorities: [10],
    maxHops: 1,
    ...extra,
  };
}

const call = (callId: string, waitedMs: number, extra: Partial<WaitingCall> = {}): WaitingCall => ({
  callId,
  priority: 5,
  enqueueMs: NOW - waitedMs,
  visitedSiteIds: ['wanzhou'],
  hops: 0,
  inFlight: false,
  lastAskEndedMs: null,
  ...extra,
});

function queue(waiting: WaitingCall[], extra: Partial<QueueView> = {}): QueueView {
  return { queueId: 'retail', waiting, agentsLoggedIn: 3, serviceLevel: 0.9, inHours: true, ...extra };
}

const asked = (p: OverflowPolicy, q: QueueView, reaskAfterMs?: number) =>
  overflowAsks('wanzhou', [p], [q], NOW, reaskAfterMs).map((a) => `${a.callId}:${a.trigger}`);

test('waitingOver asks the calls beyond the first N, in the queue order', () => {
  const q = queue([call('a', 50_000), call('b', 40_000), call('c', 30_000), call('d', 1_000)]);
  assert.deepEqual(asked(policy({ waitingOver: 2 }), q), ['c:waitingOver', 'd:waitingOver']);
  assert.deepEqual(asked(policy({ waitingOver: 4 }), q), []);
});

test('oldestWaitOverMs asks each call that has waited longer than the threshold', () => {
  const q = queue([call('a', 61_000), call('b', 60_000), call('c', 5_000)]);
  assert.deepEqual(asked(policy({ oldestWaitOverMs: 60_000 }), q), ['a:oldestWaitOverMs']);
});

test('service level, no agents logged in and after hours ask every waiting call', () => {
  const calls = [call('a', 1_000), call('b', 500)];
  assert.deepEqual(asked(policy({ serviceLevelBelow: 0.8 }), queue(calls, { serviceLevel: 0.7 })), [
    'a:serviceLevelBelow',
    'b:serviceLevelBelow',
  ]);
  assert.deepEqual(asked(policy({ serviceLevelBelow: 0.8 }), queue(calls, { serviceLevel: 0.8 })), []);
  assert.deepEqual(asked(policy({ serviceLevelBelow: 0.8 }), queue(calls, { serviceLevel: null })), []);
  assert.deepEqual(asked(policy({ noAgentsLoggedIn: true }), queue(calls, { agentsLoggedIn: 0 })), [
    'a:noAgentsLoggedIn',
    'b:noAgentsLoggedIn',
  ]);
  assert.deepEqual(asked(policy({ noAgentsLoggedIn: true }), queue(calls, { agentsLoggedIn: 1 })), []);
  assert.deepEqual(asked(policy({ afterHours: true }), queue(calls, { inHours: false })), [
    'a:afterHours',
    'b:afterHours',
  ]);
  assert.deepEqual(asked(policy({ afterHours: true }), queue(calls)), []);
  // A trigger that is off never fires, whatever the queue looks like.
  assert.deepEqual(
    asked(policy({ waitingOver: 5 }), queue(calls, { agentsLoggedIn: 0, inHours: false })),
    [],
  );
});

test('excluded priorities, moved calls and calls with a request in flight are never asked', () => {
  const q = queue([
    call('vip', 90_000, { priority: 10 }),
    call('came-in', 90_000, { hops: 1, visitedSiteIds: ['fuling', 'wanzhou'] }),
    call('busy', 90_000, { inFlight: true }),
    call('plain', 90_000),
  ]);
  assert.deepEqual(asked(policy({ waitingOver: 0 }), q), ['plain:waitingOver']);
  // With no exclusions the VIP call may go too.
  assert.deepEqual(asked(policy({ waitingOver: 0 }, { excludePriorities: [] }), q), [
    'vip:waitingOver',
    'plain:waitingOver',
  ]);
});

test('a call whose request ended at home is asked again only after reaskAfterMs', () => {
  const q = queue([call('a', 90_000, { lastAskEndedMs: NOW - 999 })]);
  assert.deepEqual(asked(policy({ waitingOver: 0 }), q, 1_000), []);
  const later = queue([call('a', 90_000, { lastAskEndedMs: NOW - 1_000 })]);
  assert.deepEqual(asked(policy({ waitingOver: 0 }), later, 1_000), ['a:waitingOver']);
});

test('the targets keep the preference order and never include a site the call has been at', () => {
  const p = policy({ waitingOver: 0 }, { to: ['fuling', 'chongqing'] });
  const targetsOf = (visited: string[]) =>
    overflowAsks('wanzhou', [p], [queue([call('a', 1, { visitedSiteIds: visited })])], NOW).map(
      (a) => a.targets,
    );
  assert.deepEqual(targetsOf(['wanzhou']), [['fuling', 'chongqing']]);
  assert.deepEqual(targetsOf(['fuling', 'wanzhou']), [['chongqing']]);
  assert.deepEqual(targetsOf(['fuling', 'chongqing', 'wanzhou']), []); // nowhere left: not asked
});

test("only this site's policies for the queue count", () => {
  const other = policy({ waitingOver: 0 }, { from: 'fuling' });
  assert.deepEqual(overflowAsks('wanzhou', [other], [queue([call('a', 1)])], NOW), []);
  const cards = queue([call('a', 1)], { queueId: 'credit-card' });
  assert.deepEqual(overflowAsks('wanzhou', [policy({ waitingOver: 0 })], [cards], NOW), []);
});
