import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import type { Topology } from '../../shared/topology/schema.js';
import { routeOverflow, type OverflowInput } from './overflow.js';
import type { SiteLiveView } from './site-view.js';
import { NOW, allReady, overflowRequest, province, queue, upSite } from './testing.js';

function route(patch: Partial<OverflowInput> = {}) {
  return routeOverflow({
    request: overflowRequest(),
    topology: province(),
    sites: allReady(),
    nowMs: NOW,
    ...patch,
  });
}

/** All ready, with some sites replaced. */
function sitesWith(over: Record<string, SiteLiveView>): Map<string, SiteLiveView> {
  const m = allReady();
  for (const [id, v] of Object.entries(over)) m.set(id, v);
  return m;
}

const verdict = (d: ReturnType<typeof route>, siteId: string) =>
  d.candidates.find((c) => c.siteId === siteId)!;

function refused(f: () => unknown, field: string, message: RegExp): void {
  assert.throws(f, (e) => {
    assert.ok(isDomainError(e, 'invalid-argument'), String(e));
    assert.equal(e.field, field);
    assert.match(e.message, message);
    return true;
  });
}

describe('routeOverflow: the preferred site when it can take the call', () => {
  test('everyone ready: the first of `to` is taken, the others ranked in order, with the state used', () => {
    const d = route();
    assert.equal(d.target, 'chongqing');
    assert.equal(d.noTarget, null);
    assert.deepEqual(
      d.candidates.map((c) => [c.siteId, c.outcome, c.rank]),
      [
        ['chongqing', 'taken', 1],
        ['fuling', 'eligible', 2],
        ['yubei', 'eligible', 3],
      ],
    );
    assert.deepEqual(d.targetState, { link: 'up', drained: false, ageMs: 100, snapshotAtMs: NOW - 107 });
    assert.equal(d.maxSnapshotAgeMs, 1000);
    assert.equal(d.decidedAtMs, NOW);
    assert.equal(d.ruleId, 'wanzhou-retail');
  });

  test('ties (all ready, or all without a ready agent) are broken by preference order alone', () => {
    const notReady = (age: number, ewt: number) =>
      upSite([queue('retail', { agentsReady: 0, agentsServing: 3, expectedWaitMs: ewt })], age);
    // fuling's state is fresher and its wait shorter: the order still decides.
    const d = route({
      sites: sitesWith({
        chongqing: notReady(900, 20_000),
        fuling: notReady(10, 1_000),
        yubei: notReady(10, 1_000),
      }),
    });
    assert.equal(d.target, 'chongqing');
    assert.deepEqual(
      d.candidates.map((c) => c.rank),
      [1, 2, 3],
    );
  });
});

describe('routeOverflow: ranking', () => {
  test('an earlier site with no ready agent ranks after a later one with a ready agent', () => {
    const d = route({
      sites: sitesWith({
        chongqing: upSite([queue('retail', { agentsReady: 0, agentsServing: 4, expectedWaitMs: 5_000 })]),
      }),
    });
    assert.equal(d.target, 'fuling');
    assert.deepEqual(
      d.candidates.map((c) => [c.siteId, c.outcome, c.rank, c.agentReady]),
      [
        ['chongqing', 'eligible', 3, false],
        ['fuling', 'taken', 1, true],
        ['yubei', 'eligible', 2, true],
      ],
    );
  });

  test('with nobody ready, the preferred site whose wait fits the patience is taken', () => {
    const busy = upSite([queue('retail', { agentsReady: 0, agentsServing: 4, expectedWaitMs: 10_000 })]);
    const d = route({ sites: sitesWith({ chongqing: busy, fuling: busy, yubei: busy }) });
    assert.equal(d.target, 'chongqing');
    assert.equal(verdict(d, 'chongqing').agentReady, false);
  });
});

