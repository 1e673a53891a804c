import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { ManualClock } from '../../shared/clock.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { isDomainError } from '../../shared/errors.js';
import { eventsFor } from '../../shared/events/outbox.js';
import {
  getAgent,
  loginAgent,
  logoutAgent,
  openSessions,
  setAgentState,
  stateHistory,
  upsertAgent,
} from './agents-repo.js';
import { evictServed, PgCustomerDirectory, seedCustomers, upsertCustomer } from './customers-repo.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

describe.skipIf(pgSkip)('agents and customers repositories', () => {
  let t: SiteTestDb;
  const clock = new ManualClock(1_763_000_000_000);

  beforeAll(async () => {
    t = await siteTestDb('agents', { clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('login, state changes and logout are recorded with history and events', async () => {
    const { ctx } = t;
    await upsertAgent(ctx, { agentId: 'a1', name: 'Li Na', skills: { retail: 4, vip: 2 } });
    await assert.rejects(
      upsertAgent(ctx, { agentId: 'a2', name: 'x', skills: { retail: 9 } }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'skills.retail',
    );
    const { agent, session } = await loginAgent(ctx, 'a1');
    assert.equal(agent.state, 'not-ready');
    assert.equal(session.siteId, 'cq');
    await assert.rejects(loginAgent(ctx, 'a1'), (e) => isDomainError(e, 'failed-precondition'));
    clock.advance(1000);
    await setAgentState(ctx, { agentId: 'a1', from: 'not-ready', to: 'ready' });
    await assert.rejects(setAgentState(ctx, { agentId: 'a1', from: 'on-call', to: 'wrap-up' }), (e) =>
      isDomainError(e, 'conflict'),
    );
    await setAgentState(ctx, { agentId: 'a1', to: 'reserved', callId: 'cq-X' });
    await setAgentState(ctx, { agentId: 'a1', to: 'reserved', callId: 'cq-X' }); // same state: no-op
    await logoutAgent(ctx, 'a1');
    await logoutAgent(ctx, 'a1'); // twice: no-op
    assert.equal((await getAgent(t.pool, 'a1'))!.state, 'logged-out');
    assert.deepEqual(await openSessions(t.pool), []);
    const h = await stateHistory(t.pool, 'a1');
    assert.deepEqual(
      h.map((x) => `${x.from}>${x.to}:${x.reason ?? ''}`),
      ['logged-out>not-ready:login', 'not-ready>ready:', 'ready>reserved:', 'reserved>logged-out:logout'],
    );
    assert.equal(h[2]!.callId, 'cq-X');
    const evs = await eventsFor(t.pool, 'a1');
    // The event says where the agent came from (stats-rebuild.ts reads it), the reason and the call.
    assert.deepEqual(evs[3]!.payload, { from: 'ready', to: 'reserved', reason: null, callId: 'cq-X' });
    assert.deepEqual(evs[2]!.payload, { from: 'not-ready', to: 'ready', reason: null, callId: null });
    await assert.rejects(setAgentState(ctx, { agentId: 'nobody', to: 'ready' }), (e) =>
      isDomainError(e, 'not-found'),
    );
    const types = evs.map((e) => e.type);
    assert.deepEqual(types, [
      'agent.state-changed',
      'agent.logged-in',
      'agent.state-changed',
      'agent.state-changed',
      'agent.state-changed',
      'agent.logged-out',
    ]);
  });

  const profile = (id: string, over: Partial<CustomerProfile> = {}): CustomerProfile => ({
    customerId: id,
    name: `Customer ${id}`,
    phones: [`1390000${id}`],
    cards: [`62220000${id}`],
    homeSiteId: 'cq',
    segment: 'retail',
    language: 'zh',
    flags: { blacklisted: false, lostCard: false },
    accountIds: [`acc-${id}`],
    version: 1,
    ...over,
  });

  test('customer cache implements CustomerDirectory; older versions never overwrite newer', async () => {
    const { ctx } = t;
    const n = await seedCustomers(
      ctx,
      [profile('0001'), profile('0002', { homeSiteId: 'cd', segment: 'vip' })],
      {
        contacts: [
          {
            customerId: '0001',
            callId: 'cq-a',
            atMs: clock.now() - 2000,
            channel: 'voice-ivr',
            summary: 'balance',
          },
          {
            customerId: '0001',
            callId: 'cq-b',
            atMs: clock.now() - 1000,
            channel: 'ticket',
            summary: 'complaint',
          },
        ],
      },
    );
    assert.equal(n, 2);
    const dir = new PgCustomerDirectory(t.pool);
    assert.deepEqual(await dir.byPhone('13900000001'), profile('0001'));
    assert.equal((await dir.byCard('622200000002'))!.segment, 'vip');
    assert.equal((await dir.cached('0002'))!.source, 'served');
    assert.equal((await dir.cached('0001'))!.source, 'home');
    assert.equal(await dir.byPhone('000'), undefined);
    assert.deepEqual(
      (await dir.recentContacts('0001', 5)).map((c) => c.callId),
      ['cq-b', 'cq-a'],
    );
    const v3 = await upsertCustomer(ctx, profile('0001', { version: 3, name: 'New name' }));
    assert.equal(v3.written, true);
    const stale = await upsertCustomer(ctx, profile('0001', { version: 2, name: 'Stale' }));
    assert.equal(stale.written, false);
    assert.equal((await dir.byId('0001'))!.name, 'New name');
    clock.advance(10_000);
    assert.equal(await evictServed(ctx, clock.now()), 1);
    assert.equal(await dir.byId('0002'), undefined);
    assert.ok(await dir.byId('0001'));
  });
  test('phones are cached canonical; an ANI in any shape finds the customer, a non-number finds nobody', async () => {
    const { ctx } = t;
    await upsertCustomer(
      ctx,
      profile('0101', { phones: ['+86 139 0000 0101', '63880101', '+8613900000101'] }),
      undefined,
      { areaCode: '023' },
    );
    // A roaming customer's bare local number is in their city, not ours: left unqualified.
    await upsertCustomer(ctx, profile('0102', { homeSiteId: 'cd', phones: ['63880102'] }), undefined, {
      areaCode: '023',
    });
    const dir = new PgCustomerDirectory(t.pool, { areaCode: '023' });
    assert.deepEqual(
      (await dir.byId('0101'))!.phones,
      ['13900000101', '02363880101'],
      'canonical, repeat dropped',
    );
    assert.deepEqual((await dir.byId('0102'))!.phones, ['63880102']);
    for (const ani of [
      '13900000101',
      '+8613900000101',
      '008613900000101',
      '8613900000101',
      '013900000101',
      '139 0000 0101',
      '63880101',
      '023-6388-0101',
      '+862363880101',
    ]) {
      assert.equal((await dir.byPhone(ani))?.customerId, '0101', ani);
    }
    for (const ani of ['anonymous', 'unknown', 'Restricted', '', '   ', '+', '1'.repeat(21)]) {
      assert.equal(await dir.byPhone(ani), undefined, JSON.stringify(ani));
    }
    // Without an area code a local ANI is matched as it is.
    const plain = new PgCustomerDirectory(t.pool);
    assert.equal(await plain.byPhone('63880101'), undefined);
    assert.equal((await plain.byPhone('63880102'))?.customerId, '0102');
    assert.equal((await plain.byPhone('+86 139 0000 0101'))?.customerId, '0101');

    // A phone that is not a number is refused naming it; a bad area code too.
    await assert.rejects(
      upsertCustomer(ctx, profile('0103', { phones: ['13900000103', 'n/a'] })),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'phones[1]',
    );
    assert.equal(await dir.byId('0103'), undefined);
    await assert.rejects(
      upsertCustomer(ctx, profile('0103'), undefined, { areaCode: '23' }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'areaCode',
    );
    assert.throws(
      () => new PgCustomerDirectory(t.pool, { areaCode: '0x3' }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'areaCode',
    );
  });
});
