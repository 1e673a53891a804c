/**
 * Issue 9, item 3: callbacks keep the caller's place (docs/architecture.md §4.7), on a real site
 * (real PostgreSQL, ACD, IVR and agent desk over gRPC; simulated callers and media):
 * - a caller waiting in a queue presses the callback key: the request is committed, the caller
 *   is released, and the callback is served before the callers who queued after them;
 * - a caller turned away by a full queue is promised a callback: it takes a place at once over
 *   the limit, is dialled and answered, and is never refused or offered another callback;
 * - sped up (the simulation's clock runs x20), a callback promised for later is placed on the
 *   site's clock (pg-boss would have waited for the wall clock to reach the simulated time);
 * - after a restart, a callback that was waiting comes back from its ticket at its old place;
 * - a callback nobody answers is tried again at its place, then closed as failed;
 * - a VIP the queue's fallback turns away (waited too long) is called back as a VIP, at the time
 *   they queued.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { startExampleSite, type ExampleSite } from '../support/example-site.js';
import { assertStatsMatchRecords } from '../support/stats-agree.js';
import { waitFor } from '../support/wait.js';
import type { DeskEvent, ScreenPop } from '../../site-node/cti/agent-desk.js';
import type { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import type { SimCaller } from '../../site-node/sim/sim-media.js';
import {
  getCall,
  getCdr,
  getTicket,
  getTimeline,
  seedCustomers,
  type TicketRecord,
} from '../../site-node/store/index.js';
import { query } from '../../shared/pg/pool.js';
import { Site } from '../../site-node/runtime/site.js';
import { SimMedia } from '../../site-node/sim/sim-media.js';
import { PgLedgerBankHost } from '../../shared/bank-host/pg-ledger.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { silentLogger } from '../../shared/log.js';

let ex: ExampleSite;

beforeAll(async () => {
  ex = await startExampleSite({
    label: 'callbacks',
    // Room for two callers on the line in retail; the third is offered a callback (queue full).
    edit: (doc) => {
      const queues = (doc.acd as { queues: Array<Record<string, unknown>> }).queues;
      const retail = queues.find((q) => q.id === 'retail')!;
      assert.equal(retail.onQueueFull, 'callback-offer');
      Object.assign(retail, { maxQueueLength: 2, callback: { key: '1', maxTries: 2, retryDelayMs: '2s' } });
      // A VIP nobody serves is turned away with a callback soon (no VIP agent logs in here).
      const vip = queues.find((q) => q.id === 'vip')!;
      assert.equal(vip.onMaxWait, 'callback-offer');
      vip.maxWaitMs = '2s';
    },
  });
});

afterAll(async () => {
  await ex?.close();
});

/** A known customer who asks for an agent (0), then presses `onOffer` when the callback is offered. */
function caller(ani: string, prompts: string[], onOffer: string | 'timeout' = 'timeout'): SimCaller {
  return {
    ani,
    dnis: '95599',
    patienceMs: 600_000,
    thinkMs: 20,
    respond: (prompt) => {
      if (prompt) prompts.push(prompt);
      return prompt === 'main.menu' ? '0' : prompt === 'acd.callback_option' ? onOffer : 'timeout';
    },
  };
}

/** The agent answers its next offer, talks, hangs up and wraps up; returns the screen pop. */
async function serveNext(desk: GrpcAgentDesk, agentId: string, events: DeskEvent[]): Promise<ScreenPop> {
  const offer = await waitFor(
    `an offer to ${agentId}`,
    () => {
      const i = events.findIndex((e) => e.type === 'offer');
      return i >= 0 && (events.splice(i, 1)[0] as { type: 'offer'; pop: ScreenPop });
    },
    20_000,
  );
  await desk.answer(agentId, offer.pop.callId);
  await desk.hangup(agentId, offer.pop.callId);
  await desk.completeWrapup(agentId, offer.pop.callId, 'resolved');
  return offer.pop;
}

async function callbackTicketsOf(pool: pg.Pool, callId: string): Promise<TicketRecord[]> {
  const r = await query<{ id: string }>(
    pool,
    `SELECT id FROM tickets WHERE kind = 'callback-request' AND call_id = $1`,
    [callId],
  );
  return Promise.all(r.rows.map(async (row) => (await getTicket(pool, row.id))!));
}

const queued = (callId: string): boolean => ex.site.engine.call(callId)?.state === 'queued';

