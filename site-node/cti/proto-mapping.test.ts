import { test } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeskEvent as PbDeskEvent, type AgentState } from '../../proto/gen/agent.js';
import type { ContactSummary, CustomerProfile } from '../../shared/domain/customer.js';
import type { AgentView, DeskEvent, ScreenPop } from './agent-desk.js';
import { deskEventFromProto, deskEventToProto } from './proto-mapping.js';

const str = fc.string({ maxLength: 12 });
// Map keys as the site writes them (attached-data names, skill ids). fast-check also tries
// `__proto__`, which no plain object keeps as a key (the generated proto decoder assigns it,
// and the assignment sets the prototype instead): not a key the site ever produces.
const key = str.filter((k) => k !== '__proto__');
const ms = fc.integer({ min: 0, max: 2 ** 47 });

const customer: fc.Arbitrary<CustomerProfile> = fc.record({
  customerId: str,
  name: fc.string(),
  phones: fc.array(str, { maxLength: 3 }),
  cards: fc.array(str, { maxLength: 3 }),
  homeSiteId: str,
  segment: fc.constantFrom('retail', 'vip', 'corporate'),
  language: str,
  flags: fc.record({ blacklisted: fc.boolean(), lostCard: fc.boolean() }),
  accountIds: fc.array(str, { maxLength: 3 }),
  version: fc.nat(),
});

const contact: fc.Arbitrary<ContactSummary> = fc.record({
  callId: str,
  atMs: ms,
  channel: fc.constantFrom('voice-ivr', 'voice-agent', 'ticket'),
  summary: fc.string(),
});

const pop: fc.Arbitrary<ScreenPop> = fc.record(
  {
    callId: str,
    queueId: str,
    ani: str,
    dnis: str,
    offeredAtMs: ms,
    answerByMs: ms,
    customer,
    verified: fc.boolean(),
    ivrPath: fc.array(str, { maxLength: 5 }),
    attached: fc.dictionary(key, str, { maxKeys: 4 }),
    recentContacts: fc.array(contact, { maxLength: 3 }),
  },
  {
    requiredKeys: [
      'callId',
      'queueId',
      'ani',
      'dnis',
      'offeredAtMs',
      'answerByMs',
      'verified',
      'ivrPath',
      'attached',
      'recentContacts',
    ],
  },
);

const agent: fc.Arbitrary<AgentView> = fc.record(
  {
    agentId: str,
    state: fc.constantFrom('logged-out', 'ready', 'not-ready', 'reserved', 'on-call', 'wrap-up'),
    reasonCode: str,
    callId: str,
    skills: fc.dictionary(key, fc.integer({ min: 1, max: 5 }), { maxKeys: 4 }),
    phone: fc.constantFrom('registered' as const, 'not-registered' as const),
  },
  { requiredKeys: ['agentId', 'state', 'skills'] },
);

const event: fc.Arbitrary<DeskEvent> = fc.oneof(
  pop.map((p) => ({ type: 'offer' as const, pop: p })),
  fc.record({
    type: fc.constant('offer-withdrawn' as const),
    callId: str,
    reason: fc.constantFrom('caller-abandoned' as const, 'ring-no-answer' as const),
  }),
  fc.record({
    type: fc.constant('call-ended' as const),
    callId: str,
    by: fc.constantFrom('caller' as const, 'agent' as const),
  }),
  agent.map((a) => ({ type: 'state' as const, agent: a })),
);

test('every desk event survives TS -> proto -> wire -> proto -> TS unchanged', () => {
  fc.assert(
    fc.property(event, (e) => {
      const wire = PbDeskEvent.encode(deskEventToProto(e)).finish();
      const back = deskEventFromProto(PbDeskEvent.decode(wire));
      // The dictionaries come back as plain objects; compare as JSON-able values.
      assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(e)));
    }),
    { numRuns: 300 },
  );
});

test('unknown enum values from the wire are refused naming the field; unknown event kinds are skipped', () => {
  assert.throws(
    () =>
      deskEventFromProto({
        event: { $case: 'state', value: { agentId: 'a', state: 99 as AgentState, skills: {} } },
      }),
    (e: Error & { field?: string }) => e.field === 'state.state',
  );
  assert.throws(
    () => deskEventFromProto({ event: { $case: 'callEnded', value: { callId: 'c', by: 0 } } }),
    (e: Error & { field?: string }) => e.field === 'call_ended.by',
  );
  assert.throws(
    () =>
      deskEventFromProto({
        event: { $case: 'state', value: { agentId: 'a', state: 2 as AgentState, skills: {}, phone: 0 } },
      }),
    (e: Error & { field?: string }) => e.field === 'state.phone',
  );
  assert.equal(deskEventFromProto({}), undefined);
});
