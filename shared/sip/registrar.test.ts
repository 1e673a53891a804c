import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  checkRegistrarLimits,
  contactsOf,
  emptyRegistrar,
  registrarStep,
  type RegisterRequest,
  type RegistrarLimits,
  type RegistrarState,
  type RegistrarStep,
} from './registrar.js';

const LIMITS: RegistrarLimits = {
  minExpiresS: 60,
  maxExpiresS: 3600,
  defaultExpiresS: 3600,
  maxContactsPerAor: 3,
};
const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);
const AOR = 'sip:1001@chongqing.cc.example';
const DESK = 'sip:1001@10.1.0.21:5060;transport=udp';
const SOFT = 'sip:1001@10.1.0.77:50214;transport=tcp';

const req = (over: Partial<RegisterRequest>): RegisterRequest => ({
  aor: AOR,
  callId: 'call-a@10.1.0.21',
  cseq: 1,
  expires: undefined,
  contacts: [{ uri: DESK }],
  ...over,
});
const register = (state: RegistrarState, over: Partial<RegisterRequest>, nowMs: number): RegistrarStep =>
  registrarStep(state, { kind: 'register', request: req(over) }, nowMs, LIMITS);
const changes = (s: RegistrarStep) => s.changes.map((c) => `${c.change} ${c.contact}`);

test('a phone registers: bound with the Expires asked, the 200 lists it with its time left', () => {
  const s = register(emptyRegistrar(), { expires: 600 }, T0);
  assert.deepEqual(s.response, {
    status: 200,
    reason: 'OK',
    contacts: [{ uri: DESK, expiresS: 600, q: undefined }],
  });
  assert.deepEqual(changes(s), [`added ${DESK}`]);
  assert.deepEqual(
    contactsOf(s.state, AOR, T0 + 1000).map((b) => b.contact),
    [DESK],
  );
  // A query (no Contact) 100.5 s later says what is bound, rounding the time left up.
  const q = register(s.state, { contacts: [], cseq: 2 }, T0 + 100_500);
  assert.deepEqual(q.response, {
    status: 200,
    reason: 'OK',
    contacts: [{ uri: DESK, expiresS: 500, q: undefined }],
  });
  assert.equal(q.changes.length, 0);
});

test("a contact's expires param wins over the Expires header; none gives the default; long ones are cut", () => {
  const s = register(
    emptyRegistrar(),
    { expires: 300, contacts: [{ uri: DESK, expires: 120 }, { uri: SOFT }, { uri: 'sip:1001@10.1.0.9' }] },
    T0,
  );
  assert.deepEqual(s.response?.status === 200 && s.response.contacts.map((c) => c.expiresS), [120, 300, 300]);
  const d = register(emptyRegistrar(), { contacts: [{ uri: DESK }, { uri: SOFT, expires: 86_400 }] }, T0);
  assert.deepEqual(d.response?.status === 200 && d.response.contacts.map((c) => c.expiresS), [3600, 3600]);
});

test('a refresh with the next CSeq moves the expiry; a new Call-ID (phone rebooted) may too', () => {
  const first = register(emptyRegistrar(), { expires: 600 }, T0);
  const refresh = register(first.state, { expires: 600, cseq: 2 }, T0 + 500_000);
  assert.deepEqual(changes(refresh), [`refreshed ${DESK}`]);
  assert.equal(contactsOf(refresh.state, AOR, T0 + 1_000_000).length, 1, 'bound past the first expiry');
  const rebooted = register(
    refresh.state,
    { expires: 600, cseq: 1, callId: 'call-b@10.1.0.21' },
    T0 + 600_000,
  );
  assert.equal(rebooted.response?.status, 200);
  assert.equal(contactsOf(rebooted.state, AOR, T0)[0]?.callId, 'call-b@10.1.0.21');
});

