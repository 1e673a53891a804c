/**
 * The hub and the sites read each other's overflow envelopes (docs/architecture.md §5.8, §5.9):
 * every envelope the hub's relay core produces (a forwarded request, every relayed message, the
 * hub's own refusals for each reason) goes through the site's `fromEnvelope` and is read as the
 * message it is, from the site that sent it, or from nobody ('' and `byHub`) for the hub's own.
 * The two halves are built apart (hub/overflow/, site-node/overflow/); this is where they meet,
 * so a rule one side has and the other does not (a by-hub refuse with no sending site) fails
 * here rather than as a silent ask timeout at a real origin.
 *
 * Pure: no services. It sits under test/ because only tests here may import both hub/ and
 * site-node/ (docs/architecture.md §2).
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { OverflowEnvelope } from '../../proto/gen/federation.js';
import { hubRefuse, judgeEnvelope, RequestMemory } from '../../hub/overflow/relay-core.js';
import type { OverflowMessage, RequestMessage } from '../../site-node/overflow/messages.js';
import { fromEnvelope, toEnvelope } from '../../site-node/overflow/wire.js';

const ORIGIN = 'wanzhou';
const TARGET = 'chongqing';
const T0 = 1_000_000;

const request: RequestMessage = {
  kind: 'request',
  requestId: 'wanzhou-c1#1',
  fromSiteId: ORIGIN,
  toSiteId: null,
  callId: 'wanzhou-c1',
  queueId: 'retail',
  priority: 1,
  waitedMs: 40_000,
  remainingPatienceMs: null,
  visitedSiteIds: [ORIGIN],
  policyId: 'wanzhou-retail',
  coverEntryId: null,
  hops: 0,
  ani: '+8613800000000',
  dnis: '95588',
  customerId: '',
  customerHomeSiteId: '',
  ivrPath: [],
  attached: {},
  callAgeMs: 45_000,
};

const head = { requestId: request.requestId };
/** What each party sends after the request, as its own code builds it. */
const fromTarget: OverflowMessage[] = [
  { kind: 'accept', ...head, fromSiteId: TARGET, toSiteId: ORIGIN, token: 't1', holdMs: 3_000 },
  {
    kind: 'refuse',
    ...head,
    fromSiteId: TARGET,
    toSiteId: ORIGIN,
    token: null,
    reason: 'no agent',
    byHub: false,
  },
  // A site claiming by_hub is relayed as the site's own refuse (the relay clears the flag).
  { kind: 'refuse', ...head, fromSiteId: TARGET, toSiteId: ORIGIN, token: 't1', reason: 'x', byHub: true },
  { kind: 'commit-ack', ...head, fromSiteId: TARGET, toSiteId: ORIGIN, token: 't1' },
];
const fromOrigin: OverflowMessage[] = [
  { kind: 'commit', ...head, fromSiteId: ORIGIN, toSiteId: TARGET, token: 't1' },
  { kind: 'cancel', ...head, fromSiteId: ORIGIN, toSiteId: TARGET, token: 't1' },
  { kind: 'cancel', ...head, fromSiteId: ORIGIN, toSiteId: null, token: null },
  { kind: 'caller-left', ...head, fromSiteId: ORIGIN, toSiteId: TARGET, token: 't1' },
];

/** The site's reading of an envelope the hub sends; fails naming the field the site rejects. */
function read(env: OverflowEnvelope): OverflowMessage {
  const r = fromEnvelope(env);
  assert.ok(r.ok, `the site cannot read the hub's ${env.body?.$case ?? '?'}: ${r.ok ? '' : r.error}`);
  return r.message;
}

describe('every envelope the hub produces is one the site reads', () => {
  const seen = new Set<string>();
  const note = (m: OverflowMessage) => seen.add(m.kind === 'refuse' && m.byHub ? 'refuse (by hub)' : m.kind);

  test('a forwarded request, and every message relayed either way, named by its sender', () => {
    const memory = new RequestMemory();
    const v = judgeEnvelope(memory, ORIGIN, toEnvelope(request), T0);
    assert.equal(v.kind, 'route');
    if (v.kind !== 'route') return;
    // The adapter (overflow-relay.ts) forwards the verdict's envelope with the target set.
    const offered = read({ ...v.envelope, toSiteId: TARGET });
    assert.deepEqual(offered, { ...request, toSiteId: TARGET });
    note(offered);
    memory.remember(request.requestId, {
      originSiteId: ORIGIN,
      targetSiteId: TARGET,
      refusal: null,
      rule: { kind: 'overflow', id: 'wanzhou-retail' },
      atMs: T0,
    });
    const again = judgeEnvelope(memory, ORIGIN, toEnvelope(request), T0 + 1);
    assert.equal(again.kind, 'relay');
    if (again.kind === 'relay') note(read(again.envelope));

    for (const [sender, to, messages] of [
      [TARGET, ORIGIN, fromTarget],
      [ORIGIN, TARGET, fromOrigin],
    ] as const) {
      for (const m of messages) {
        const r = judgeEnvelope(memory, sender, toEnvelope(m), T0 + 2);
        assert.equal(r.kind, 'relay', `${m.kind} from ${sender}`);
        if (r.kind !== 'relay') continue;
        const got = read(r.envelope);
        assert.equal(got.fromSiteId, sender);
        assert.equal(got.toSiteId, to);
        if (got.kind === 'refuse') assert.equal(got.byHub, false, 'a relayed refuse is the site’s');
        note(got);
      }
    }
    // Forgotten by the hub (restart, failover): relayed by toSiteId, still named by its sender.
    const forgetful = new RequestMemory();
    for (const m of fromTarget) {
      const r = judgeEnvelope(forgetful, TARGET, toEnvelope(m), T0);
      assert.equal(r.kind, 'relay');
      if (r.kind === 'relay') assert.equal(read(r.envelope).fromSiteId, TARGET);
    }
  });

  test("the hub's own refusals, for every reason, read as by-hub refusals of the request", () => {
    const answers: OverflowEnvelope[] = [
      ...['no-eligible-site', 'max-hops', 'cover-not-active', 'target-unreachable'].map((why) =>
        hubRefuse(request.requestId, why),
      ),
    ];
    // A request the core refuses, answered so its origin goes home at once.
    const bad = judgeEnvelope(new RequestMemory(), ORIGIN, toEnvelope({ ...request, toSiteId: TARGET }), T0);
    assert.equal(bad.kind, 'refuse');
    if (bad.kind === 'refuse') answers.push(bad.answer!);
    // A repeated request the hub had refused gets the same refusal.
    const memory = new RequestMemory();
    memory.remember(request.requestId, {
      originSiteId: ORIGIN,
      targetSiteId: null,
      refusal: 'no-eligible-site',
      rule: { kind: 'overflow', id: 'wanzhou-retail' },
      atMs: T0,
    });
    const repeated = judgeEnvelope(memory, ORIGIN, toEnvelope(request), T0 + 1);
    assert.equal(repeated.kind, 'answer');
    if (repeated.kind === 'answer') answers.push(repeated.envelope);

    for (const env of answers) {
      const m = read(env);
      assert.equal(m.kind, 'refuse');
      if (m.kind !== 'refuse') continue;
      assert.deepEqual([m.byHub, m.fromSiteId, m.requestId, m.token], [true, '', request.requestId, null]);
      note(m);
    }
  });

  test('every kind of message was crossed', () => {
    assert.deepEqual([...seen].sort(), [
      'accept',
      'caller-left',
      'cancel',
      'commit',
      'commit-ack',
      'refuse',
      'refuse (by hub)',
      'request',
    ]);
  });
});
