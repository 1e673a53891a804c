import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { InMemoryBankHost } from '../../shared/bank-host/memory.js';
import { RoutingBankHost } from '../../shared/bank-host/routing.js';
import { ManualClock } from '../../shared/clock.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import type { CustomerProfile, ReadPurpose } from '../../shared/domain/customer.js';
import { DomainError, isDomainError } from '../../shared/errors.js';
import { eventsFor } from '../../shared/events/outbox.js';
import { silentLogger } from '../../shared/log.js';
import { query } from '../../shared/pg/pool.js';
import { PgCustomerDirectory, upsertCustomer } from '../store/customers-repo.js';
import { pgSkip, siteTestDb, type SiteTestDb } from '../store/testing.js';
import { ScriptedCaller } from '../ivr/scripted-caller.js';
import { runIvrSession } from '../ivr/session.js';
import { DEMO_PROFILES, RecordingSinks, loadPhoneBanking } from '../ivr/test-support.js';
import { CacheHomeResolver } from './home-resolver.js';
import { FederatedCustomerDirectory } from './federated-directory.js';
import type { SiteLinkState } from './link-state.js';
import type { CustomerKey, HubLink, RemoteCustomer } from './port.js';

/** The hub as the site sees it: a switchable link state, a directory, and a record of calls. */
class FakeHubLink implements HubLink {
  state: SiteLinkState = 'up';
  /** When set, every lookup fails with it (a broken RPC on a link that still looks up). */
  failWith: Error | undefined;
  /** When true, lookups never answer (a black-holed WAN). */
  hang = false;
  readonly calls: { key: CustomerKey; value: string; purpose: ReadPurpose }[] = [];
  constructor(
    readonly siteId: string,
    private readonly profiles: CustomerProfile[],
  ) {}

  lookupCustomer(key: CustomerKey, value: string, purpose: ReadPurpose): Promise<RemoteCustomer | undefined> {
    this.calls.push({ key, value, purpose });
    if (this.state === 'down' || this.state === 'connecting')
      return Promise.reject(new DomainError('unavailable', 'hub link is down'));
    if (this.failWith) return Promise.reject(this.failWith);
    if (this.hang) return new Promise(() => {});
    const p = this.profiles.find((x) =>
      key === 'phone'
        ? x.phones.includes(value)
        : key === 'card'
          ? x.cards.includes(value)
          : x.customerId === value,
    );
    return Promise.resolve(p ? { profile: p, roaming: p.homeSiteId !== this.siteId } : undefined);
  }

  writeCustomer(): Promise<CustomerProfile> {
    return Promise.reject(new DomainError('failed-precondition', 'not used here'));
  }
}

const profile = (id: string, home: string, over: Partial<CustomerProfile> = {}): CustomerProfile => ({
  customerId: id,
  name: `Customer ${id}`,
  phones: [`138${id}`],
  cards: [`6222${id}`],
  homeSiteId: home,
  segment: 'retail',
  language: 'zh',
  flags: { blacklisted: false, lostCard: false },
  accountIds: [`${home}-a${id}-cur`],
  version: 1,
  ...over,
});

const customerReads = async (t: SiteTestDb, customerId: string) =>
  (await eventsFor(t.pool, customerId)).filter((e) => e.type === 'customer.read');