test('an older or repeated CSeq for the same Call-ID is refused and changes nothing', () => {
  const s = register(emptyRegistrar(), { expires: 600, cseq: 5 }, T0);
  for (const cseq of [5, 4]) {
    const old = register(s.state, { expires: 0, cseq, contacts: [{ uri: DESK }, { uri: SOFT }] }, T0 + 10);
    assert.deepEqual(old.response, { status: 400, reason: `CSeq ${cseq} is not above 5 for this Call-ID` });
    assert.equal(old.state, s.state);
    assert.equal(old.changes.length, 0);
    const wildcard = register(s.state, { expires: 0, cseq, contacts: '*' }, T0 + 10);
    assert.equal(wildcard.response?.status, 400);
    assert.equal(wildcard.state, s.state);
  }
});

test('expires=0 removes one binding; Contact: * with Expires: 0 removes them all', () => {
  const s = register(emptyRegistrar(), { expires: 600, contacts: [{ uri: DESK }, { uri: SOFT }] }, T0);
  const one = register(s.state, { cseq: 2, contacts: [{ uri: SOFT, expires: 0 }] }, T0 + 1000);
  assert.deepEqual(changes(one), [`removed ${SOFT}`]);
  assert.deepEqual(one.response?.status === 200 && one.response.contacts.map((c) => c.uri), [DESK]);
  const again = register(s.state, { cseq: 2, expires: 0, contacts: [{ uri: SOFT }] }, T0 + 1000);
  assert.deepEqual(changes(again), [`removed ${SOFT}`], 'Expires: 0 applies to contacts without a param');
  const all = register(one.state, { cseq: 3, expires: 0, contacts: '*' }, T0 + 2000);
  assert.deepEqual(all.response, { status: 200, reason: 'OK', contacts: [] });
  assert.deepEqual(changes(all), [`removed ${DESK}`]);
  assert.equal(all.state.bindings.has(AOR), false);
  // Removing what is not bound is no error and no change.
  const none = register(emptyRegistrar(), { expires: 0 }, T0);
  assert.deepEqual(none.response, { status: 200, reason: 'OK', contacts: [] });
  assert.equal(none.changes.length, 0);
});

test('Contact: * without Expires: 0 is refused 400', () => {
  const s = register(emptyRegistrar(), { expires: 600 }, T0);
  for (const expires of [undefined, 60]) {
    const w = register(s.state, { cseq: 2, expires, contacts: '*' }, T0);
    assert.deepEqual(w.response, { status: 400, reason: 'Contact: * needs Expires: 0' });
    assert.equal(w.state, s.state);
  }
});

test('too brief an interval is 423 with Min-Expires, the whole request left undone', () => {
  const s = register(emptyRegistrar(), { expires: 600 }, T0);
  const brief = register(
    s.state,
    {
      cseq: 2,
      contacts: [
        { uri: SOFT, expires: 3600 },
        { uri: DESK, expires: 59 },
      ],
    },
    T0,
  );
  assert.deepEqual(brief.response, { status: 423, reason: 'Interval Too Brief', minExpiresS: 60 });
  assert.equal(brief.state, s.state);
  assert.equal(register(s.state, { cseq: 2, expires: 30 }, T0).response?.status, 423);
  assert.equal(
    register(s.state, { cseq: 2, expires: 60 }, T0).response?.status,
    200,
    'the minimum itself is fine',
  );
});

test('bindings lapse: gone from contactsOf at their expiry, dropped by a sweep, and reported once', () => {
  let state = register(emptyRegistrar(), { expires: 60, contacts: [{ uri: DESK }] }, T0).state;
  state = register(state, { callId: 'other', expires: 600, contacts: [{ uri: SOFT }] }, T0).state;
  assert.equal(contactsOf(state, AOR, T0 + 59_999).length, 2);
  assert.deepEqual(
    contactsOf(state, AOR, T0 + 60_000).map((b) => b.contact),
    [SOFT],
  );
  const early = registrarStep(state, { kind: 'sweep' }, T0 + 59_999, LIMITS);
  assert.equal(early.state, state, 'nothing lapsed, nothing changed');
  const swept = registrarStep(state, { kind: 'sweep' }, T0 + 60_000, LIMITS);
  assert.deepEqual(changes(swept), [`expired ${DESK}`]);
  assert.equal(swept.response, undefined);
  const later = registrarStep(swept.state, { kind: 'sweep' }, T0 + 600_000, LIMITS);
  assert.deepEqual(changes(later), [`expired ${SOFT}`]);
  assert.equal(later.state.bindings.size, 0);
  // A lapsed binding not yet swept is gone for a REGISTER too: its Call-ID and CSeq may start over.
  const back = register(state, { cseq: 1, expires: 600 }, T0 + 61_000);
  assert.deepEqual(changes(back), [`expired ${DESK}`, `added ${DESK}`]);
});

