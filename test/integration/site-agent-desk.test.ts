/**
 * A whole call through a real site, driven by an agent over the real gRPC agent service:
 * a known customer calls, is recognised by caller number, presses 0, and is queued with
 * attached data; the agent's Events stream pops the screen (profile, IVR path, recent
 * contacts); the agent answers, hangs up and wraps up with a code, and the CDR in
 * PostgreSQL carries all of it. Bad requests are refused with INVALID_ARGUMENT naming the
 * field and change nothing. A caller whose queue cannot serve them in time leaves a message,
 * and the call's record closes.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { startExampleSite, type ExampleSite } from '../support/example-site.js';
import { waitFor } from '../support/wait.js';
import type { Site } from '../../site-node/runtime/site.js';
import type { SimMedia } from '../../site-node/sim/sim-media.js';
import type { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import type { DeskEvent, ScreenPop } from '../../site-node/cti/agent-desk.js';
import { getCdr, getCall, getTicket } from '../../site-node/store/index.js';
import { query } from '../../shared/pg/pool.js';
import { makePopulation } from '../../site-node/sim/population.js';
import { isDomainError } from '../../shared/errors.js';
import type pg from 'pg';

let ex: ExampleSite;
let pool: pg.Pool;
let site: Site;
let media: SimMedia;
let desk: GrpcAgentDesk;

beforeAll(async () => {
  ex = await startExampleSite({
    label: 'desk',
    // Complaints callers wait at most 1.5 s before they are offered to leave a message (the
    // example's 3 min, shortened so a test can see it happen).
    edit: (doc) => {
      const queues = (doc.acd as { queues: Array<Record<string, unknown>> }).queues;
      const complaints = queues.find((q) => q.id === 'complaints')!;
      assert.equal(complaints.onMaxWait, 'leave-message');
      complaints.maxWaitMs = '1500ms';
    },
  });
  ({ pool, site, media, desk } = ex);
});

afterAll(async () => {
  await ex?.close();
});

/** Waits for the first `type` event and takes it out of `events`. */
function nextEvent(events: DeskEvent[], type: DeskEvent['type'], timeoutMs = 15_000): Promise<DeskEvent> {
  return waitFor(
    `a ${type} event`,
    () => {
      const i = events.findIndex((e) => e.type === type);
      return i >= 0 && events.splice(i, 1)[0];
    },
    timeoutMs,
  );
}

test('a known caller presses 0: screen pop over gRPC, answer, hang up, wrap-up code in the CDR', async () => {
  const events: DeskEvent[] = [];
  const unsubscribe = desk.subscribe('a03', (e) => events.push(e));
  await desk.login('a03');
  await desk.setReady('a03');

  const customer = makePopulation('chongqing', 3, 5)[1]!.profile;
  media.place({
    ani: customer.phones[0]!,
    dnis: '95599',
    patienceMs: 120_000,
    thinkMs: 20,
    respond: (prompt) => (prompt === 'main.menu' ? '0' : 'timeout'),
  });

  const offer = (await nextEvent(events, 'offer')) as { type: 'offer'; pop: ScreenPop };
  const pop = offer.pop;
  assert.equal(pop.queueId, 'retail');
  assert.equal(pop.ani, customer.phones[0]);
  assert.equal(pop.customer?.customerId, customer.customerId);
  assert.equal(pop.customer?.homeSiteId, 'chongqing');
  assert.ok(pop.ivrPath.includes('main_menu'), `ivr path ${pop.ivrPath.join('>')}`);
  assert.equal(pop.attached.intent, 'agent');
  assert.equal(pop.attached.customerId, customer.customerId);
  assert.ok(pop.answerByMs > pop.offeredAtMs);

  const answered = await desk.answer('a03', pop.callId);
  assert.equal(answered.state, 'on-call');
  const hung = await desk.hangup('a03', pop.callId);
  assert.equal(hung.state, 'wrap-up');

  // Bad input is refused naming the field and changes nothing.
  await assert.rejects(desk.completeWrapup('a03', pop.callId, 'not a code'), (e: unknown) => {
    assert.ok(isDomainError(e, 'invalid-argument'), String(e));
    assert.match((e as Error).message, /wrapup_code|wrapupCode/);
    return true;
  });
  await assert.rejects(desk.setNotReady('a03', 'nap'), (e: unknown) => isDomainError(e, 'invalid-argument'));
  // No agent signed in under an empty id: the call is anonymous, refused before its input is read.
  await assert.rejects(desk.answer('', 'x'), (e: unknown) => isDomainError(e, 'unauthenticated'));
  assert.equal((await desk.agent('a03')).state, 'wrap-up');

  const done = await desk.completeWrapup('a03', pop.callId, 'resolved');
  assert.equal(done.state, 'ready');

  await site.flushWrites();
  const cdr = await getCdr(pool, pop.callId);
  assert.ok(cdr, 'CDR written');
  assert.equal(cdr.agentId, 'a03');
  assert.equal(cdr.wrapupCode, 'resolved');
  assert.equal(cdr.outcome, 'answered');
  assert.equal(cdr.queueId, 'retail');
  const call = await getCall(pool, pop.callId);
  assert.equal(call?.state, 'ended');
  assert.deepEqual(
    call?.legs.map((l) => l.role),
    ['caller', 'agent'],
  );
  unsubscribe();
  await desk.logout('a03');
});