test('a caller who presses the callback key keeps the place: called back before the callers who queued later', async () => {
  const { site, media, desk, pool, people } = ex;
  const heard: string[] = [];
  const a = media.place(caller(people[0]!.profile.phones[0]!, heard, '1'));
  const ticket = await waitFor(
    'the callback request of the caller who pressed 1',
    async () => (a.callId ? (await callbackTicketsOf(pool, a.callId))[0] : undefined),
    20_000,
  );
  assert.ok(heard.includes('acd.callback_option'), `the caller heard the offer (${heard.join(', ')})`);
  const virtualId = await waitFor('the callback in the queue', () =>
    site.callbacks.virtualCallOf(ticket.ticketId),
  );
  const virtual = site.engine.call(virtualId)!;
  assert.equal(virtual.virtual, true);
  assert.equal(virtual.enqueueMs, ticket.callbackAtMs, 'its place is the time the caller first queued');

  // One after the other, so that the order they queued in is known.
  const later = [];
  for (const p of [people[1]!, people[2]!]) {
    const l = media.place(caller(p.profile.phones[0]!, []));
    await waitFor('a later caller waiting', () => l.callId !== '' && queued(l.callId));
    later.push(l);
  }
  for (const l of later) assert.ok(site.engine.call(l.callId)!.enqueueMs > virtual.enqueueMs);

  const events: DeskEvent[] = [];
  const unsubscribe = desk.subscribe('a03', (e) => events.push(e));
  await desk.login('a03');
  await desk.setReady('a03');
  const served = [];
  for (let i = 0; i < 3; i++) served.push(await serveNext(desk, 'a03', events));
  assert.deepEqual(
    served.map((p) => p.callId),
    [virtualId, later[0]!.callId, later[1]!.callId],
    'the callback first, then the callers in the order they queued',
  );
  assert.equal(served[0]!.dnis, 'callback');
  assert.equal(served[0]!.attached.callbackTicketId, ticket.ticketId);
  assert.equal(served[0]!.attached.originalCallId, a.callId);

  await site.flushWrites();
  const original = await getCall(pool, a.callId);
  assert.equal(original?.state, 'callback-scheduled');
  assert.equal((await getCdr(pool, a.callId))?.outcome, 'callback');
  const closed = await waitFor('the request closed', async () => {
    const t = await getTicket(pool, ticket.ticketId);
    return t?.status === 'closed' && t;
  });
  assert.equal(closed.closeReason, 'callback-placed');
  assert.equal((await getCdr(pool, virtualId))?.outcome, 'answered');
  const timeline = (await getTimeline(pool, virtualId)).map((e) => e.event);
  assert.ok(
    timeline.includes('callback-dial') && timeline.includes('callback-answered'),
    timeline.join(', '),
  );
  assert.equal(site.snapshot().summary.abandoned, 0, 'asking for a callback is not abandoning');
  assert.equal(site.snapshot().failedWrites, 0, 'every record of the callback was written in order');
  unsubscribe();
  await desk.logout('a03');
});

test('a caller turned away by a full queue keeps a place over the limit and is answered, never refused or offered again', async () => {
  const { site, media, desk, pool, people } = ex;
  const waiting = [];
  for (const p of [people[0]!, people[1]!]) {
    const l = media.place(caller(p.profile.phones[0]!, []));
    await waitFor('a caller waiting', () => l.callId !== '' && queued(l.callId));
    waiting.push(l);
  }
  const heard: string[] = [];
  const f = media.place(caller(people[2]!.profile.phones[0]!, heard));
  const ticket = await waitFor(
    'the callback promised to the caller turned away',
    async () => (f.callId ? (await callbackTicketsOf(pool, f.callId))[0] : undefined),
    20_000,
  );
  const virtualId = await waitFor('its place in the queue', () =>
    site.callbacks.virtualCallOf(ticket.ticketId),
  );
  assert.ok(queued(virtualId), 'admitted over the full queue');
  assert.equal(site.engine.stats('retail').waiting, 3);

  const events: DeskEvent[] = [];
  const unsubscribe = desk.subscribe('a04', (e) => events.push(e));
  await desk.login('a04');
  await desk.setReady('a04');
  const served = [];
  for (let i = 0; i < 3; i++) served.push(await serveNext(desk, 'a04', events));
  assert.deepEqual(
    served.map((p) => p.callId),
    [waiting[0]!.callId, waiting[1]!.callId, virtualId],
  );
  await site.flushWrites();
  assert.equal((await getCdr(pool, virtualId))?.outcome, 'answered');
  const again = await query<{ n: string }>(
    pool,
    `SELECT count(*) AS n FROM tickets WHERE kind = 'callback-request' AND data->>'phone' = $1`,
    [people[2]!.profile.phones[0]!],
  );
  assert.equal(Number(again.rows[0]!.n), 1, 'one callback promised, none offered again');
  const refusals = await query<{ n: string }>(
    pool,
    `SELECT count(*) AS n FROM calls WHERE dnis = 'callback' AND state IN ('callback-scheduled', 'ended')
      AND end_reason LIKE 'fallback:%'`,
  );
  assert.equal(Number(refusals.rows[0]!.n), 0, 'no callback was turned away by a fallback');
  unsubscribe();
  await desk.logout('a04');

  // The figures rebuilt from the stored events (what a restart shows) are the live ones.
  await assertStatsMatchRecords(site, pool, ex.config, ex.scheduler.now());
});

