/**
 * The relay core: what the hub does with each envelope, by sender and memory (relay-core.ts).
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { OverflowEnvelope, OverflowRequest } from '../../proto/gen/federation.js';
import { judgeEnvelope, RequestMemory, type RelayVerdict, type RememberedRequest } from './relay-core.js';

const T0 = 1_000_000;

function request(
  patch: Partial<OverflowRequest> = {},
  env: Partial<OverflowEnvelope> = {},
): OverflowEnvelope {
  return {
    fromSiteId: '',
    toSiteId: '',
    requestId: 'call-1#1',
    body: {
      $case: 'request',
      value: {
        callId: 'call-1',
        queueId: 'retail',
        priority: 0,
        waitedMs: 65_000,
        visitedSiteIds: ['wanzhou'],
        policyId: 'wanzhou-busy',
        coverEntryId: '',
        hops: 0,
        ani: '13800000000',
        dnis: '95588',
        customerId: '',
        customerHomeSiteId: '',
        ivrPath: [],
        attached: {},
        callAgeMs: 70_000,
        ...patch,
      },
    },
    ...env,
  };
}

const msg = (
  body: NonNullable<OverflowEnvelope['body']>,
  toSiteId: string,
  extra: Partial<OverflowEnvelope> = {},
): OverflowEnvelope => ({ fromSiteId: '', toSiteId, requestId: 'call-1#1', body, ...extra });
const accept = (to = 'wanzhou') => msg({ $case: 'accept', value: { token: 'tok', holdMs: 3000 } }, to);
const commit = (to = 'chongqing') => msg({ $case: 'commit', value: { token: 'tok' } }, to);
const cancel = (to = '') => msg({ $case: 'cancel', value: { token: '' } }, to);

/** A memory holding call-1#1: wanzhou asked, routed to chongqing. */
function routed(patch: Partial<RememberedRequest> = {}): RequestMemory {
  const m = new RequestMemory();
  m.remember('call-1#1', {
    originSiteId: 'wanzhou',
    targetSiteId: 'chongqing',
    refusal: null,
    rule: { kind: 'overflow', id: 'wanzhou-busy' },
    atMs: T0,
    ...patch,
  });
  return m;
}

function refusal(v: RelayVerdict) {
  assert.equal(v.kind, 'refuse', JSON.stringify(v));
  return v as Extract<RelayVerdict, { kind: 'refuse' }>;
}