test('a callback request comes due: the site dials the customer and queues them ahead with the request attached', async () => {
  const events: DeskEvent[] = [];
  const unsubscribe = desk.subscribe('a02', (e) => events.push(e));
  await desk.login('a02');
  await desk.setReady('a02');
  const customer = makePopulation('chongqing', 3, 5)[2]!.profile;
  const ticket = await site.jobs.scheduleCallback({
    phone: customer.phones[0]!,
    atMs: Date.now() + 300,
    queueId: 'retail',
    customerId: customer.customerId,
    data: { reason: 'test' },
  });

  const offer = (await nextEvent(events, 'offer', 20_000)) as { type: 'offer'; pop: ScreenPop };
  assert.equal(offer.pop.attached.callbackTicketId, ticket.ticketId);
  assert.equal(offer.pop.attached.intent, 'callback');
  assert.equal(offer.pop.customer?.customerId, customer.customerId);
  assert.equal(offer.pop.dnis, 'callback');
  await desk.answer('a02', offer.pop.callId);
  await desk.hangup('a02', offer.pop.callId);
  await desk.completeWrapup('a02', offer.pop.callId, 'follow-up');

  // The job closes the request once the call exists.
  const t = await waitFor(
    'the callback request closed',
    async () => {
      const closing = await getTicket(pool, ticket.ticketId);
      return closing?.status === 'closed' && closing;
    },
    10_000,
  );
  assert.equal(t.closeReason, 'callback-placed');
  await site.flushWrites();
  assert.equal((await getCdr(pool, offer.pop.callId))?.wrapupCode, 'follow-up');
  unsubscribe();
  await desk.logout('a02');
});

test('a complaints caller nobody can take in time leaves a message: the call ends with its ticket, its record closed', async () => {
  // No complaints agent is logged in: the caller waits out the queue's 1.5 s and is offered
  // to leave a message (a ticket for the branch); the call record must close as `ended`.
  const customer = makePopulation('chongqing', 3, 5)[0]!.profile;
  const leg = media.place({
    ani: customer.phones[0]!,
    dnis: '95599',
    patienceMs: 120_000,
    thinkMs: 20,
    respond: (prompt) => (prompt === 'main.menu' ? '6' : prompt === 'feedback.menu' ? '1' : 'timeout'),
  });
  const call = await waitFor(
    `call ${leg.callId} closed`,
    async () => {
      await site.flushWrites();
      const closing = leg.callId ? await getCall(pool, leg.callId) : undefined;
      return closing && ['ended', 'failed', 'abandoned'].includes(closing.state) && closing;
    },
    20_000,
  );
  assert.equal(call.state, 'ended', `call ${leg.callId} closed as ended (${call.state})`);
  assert.equal(call.queueId, 'complaints');
  const cdr = await getCdr(pool, leg.callId);
  assert.equal(cdr?.outcome, 'callback', 'the CDR says the caller is to be called back');
  // The flow records complaints, but a simulated caller makes no sound: no recording, no path.
  assert.equal(cdr?.recording, undefined, JSON.stringify(cdr));
  const tickets = await query<{ kind: string }>(
    pool,
    `SELECT kind FROM tickets WHERE call_id = $1 ORDER BY kind`,
    [leg.callId],
  );
  assert.deepEqual(
    tickets.rows.map((t) => t.kind),
    ['complaint', 'leave-message'],
    'the complaint from the IVR and the message for the branch',
  );
});
