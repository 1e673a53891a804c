/**
 * A call that moved between sites counts once in the province statistics, at the site that
 * answered it, with the caller's full wait (docs/architecture.md §5.9 "Records"): the origin's
 * `overflowed` end is no offered call of the origin's queue, and the target's end carries the
 * wait at both sites. The `call.ended` events are shaped as the sites' store writes them
 * (site-node/store/overflow-repo.ts), and go through the ingest's own reading (callFactOf).
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { makeEvent, type EventEnvelope } from '../../shared/events/envelope.js';
import { callFactOf } from '../ingest/pg-ingest.js';
import { computeProvinceStats } from './province-stats.js';

const T0 = 1_790_000_000_000;
const T = 20_000;

/** The origin's end: queued 40 s at wz, then moved to cq under `tok`. */
const originEnd: EventEnvelope = makeEvent({
  type: 'call.ended',
  siteId: 'wz',
  aggregateId: 'wz-call-1',
  occurredAtMs: T0 + 40_000,
  schemaVersion: 2,
  payload: {
    from: 'queued',
    to: 'overflowed',
    reason: 'overflowed',
    detail: { toSiteId: 'cq', token: 'tok' },
    cdr: {
      callId: 'wz-call-1',
      siteId: 'wz',
      queueId: 'retail',
      queuedAtMs: T0,
      endedAtMs: T0 + 40_000,
      waitMs: 40_000,
      finalState: 'overflowed',
      outcome: 'overflowed',
      abandoned: false,
      overflowOut: { toSiteId: 'cq', token: 'tok' },
    },
  },
});

/** The target's end of the same caller: answered 5 s after it arrived, full wait 45 s. */
function targetEnd(how: 'answered' | 'abandoned'): EventEnvelope {
  return makeEvent({
    type: 'call.ended',
    siteId: 'cq',
    aggregateId: 'cq-call-9',
    occurredAtMs: T0 + 200_000,
    schemaVersion: 2,
    payload: {
      from: how === 'answered' ? 'wrapup' : 'queued',
      to: how === 'answered' ? 'ended' : 'abandoned',
      reason: how === 'answered' ? 'agent-hangup' : 'abandoned-queued',
      cdr: {
        callId: 'cq-call-9',
        siteId: 'cq',
        entrySiteId: 'wz',
        queueId: 'retail',
        queuedAtMs: T0 + 40_500,
        ...(how === 'answered' ? { answeredAtMs: T0 + 45_500 } : {}),
        endedAtMs: T0 + 200_000,
        waitMs: 45_000,
        finalState: how === 'answered' ? 'ended' : 'abandoned',
        outcome: how,
        abandoned: how === 'abandoned',
        overflowIn: { originSiteId: 'wz', originCallId: 'wz-call-1', token: 'tok', waitedMs: 40_000 },
      },
    },
  });
}

const statsOf = (events: EventEnvelope[]) =>
  computeProvinceStats({
    facts: events.map(callFactOf).filter((f) => f !== undefined),
    snapshots: new Map(),
    links: new Map(),
    nowMs: T0 + 300_000,
    windowMs: 3_600_000,
    thresholdMs: T,
  });

describe('a call moved between sites in the province statistics', () => {
  test("the origin's overflowed end is no call fact: not offered, not abandoned, not a fallback", () => {
    assert.equal(callFactOf(originEnd), undefined);
  });

  test('answered at the target: offered once, answered once, at the target, with the full wait', () => {
    const s = statsOf([originEnd, targetEnd('answered')]);
    assert.deepEqual(
      [s.province.offered, s.province.answered, s.province.abandoned, s.province.averageSpeedOfAnswerMs],
      [1, 1, 0, 45_000],
    );
    // Answered after T (45 s > 20 s): the wait at the origin counts against the service level.
    assert.equal(s.province.serviceLevel, 0);
    assert.deepEqual(
      s.sites.map((x) => [x.siteId, x.offered, x.answered]),
      [['cq', 1, 1]],
    );
  });

  test('abandoned at the target: one offered and abandoned call, at the target', () => {
    const s = statsOf([originEnd, targetEnd('abandoned')]);
    assert.deepEqual([s.province.offered, s.province.abandoned, s.province.abandonRate], [1, 1, 1]);
    assert.deepEqual(
      s.queues.map((q) => [q.siteId, q.queueId, q.offered]),
      [['cq', 'retail', 1]],
    );
  });
});
