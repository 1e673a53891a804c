/**
 * The move invariants on crafted histories: a clean move passes all three; each bad history
 * fails the check it breaks, naming the call; a kill of the origin between commit and its
 * `overflowed` write is a split, not a loss. Records in, checks out; nothing is started.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { checkMoves, RESTART_REASON, type CallRecord, type HubFact } from './moves.js';

const origin = (over: Partial<CallRecord> = {}): CallRecord => ({
  siteId: 'wanzhou',
  callId: 'wz-1',
  outcome: 'overflowed',
  answered: false,
  endReason: 'overflowed',
  overflowOut: { toSiteId: 'chongqing', token: 't1' },
  overflowIn: null,
  ...over,
});
const target = (over: Partial<CallRecord> = {}): CallRecord => ({
  siteId: 'chongqing',
  callId: 'cq-1',
  outcome: 'answered',
  answered: true,
  endReason: 'agent-hangup',
  overflowOut: null,
  overflowIn: { originSiteId: 'wanzhou', originCallId: 'wz-1', token: 't1', waitedMs: 30_000 },
  ...over,
});
const SITES = ['wanzhou', 'chongqing', 'fuling'];
const fact = (siteId: string, callId: string, waitMs = 40_000): HubFact => ({ siteId, callId, waitMs });
const good = (): { records: CallRecord[]; facts: HubFact[] } => ({
  records: [
    origin(),
    target(),
    { ...origin({ callId: 'wz-2', outcome: 'answered', answered: true }), overflowOut: null },
  ],
  facts: [fact('chongqing', 'cq-1'), fact('wanzhou', 'wz-2', 1_000)],
});

test('a clean move passes every check', () => {
  const { records, facts } = good();
  const v = checkMoves(SITES, records, facts);
  assert.ok(v.answeredOnce.pass && v.movesLanded.pass && v.countedOnce.pass, JSON.stringify(v));
  assert.equal(v.moves, 1);
  assert.equal(v.splitByKill, 0);
});

test('answered at both ends fails answeredOnce (and the two ends disagree)', () => {
  const v = checkMoves(
    SITES,
    [origin({ outcome: 'answered', answered: true, overflowOut: null }), target()],
    [],
  );
  assert.equal(v.answeredOnce.pass, false);
  assert.match(
    v.answeredOnce.detail,
    /FAIL 1 calls answered at two sites: wanzhou\/wz-1 at wanzhou\/wz-1 and chongqing\/cq-1/,
  );
  assert.equal(v.movesLanded.pass, false);
  assert.match(v.movesLanded.detail, /ended answered .* at home/);
});

test('admitted at two sites fails answeredOnce', () => {
  const { records, facts } = good();
  const again = target({ siteId: 'fuling', callId: 'fl-1', answered: false, outcome: 'abandoned' });
  const v = checkMoves(SITES, [...records, again], facts);
  assert.equal(v.answeredOnce.pass, false);
  assert.match(v.answeredOnce.detail, /calls admitted twice: wanzhou\/wz-1/);
});

test('an overflowed call with no record at its target is lost', () => {
  const v = checkMoves(SITES, [origin(), target({ siteId: 'fuling', callId: 'fl-0', overflowIn: null })], []);
  assert.equal(v.movesLanded.pass, false);
  assert.match(v.movesLanded.detail, /1 moved calls never arrived: wanzhou\/wz-1 -> chongqing/);
});

test('a different token at the target, or a target naming an unknown call, fails movesLanded', () => {
  const tokens = checkMoves(
    SITES,
    [origin(), target({ overflowIn: { ...target().overflowIn!, token: 't2' } })],
    [],
  );
  assert.equal(tokens.movesLanded.pass, false);
  assert.match(tokens.movesLanded.detail, /tokens differ/);
  const nowhere = checkMoves(SITES, [origin({ callId: 'wz-9' }), target()], []);
  assert.match(
    nowhere.movesLanded.detail,
    /moved in from an unknown call: chongqing\/cq-1 names wanzhou\/wz-1/,
  );
});

test('the origin counted too, a target not counted, or the wait at home dropped, fails countedOnce', () => {
  const both = checkMoves(SITES, [origin(), target()], [fact('wanzhou', 'wz-1'), fact('chongqing', 'cq-1')]);
  assert.equal(both.countedOnce.pass, false);
  assert.match(both.countedOnce.detail, /overflowed ends counted at the origin: wanzhou\/wz-1/);
  const none = checkMoves(SITES, [origin(), target()], []);
  assert.match(none.countedOnce.detail, /not counted once at the target: chongqing\/cq-1 \(0 facts\)/);
  const short = checkMoves(SITES, [origin(), target()], [fact('chongqing', 'cq-1', 5_000)]);
  assert.match(short.countedOnce.detail, /counted without their wait at home/);
});

test('an origin killed between commit and its overflowed write: a split, not a loss; counted at both ends fails', () => {
  const killed = origin({ outcome: 'failed', endReason: RESTART_REASON, overflowOut: null });
  const v = checkMoves(SITES, [killed, target()], [fact('chongqing', 'cq-1')]);
  assert.ok(v.movesLanded.pass && v.answeredOnce.pass && v.countedOnce.pass, JSON.stringify(v));
  assert.equal(v.splitByKill, 1);
  const twice = checkMoves(SITES, [killed, target()], [fact('wanzhou', 'wz-1'), fact('chongqing', 'cq-1')]);
  assert.equal(twice.countedOnce.pass, false);
  assert.match(twice.countedOnce.detail, /counted at both ends after a kill of the origin: wanzhou\/wz-1/);
});

test('a target killed after its admit, before its ack reached the origin: a split, not a disagreement', () => {
  // The chaos-short failure: chongqing admitted the call (its overflow-in record committed),
  // its commit-ack stuck in its stream to the hub, then kill -9. Crash recovery ended the record
  // `failed`/`site-restart`; the restarted book refused the resent commit as an unknown token and
  // the origin kept its caller, who ended at home (§5.9 "A restart").
  const home = origin({ outcome: 'callback', endReason: 'fallback:callback', overflowOut: null });
  const left = {
    ...origin({ callId: 'wz-2', outcome: 'abandoned', endReason: 'abandoned-queued', overflowOut: null }),
  };
  const died = target({ outcome: 'failed', answered: false, endReason: RESTART_REASON });
  const died2 = target({
    callId: 'cq-2',
    outcome: 'failed',
    answered: false,
    endReason: RESTART_REASON,
    overflowIn: { originSiteId: 'wanzhou', originCallId: 'wz-2', token: 't2', waitedMs: 10_000 },
  });
  const facts = [fact('wanzhou', 'wz-1'), fact('chongqing', 'cq-1'), fact('wanzhou', 'wz-2')];
  const v = checkMoves(SITES, [home, left, died, died2], facts);
  assert.ok(v.movesLanded.pass && v.answeredOnce.pass && v.countedOnce.pass, JSON.stringify(v));
  assert.equal(v.splitByTargetKill, 2);
  assert.equal(v.splitByKill, 0);
  assert.match(v.movesLanded.detail, /0 moves, 0 split by a kill of the origin, 2 by a kill of the target/);
  assert.match(v.countedOnce.detail, /1 split by a kill of the target counted at both ends/);
  // Answered at the target, the caller was served there: still a disagreement.
  const served = checkMoves(SITES, [home, { ...died, outcome: 'answered', answered: true }], []);
  assert.equal(served.movesLanded.pass, false);
  assert.match(
    served.movesLanded.detail,
    /chongqing\/cq-1: its origin wz-1 ended callback \(fallback:callback\) at home/,
  );
  // A record the target stored but refused (no trunk, the ACD refused it): no move, no disagreement.
  const refused = checkMoves(SITES, [home, { ...died, endReason: 'overflow-not-admitted' }], []);
  assert.ok(refused.movesLanded.pass, JSON.stringify(refused));
  assert.equal(refused.notAdmitted, 1);
});
