/**
 * A callback dialled out over SIP (issue 12): the example site in this process on its own
 * PostgreSQL database, built as main.ts builds it without --simulate (site-node/sip-site.ts),
 * its `sip.dialOut` through the trunk whose outbound proxy is a SIPp UAS playing the customer.
 * A callback request is scheduled as a ticket (its pg-boss job hands it to the site), the
 * callback takes its place in retail, an agent (a SIPp phone registered with digest, ready at
 * the gRPC desk) is reserved, and the site dials the customer:
 * - the customer answers (customer-answers.xml): the call is offered to a02, its phone rings and
 *   answers, RTP flows both ways through the site, the customer hangs up; the ticket is closed
 *   `callback-placed` and the callback's CDR says answered by a02;
 * - the customer's line is busy (customer-busy.xml, 486): each try is `callback-no-answer`, the
 *   callback goes back to its place and is tried again, then closed `callback-failed`.
 * And the whole path from a real caller: a SIPp caller walks the IVR to retail, waits (a01 signed
 * in, not ready), presses the queue's callback key (caller-asks-callback.xml) and is let go;
 * once a01 is ready the site calls the customer back through the trunk and bridges a01's phone.
 * The site and the helpers are test/support/site-over-sip.ts (with `dialOut`, phones for a01 and
 * a02 only, retail's callbacks configured). docs/sip.md "The site over SIP" (`dial`).
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { getCdr, getTicket, type TicketRecord } from '../../site-node/store/index.js';
import { freeUdpPort } from '../support/sipp.js';
import { RETAIL_ANI } from '../support/sipp-walk.js';
import { assertAllSucceeded, LOCAL, QUICK_WALK, SiteOverSip } from '../support/site-over-sip.js';
import { waitFor } from '../support/wait.js';

/** The bank's number callbacks show. */
const CALLER_ID = '95588';

let s: SiteOverSip;
/** The carrier's outbound proxy: where the customer's SIPp listens. */
let customerPort: number;

beforeAll(async () => {
  customerPort = await freeUdpPort();
  s = await SiteOverSip.start({
    database: 'site_callback_sip',
    dialOut: { proxyPort: customerPort, callerId: CALLER_ID },
    // One agent with a phone per test that bridges: a phone's registration outlives its SIPp.
    phones: ['a01', 'a02'],
    timers: { ringTimeout: 4000 },
    configure: (doc) => {
      // Two tries, 1 s apart: the busy customer's second try comes soon.
      const queues = (doc.acd as { queues: Array<Record<string, unknown>> }).queues;
      queues.find((q) => q.id === 'retail')!.callback = { key: '1', maxTries: 2, retryDelayMs: '1s' };
    },
  });
}, 60_000);
afterEach(() => s.cleanup());
afterAll(() => s?.stop());

let requests = 0;
/** A callback request for c-1001, due now, in retail: its ticket and its pg-boss job. */
async function requestCallback(): Promise<TicketRecord> {
  return s.real.site.jobs.scheduleCallback({
    phone: RETAIL_ANI,
    atMs: Date.now(),
    queueId: 'retail',
    customerId: 'c-1001',
    idempotencyKey: `dial-out-test-${++requests}`,
    data: { reason: 'test' },
  });
}

async function closedTicket(ticketId: string): Promise<TicketRecord> {
  return waitFor(
    'the callback request closed',
    async () => {
      const t = await getTicket(s.real.pool, ticketId);
      return t?.status === 'closed' && t;
    },
    30_000,
  );
}

