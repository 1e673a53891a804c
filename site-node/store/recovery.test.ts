import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { eventsFor } from '../../shared/events/outbox.js';
import {
  getAgent,
  loginAgent,
  openSessions,
  setAgentState,
  stateHistory,
  upsertAgent,
} from './agents-repo.js';
import { createCall, endCall, getCall, getCdr, listLiveCalls, transition } from './calls-repo.js';
import { JobScheduler } from './jobs.js';
import { recoverAfterRestart } from './recovery.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';
import { getTicket, openTicket } from './tickets-repo.js';
import { waitFor } from '../../test/support/wait.js';

describe.skipIf(pgSkip)('crash recovery', () => {
  let t: SiteTestDb;
  let jobs: JobScheduler | undefined;

  beforeAll(async () => {
    t = await siteTestDb('recovery');
  });
  afterAll(async () => {
    await jobs?.stop();
    await t?.close();
  });

  test('closes in-progress calls as failed, logs agents out, sweeps escalations; twice is a no-op', async () => {
    const { ctx } = t;
    // The world as the crashed process left it.
    const inIvr = await createCall(ctx, { ani: '1', dnis: '95533' });
    const talking = await createCall(ctx, { ani: '2', dnis: '95533', state: 'queued', queueId: 'retail' });
    await transition(ctx, { callId: talking.callId, to: 'offered', patch: { agentId: 'a1' } });
    await transition(ctx, { callId: talking.callId, to: 'connected' });
    const done = await createCall(ctx, { ani: '3', dnis: '95533' });
    await endCall(ctx, { callId: done.callId, reason: 'self-service' });
    await upsertAgent(ctx, { agentId: 'a1', name: 'A1', skills: { retail: 3 } });
    await upsertAgent(ctx, { agentId: 'a2', name: 'A2', skills: { vip: 5 } });
    await upsertAgent(ctx, { agentId: 'a3', name: 'A3', skills: {} });
    await loginAgent(ctx, 'a1');
    await setAgentState(ctx, { agentId: 'a1', to: 'on-call', callId: talking.callId });
    await loginAgent(ctx, 'a2');
    const ticket = await openTicket(ctx, { kind: 'complaint', slaDueAtMs: Date.now() - 1000 }); // job never sent

    jobs = new JobScheduler({
      ctx,
      url: t.db.url,
      escalation: { reminderIntervalMs: 60_000, maxLevel: 3 },
      pollingIntervalSeconds: 0.5,
    });
    await jobs.start();
    const r = await recoverAfterRestart(ctx, { scheduler: jobs });
    assert.deepEqual(r.callsFailed.sort(), [inIvr.callId, talking.callId].sort());
    assert.deepEqual(r.agentsLoggedOut, ['a1', 'a2']);
    assert.equal(r.escalationsRescheduled, 1);

    assert.deepEqual(await listLiveCalls(t.pool), []);
    for (const id of [inIvr.callId, talking.callId]) {
      const c = (await getCall(t.pool, id))!;
      assert.deepEqual([c.state, c.endReason], ['failed', 'site-restart']);
      const cdr = (await getCdr(t.pool, id))!;
      assert.deepEqual([cdr.outcome, cdr.endReason], ['failed', 'site-restart']);
      assert.equal((await eventsFor(t.pool, id)).at(-1)!.type, 'call.ended');
    }
    assert.equal((await getCdr(t.pool, talking.callId))!.agentId, 'a1');
    assert.equal((await getCall(t.pool, done.callId))!.endReason, 'self-service', 'finished calls untouched');

    assert.deepEqual(await openSessions(t.pool), []);
    for (const id of ['a1', 'a2']) {
      assert.equal((await getAgent(t.pool, id))!.state, 'logged-out');
      const last = (await stateHistory(t.pool, id)).at(-1)!;
      assert.deepEqual([last.to, last.reason], ['logged-out', 'site-restart']);
    }
    assert.equal((await stateHistory(t.pool, 'a1')).at(-1)!.from, 'on-call');
    assert.deepEqual(await stateHistory(t.pool, 'a3'), [], 'a logged-out agent gets no history row');

    // Idempotent.
    const outboxBefore = (await t.pool.query(`SELECT count(*)::int n FROM outbox`)).rows[0].n;
    const again = await recoverAfterRestart(ctx, { scheduler: jobs });
    assert.deepEqual(again, {
      callsFailed: [],
      recordingsLost: [],
      pendingMoves: [],
      agentsLoggedOut: [],
      escalationsRescheduled: 0,
      callbacksRescheduled: 0,
    });
    assert.equal((await t.pool.query(`SELECT count(*)::int n FROM outbox`)).rows[0].n, outboxBefore);

    // The swept escalation actually fires.
    await waitFor(
      'the swept escalation to fire',
      async () => (await getTicket(t.pool, ticket.ticketId))!.escalationLevel >= 1,
      10_000,
    );
  });
});
