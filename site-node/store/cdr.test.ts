import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { buildCdr, type CdrFacts } from './cdr.js';

const base: CdrFacts = {
  callId: 'cq-1',
  siteId: 'cq',
  entrySiteId: 'cq',
  ani: '13800000000',
  dnis: '95533',
  queueId: 'retail',
  customerId: undefined,
  agentId: 'a1',
  startedAtMs: 1000,
  timeline: [],
  finalState: 'ended',
  endedAtMs: 0,
  endReason: 'caller-hangup',
};

describe('buildCdr', () => {
  test('answered call: wait from queued to answer, talk from answer to wrap-up', () => {
    const cdr = buildCdr({
      ...base,
      timeline: [
        { state: 'ivr', atMs: 1000 },
        { state: 'queued', atMs: 5000 },
        { state: 'offered', atMs: 9000 },
        { state: 'connected', atMs: 12000 },
        { state: 'wrapup', atMs: 72000 },
        { state: 'ended', atMs: 90000 },
      ],
      endedAtMs: 90000,
    });
    assert.equal(cdr.waitMs, 7000);
    assert.equal(cdr.talkMs, 60000);
    assert.equal(cdr.outcome, 'answered');
    assert.equal(cdr.abandoned, false);
    assert.equal(cdr.offeredAtMs, 9000);
  });

  test('abandoned in queue: wait to hang-up, no talk', () => {
    const cdr = buildCdr({
      ...base,
      agentId: undefined,
      finalState: 'abandoned',
      timeline: [
        { state: 'ivr', atMs: 1000 },
        { state: 'queued', atMs: 3000 },
        { state: 'abandoned', atMs: 33000 },
      ],
      endedAtMs: 33000,
    });
    assert.deepEqual([cdr.waitMs, cdr.talkMs, cdr.outcome, cdr.abandoned], [30000, 0, 'abandoned', true]);
  });

  test('self-service in the IVR and caller overrides', () => {
    const ivr = buildCdr({ ...base, timeline: [{ state: 'ivr', atMs: 1000 }], endedAtMs: 61000 });
    assert.deepEqual([ivr.waitMs, ivr.talkMs, ivr.outcome], [0, 0, 'self-service']);
    const o = buildCdr(base, { wrapupCode: 'W12', agentId: 'a9', outcome: 'failed' });
    assert.deepEqual([o.wrapupCode, o.agentId, o.outcome], ['W12', 'a9', 'failed']);
  });

  test("a call moved in from another site: the wait counts the origin's too, and the CDR names the origin", () => {
    const overflowIn = { originSiteId: 'wz', originCallId: 'wz-1', token: 'tok', waitedMs: 40_000 };
    const cdr = buildCdr({
      ...base,
      overflowIn,
      timeline: [
        { state: 'queued', atMs: 5000 },
        { state: 'offered', atMs: 9000 },
        { state: 'connected', atMs: 12000 },
        { state: 'ended', atMs: 90000 },
      ],
      endedAtMs: 90000,
    });
    assert.equal(cdr.waitMs, 47_000);
    assert.deepEqual(cdr.overflowIn, overflowIn);
    assert.equal(cdr.overflowOut, undefined);
  });
});