describe('routeOverflow: every skip reason', () => {
  test('drained: a drained site gets nothing, however ready', () => {
    const d = route({ sites: sitesWith({ chongqing: upSite([queue('retail')], 100, { drained: true }) }) });
    assert.equal(d.target, 'fuling');
    assert.equal(verdict(d, 'chongqing').reason, 'drained');
    assert.equal(verdict(d, 'chongqing').state.drained, true);
  });

  for (const link of ['suspect', 'down', 'never'] as const) {
    test(`link-not-up: a ${link} link is skipped`, () => {
      const d = route({ sites: sitesWith({ chongqing: upSite([queue('retail')], 100, { link }) }) });
      assert.equal(d.target, 'fuling');
      assert.equal(verdict(d, 'chongqing').reason, 'link-not-up');
      assert.match(verdict(d, 'chongqing').why, new RegExp(`link is ${link}`));
    });
  }

  test('link-not-up: a site the hub has no view of at all', () => {
    const sites = allReady();
    sites.delete('chongqing');
    const d = route({ sites });
    assert.equal(verdict(d, 'chongqing').reason, 'link-not-up');
    assert.equal(d.target, 'fuling');
  });

  test('stale-state: the bound is inclusive; one ms past it is stale, with the age recorded', () => {
    const at = (age: number) => route({ sites: sitesWith({ chongqing: upSite([queue('retail')], age) }) });
    assert.equal(at(1000).target, 'chongqing');
    const d = at(1001);
    assert.equal(d.target, 'fuling');
    assert.equal(verdict(d, 'chongqing').reason, 'stale-state');
    assert.equal(verdict(d, 'chongqing').state.ageMs, 1001);
    assert.match(verdict(d, 'chongqing').why, /1001 ms old \(bound 1000 ms\)/);
  });

  test('stale-state: the bound comes from the options', () => {
    const sites = sitesWith({ chongqing: upSite([queue('retail')], 300) });
    assert.equal(route({ sites, options: { maxSnapshotAgeMs: 250 } }).target, 'fuling');
    assert.equal(route({ sites, options: { maxSnapshotAgeMs: 300 } }).target, 'chongqing');
  });

  test('stale-state: no snapshot yet, or one received after now (the clock stepped back)', () => {
    const none = route({
      sites: sitesWith({ chongqing: { link: 'up', drained: false, overflow: true, snapshot: null } }),
    });
    assert.equal(verdict(none, 'chongqing').reason, 'stale-state');
    assert.equal(verdict(none, 'chongqing').state.ageMs, null);
    const future = route({ sites: sitesWith({ chongqing: upSite([queue('retail')], -5) }) });
    assert.equal(verdict(future, 'chongqing').reason, 'stale-state');
    assert.match(verdict(future, 'chongqing').why, /stepped back/);
  });

  test("stale-state: the age is the hub's, not the site's clock", () => {
    // The site's clock is an hour behind; the hub received the snapshot 100 ms ago.
    const v = upSite([queue('retail')], 100);
    const skewed: SiteLiveView = { ...v, snapshot: { ...v.snapshot!, atMs: NOW - 3_600_000 } };
    const d = route({ sites: sitesWith({ chongqing: skewed }) });
    assert.equal(d.target, 'chongqing');
    assert.equal(d.targetState!.ageMs, 100);
    assert.equal(d.targetState!.snapshotAtMs, NOW - 3_600_000);
  });

  test('does-not-offer-queue: by the topology, or by a snapshot without the queue', () => {
    const t: Topology = province();
    const yubei = t.sites.find((s) => s.id === 'yubei')!;
    if (yubei.kind === 'full') yubei.queues = ['vip'];
    const d = route({
      topology: t,
      sites: sitesWith({ chongqing: upSite([queue('vip')]) }),
    });
    assert.equal(verdict(d, 'chongqing').reason, 'does-not-offer-queue');
    assert.match(verdict(d, 'chongqing').why, /snapshot has no queue "retail"/);
    assert.equal(verdict(d, 'yubei').reason, 'does-not-offer-queue');
    assert.match(verdict(d, 'yubei').why, /topology/);
    assert.equal(d.target, 'fuling');
  });

  test('no-capacity: nobody ready and the expected wait is beyond the remaining patience', () => {
    const slow = upSite([queue('retail', { agentsReady: 0, agentsServing: 2, expectedWaitMs: 30_001 })]);
    const d = route({ sites: sitesWith({ chongqing: slow }) });
    assert.equal(verdict(d, 'chongqing').reason, 'no-capacity');
    assert.match(verdict(d, 'chongqing').why, /30001 ms beyond .* 30000 ms/);
    // Exactly the patience fits; an unknown patience never rules a site out on its wait.
    const fits = upSite([queue('retail', { agentsReady: 0, agentsServing: 2, expectedWaitMs: 30_000 })]);
    const sites = sitesWith({ chongqing: fits, fuling: slow, yubei: slow });
    assert.equal(route({ sites }).target, 'chongqing');
    const unknown = route({
      request: overflowRequest({ remainingPatienceMs: null }),
      sites: sitesWith({ chongqing: slow }),
    });
    assert.equal(verdict(unknown, 'chongqing').outcome, 'eligible');
  });

  test('no-capacity: nobody ready and no expected wait (null = unknown), whatever the patience', () => {
    const unknownWait = upSite([queue('retail', { agentsReady: 0, agentsServing: 2, expectedWaitMs: null })]);
    for (const remainingPatienceMs of [null, 600_000]) {
      const d = route({
        request: overflowRequest({ remainingPatienceMs }),
        sites: sitesWith({ chongqing: unknownWait }),
      });
      assert.equal(verdict(d, 'chongqing').reason, 'no-capacity');
      assert.match(verdict(d, 'chongqing').why, /no expected wait/);
      assert.equal(d.target, 'fuling');
    }
    // A ready agent is enough: the estimate is not read then.
    const ready = upSite([queue('retail', { agentsReady: 1, agentsServing: 0, expectedWaitMs: null })]);
    assert.equal(route({ sites: sitesWith({ chongqing: ready }) }).target, 'chongqing');
  });

  test('no-overflow-capability: a site that did not announce overflow is never a target', () => {
    const old = upSite([queue('retail')], 100, { overflow: false });
    const d = route({ sites: sitesWith({ chongqing: old }) });
    assert.equal(verdict(d, 'chongqing').reason, 'no-overflow-capability');
    assert.match(verdict(d, 'chongqing').why, /overflow capability/);
    assert.equal(d.target, 'fuling');
    // After the link and drain checks: a down contract-1 site is reported as down.
    const down = upSite([queue('retail')], 100, { overflow: false, link: 'down' });
    assert.equal(
      verdict(route({ sites: sitesWith({ chongqing: down }) }), 'chongqing').reason,
      'link-not-up',
    );
  });

  test('no-capacity: nobody ready or serving (the wire says 0 ms, meaning unknown)', () => {
    const empty = upSite([queue('retail', { agentsReady: 0, agentsServing: 0, expectedWaitMs: 0 })]);
    const d = route({
      request: overflowRequest({ remainingPatienceMs: null }),
      sites: sitesWith({ chongqing: empty }),
    });
    assert.equal(verdict(d, 'chongqing').reason, 'no-capacity');
    assert.equal(d.target, 'fuling');
  });

  test('is-origin and already-visited: the origin listed as a target, and a site the call was at', () => {
    // The schema forbids both today (`to` never names `from`; maxHops is 1); the core does
    // not rely on it: a policy allowing two hops and listing its own origin.
    const t = province();
    const p = t.overflow.find((x) => x.id === 'wanzhou-retail')!;
    p.to = ['wanzhou', 'chongqing', 'fuling'];
    (p as { maxHops: number }).maxHops = 2;
    const d = route({ topology: t, request: overflowRequest({ visitedSiteIds: ['chongqing', 'wanzhou'] }) });
    assert.deepEqual(
      d.candidates.map((c) => [c.siteId, c.reason]),
      [
        ['wanzhou', 'is-origin'],
        ['chongqing', 'already-visited'],
        ['fuling', null],
      ],
    );
    assert.equal(d.target, 'fuling');
  });

  test('the order of checks: a drained, down, stale site is reported as drained', () => {
    const v: SiteLiveView = { link: 'down', drained: true, overflow: false, snapshot: null };
    const d = route({ sites: sitesWith({ chongqing: v }) });
    assert.equal(verdict(d, 'chongqing').reason, 'drained');
  });

  test('no eligible site: no target, and why lists each skip', () => {
    const d = route({
      sites: sitesWith({
        chongqing: upSite([queue('retail')], 100, { drained: true }),
        fuling: upSite([queue('retail')], 100, { link: 'down' }),
        yubei: upSite([queue('retail')], 5000),
      }),
    });
    assert.equal(d.target, null);
    assert.equal(d.targetState, null);
    assert.equal(d.noTarget!.reason, 'no-eligible-site');
    assert.match(d.noTarget!.why, /chongqing drained, fuling link-not-up, yubei stale-state/);
  });
});

