/**
 * An agent lifts a customer's PIN lock over the real gRPC agent service of a real site, with
 * the reference ledger as the bank host: the screen pop says the caller is locked; an agent on
 * another call, an agent on no call, a customer who is not the caller and a bad verification
 * method are refused and change nothing (the lock stays, no event); the agent on the call with
 * that customer unlocks it, and both the host's lock record and the site's outbox say who, how
 * and why.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { startExampleSite, type ExampleSite } from '../support/example-site.js';
import { waitFor } from '../support/wait.js';
import type { DeskEvent, DeskPinUnlock, ScreenPop } from '../../site-node/cti/agent-desk.js';
import type { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { PgLedgerBankHost } from '../../shared/bank-host/pg-ledger.js';
import { eventsFor } from '../../shared/events/index.js';
import { isDomainError, type ErrorKind } from '../../shared/errors.js';
import { query } from '../../shared/pg/pool.js';
import { createLogger } from '../../shared/log.js';

let ex: ExampleSite;
let pool: pg.Pool;
let desk: GrpcAgentDesk;
let host: PgLedgerBankHost;
/** The site's log lines (warn and above), to see each refusal logged once. */
const lines: string[] = [];

beforeAll(async () => {
  ex = await startExampleSite({
    label: 'pin-unlock',
    log: createLogger({}, { level: 'warn', write: (l) => lines.push(l) }),
  });
  ({ pool, desk } = ex);
  host = new PgLedgerBankHost(pool);
});

afterAll(async () => {
  for (const close of streams) close();
  await ex?.close();
});

const streams: Array<() => void> = [];

/**
 * A known customer calls and presses 0; resolves with the screen pop offered to `agentId`.
 * The agent's Events stream stays open (it holds the desk's lease) until the test ends.
 */
async function callReaches(agentId: string, person: number): Promise<ScreenPop> {
  const events: DeskEvent[] = [];
  const unsubscribe = desk.subscribe(agentId, (e) => events.push(e));
  await desk.login(agentId);
  await desk.setReady(agentId);
  const customer = ex.people[person]!.profile;
  ex.media.place({
    ani: customer.phones[0]!,
    dnis: '95599',
    patienceMs: 120_000,
    thinkMs: 20,
    respond: (prompt) => (prompt === 'main.menu' ? '0' : 'timeout'),
  });
  const offer = await waitFor(
    `an offer to ${agentId}`,
    () => events.find((e): e is Extract<DeskEvent, { type: 'offer' }> => e.type === 'offer'),
    15_000,
  );
  streams.push(unsubscribe);
  assert.equal(offer.pop.customer?.customerId, customer.customerId);
  return offer.pop;
}

const refusedAs = (kind: ErrorKind, pattern: RegExp) => (e: unknown) => {
  assert.ok(isDomainError(e, kind), `expected ${kind}, got ${String(e)}`);
  assert.match((e as Error).message, pattern);
  return true;
};

