/**
 * The overflow messages and the proto's OverflowEnvelope map one to one (wire.ts): every kind
 * survives the round trip unchanged, absent values travel as the proto's defaults, and a bad
 * envelope is refused naming its field.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { OverflowMessage, RequestMessage } from './messages.js';
import { fromEnvelope, toEnvelope } from './wire.js';

const addr = { requestId: 'c1#1', fromSiteId: 'wanzhou', toSiteId: 'chongqing' };

const request: RequestMessage = {
  kind: 'request',
  requestId: 'c1#1',
  fromSiteId: 'wanzhou',
  toSiteId: null,
  callId: 'c1',
  queueId: 'retail',
  priority: 5,
  waitedMs: 41_000,
  remainingPatienceMs: null,
  visitedSiteIds: ['wanzhou'],
  policyId: 'wanzhou-retail',
  coverEntryId: null,
  hops: 0,
  ani: '+8613800000000',
  dnis: '95588',
  customerId: 'k1',
  customerHomeSiteId: 'chongqing',
  ivrPath: ['main', 'cards'],
  attached: { intent: 'lost-card' },
  callAgeMs: 45_000,
};

const every: OverflowMessage[] = [
  request,
  { ...request, remainingPatienceMs: 30_000, policyId: null, coverEntryId: 'night-cover' },
  { kind: 'accept', ...addr, token: 't1', holdMs: 3000 },
  { kind: 'refuse', ...addr, token: null, reason: 'no agent', byHub: false },
  { kind: 'refuse', ...addr, toSiteId: 'wanzhou', token: 't1', reason: 'reservation expired', byHub: false },
  { kind: 'refuse', ...addr, fromSiteId: '', token: null, reason: 'no eligible site', byHub: true },
  { kind: 'commit', ...addr, token: 't1' },
  { kind: 'commit-ack', ...addr, token: 't1' },
  { kind: 'cancel', ...addr, toSiteId: null, token: null },
  { kind: 'cancel', ...addr, token: 't1' },
  { kind: 'caller-left', ...addr, token: 't1' },
];

describe('wire', () => {
  test('every message survives toEnvelope -> fromEnvelope unchanged', () => {
    for (const m of every) {
      const back = fromEnvelope(toEnvelope(m));
      assert.deepEqual(back, { ok: true, message: m }, m.kind);
    }
  });

  test('absent values travel as the proto defaults', () => {
    const e = toEnvelope(request);
    assert.equal(e.toSiteId, '');
    assert.equal(e.body?.$case, 'request');
    const v = e.body!.value as unknown as Record<string, unknown>;
    assert.equal('remainingPatienceMs' in v, false, 'unknown patience is an unset optional');
    assert.equal(v.coverEntryId, '');
    const cancel = toEnvelope({ kind: 'cancel', ...addr, toSiteId: null, token: null });
    assert.deepEqual(cancel.body, { $case: 'cancel', value: { token: '' } });
  });

  test('a bad envelope is refused naming the field', () => {
    const good = toEnvelope(request);
    const value = good.body!.value;
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, body: { $case: 'request', value: { ...value, waitedMs: -1 } } }, /body\.value\.waitedMs/],
      [{ ...good, body: { $case: 'request', value: { ...value, hops: 1.5 } } }, /body\.value\.hops/],
      [
        { ...good, body: { $case: 'request', value: { ...value, remainingPatienceMs: -5 } } },
        /body\.value\.remainingPatienceMs/,
      ],
      [
        { ...good, body: { $case: 'request', value: { ...value, coverEntryId: 'x' } } },
        /body\.value\.policyId: exactly one/,
      ],
      [{ ...good, body: { $case: 'request', value: { ...value, policyId: '' } } }, /exactly one/],
      [{ ...good, body: { $case: 'request', value: { ...value, visitedSiteIds: [] } } }, /visitedSiteIds/],
      [{ ...good, requestId: '' }, /envelope\.requestId/],
      [{ ...good, body: undefined }, /envelope\.body/],
      [{ ...good, body: { $case: 'commit', value: { token: '' } } }, /body\.value\.token/],
      [{ ...good, body: { $case: 'accept', value: { token: 't', holdMs: -1 } } }, /holdMs/],
      // Only the hub's own refuse has no sending site, and it never names one.
      [{ ...good, fromSiteId: '' }, /envelope\.fromSiteId: must not be empty/],
      [
        {
          ...good,
          body: { $case: 'refuse', value: { reason: 'no agent', token: '', byHub: false } },
          fromSiteId: '',
        },
        /envelope\.fromSiteId: must not be empty/,
      ],
      [
        { ...good, body: { $case: 'refuse', value: { reason: 'max-hops', token: '', byHub: true } } },
        /envelope\.fromSiteId: must be empty on the hub's own refuse/,
      ],
    ];
    for (const [input, field] of cases) {
      const r = fromEnvelope(input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(`${r.field} ${r.error}`, field);
    }
  });
});