describe('requests', () => {
  test('a new request is to be routed: the routing request as hub/routing reads it, stamped with the sender', () => {
    const v = judgeEnvelope(new RequestMemory(), 'wanzhou', request({}, { fromSiteId: 'fuling' }), T0);
    assert.equal(v.kind, 'route');
    if (v.kind !== 'route') return;
    assert.deepEqual(v.route, {
      kind: 'overflow',
      request: {
        originSiteId: 'wanzhou',
        callId: 'call-1',
        queueId: 'retail',
        priority: 0,
        waitedMs: 65_000,
        remainingPatienceMs: null,
        visitedSiteIds: ['wanzhou'],
        policyId: 'wanzhou-busy',
      },
    });
    assert.equal(v.envelope.fromSiteId, 'wanzhou', 'what the site put in fromSiteId is ignored');
    const c = judgeEnvelope(
      new RequestMemory(),
      'wanzhou',
      request({ policyId: '', coverEntryId: 'night', remainingPatienceMs: 9000 }),
      T0,
    );
    assert.equal(c.kind === 'route' && c.route.kind, 'cover');
    assert.equal(c.kind === 'route' && c.route.request.remainingPatienceMs, 9000);
  });

  test('malformed requests are refused whole, logged and answered by the hub', () => {
    const cases: [OverflowEnvelope, string, RegExp][] = [
      [request({ callId: 'call-2' }), 'overflow.requestId', /call id "call-2"/],
      [request({}, { requestId: 'call-1' }), 'overflow.requestId', /<callId>#<attempt>/],
      [request({}, { toSiteId: 'chongqing' }), 'overflow.toSiteId', /must be empty/],
      [request({ coverEntryId: 'night' }), 'overflow.request.policyId', /exactly one/],
      [request({ policyId: '' }), 'overflow.request.policyId', /exactly one/],
      [request({}, { toSiteId: 'wanzhou' }), 'overflow.toSiteId', /names itself/],
    ];
    for (const [env, field, reason] of cases) {
      const r = refusal(judgeEnvelope(new RequestMemory(), 'wanzhou', env, T0));
      assert.equal(r.error.kind, 'invalid-argument');
      assert.equal(r.error.field, field);
      assert.match(r.error.reason, reason);
      assert.equal(r.answer?.body?.$case, 'refuse');
      const body = r.answer!.body!.value as { reason: string; byHub: boolean };
      assert.equal(body.byHub, true);
      assert.match(body.reason, /^invalid-argument: /);
    }
  });

  test('a repeated request goes where the first went, or gets the same refusal; another site cannot reuse its id', () => {
    assert.deepEqual(judgeEnvelope(routed(), 'wanzhou', request(), T0 + 10), {
      kind: 'relay',
      to: 'chongqing',
      envelope: { ...request(), fromSiteId: 'wanzhou', toSiteId: 'chongqing' },
    });
    const no = routed({ targetSiteId: null, refusal: 'max-hops' });
    const a = judgeEnvelope(no, 'wanzhou', request(), T0 + 10);
    assert.equal(a.kind, 'answer');
    assert.deepEqual(a.kind === 'answer' && a.envelope.body, {
      $case: 'refuse',
      value: { reason: 'max-hops', token: '', byHub: true },
    });
    const r = refusal(judgeEnvelope(routed(), 'fuling', request(), T0 + 10));
    assert.equal(r.error.kind, 'permission-denied');
    assert.match(r.error.reason, /already asked by wanzhou/);
  });
});

describe('the rest of the protocol', () => {
  test('relayed to the other party with fromSiteId stamped from the link, both ways', () => {
    const m = routed();
    const a = judgeEnvelope(m, 'chongqing', { ...accept(), fromSiteId: 'fuling' }, T0 + 1);
    assert.deepEqual(a, { kind: 'relay', to: 'wanzhou', envelope: { ...accept(), fromSiteId: 'chongqing' } });
    for (const body of [
      { $case: 'commit', value: { token: 'tok' } },
      { $case: 'callerLeft', value: { token: 'tok' } },
    ] as const) {
      const v = judgeEnvelope(m, 'wanzhou', msg(body, 'chongqing'), T0 + 2);
      assert.equal(v.kind === 'relay' && `${v.to} ${v.envelope.fromSiteId}`, 'chongqing wanzhou');
    }
    for (const body of [
      { $case: 'commitAck', value: { token: 'tok' } },
      { $case: 'refuse', value: { reason: 'no agent', token: '', byHub: false } },
    ] as const) {
      const v = judgeEnvelope(m, 'chongqing', msg(body, 'wanzhou'), T0 + 3);
      assert.equal(v.kind === 'relay' && `${v.to} ${v.envelope.fromSiteId}`, 'wanzhou chongqing');
    }
  });

  test("a target's refuse is relayed as the target's: it cannot pass for the hub's", () => {
    const forged = msg(
      { $case: 'refuse', value: { reason: 'no-eligible-site', token: '', byHub: true } },
      'wanzhou',
    );
    const v = judgeEnvelope(routed(), 'chongqing', forged, T0 + 1);
    assert.deepEqual(v.kind === 'relay' && v.envelope.body, {
      $case: 'refuse',
      value: { reason: 'no-eligible-site', token: '', byHub: false },
    });
  });

  test('a cancel with no toSiteId goes where the request went', () => {
    const v = judgeEnvelope(routed(), 'wanzhou', cancel(), T0 + 1);
    assert.deepEqual(v, {
      kind: 'relay',
      to: 'chongqing',
      envelope: { ...cancel(), fromSiteId: 'wanzhou', toSiteId: 'chongqing' },
    });
  });

  test('a site that is not a party is refused (not answered), whatever it names', () => {
    for (const env of [commit(), commit('wanzhou'), accept()]) {
      const r = refusal(judgeEnvelope(routed(), 'fuling', env, T0 + 1));
      assert.equal(r.error.kind, 'permission-denied');
      assert.match(
        r.error.reason,
        /site fuling is not a party of it \(it is between wanzhou and chongqing\)/,
      );
      assert.equal(r.answer, null);
    }
  });

  test('the wrong party, a third site named, a missing toSiteId, or the sender itself: refused', () => {
    const m = routed();
    const wrongParty = refusal(judgeEnvelope(m, 'wanzhou', accept('chongqing'), T0));
    assert.match(wrongParty.error.reason, /sent by wanzhou, its origin; only the target sends it/);
    const third = refusal(judgeEnvelope(m, 'wanzhou', commit('fuling'), T0));
    assert.equal(third.error.field, 'overflow.toSiteId');
    assert.match(third.error.reason, /names fuling, but the request is between wanzhou and chongqing/);
    const missing = refusal(judgeEnvelope(m, 'chongqing', accept(''), T0));
    assert.equal(missing.error.kind, 'invalid-argument');
    assert.match(missing.error.reason, /only a cancel may leave it empty/);
    const self = refusal(judgeEnvelope(m, 'chongqing', accept('chongqing'), T0));
    assert.match(self.error.reason, /names itself/);
    const empty = refusal(judgeEnvelope(m, 'wanzhou', { ...commit(), body: undefined }, T0));
    assert.equal(empty.error.field, 'overflow.body');
  });

  test('unremembered (the hub restarted): relayed by toSiteId; without one refused, a cancel dropped', () => {
    const m = new RequestMemory();
    assert.deepEqual(judgeEnvelope(m, 'wanzhou', commit(), T0), {
      kind: 'relay',
      to: 'chongqing',
      envelope: { ...commit(), fromSiteId: 'wanzhou' },
    });
    assert.match(refusal(judgeEnvelope(m, 'wanzhou', commit(''), T0)).error.reason, /toSiteId is required/);
    assert.equal(judgeEnvelope(m, 'wanzhou', cancel(), T0).kind, 'drop');
  });

  test('after a refused request, later messages of it go nowhere', () => {
    const m = routed({ targetSiteId: null, refusal: 'no-eligible-site' });
    assert.equal(judgeEnvelope(m, 'wanzhou', cancel(), T0).kind, 'drop');
    assert.equal(refusal(judgeEnvelope(m, 'chongqing', accept(), T0)).error.kind, 'permission-denied');
  });
});

describe('the memory is bounded', () => {
  const entry = (atMs: number): RememberedRequest => ({
    originSiteId: 'wanzhou',
    targetSiteId: 'chongqing',
    refusal: null,
    rule: { kind: 'overflow', id: 'p' },
    atMs,
  });

  test('in time: a request is forgotten ttlMs after it was decided', () => {
    const m = new RequestMemory(1000, 10);
    m.remember('a#1', entry(T0));
    assert.ok(m.get('a#1', T0 + 999));
    assert.equal(m.get('a#1', T0 + 1000), undefined);
    assert.equal(m.size, 0);
  });

  test('in size: the oldest are forgotten first', () => {
    const m = new RequestMemory(60_000, 3);
    for (let i = 1; i <= 5; i++) m.remember(`c${i}#1`, entry(T0 + i));
    assert.equal(m.size, 3);
    assert.equal(m.get('c2#1', T0 + 6), undefined);
    assert.ok(m.get('c3#1', T0 + 6) && m.get('c5#1', T0 + 6));
  });
});
