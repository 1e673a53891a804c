import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import type { DeskEvent } from './agent-desk.js';
import { InMemoryAgentDesk } from './in-memory-desk.js';

const kind = (k: string) => (e: unknown) => isDomainError(e) && e.kind === k;

test('the fake walks the agent state machine and refuses illegal moves without changing anything', async () => {
  const desk = new InMemoryAgentDesk({ agents: [{ agentId: 'a' }] });
  await assert.rejects(desk.login('zz'), kind('not-found'));
  await assert.rejects(desk.setReady('a'), kind('failed-precondition'));
  assert.equal((await desk.login('a')).state, 'not-ready');
  await assert.rejects(desk.login('a'), kind('failed-precondition'));
  assert.equal((await desk.setReady('a')).state, 'ready');
  desk.enqueueCall({ callId: 'c1' });
  assert.equal((await desk.agent('a')).state, 'reserved');
  await assert.rejects(desk.logout('a'), kind('failed-precondition'));
  await assert.rejects(desk.hangup('a', 'c1'), kind('failed-precondition'));
  await assert.rejects(desk.answer('a', 'nope'), kind('not-found'));
  assert.equal((await desk.answer('a', 'c1')).state, 'on-call');
  await assert.rejects(desk.completeWrapup('a', 'c1', 'ok'), kind('failed-precondition'));
  assert.equal((await desk.hangup('a', 'c1')).state, 'wrap-up');
  await assert.rejects(desk.setReady('a'), kind('failed-precondition'));
  await assert.rejects(desk.completeWrapup('a', 'c1', ''), kind('invalid-argument'));
  assert.equal((await desk.completeWrapup('a', 'c1', 'ok')).state, 'ready');
  assert.equal((await desk.logout('a')).state, 'logged-out');
  assert.deepEqual(desk.calls.map((c) => c.method).slice(0, 3), ['login', 'setReady', 'login']);
});

test('ring-no-answer withdraws the offer, makes the agent not-ready and requeues the call first', async () => {
  const scheduler = new VirtualScheduler(0);
  const desk = new InMemoryAgentDesk({
    agents: [{ agentId: 'a' }, { agentId: 'b' }],
    scheduler,
    ringTimeoutMs: 10_000,
  });
  const seen: DeskEvent[] = [];
  desk.subscribe('a', (e) => seen.push(e));
  await desk.login('a');
  await desk.setReady('a');
  desk.enqueueCall({ callId: 'c1' });
  const offer = seen.find((e) => e.type === 'offer');
  assert.ok(offer && offer.type === 'offer');
  assert.equal(offer.pop.answerByMs, 10_000);
  await scheduler.advance(10_000);
  assert.deepEqual(
    seen.filter((e) => e.type === 'offer-withdrawn'),
    [{ type: 'offer-withdrawn', callId: 'c1', reason: 'ring-no-answer' }],
  );
  const a = await desk.agent('a');
  assert.equal(a.state, 'not-ready');
  assert.equal(a.reasonCode, 'ring-no-answer');
  assert.equal(desk.waiting(), 1);
  await desk.login('b');
  await desk.setReady('b');
  assert.equal((await desk.agent('b')).callId, 'c1');
});

test('a caller abandoning an offer frees the agent; hanging up mid-call ends it by caller', async () => {
  const desk = new InMemoryAgentDesk({ agents: [{ agentId: 'a' }] });
  const seen: DeskEvent[] = [];
  const unsubscribe = desk.subscribe('a', (e) => seen.push(e));
  await desk.login('a');
  await desk.setReady('a');
  desk.enqueueCall({ callId: 'c1' });
  desk.callerHangup('c1');
  assert.equal((await desk.agent('a')).state, 'ready');
  desk.enqueueCall({ callId: 'c2' });
  await desk.answer('a', 'c2');
  desk.callerHangup('c2');
  assert.equal((await desk.agent('a')).state, 'wrap-up');
  assert.ok(seen.some((e) => e.type === 'offer-withdrawn' && e.reason === 'caller-abandoned'));
  assert.ok(seen.some((e) => e.type === 'call-ended' && e.by === 'caller'));
  unsubscribe();
  assert.equal(desk.subscriberCount('a'), 0);
  assert.equal(desk.counts.abandoned, 1);
});