test('a VIP turned away by the fallback is called back as a VIP, at the time they queued', async () => {
  const { site, media, pool, people } = ex;
  // A VIP of their own: the other tests' callers are retail.
  const p = people[0]!.profile;
  const person = {
    ...p,
    customerId: `${p.customerId}-vip`,
    phones: [`${p.phones[0]!}9`],
    segment: 'vip' as const,
  };
  await seedCustomers(site.store, [person]);
  const v = media.place(caller(person.phones[0]!, []));
  const place = await waitFor('the VIP waiting in the VIP queue', () => {
    const c = v.callId ? site.engine.call(v.callId) : undefined;
    return c?.state === 'queued' && { queueId: c.queueId, priority: c.priority, enqueueMs: c.enqueueMs };
  });
  assert.deepEqual([place.queueId, place.priority], ['vip', 10]);
  const ticket = await waitFor(
    'the callback promised when the VIP waited too long',
    async () => (await callbackTicketsOf(pool, v.callId))[0],
    20_000,
  );
  assert.equal(ticket.data.priority, 10, 'the request keeps the VIP priority');
  assert.equal(ticket.callbackAtMs, place.enqueueMs, 'and the time the VIP queued');
  const virtualId = await waitFor('its place in the VIP queue', () =>
    site.callbacks.virtualCallOf(ticket.ticketId),
  );
  const virtual = site.engine.call(virtualId)!;
  assert.deepEqual(
    [virtual.queueId, virtual.priority, virtual.enqueueMs],
    ['vip', 10, place.enqueueMs],
    'the callback waits as a VIP, at the VIP’s place',
  );
  await site.flushWrites();
  assert.equal((await getCall(pool, v.callId))?.state, 'callback-scheduled');
});

