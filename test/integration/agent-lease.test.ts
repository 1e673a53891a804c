/**
 * Agent leases over the real gRPC agent service of a real site (docs/architecture.md §4.3):
 * a desk's Events stream is cancelled while a call is offered to its agent. The call goes back
 * to its place in the queue (ahead of a caller who came later) and another agent gets it; the
 * lost agent is not-ready `lease-lapsed` at once and logged out `lease-expired` after the
 * grace, each recorded in the agent's history, its session and the outbox. The lease timings
 * are the site config's (`cti.lease`), shortened so the test sees the logout.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { startExampleSite, type ExampleSite } from '../support/example-site.js';
import { waitFor } from '../support/wait.js';
import type { Site } from '../../site-node/runtime/site.js';
import type { SimMedia } from '../../site-node/sim/sim-media.js';
import type { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import type { DeskEvent, ScreenPop } from '../../site-node/cti/agent-desk.js';
import { query } from '../../shared/pg/pool.js';

let ex: ExampleSite;
let pool: pg.Pool;
let site: Site;
let media: SimMedia;
let desk: GrpcAgentDesk;
/** Known callers' numbers: recognised at once, so they reach the menu without keying a card. */
let phones: string[];

beforeAll(async () => {
  ex = await startExampleSite({
    label: 'lease',
    // A lease long enough that the desks in this test need no heartbeats; a short grace.
    edit: (doc) =>
      void ((doc.cti as Record<string, unknown>).lease = { timeout: '60s', logoutAfter: '1500ms' }),
  });
  ({ pool, site, media, desk } = ex);
  phones = ex.people.map((p) => p.profile.phones[0]!);
});

afterAll(async () => {
  await ex?.close();
});

function offers(events: DeskEvent[]): ScreenPop[] {
  return events.flatMap((e) => (e.type === 'offer' ? [e.pop] : []));
}

/** A caller who presses 0 at the menu (to the retail queue) and waits long. */
function placeRetailCall(ani: string): void {
  media.place({
    ani,
    dnis: '95599',
    patienceMs: 600_000,
    thinkMs: 20,
    respond: (prompt) => (prompt === 'main.menu' ? '0' : 'timeout'),
  });
}

test('a desk lost while a call is offered: the call goes back to its place, another agent gets it; the agent goes not-ready, then is logged out', async () => {
  assert.equal(site.leases.lease('a01'), undefined);
  const lostEvents: DeskEvent[] = [];
  const cancelLost = desk.subscribe('a01', (e) => lostEvents.push(e));
  await desk.login('a01');
  await desk.setReady('a01');
  await waitFor('a01 to hold a lease with its stream', () => site.leases.lease('a01')?.streams === 1);

  placeRetailCall(phones[0]!);
  const first = await waitFor('the offer to a01', () => offers(lostEvents)[0]);
  placeRetailCall(phones[1]!);
  await waitFor('the second caller to wait in retail', () => site.engine.stats('retail').waiting === 1);

  // The desk vanishes: its stream is cancelled (no logout, no word).
  cancelLost();
  await waitFor('a01 to be made not-ready by its lease', async () => {
    const v = await desk.agent('a01');
    return v.state === 'not-ready' && v.reasonCode === 'lease-lapsed';
  });
  await waitFor('the first call back in the queue, ahead of the second', () => {
    const s = site.engine.stats('retail');
    return s.waiting === 2 && site.engine.call(first.callId)?.state === 'queued';
  });

  // Another agent comes: it is offered the first call (its old place), not the later one.
  const otherEvents: DeskEvent[] = [];
  const cancelOther = desk.subscribe('a02', (e) => otherEvents.push(e));
  await desk.login('a02');
  await desk.setReady('a02');
  const second = await waitFor('an offer to a02', () => offers(otherEvents)[0]);
  assert.equal(second.callId, first.callId, 'the withdrawn call kept its place');
  assert.equal((await desk.answer('a02', second.callId)).state, 'on-call');
  assert.ok((await desk.heartbeat('a02')) === 60_000, 'a desk that beats is told how long its lease lasts');

  // After the grace the lost agent is logged out.
  await waitFor(
    'a01 logged out after the grace',
    async () => (await desk.agent('a01')).state === 'logged-out',
  );
  assert.equal(site.leases.lease('a01'), undefined);
  assert.equal(await desk.heartbeat('a01'), 0, 'a logged-out agent holds no lease');

  // Each step recorded with its reason: history, session, outbox; and the call's timeline.
  await waitFor('the store to record the logout', async () => {
    const r = await query<{ logout_reason: string | null }>(
      pool,
      `SELECT logout_reason FROM agent_sessions WHERE agent_id = 'a01'`,
    );
    return r.rows[0]?.logout_reason === 'lease-expired';
  });
  const history = await query<{ from_state: string; to_state: string; reason: string | null }>(
    pool,
    `SELECT from_state, to_state, reason FROM agent_state_history WHERE agent_id = 'a01' ORDER BY id`,
  );
  assert.deepEqual(history.rows.slice(-2), [
    { from_state: 'reserved', to_state: 'not-ready', reason: 'lease-lapsed' },
    { from_state: 'not-ready', to_state: 'logged-out', reason: 'lease-expired' },
  ]);
  const outbox = await query<{ payload: { to: string; reason: string | null } }>(
    pool,
    `SELECT payload FROM outbox WHERE type = 'agent.state-changed' AND aggregate_id = 'a01' ORDER BY seq`,
  );
  assert.deepEqual(
    outbox.rows.slice(-2).map((r) => [r.payload.to, r.payload.reason]),
    [
      ['not-ready', 'lease-lapsed'],
      ['logged-out', 'lease-expired'],
    ],
  );
  const timeline = await query<{ event: string; state: string }>(
    pool,
    `SELECT event, state FROM call_timeline WHERE call_id = $1 ORDER BY seq`,
    [first.callId],
  );
  assert.ok(
    timeline.rows.some((r) => r.event === 'lease-lapsed' && r.state === 'queued'),
    `timeline ${JSON.stringify(timeline.rows)}`,
  );
  cancelOther();
});
