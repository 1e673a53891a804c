import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  decidePinUnlock,
  UNLOCK_METHODS,
  type PinUnlockAsk,
  type PinUnlockFacts,
} from './pin-unlock-rule.js';

const ask: PinUnlockAsk = {
  agentId: 'a01',
  callId: 'call-1',
  customerId: 'c-1',
  verification: { method: 'security-questions', detail: 'two questions answered' },
  reason: 'caller locked out after three wrong PINs',
};
const onCall: PinUnlockFacts = {
  agent: { state: 'on-call', callId: 'call-1' },
  call: { agentId: 'a01', customerId: 'c-1' },
};

const refusal = (a: PinUnlockAsk, f: PinUnlockFacts) => {
  const d = decidePinUnlock(a, f);
  assert.equal(d.allow, false, 'refused');
  return d as Extract<typeof d, { allow: false }>;
};

test('an agent talking to the customer, or wrapping up their call, may unlock with each listed method', () => {
  for (const method of UNLOCK_METHODS) {
    assert.deepEqual(decidePinUnlock({ ...ask, verification: { method, detail: '' } }, onCall), {
      allow: true,
      method,
    });
  }
  const wrapUp: PinUnlockFacts = { ...onCall, agent: { state: 'wrap-up', callId: 'call-1' } };
  assert.equal(decidePinUnlock(ask, wrapUp).allow, true);
});

test('an agent that is not on a call is refused as failed-precondition, naming the state', () => {
  for (const state of ['ready', 'not-ready'] as const) {
    const r = refusal(ask, { agent: { state }, call: onCall.call });
    assert.equal(r.kind, 'failed-precondition');
    assert.match(r.why, new RegExp(`not on a call \\(${state}\\)`));
  }
  const out = refusal(ask, { agent: { state: 'logged-out' }, call: undefined });
  assert.equal(out.kind, 'failed-precondition');
  assert.match(out.why, /not logged in/);
  // Offered, not answered: the agent has not spoken to the caller yet.
  const ringing = refusal(ask, { agent: { state: 'reserved', callId: 'call-1' }, call: onCall.call });
  assert.equal(ringing.kind, 'failed-precondition');
  assert.match(ringing.why, /reserved/);
});

test("another agent's call, or a customer who is not the caller, is permission-denied", () => {
  const other = refusal(
    { ...ask, callId: 'call-2' },
    { ...onCall, call: { agentId: 'a02', customerId: 'c-1' } },
  );
  assert.equal(other.kind, 'permission-denied');
  assert.match(other.why, /call call-2 is not agent a01's call/);
  const stranger = refusal({ ...ask, customerId: 'c-9' }, onCall);
  assert.equal(stranger.kind, 'permission-denied');
  assert.match(stranger.why, /customer c-9 is not the caller on call call-1/);
});

test('a caller never identified as a customer leaves nothing to unlock; an unknown agent is not-found', () => {
  const anon = refusal(ask, { ...onCall, call: { agentId: 'a01' } });
  assert.equal(anon.kind, 'failed-precondition');
  assert.match(anon.why, /not identified/);
  assert.equal(refusal(ask, { agent: undefined, call: undefined }).kind, 'not-found');
});

test('an empty or unknown verification method, an empty reason, or over-long text is invalid-argument naming the field', () => {
  const cases: Array<[Partial<PinUnlockAsk>, string]> = [
    [{ verification: { method: '', detail: '' } }, 'verification.method'],
    [{ verification: { method: 'gut-feeling', detail: '' } }, 'verification.method'],
    [{ verification: { method: 'id-document', detail: 'x'.repeat(201) } }, 'verification.detail'],
    [{ reason: '  ' }, 'reason'],
    [{ reason: 'x'.repeat(301) }, 'reason'],
    [{ customerId: '' }, 'customerId'],
  ];
  for (const [change, field] of cases) {
    // Checked before the agent: a malformed request is refused whoever sends it.
    const r = refusal({ ...ask, ...change }, onCall);
    assert.equal(r.kind, 'invalid-argument', field);
    assert.equal(r.field, field);
    assert.ok(r.why.startsWith(`${field}: `), r.why);
  }
});
