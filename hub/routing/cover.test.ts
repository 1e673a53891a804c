import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { routeCover, type CoverInput } from './cover.js';
import type { StartedCover } from './cover-windows.js';
import type { SiteLiveView } from './site-view.js';
import { allReady, coverRequest, province, queue, upSite, NOW } from './testing.js';

/** Wednesday 23:00 in the province (UTC+8): inside night-wanzhou's window. */
const NIGHT = Date.UTC(2025, 10, 12, 15, 0);
const none = new Map<string, StartedCover>();

function route(patch: Partial<CoverInput> = {}) {
  return routeCover({
    request: coverRequest(),
    topology: province(),
    sites: allReady(),
    started: none,
    nowMs: NIGHT,
    ...patch,
  });
}

/** All ready as of NIGHT. */
function nightSites(over: Record<string, SiteLiveView> = {}): Map<string, SiteLiveView> {
  const m = new Map<string, SiteLiveView>();
  for (const [id, v] of allReady()) {
    m.set(id, { ...v, snapshot: { ...v.snapshot!, receivedAtMs: NIGHT - 100, atMs: NIGHT - 100 } });
  }
  for (const [id, v] of Object.entries(over)) m.set(id, v);
  return m;
}
const shift = (v: SiteLiveView): SiteLiveView => ({
  ...v,
  snapshot: v.snapshot && { ...v.snapshot, receivedAtMs: v.snapshot.receivedAtMs + (NIGHT - NOW) },
});

describe('routeCover', () => {
  test('inside its window the covering site is the target, with the state it was chosen on', () => {
    const d = route({ sites: nightSites() });
    assert.equal(d.kind, 'cover');
    assert.equal(d.target, 'chongqing');
    assert.equal(d.ruleId, 'night-wanzhou');
    assert.equal(d.targetState!.ageMs, 100);
    assert.deepEqual(
      d.candidates.map((c) => [c.siteId, c.outcome, c.agentReady]),
      [['chongqing', 'taken', null]],
    );
  });

  test('the covering site need not offer the queue nor show a ready agent: it decides on its own agents', () => {
    const d = route({
      sites: nightSites({ chongqing: shift(upSite([queue('vip', { agentsReady: 0, agentsServing: 0 })])) }),
    });
    assert.equal(d.target, 'chongqing');
  });

  test('outside its window: no target, cover-not-active', () => {
    const d = route({ sites: nightSites(), nowMs: NOW });
    assert.equal(d.target, null);
    assert.equal(d.noTarget!.reason, 'cover-not-active');
    assert.match(
      d.noTarget!.why,
      /outside its window \(mon,tue,wed,thu,fri 22:00-08:00, UTC offset 480 min\)/,
    );
  });

  test("active entries given by the caller decide over the clock (the hub's cover schedule)", () => {
    assert.equal(route({ sites: nightSites() }).target, 'chongqing', 'inside its window');
    const off = route({ sites: nightSites(), activeEntryIds: [] });
    assert.equal(off.noTarget!.reason, 'cover-not-active');
    const req = coverRequest({ coverEntryId: 'fuling-helps', queueId: 'credit-card' });
    assert.equal(
      route({ request: req, sites: nightSites(), activeEntryIds: ['fuling-helps'] }).target,
      'fuling',
    );
  });

  test('an on-demand entry: not started, then started', () => {
    const req = coverRequest({ coverEntryId: 'fuling-helps', queueId: 'credit-card' });
    assert.equal(route({ request: req, sites: nightSites() }).noTarget!.reason, 'cover-not-active');
    const d = route({
      request: req,
      sites: nightSites(),
      started: new Map([['fuling-helps', { untilMs: null }]]),
    });
    assert.equal(d.target, 'fuling');
  });

  for (const [name, view, reason] of [
    ['drained', { drained: true }, 'drained'],
    ['suspect', { link: 'suspect' }, 'link-not-up'],
    ['down', { link: 'down' }, 'link-not-up'],
    ['contract-1', { overflow: false }, 'no-overflow-capability'],
  ] as const) {
    test(`a ${name} covering site gets nothing (${reason})`, () => {
      const base = nightSites().get('chongqing')!;
      const d = route({ sites: nightSites({ chongqing: { ...base, ...view } }) });
      assert.equal(d.target, null);
      assert.equal(d.noTarget!.reason, 'no-eligible-site');
      assert.equal(d.candidates[0]!.reason, reason);
    });
  }

  test('stale state: past the bound, or never reported', () => {
    const old = shift(upSite([queue('retail')], 1001));
    assert.equal(route({ sites: nightSites({ chongqing: old }) }).candidates[0]!.reason, 'stale-state');
    const sites = nightSites();
    sites.delete('chongqing');
    assert.equal(route({ sites }).candidates[0]!.reason, 'link-not-up');
  });

  test('a call that has moved already gets no target (max-hops), whichever site it was at', () => {
    const moved = route({ sites: nightSites(), request: coverRequest({ visitedSiteIds: ['fuling'] }) });
    assert.equal(moved.noTarget!.reason, 'max-hops');
    const back = route({ sites: nightSites(), request: coverRequest({ visitedSiteIds: ['chongqing'] }) });
    assert.equal(back.noTarget!.reason, 'max-hops');
  });

  test('bad requests are refused whole, naming the field', () => {
    const refused = (patch: Parameters<typeof coverRequest>[0], field: string, message: RegExp) =>
      assert.throws(
        () => route({ request: coverRequest(patch) }),
        (e) => {
          assert.ok(isDomainError(e, 'invalid-argument'), String(e));
          assert.equal(e.field, field);
          assert.match(e.message, message);
          return true;
        },
      );
    refused({ coverEntryId: 'nope' }, 'request.coverEntryId', /no cover entry "nope"/);
    refused({ originSiteId: 'fuling' }, 'request.originSiteId', /serves "wanzhou", not "fuling"/);
    refused({ queueId: 'vip' }, 'request.queueId', /does not serve queue "vip" \(it serves retail\)/);
  });
});