describe('routeOverflow: hops', () => {
  test('a call that has moved once gets no target (max-hops)', () => {
    const d = route({
      request: overflowRequest({
        originSiteId: 'fuling',
        policyId: 'fuling-card',
        queueId: 'credit-card',
        visitedSiteIds: ['chongqing'],
      }),
    });
    assert.equal(d.target, null);
    assert.equal(d.noTarget!.reason, 'max-hops');
    assert.deepEqual(d.candidates, []);
  });

  test('the origin in its own visited list is not a move', () => {
    const d = route({ request: overflowRequest({ visitedSiteIds: ['wanzhou', 'wanzhou'] }) });
    assert.equal(d.target, 'chongqing');
  });
});

describe('routeOverflow: bad requests are refused whole, naming the field', () => {
  test('an unknown policy', () => {
    refused(
      () => route({ request: overflowRequest({ policyId: 'nope' }) }),
      'request.policyId',
      /no overflow policy "nope" in topology version 7/,
    );
  });
  test('a policy of another site', () => {
    refused(
      () => route({ request: overflowRequest({ originSiteId: 'fuling' }) }),
      'request.originSiteId',
      /overflows from "wanzhou", not from "fuling"/,
    );
  });
  test('a queue the policy does not cover', () => {
    refused(
      () => route({ request: overflowRequest({ queueId: 'vip' }) }),
      'request.queueId',
      /does not cover queue "vip" \(it covers retail\)/,
    );
  });
  test('the call fields, the time and the options, every problem at once', () => {
    assert.throws(
      () =>
        route({
          request: overflowRequest({
            callId: '',
            waitedMs: -1,
            remainingPatienceMs: Number.NaN,
            priority: 1.5,
          }),
          nowMs: Number.NaN,
          options: { maxSnapshotAgeMs: -3 },
        }),
      (e) => {
        assert.ok(isDomainError(e, 'invalid-argument'));
        assert.equal(e.field, 'request.callId');
        assert.deepEqual(
          e.problems!.map((p) => p.slice(0, p.indexOf(':'))),
          [
            'request.callId',
            'request.priority',
            'request.waitedMs',
            'request.remainingPatienceMs',
            'nowMs',
            'options.maxSnapshotAgeMs',
          ],
        );
        return true;
      },
    );
  });
  test('a refused request changes nothing it was given', () => {
    const t = province();
    const sites = allReady();
    const before = JSON.stringify([t, [...sites]]);
    assert.throws(() => route({ topology: t, sites, request: overflowRequest({ queueId: 'vip' }) }));
    route({ topology: t, sites });
    assert.equal(JSON.stringify([t, [...sites]]), before);
  });
});