test('sped up x20, a callback promised for later is placed on the site clock', async () => {
  // The example flow's callback node, promised in 3 minutes (9 s of real time at x20).
  const dir = mkdtempSync(join(tmpdir(), 'pcc-callbacks-'));
  const flowPath = new URL('../../site-node/ivr/flows/phone-banking.yaml', import.meta.url).pathname;
  const flow = readFileSync(flowPath, 'utf8');
  assert.match(flow, /callback: \{ kind: callback, queue: retail, slaMinutes: 120/);
  writeFileSync(
    join(dir, 'flow.yaml'),
    flow.replace(/(kind: callback, queue: retail, slaMinutes: )120/, '$13'),
  );
  const fast = await startExampleSite({
    label: 'callbacks-x20',
    speed: 20,
    edit: (doc) => ((doc.ivr as Record<string, unknown>).flow = join(dir, 'flow.yaml')),
  });
  try {
    const { site, media, pool, people } = fast;
    // An agent on the site's own desk: a remote desk's lease is site time too, so it would
    // lapse in 1.5 s of real time at x20 without heartbeats.
    await site.desk.login('a03');
    await site.desk.setReady('a03');
    const leg = media.place({
      ani: people[0]!.profile.phones[0]!,
      dnis: '95599',
      patienceMs: 600_000,
      thinkMs: 20,
      respond: (p) => (p === 'main.menu' ? '6' : p === 'feedback.menu' ? '3' : 'timeout'),
    });
    const ticket = await waitFor(
      'the callback request from the IVR',
      async () => (leg.callId ? (await callbackTicketsOf(pool, leg.callId))[0] : undefined),
      20_000,
    );
    const promisedIn = ticket.callbackAtMs! - ticket.openedAtMs;
    assert.ok(promisedIn >= 170_000 && promisedIn <= 190_000, `promised in ${promisedIn} ms of site time`);
    const placed = await waitFor(
      'the callback placed',
      async () => {
        const t = await getTicket(pool, ticket.ticketId);
        return t?.status === 'closed' && t;
      },
      30_000,
    );
    assert.equal(placed.closeReason, 'callback-placed');
    assert.ok(media.counters.dialled >= 1, 'the site dialled the customer');
  } finally {
    await fast.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('after a restart a waiting callback comes back from its ticket, at its old place', async () => {
  const { site, media, pool, people, config, db } = ex;
  const a = media.place(caller(people[0]!.profile.phones[0]!, [], '1'));
  const ticket = await waitFor(
    'the callback request',
    async () => (a.callId ? (await callbackTicketsOf(pool, a.callId))[0] : undefined),
    20_000,
  );
  const virtualId = await waitFor('the callback in the queue', () =>
    site.callbacks.virtualCallOf(ticket.ticketId),
  );
  const before = site.engine.call(virtualId)!;
  await site.stop();

  const scheduler = new RealScheduler();
  const media2 = new SimMedia(scheduler, (n) => ({
    ani: n,
    dnis: 'callback',
    patienceMs: 600_000,
    thinkMs: 20,
    respond: () => 'timeout',
  }));
  const again = new Site({
    config,
    pool,
    databaseUrl: db.url,
    scheduler,
    media: media2,
    bank: new PgLedgerBankHost(pool),
    log: silentLogger,
    drainMs: 500,
    jobPollingSeconds: 1,
    cti: false,
    web: false,
  });
  await again.start();
  try {
    const restoredId = again.callbacks.virtualCallOf(ticket.ticketId);
    assert.ok(restoredId, 'the open request took a place again at start');
    const restored = again.engine.call(restoredId)!;
    assert.equal(restored.virtual, true);
    assert.equal(restored.enqueueMs, before.enqueueMs, 'its place: the time the caller first queued');
    assert.equal(restored.priority, before.priority);

    const late = media2.place(caller(people[1]!.profile.phones[0]!, []));
    await waitFor(
      'a new caller waiting',
      () => late.callId !== '' && again.engine.call(late.callId)?.state === 'queued',
    );
    const events: DeskEvent[] = [];
    again.desk.subscribe('a03', (e) => events.push(e));
    await again.desk.login('a03');
    await again.desk.setReady('a03');
    const first = await waitFor('the first offer', () => events.find((e) => e.type === 'offer'));
    assert.equal(
      (first as { pop: ScreenPop }).pop.callId,
      restoredId,
      'the callback before the caller who came later',
    );
  } finally {
    await again.stop();
  }
});

test('a callback nobody answers releases the agent, is tried again at its place, and closes failed after maxTries', async () => {
  // Sped up x20: a 30 s ring is 1.5 s of real time. The customer never picks up.
  const fast = await startExampleSite({
    label: 'callbacks-no-answer',
    speed: 20,
    answers: () => false,
    edit: (doc) => {
      const queues = (doc.acd as { queues: Array<Record<string, unknown>> }).queues;
      queues.find((q) => q.id === 'retail')!.callback = { key: '1', maxTries: 2, retryDelayMs: '20s' };
    },
  });
  try {
    const { site, media, pool, people } = fast;
    const leg = media.place(caller(people[0]!.profile.phones[0]!, [], '1'));
    const ticket = await waitFor(
      'the callback request',
      async () => (leg.callId ? (await callbackTicketsOf(pool, leg.callId))[0] : undefined),
      20_000,
    );
    const virtualId = await waitFor('its virtual call', () => site.callbacks.virtualCallOf(ticket.ticketId));
    await site.desk.login('a03');
    await site.desk.setReady('a03');
    const closed = await waitFor(
      'the request closed',
      async () => {
        const t = await getTicket(pool, ticket.ticketId);
        return t?.status === 'closed' && t;
      },
      30_000,
    );
    assert.equal(closed.closeReason, 'callback-failed');
    assert.equal(closed.data.tries, 1, 'the first unanswered try was recorded for a restart');
    await site.flushWrites();
    const record = await getCall(pool, virtualId);
    assert.equal(record?.state, 'failed');
    assert.equal(record?.endReason, 'callback-failed:no-answer');
    const timeline = (await getTimeline(pool, virtualId)).map((e) => e.event);
    assert.deepEqual(
      timeline.filter((e) => e.startsWith('callback-')),
      [
        'callback-dial',
        'callback-no-answer',
        'callback-dial',
        'callback-no-answer',
        'callback-failed:no-answer',
      ],
    );
    assert.equal(site.engine.agent('a03')?.state, 'ready', 'the agent is free again');
    assert.equal(site.engine.call(virtualId), undefined);
  } finally {
    await fast.close();
  }
});
