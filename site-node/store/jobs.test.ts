/**
 * pg-boss jobs on a real PostgreSQL: escalations really fire, exactly once per level; the
 * restart sweep re-schedules lost jobs; due callbacks are handed to the site, which closes them.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import PgBoss from 'pg-boss';
import { eventsFor } from '../../shared/events/outbox.js';
import { CALLBACK_QUEUE, ESCALATION_QUEUE, JobScheduler, type CallbackToPlace } from './jobs.js';
import type { DomainError } from '../../shared/errors.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';
import { closeCallbackRequest, closeTicket, getTicket, openTicket } from './tickets-repo.js';
import { waitFor } from '../../test/support/wait.js';

describe.skipIf(pgSkip)('JobScheduler (pg-boss)', () => {
  let t: SiteTestDb;
  let jobs: JobScheduler;
  const placed: CallbackToPlace[] = [];
  let failNextCallback = false;

  const scheduler = () =>
    new JobScheduler({
      ctx: t.ctx,
      url: t.db.url,
      escalation: { reminderIntervalMs: 1_000, maxLevel: 2 },
      pollingIntervalSeconds: 0.5,
      retryDelaySeconds: 1,
      // Stands in for the site (runtime/callback-flow.ts), which closes a request once placed.
      onCallbackDue: async (cb) => {
        if (failNextCallback) {
          failNextCallback = false;
          throw new Error('trunk busy');
        }
        placed.push(cb);
        await closeCallbackRequest(t.ctx, cb.ticketId, 'placed', { phone: cb.phone });
      },
    });

  const escalations = async (ticketId: string) =>
    (await eventsFor(t.pool, ticketId))
      .filter((e) => e.type === 'ticket.escalated')
      .map((e) => e.payload.level);

  /** The ticket's escalation jobs in pg-boss, as "level:state", oldest first. */
  const escalationJobs = async (ticketId: string): Promise<string[]> =>
    (
      await t.pool.query<{ j: string }>(
        `SELECT (data->>'level') || ':' || state AS j FROM pgboss.job
          WHERE name = $1 AND data->>'ticketId' = $2 ORDER BY created_on, id`,
        [ESCALATION_QUEUE, ticketId],
      )
    ).rows.map((r) => r.j);
  /** Waits until every escalation job of the ticket has run: what "nothing more happened" rests on. */
  const escalationJobsDone = async (ticketId: string, expected: string[]): Promise<void> => {
    await waitFor(`escalation jobs of ${ticketId} = ${expected.join(',')}`, async () => {
      const jobs = await escalationJobs(ticketId);
      return jobs.length >= expected.length && jobs.every((j) => j.endsWith(':completed'));
    });
  };

  beforeAll(async () => {
    t = await siteTestDb('jobs');
    jobs = scheduler();
    await jobs.start();
    await jobs.start(); // idempotent
  });
  afterAll(async () => {
    await jobs?.stop();
    await jobs?.stop(); // idempotent
    await t?.close();
  });

  test('an SLA escalation fires from pg-boss, then the timed reminder, then stops at maxLevel', async () => {
    const tk = await jobs.openTicket({
      kind: 'complaint',
      customerId: 'c1',
      slaMs: 1_000,
      data: { text: 'slow service' },
    });
    assert.equal(tk.status, 'open');
    assert.ok(tk.escalationJobId, 'job recorded on the ticket');
    await waitFor('level 1', async () => (await getTicket(t.pool, tk.ticketId))!.escalationLevel >= 1);
    const l1 = (await getTicket(t.pool, tk.ticketId))!;
    assert.equal(l1.status, 'escalated');
    await waitFor('level 2', async () => (await getTicket(t.pool, tk.ticketId))!.escalationLevel >= 2);
    const l2 = (await getTicket(t.pool, tk.ticketId))!;
    assert.equal(l2.nextEscalationAtMs, undefined, 'no reminder past maxLevel');
    // The level-2 job has run to completion and sent no level-3 job.
    await escalationJobsDone(tk.ticketId, ['1:completed', '2:completed']);
    assert.deepEqual(await escalationJobs(tk.ticketId), ['1:completed', '2:completed']);
    assert.deepEqual(await escalations(tk.ticketId), [1, 2]);
    const types = (await eventsFor(t.pool, tk.ticketId)).map((e) => e.type);
    assert.deepEqual(types, ['ticket.opened', 'ticket.escalated', 'ticket.escalated']);
  });

  test('the handler run twice (and a duplicate job) escalates once per level', async () => {
    const tk = await openTicket(t.ctx, { kind: 'card-loss', customerId: 'c2', slaMs: 3_600_000 });
    const rs = await Promise.all([
      jobs.handleEscalation({ ticketId: tk.ticketId, level: 1 }),
      jobs.handleEscalation({ ticketId: tk.ticketId, level: 1 }),
    ]);
    assert.deepEqual(rs.sort(), ['already-escalated', 'escalated']);
    assert.equal(await jobs.handleEscalation({ ticketId: tk.ticketId, level: 1 }), 'already-escalated');
    assert.equal(
      await jobs.handleEscalation({ ticketId: tk.ticketId, level: 3 }),
      'not-due',
      'levels cannot be skipped',
    );
    assert.deepEqual(await escalations(tk.ticketId), [1]);
    // A duplicate level-1 job sent to pg-boss by another client runs and changes nothing.
    const other = new PgBoss({
      connectionString: t.db.url,
      schema: 'pgboss',
      supervise: false,
      schedule: false,
    });
    other.on('error', () => {});
    await other.start();
    try {
      const dup = (await other.send(ESCALATION_QUEUE, { ticketId: tk.ticketId, level: 1 }))!;
      await waitFor(
        'duplicate job done',
        async () => (await other.getJobById(ESCALATION_QUEUE, dup))?.state === 'completed',
      );
    } finally {
      await other.stop({ graceful: false, wait: true });
    }
    assert.deepEqual(await escalations(tk.ticketId), [1]);
    // The level-2 reminder was scheduled by the run that escalated (due in 1 s): it fires once,
    // even though we also run its handler by hand.
    assert.ok((await getTicket(t.pool, tk.ticketId))!.escalationJobId);
    await jobs.handleEscalation({ ticketId: tk.ticketId, level: 2 });
    // The reminder job (level 2) and the duplicate level-1 job have both run. (The two
    // concurrent level-1 runs may each have sent the level-2 reminder: a second one finds the
    // ticket already at level 2 and changes nothing.) No job goes past level 2.
    await escalationJobsDone(tk.ticketId, ['2:completed', '1:completed']);
    assert.deepEqual([...new Set(await escalationJobs(tk.ticketId))].sort(), ['1:completed', '2:completed']);
    assert.deepEqual(await escalations(tk.ticketId), [1, 2]);
    const types = (await eventsFor(t.pool, tk.ticketId)).map((e) => e.type);
    assert.deepEqual(types.slice(0, 2), ['ticket.opened', 'card-loss.reported']);
  });

  test('a closed ticket is not escalated when its job fires', async () => {
    const tk = await jobs.openTicket({ kind: 'suggestion', slaMs: 800 });
    await closeTicket(t.ctx, tk.ticketId, 'answered');
    await escalationJobsDone(tk.ticketId, ['1:completed']);
    const after = (await getTicket(t.pool, tk.ticketId))!;
    assert.equal(after.status, 'closed');
    assert.equal(after.escalationLevel, 0);
    assert.deepEqual(await escalations(tk.ticketId), []);
  });

  test('the restart sweep re-schedules lost and overdue escalations', async () => {
    // (a) died between the ticket transaction and sending the job: no job at all, already overdue.
    const lost = await openTicket(t.ctx, { kind: 'complaint', slaDueAtMs: Date.now() - 60_000 });
    // (b) the job vanished from pg-boss (e.g. deleted by hand / archive).
    const gone = await jobs.openTicket({ kind: 'leave-message', slaMs: 3_600_000 });
    await t.pool.query(`DELETE FROM pgboss.job WHERE id = $1`, [gone.escalationJobId]);
    // (c) healthy: its job is still waiting; the sweep leaves it alone.
    const ok = await jobs.openTicket({ kind: 'complaint', slaMs: 3_600_000 });

    const s = await jobs.sweep();
    assert.equal(s.escalations, 2);
    assert.equal((await jobs.sweep()).escalations, 0, 'sweep is idempotent');
    await waitFor(
      'lost escalation fired',
      async () => (await getTicket(t.pool, lost.ticketId))!.escalationLevel === 1,
    );
    const g = (await getTicket(t.pool, gone.ticketId))!;
    assert.notEqual(g.escalationJobId, gone.escalationJobId);
    assert.equal((await getTicket(t.pool, ok.ticketId))!.escalationJobId, ok.escalationJobId);
  });

  test('a due callback is handed to the site at its time, once; the site closes its request', async () => {
    const tk = await jobs.scheduleCallback({
      phone: '13800002222',
      atMs: Date.now() + 500,
      callId: 'cq-CB1',
      queueId: 'retail',
    });
    assert.equal(tk.kind, 'callback-request');
    await waitFor('callback placed', async () => (await getTicket(t.pool, tk.ticketId))!.status === 'closed');
    const mine = placed.filter((p) => p.ticketId === tk.ticketId);
    assert.equal(mine.length, 1);
    assert.deepEqual(
      [mine[0]!.phone, mine[0]!.callId, mine[0]!.queueId],
      ['13800002222', 'cq-CB1', 'retail'],
    );
    const types = (await eventsFor(t.pool, tk.ticketId)).map((e) => e.type);
    assert.deepEqual(types, ['ticket.opened', 'callback.scheduled', 'ticket.closed', 'callback.placed']);
    assert.equal(
      await jobs.handleCallback({ ticketId: tk.ticketId }),
      'skipped',
      'a rerun does not call again',
    );
  });

  test('a failing callback is retried by pg-boss', async () => {
    failNextCallback = true;
    const tk = await jobs.scheduleCallback({ phone: '13800003333', atMs: Date.now() });
    await waitFor(
      'callback placed after retry',
      async () => (await getTicket(t.pool, tk.ticketId))!.status === 'closed',
      20_000,
    );
    assert.equal(placed.filter((p) => p.ticketId === tk.ticketId).length, 1);
  });

  test('a new scheduler (after a restart) picks up a callback whose job was lost', async () => {
    await jobs.stop();
    const tk = await openTicket(t.ctx, {
      kind: 'callback-request',
      callbackAtMs: Date.now(),
      data: { phone: '13800004444' },
    });
    jobs = scheduler();
    await jobs.start();
    assert.equal((await jobs.sweep()).callbacks, 1);
    await waitFor(
      'swept callback placed',
      async () => (await getTicket(t.pool, tk.ticketId))!.status === 'closed',
    );
  });

  /** The callback jobs pg-boss holds for a ticket. */
  const callbackJobs = async (ticketId: string): Promise<number> =>
    (
      await t.pool.query(`SELECT 1 FROM pgboss.job WHERE name = $1 AND data->>'ticketId' = $2`, [
        CALLBACK_QUEUE,
        ticketId,
      ])
    ).rowCount ?? 0;
  const ticketsOfCall = async (callId: string): Promise<string[]> =>
    (await t.pool.query<{ id: string }>(`SELECT id FROM tickets WHERE call_id = $1`, [callId])).rows.map(
      (r) => r.id,
    );

  test('a ticket opened again under its key is the same ticket: one row, one set of events, one job', async () => {
    const req = {
      kind: 'complaint' as const,
      callId: 'cq-KEY1',
      slaMs: 3_600_000,
      idempotencyKey: 'ivr-ticket:k1',
    };
    const first = await jobs.openTicket(req);
    const again = await jobs.openTicket(req);
    assert.equal(again.ticketId, first.ticketId);
    assert.deepEqual(await ticketsOfCall('cq-KEY1'), [first.ticketId]);
    assert.deepEqual(
      (await eventsFor(t.pool, first.ticketId)).map((e) => e.type),
      ['ticket.opened'],
    );
    assert.deepEqual(await escalationJobs(first.ticketId), ['1:created']);
    await assert.rejects(
      jobs.openTicket({ ...req, kind: 'suggestion' }),
      (e: DomainError) => e.kind === 'conflict' && e.field === 'idempotencyKey',
    );
  });

  test('a callback request retried after its ticket committed but before its job: one ticket, one job', async () => {
    // A scheduler that is not started fails at the job step, after the ticket committed: as a
    // write whose store went away between the two steps.
    const half = scheduler();
    const req = {
      phone: '13800005555',
      atMs: Date.now() + 3_600_000,
      callId: 'cq-RETRY1',
      queueId: 'retail',
    };
    await assert.rejects(half.scheduleCallback(req), (e: DomainError) => e.kind === 'failed-precondition');
    const [opened] = await ticketsOfCall('cq-RETRY1');
    assert.ok(opened, 'the first try committed its ticket');
    // The durable writes run the whole write again once the store is back.
    const retried = await jobs.scheduleCallback(req);
    const third = await jobs.scheduleCallback(req);
    assert.equal(retried.ticketId, opened);
    assert.equal(third.ticketId, opened);
    assert.deepEqual(await ticketsOfCall('cq-RETRY1'), [opened]);
    assert.deepEqual(
      (await eventsFor(t.pool, opened)).map((e) => e.type),
      ['ticket.opened', 'callback.scheduled'],
    );
    assert.equal(await callbackJobs(opened), 1);
    await closeTicket(t.ctx, opened, 'test-done');
  });

  test('a call whose callback request was closed may ask again: its key answers only while open', async () => {
    const req = {
      phone: '13800006666',
      atMs: Date.now() + 3_600_000,
      callId: 'cq-AGAIN1',
      queueId: 'retail',
    };
    const first = await jobs.scheduleCallback(req);
    await closeTicket(t.ctx, first.ticketId, 'served-while-waiting');
    const second = await jobs.scheduleCallback(req);
    assert.notEqual(second.ticketId, first.ticketId);
    assert.equal(second.status, 'open');
    assert.equal((await jobs.scheduleCallback(req)).ticketId, second.ticketId);
    await closeTicket(t.ctx, second.ticketId, 'test-done');
  });
});