describe('a callback dialled out over SIP', () => {
  test("a caller waiting in the queue presses the callback key and is let go; the site calls them back through the trunk, to the agent's phone", async () => {
    const sinceMs = Date.now();
    const phone = await s.registeredPhone('a01');
    // Signed in, not ready: the caller waits in retail (an agent for its skill, none to offer to).
    const events = await s.signedInAgent('a01', 'registered');
    const customer = await s.sipp({
      scenario: 'customer-answers.xml',
      localPort: customerPort,
      calls: 1,
      keys: { ring_ms: 300, talk_ms: 4000 },
    });
    // queue_ms from the 0: the IVR's "please hold" (about 5 s), then the queue offers the key.
    const caller = await s.caller('caller-asks-callback.xml', {
      ...QUICK_WALK,
      dnis: '95588',
      ani: RETAIL_ANI,
      queue_ms: 8000,
    });
    assertAllSucceeded('caller asking for a callback (the site hangs up)', await caller.done, 1);
    const callId = await s.callSince(sinceMs, { exceptCallbacks: true });
    const r = await s.real.pool.query<{ id: string }>(
      `SELECT id FROM tickets WHERE kind = 'callback-request' AND call_id = $1`,
      [callId],
    );
    assert.equal(
      r.rows.length,
      1,
      `one callback request, from the key press; the call's timeline: ${(await s.timelineOf(callId)).join(', ')}`,
    );
    const ticketId = r.rows[0]!.id;
    const callbackId = await waitFor('the callback in its queue', () =>
      s.real.site.callbacks.virtualCallOf(ticketId),
    );
    assert.deepEqual(
      (await s.timelineOf(callId)).filter((e) => e.startsWith('callback')),
      ['callback-requested'],
    );

    await s.desk.setReady('a01');
    assertAllSucceeded('customer answering the callback', await customer.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    const offer = events.find((e) => e.type === 'offer');
    assert.ok(offer?.type === 'offer' && offer.pop.callId === callbackId, JSON.stringify(events));
    assert.equal((await closedTicket(ticketId)).closeReason, 'callback-placed');
    await s.finishWrapup('a01', callbackId);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callbackId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a01', JSON.stringify(cdr));
    await s.legsClosed();
  }, 150_000);

  test("the customer answers: offered to the reserved agent, the agent's phone bridged, RTP both ways, the customer hangs up; the ticket closed placed, the CDR answered", async () => {
    // Meters on both directions: the site sends the customer's media through toAgent to the
    // phone, and the phone's (and the hold music) through toCustomer to the customer.
    const toAgent = await s.meter();
    const toCustomer = await s.meter();
    const phone = await s.registeredPhone('a02', 'agent-phone.xml', { sdp_port: toAgent.port });
    toAgent.target = { host: LOCAL, port: phone.mediaPort };
    const customer = await s.sipp({
      scenario: 'customer-answers.xml',
      localPort: customerPort,
      calls: 1,
      keys: { ring_ms: 300, talk_ms: 6000, sdp_port: toCustomer.port },
    });
    toCustomer.target = { host: LOCAL, port: customer.mediaPort };
    const events = await s.readyAgent('a02');

    const ticket = await requestCallback();
    const callId = await waitFor('the callback in its queue', () =>
      s.real.site.callbacks.virtualCallOf(ticket.ticketId),
    );
    assertAllSucceeded('customer answering, then hanging up', await customer.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);

    const offer = events.find((e) => e.type === 'offer');
    assert.ok(offer?.type === 'offer', `a02 was offered the callback: ${JSON.stringify(events)}`);
    assert.equal(offer.pop.callId, callId);
    const placed = await closedTicket(ticket.ticketId);
    assert.equal(placed.closeReason, 'callback-placed', JSON.stringify(placed));
    await s.finishWrapup('a02', callId);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a02', JSON.stringify(cdr));
    assert.equal(cdr.customerId, 'c-1001', JSON.stringify(cdr));
    assert.ok(cdr.talkMs > 0, JSON.stringify(cdr));
    const kinds = await s.timelineOf(callId);
    for (const k of ['callback-dial', 'callback-answered', 'offer', 'answer', 'caller-hangup'])
      assert.ok(kinds.includes(k), `timeline has ${k}: ${kinds.join(', ')}`);
    assert.ok(!kinds.includes('callback-no-answer'), kinds.join(', '));

    // The customer's voice reached the agent's phone, and the site's audio the customer.
    const up = toAgent.forward.summary();
    const down = toCustomer.forward.summary();
    const info = JSON.stringify({ up, down });
    assert.ok((up.byPayloadType['8'] ?? 0) >= 50, `the customer's voice reached the phone: ${info}`);
    assert.ok((down.byPayloadType['8'] ?? 0) >= 50, `audio reached the customer: ${info}`);
    await s.legsClosed();
  }, 120_000);

  test("the customer's line is busy (486): not answered, the callback back at its place and tried again, then closed failed", async () => {
    const customer = await s.sipp({ scenario: 'customer-busy.xml', localPort: customerPort, calls: 2 });
    await s.readyAgent('a03', 'none');
    const ticket = await requestCallback();
    const callId = await waitFor('the callback in its queue', () =>
      s.real.site.callbacks.virtualCallOf(ticket.ticketId),
    );
    const closed = await closedTicket(ticket.ticketId);
    assert.equal(closed.closeReason, 'callback-failed', JSON.stringify(closed));
    assert.equal(closed.data.tries, 1, 'the first unanswered try was recorded for a restart');
    assertAllSucceeded('busy customer', await customer.done, 2);
    await s.real.site.flushWrites();
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.finalState, 'failed', JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'callback-failed:no-answer', JSON.stringify(cdr));
    assert.deepEqual(
      (await s.timelineOf(callId)).filter((e) => e.startsWith('callback-')),
      [
        'callback-dial',
        'callback-no-answer',
        'callback-dial',
        'callback-no-answer',
        'callback-failed:no-answer',
      ],
    );
    // The reserved agent is released after each try, never offered a call.
    assert.equal((await s.desk.agent('a03')).state, 'ready');
    await s.legsClosed();
  }, 120_000);
});