test('the agent on the call unlocks a locked caller; everyone else is refused and nothing changes', async () => {
  const locked = ex.people[1]!.profile.customerId;
  for (let i = 0; i < 3; i++) await host.verifyPin({ customerId: locked }, '000000');
  const lock = await host.pinLockStatus(locked);
  assert.ok(lock.locked, 'three wrong PINs lock the customer');

  // The screen pop tells the agent the caller is locked.
  const pop = await callReaches('a03', 1);
  assert.equal(pop.pinLockedUntilMs, lock.lockedUntilMs);
  const ask: DeskPinUnlock = {
    callId: pop.callId,
    customerId: locked,
    verification: { method: 'security-questions', detail: 'date of birth and last transaction' },
    reason: 'caller locked out after three wrong PINs',
  };

  // Offered but not answered: not yet the agent's conversation.
  await assert.rejects(
    desk.unlockPin('a03', ask),
    refusedAs('failed-precondition', /not on a call \(reserved\)/),
  );
  await desk.answer('a03', pop.callId);

  // Another agent, logged in but on no call.
  await desk.login('a02');
  await assert.rejects(
    desk.unlockPin('a02', ask),
    refusedAs('failed-precondition', /agent a02 is not on a call/),
  );
  await desk.logout('a02');

  // Another agent on its own call, naming a03's call, or its own call for a03's customer.
  const other = await callReaches('a02', 2);
  await desk.answer('a02', other.callId);
  await assert.rejects(
    desk.unlockPin('a02', ask),
    refusedAs('permission-denied', new RegExp(`call ${pop.callId} is not agent a02's call`)),
  );
  await assert.rejects(
    desk.unlockPin('a02', { ...ask, callId: other.callId }),
    refusedAs('permission-denied', new RegExp(`customer ${locked} is not the caller`)),
  );

  // The agent on the call, without a listed way of verifying identity.
  for (const method of ['', 'gut-feeling']) {
    await assert.rejects(
      desk.unlockPin('a03', { ...ask, verification: { method, detail: '' } }),
      refusedAs('invalid-argument', /verification\.method/),
    );
  }

  // Each refusal logged with who and why, throttled per agent: the first of each agent in a
  // window is a line, the rest are counted in `more pin unlock refusals` (after the window ends).
  const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const refusals = () => logged().filter((l) => l.msg === 'pin unlock refused');
  await waitFor(
    'all six refusals logged or counted',
    () => {
      const counted = logged()
        .filter((l) => l.msg === 'more pin unlock refusals')
        .reduce((n, l) => n + Number(l.count), 0);
      return refusals().length + counted === 6;
      // Each agent's window sums up at the summary timer's tick after it ends: up to two windows.
    },
    30_000,
  );
  assert.deepEqual(
    refusals()
      .map((r) => r.agentId)
      .slice(0, 2),
    ['a03', 'a02'],
  );
  assert.ok(refusals().every((r) => String(r.why).length > 0));

  // Nothing changed: still locked, no unlock on the host's record, no event at the site.
  assert.deepEqual(await host.pinLockStatus(locked), lock);
  const unlockedRows = async () =>
    (
      await query<{ unlocked_by: string | null; unlock_reason: string | null }>(
        pool,
        'SELECT unlocked_by, unlock_reason FROM ledger.pin_locks WHERE customer_id = $1',
        [locked],
      )
    ).rows;
  assert.deepEqual(await unlockedRows(), [{ unlocked_by: null, unlock_reason: null }]);
  const unlockEvents = async () =>
    (await eventsFor(pool, locked)).filter((e) => e.type === 'customer.pin-unlocked');
  assert.deepEqual(await unlockEvents(), []);

  // The agent on the call with the customer unlocks it.
  const res = await desk.unlockPin('a03', ask);
  assert.equal(res.wasLocked, true);
  assert.equal(res.customerId, locked);
  assert.deepEqual(await host.pinLockStatus(locked), { customerId: locked, locked: false });
  assert.deepEqual(await unlockedRows(), [
    {
      unlocked_by: `${ex.config.siteId}/a03`,
      unlock_reason: 'security-questions: caller locked out after three wrong PINs',
    },
  ]);
  const [event, ...more] = await unlockEvents();
  assert.equal(more.length, 0);
  assert.equal(event!.id, res.eventId, 'the event was committed before the answer');
  assert.equal(event!.siteId, ex.config.siteId);
  assert.deepEqual(event!.payload, {
    customerId: locked,
    agentId: 'a03',
    callId: pop.callId,
    method: 'security-questions',
    detail: 'date of birth and last transaction',
    reason: 'caller locked out after three wrong PINs',
    wasLocked: true,
  });
  assert.equal((await host.verifyPin({ customerId: locked }, ex.people[1]!.pin)).verified, true);

  for (const [agentId, callId] of [
    ['a03', pop.callId],
    ['a02', other.callId],
  ] as const) {
    await desk.hangup(agentId, callId);
    await desk.completeWrapup(agentId, callId, 'resolved');
    await desk.logout(agentId);
  }
});
