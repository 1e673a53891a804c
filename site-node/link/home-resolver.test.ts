import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { ManualClock } from '../../shared/clock.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { seedCustomers } from '../store/customers-repo.js';
import { pgSkip, siteTestDb, type SiteTestDb } from '../store/testing.js';
import { CacheHomeResolver } from './home-resolver.js';

const profile = (id: string, home: string): CustomerProfile => ({
  customerId: `${home}-c${id}`,
  name: `Customer ${id}`,
  phones: [`139${id}`],
  cards: [`6222${home === 'cq' ? '01' : '02'}${id}`],
  homeSiteId: home,
  segment: 'retail',
  language: 'zh',
  flags: { blacklisted: false, lostCard: false },
  accountIds: [`${home}-a${id}-cur`, `${home}-a${id}-dep`],
  version: 1,
});

describe.skipIf(pgSkip)('CacheHomeResolver (real site database)', () => {
  let t: SiteTestDb;
  const own = profile('00001', 'cq');
  const roamer = profile('00001', 'cd');

  beforeAll(async () => {
    t = await siteTestDb('home_resolver', { clock: new ManualClock(1_763_000_000_000) });
    await seedCustomers(t.ctx, [own, roamer]);
  });
  afterAll(async () => {
    await t?.close();
  });

  test('resolves the home site by customer id, account id and card number', async () => {
    const r = new CacheHomeResolver(t.pool);
    assert.equal(await r.byCustomer(own.customerId), 'cq');
    assert.equal(await r.byCustomer(roamer.customerId), 'cd');
    assert.equal(await r.byAccount('cd-a00001-dep'), 'cd');
    assert.equal(await r.byAccount('cq-a00001-cur'), 'cq');
    assert.equal(await r.byCard(roamer.cards[0]!), 'cd');
    assert.equal(await r.byCard(own.cards[0]!), 'cq');
  });

  test('unknown customers, accounts and cards resolve to undefined', async () => {
    const r = new CacheHomeResolver(t.pool);
    assert.equal(await r.byCustomer('nobody'), undefined);
    assert.equal(await r.byAccount('no-such-account'), undefined);
    assert.equal(await r.byCard('0000'), undefined);
    // Exact element match: a prefix of an account id is not that account.
    assert.equal(await r.byAccount('cd-a00001'), undefined);
  });
});