describe.skipIf(pgSkip)('FederatedCustomerDirectory (real site database)', () => {
  let t: SiteTestDb;
  const clock = new ManualClock(1_763_000_000_000);
  const own = profile('0001', 'cq');
  const roamer = profile('0002', 'cd', { segment: 'vip' });
  const otherRoamer = profile('0003', 'xa');
  let hub: FakeHubLink;
  let cache: PgCustomerDirectory;
  let dir: FederatedCustomerDirectory;
  const ivr: ReadPurpose = { reason: 'ivr-ani', callId: 'cq-CALL1', ivrSessionId: 'cq-CALL1' };
  /** Chongqing's directory over its cache and `link`, with any other options. */
  const directory = (
    link: FakeHubLink | undefined,
    extra: Partial<ConstructorParameters<typeof FederatedCustomerDirectory>[0]> = {},
  ) =>
    new FederatedCustomerDirectory({
      siteId: 'cq',
      cache,
      store: t.ctx,
      link,
      clock,
      log: silentLogger,
      ...extra,
    });

  beforeAll(async () => {
    t = await siteTestDb('federated_dir', { clock });
    cache = new PgCustomerDirectory(t.pool);
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await query(t.pool, 'TRUNCATE customers, outbox');
    await upsertCustomer(t.ctx, own, 'home');
    hub = new FakeHubLink('cq', [own, roamer, otherRoamer]);
    dir = directory(hub, { lookupTimeoutMs: 100 });
  });

  test("the site's own customer comes from the cache: no hub call, no audit", async () => {
    assert.deepEqual(await dir.byPhone(own.phones[0]!, ivr), own);
    assert.deepEqual(await dir.byCard(own.cards[0]!, { ...ivr, reason: 'ivr-card' }), own);
    assert.deepEqual(await dir.byId(own.customerId, { reason: 'agent-screen-pop', agentId: 'ag1' }), own);
    assert.equal(hub.calls.length, 0);
    assert.deepEqual(await customerReads(t, own.customerId), []);
  });

  test('a roaming customer is fetched from the hub with the purpose, and cached as served', async () => {
    assert.equal(await cache.byPhone(roamer.phones[0]!), undefined);
    assert.deepEqual(await dir.byPhone(roamer.phones[0]!, ivr), roamer);
    assert.deepEqual(hub.calls, [{ key: 'phone', value: roamer.phones[0]!, purpose: ivr }]);
    const cached = await cache.cached(roamer.customerId);
    assert.equal(cached?.source, 'served');
    assert.equal(cached?.homeSiteId, 'cd');
    assert.equal(cached?.cachedAtMs, clock.now());
    // The hub audited it: no local audit record.
    assert.deepEqual(await customerReads(t, roamer.customerId), []);

    // Cached roaming profiles still go through the hub while it is reachable (it audits them).
    const pop: ReadPurpose = { reason: 'agent-screen-pop', callId: 'cq-CALL1', agentId: 'ag7' };
    assert.deepEqual(await dir.byId(roamer.customerId, pop), roamer);
    assert.deepEqual(hub.calls[1], { key: 'customer-id', value: roamer.customerId, purpose: pop });
  });

  test('phones are normalised with the site area code before the cache and before the hub', async () => {
    const wanderer = profile('0042', 'cd', { phones: ['13800000042', '02363880042'] });
    hub = new FakeHubLink('cq', [own, wanderer]);
    const at023 = directory(hub, { areaCode: '023' });
    // The hub stores canonical numbers and is asked in canonical form, whatever the trunk sent.
    assert.deepEqual(await at023.byPhone('+86 138 0000 0042', ivr), wanderer);
    assert.equal(hub.calls.at(-1)?.value, '13800000042');
    assert.deepEqual(await at023.byPhone('013800000042', ivr), wanderer);
    assert.equal(hub.calls.at(-1)?.value, '13800000042');
    // A local caller number (no area code) is this city's: 023 + number.
    assert.deepEqual(await at023.byPhone('63880042', ivr), wanderer);
    assert.equal(hub.calls.at(-1)?.value, '02363880042');
    assert.equal(hub.calls.length, 3);

    // The site's own customer is found in the cache in any spelling, without the hub.
    await upsertCustomer(t.ctx, profile('0043', 'cq', { phones: ['13800000043'] }), 'home');
    assert.equal((await at023.byPhone('0086-138-0000-0043', ivr))?.customerId, '0043');
    assert.equal(hub.calls.length, 3);

    // Hub down: the cached roaming profile is served for another spelling, audited once.
    hub.state = 'down';
    assert.deepEqual(await at023.byPhone('8613800000042', ivr), wanderer);
    assert.equal((await customerReads(t, wanderer.customerId)).length, 1);

    assert.throws(
      () => directory(hub, { areaCode: '23' }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'areaCode',
    );
  });

  test('an ANI that is not a phone number matches nobody: no error, no hub call, no audit', async () => {
    for (const state of ['up', 'down'] as const) {
      hub.state = state;
      for (const ani of ['anonymous', 'unknown', 'Restricted', '', '  ', '+', 'sip:100@gw', '1'.repeat(21)]) {
        assert.equal(await dir.byPhone(ani, ivr), undefined, `${state}: ${JSON.stringify(ani)}`);
      }
    }
    assert.deepEqual(hub.calls, []);
    const outbox = await query<{ n: number }>(t.pool, `SELECT count(*)::int AS n FROM outbox`);
    assert.equal(outbox.rows[0]!.n, 0);
  });

  test('the hub is asked while suspect or resyncing too, and not-found is final', async () => {
    hub.state = 'suspect';
    assert.deepEqual(await dir.byCard(roamer.cards[0]!, { reason: 'ivr-card' }), roamer);
    hub.state = 'resyncing';
    assert.equal(await dir.byPhone('13999999999', ivr), undefined);
    assert.equal(hub.calls.length, 2);
    assert.equal(hub.calls[0]!.key, 'card');
  });

  test('hub down + roaming profile cached: served from cache with exactly one customer.read event', async () => {
    await upsertCustomer(t.ctx, roamer, 'served');
    hub.state = 'down';
    clock.advance(5_000);
    assert.deepEqual(await dir.byPhone(roamer.phones[0]!, ivr), roamer);
    assert.equal(hub.calls.length, 0, 'a link that is down is not even tried');
    const reads = await customerReads(t, roamer.customerId);
    assert.equal(reads.length, 1);
    assert.equal(reads[0]!.siteId, 'cq');
    assert.equal(reads[0]!.occurredAtMs, clock.now());
    assert.deepEqual(reads[0]!.payload, {
      customerId: roamer.customerId,
      homeSiteId: 'cd',
      reason: 'ivr-ani',
      callId: 'cq-CALL1',
      agentId: null,
      ivrSessionId: 'cq-CALL1',
      key: 'phone',
      servedFrom: 'cache',
    });
  });

  test('hub down + not cached: undefined, nothing audited', async () => {
    hub.state = 'connecting';
    assert.equal(await dir.byCard(otherRoamer.cards[0]!, { reason: 'ivr-card', callId: 'cq-C2' }), undefined);
    assert.equal(hub.calls.length, 0);
    assert.equal(await cache.byId(otherRoamer.customerId), undefined);
    const all = await query(t.pool, `SELECT count(*)::int AS n FROM outbox WHERE type = 'customer.read'`);
    assert.equal(all.rows[0]!.n, 0);
  });

  test('a hub error or a hub that does not answer falls back to the cache the same way', async () => {
    await upsertCustomer(t.ctx, roamer, 'served');
    hub.failWith = new DomainError('unavailable', 'connection reset');
    const pop: ReadPurpose = { reason: 'agent-screen-pop', callId: 'cq-CALL9', agentId: 'ag3' };
    assert.deepEqual(await dir.byId(roamer.customerId, pop), roamer);
    hub.failWith = new DomainError('deadline-exceeded', 'slow');
    assert.equal(await dir.byId(otherRoamer.customerId, pop), undefined);
    hub.failWith = undefined;
    hub.hang = true;
    assert.deepEqual(await dir.byCard(roamer.cards[0]!, { reason: 'ivr-card', callId: 'cq-CALL9' }), roamer);
    assert.equal(hub.calls.length, 3, 'the hub was tried each time');

    const reads = await customerReads(t, roamer.customerId);
    assert.deepEqual(
      reads.map((r) => [r.payload.reason, r.payload.key, r.payload.agentId]),
      [
        ['agent-screen-pop', 'customer-id', 'ag3'],
        ['ivr-card', 'card', null],
      ],
    );
    assert.deepEqual(await customerReads(t, otherRoamer.customerId), []);
  });

  test('a refusal from the hub is not overridden by the cache', async () => {
    await upsertCustomer(t.ctx, roamer, 'served');
    hub.failWith = new DomainError('permission-denied', 'site cq may not read cd customers');
    await assert.rejects(dir.byId(roamer.customerId, { reason: 'agent-search', agentId: 'ag1' }), (e) =>
      isDomainError(e, 'permission-denied'),
    );
    assert.deepEqual(await customerReads(t, roamer.customerId), []);
  });

  test('a site without a hub link serves roaming customers from the cache, audited', async () => {
    await upsertCustomer(t.ctx, roamer, 'served');
    const standalone = directory(undefined);
    assert.deepEqual(await standalone.byPhone(roamer.phones[0]!), roamer);
    assert.deepEqual(await standalone.byPhone(own.phones[0]!), own);
    const reads = await customerReads(t, roamer.customerId);
    assert.equal(reads.length, 1);
    assert.equal(reads[0]!.payload.reason, 'unspecified');
  });

  test('recentContacts is local', async () => {
    hub.state = 'down';
    assert.deepEqual(await dir.recentContacts(own.customerId, 5), []);
    assert.equal(hub.calls.length, 0);
  });
});

/**
 * The pieces together: a customer of site cd calls site cq. The IVR recognises them through
 * the hub (which receives the IVR's purpose), the bank requests go to cd's host, and while
 * the hub is down the cached profile still serves them, with an audit record in the outbox.
 */
describe.skipIf(pgSkip)('a roaming IVR call (real site database)', () => {
  let t: SiteTestDb;
  // The IVR session's time and timers (its bank timeouts) as well as everyone else's.
  const clock = new VirtualScheduler(1_763_000_000_000);
  const { flow, catalogue } = loadPhoneBanking();
  const roamer: CustomerProfile = { ...DEMO_PROFILES[0]!, homeSiteId: 'cd' };
  let hub: FakeHubLink;
  let local: InMemoryBankHost;
  let cdHost: InMemoryBankHost;
  let dir: FederatedCustomerDirectory;
  let bank: RoutingBankHost;

  beforeAll(async () => {
    t = await siteTestDb('roaming_ivr', { clock });
  });
  afterAll(async () => {
    await t?.close();
  });
  // Each call starts from an empty cache and outbox, a hub link that is up, and fresh hosts.
  beforeEach(async () => {
    await query(t.pool, 'TRUNCATE customers, outbox');
    hub = new FakeHubLink('cq', [roamer]);
    local = new InMemoryBankHost(clock);
    cdHost = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS, clock);
    dir = new FederatedCustomerDirectory({
      siteId: 'cq',
      cache: new PgCustomerDirectory(t.pool),
      store: t.ctx,
      link: hub,
      clock,
      log: silentLogger,
    });
    bank = new RoutingBankHost({
      localSiteId: 'cq',
      local,
      remotes: new Map([['cd', cdHost]]),
      resolveHome: new CacheHomeResolver(t.pool),
      log: silentLogger,
    });
  });

  const call = async (callId: string, script: string[], ani = roamer.phones[0]!) => {
    const caller = new ScriptedCaller(script, catalogue);
    const sinks = new RecordingSinks();
    const result = await runIvrSession({
      flow,
      sessionId: callId,
      callId,
      ani,
      dnis: '95588',
      host: bank,
      channel: caller,
      tickets: sinks,
      callbacks: sinks,
      directory: dir,
      scheduler: clock,
    });
    return { result, caller };
  };

  test('recognised through the hub with the IVR purpose; balances come from the home host', async () => {
    const { result, caller } = await call('cq-R1', ['1', '135790', '1', '0']);
    assert.deepEqual(hub.calls[0], {
      key: 'phone',
      value: roamer.phones[0]!,
      purpose: { reason: 'ivr-ani', callId: 'cq-R1', ivrSessionId: 'cq-R1' },
    });
    assert.deepEqual(
      caller.played.filter((p) => p.promptId === 'bank.balance_item').map((p) => p.vars?.balance),
      ['12500.00', '50000.00'],
    );
    assert.ok(cdHost.calls.includes('verifyPin') && cdHost.calls.includes('balances'));
    assert.deepEqual(local.calls, []);
    assert.equal(result.outcome.type, 'transfer');
    if (result.outcome.type === 'transfer')
      assert.equal(result.outcome.attached.customerId, roamer.customerId);
  });

  test('a withheld caller id is an unrecognised caller: no hub lookup, the call goes on', async () => {
    const asked = hub.calls.length;
    for (const ani of ['anonymous', 'unknown', '']) {
      const { result } = await call(`cq-A-${ani}`, Array<string>(6).fill('timeout'), ani);
      assert.equal(result.outcome.type, 'transfer', JSON.stringify(ani));
      if (result.outcome.type === 'transfer') assert.equal(result.outcome.attached.customerId, undefined);
    }
    assert.equal(hub.calls.length, asked);
  });

  test('hub down: served from the cache, audited once, and the transfer still posts on the home host', async () => {
    // Served through the hub on an earlier call (as in the first test), the roamer is cached.
    await upsertCustomer(t.ctx, roamer, 'served');
    hub.state = 'down';
    const before = cdHost.accounts.get('a-1001-cur')!.balanceMinor;
    const { caller } = await call('cq-R2', ['2', '135790', '1', '100*5', '1', 'hangup']);
    assert.ok(caller.played.some((p) => p.promptId === 'transfer.done'));
    assert.equal(cdHost.accounts.get('a-1001-cur')!.balanceMinor, before - 10_050);
    assert.deepEqual(local.calls, []);
    const reads = await customerReads(t, roamer.customerId);
    assert.equal(reads.length, 1);
    assert.deepEqual(
      [reads[0]!.payload.reason, reads[0]!.payload.callId, reads[0]!.payload.ivrSessionId],
      ['ivr-ani', 'cq-R2', 'cq-R2'],
    );
  });
});