test('more contacts than allowed for one AoR is refused 403; contacts are rung by q', () => {
  const s = register(
    emptyRegistrar(),
    {
      expires: 600,
      contacts: [{ uri: DESK, q: 0.5 }, { uri: SOFT, q: 1 }, { uri: 'sip:1001@10.1.0.9' }],
    },
    T0,
  );
  assert.deepEqual(
    contactsOf(s.state, AOR, T0).map((b) => b.contact),
    [SOFT, 'sip:1001@10.1.0.9', DESK],
  );
  const more = register(s.state, { cseq: 2, expires: 600, contacts: [{ uri: 'sip:1001@10.1.0.10' }] }, T0);
  assert.deepEqual(more.response, { status: 403, reason: `more than 3 contacts for ${AOR}` });
  assert.equal(more.state, s.state);
});

test('bad numbers are refused 400 naming what is wrong', () => {
  const e = emptyRegistrar();
  assert.match(String(register(e, { cseq: -1 }, T0).response?.reason), /^CSeq -1 /);
  assert.match(String(register(e, { cseq: 2 ** 31 }, T0).response?.reason), /^CSeq 2147483648 /);
  assert.match(String(register(e, { expires: 1.5 }, T0).response?.reason), /^Expires 1.5 /);
  assert.match(
    String(register(e, { contacts: [{ uri: DESK, expires: -3 }] }, T0).response?.reason),
    /^Contact sip:1001@10\.1\.0\.21:5060;transport=udp: expires -3 /,
  );
  assert.match(
    String(register(e, { contacts: [{ uri: DESK, q: 2 }] }, T0).response?.reason),
    /: q 2 is not 0 to 1$/,
  );
});

test('other AoRs are untouched by a REGISTER or a wildcard', () => {
  const other = 'sip:1002@chongqing.cc.example';
  let state = register(emptyRegistrar(), { expires: 600 }, T0).state;
  state = register(
    state,
    { aor: other, callId: 'x', expires: 600, contacts: [{ uri: 'sip:1002@10.1.0.22' }] },
    T0,
  ).state;
  const all = register(state, { cseq: 2, expires: 0, contacts: '*' }, T0);
  assert.equal(contactsOf(all.state, other, T0).length, 1);
  assert.equal(contactsOf(all.state, AOR, T0).length, 0);
});

test('the limits are checked once, each bad one named', () => {
  assert.equal(checkRegistrarLimits(LIMITS, 'sip.registrar'), LIMITS);
  const field = (over: Partial<RegistrarLimits>) => {
    try {
      checkRegistrarLimits({ ...LIMITS, ...over }, 'sip.registrar');
    } catch (e) {
      return (e as { field?: string }).field;
    }
    return undefined;
  };
  assert.equal(field({ minExpiresS: 0 }), 'sip.registrar.minExpiresS');
  assert.equal(field({ maxContactsPerAor: 1.5 }), 'sip.registrar.maxContactsPerAor');
  assert.equal(field({ maxExpiresS: 30 }), 'sip.registrar.maxExpiresS');
  assert.equal(field({ defaultExpiresS: 7200 }), 'sip.registrar.defaultExpiresS');
  assert.equal(field({ defaultExpiresS: 30 }), 'sip.registrar.defaultExpiresS');
});
