/**
 * The demo's customers: profiles for the site's customer cache and matching accounts for
 * the reference ledger, generated from a seed. Each simulated customer knows their own PIN,
 * as a real one would; the ledger keeps only its hash.
 */
import type { CustomerProfile } from '../../shared/domain/customer.js';
import type { DemoLedgerCustomer } from '../../shared/bank-host/demo.js';
import { Random } from '../../shared/random.js';

export interface SimCustomer {
  profile: CustomerProfile;
  pin: string;
}

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋'];

/**
 * A 3-digit code per site (100..999, from the id), so the customers of different sites have
 * different phone and card numbers: a province-wide directory recognises a roaming caller by
 * number, which only works when numbers are unique across the province.
 */
export function siteNumberCode(siteId: string): string {
  let h = 2166136261;
  for (const ch of siteId) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return String(100 + (h % 900));
}

export function makePopulation(siteId: string, count: number, seed = 7): SimCustomer[] {
  const rng = new Random(seed);
  const out: SimCustomer[] = [];
  const code = siteNumberCode(siteId);
  for (let i = 1; i <= count; i++) {
    const n = String(i).padStart(5, '0');
    const vip = rng.chance(0.1);
    out.push({
      pin: String(rng.int(100000, 999999)),
      profile: {
        customerId: `${siteId}-c${n}`,
        name: rng.pick(SURNAMES) + rng.pick(GIVEN),
        phones: [`139${code}${n}`],
        cards: [`622202${code}${String(i).padStart(7, '0')}`],
        homeSiteId: siteId,
        segment: vip ? 'vip' : 'retail',
        language: rng.chance(0.05) ? 'en' : 'zh',
        flags: { blacklisted: false, lostCard: false },
        accountIds: [`${siteId}-a${n}-cur`, `${siteId}-a${n}-dep`],
        version: 1,
      },
    });
  }
  return out;
}

/** The same customers as ledger accounts: a current and a deposit account each, one card. */
export function ledgerCustomers(pop: readonly SimCustomer[], seed = 11): DemoLedgerCustomer[] {
  const rng = new Random(seed);
  return pop.map(({ profile, pin }) => ({
    customerId: profile.customerId,
    pin,
    accounts: [
      {
        accountId: profile.accountIds[0]!,
        type: 'current',
        currency: 'CNY',
        openingMinor: rng.int(1_000, 5_000_000),
      },
      {
        accountId: profile.accountIds[1]!,
        type: 'deposit',
        currency: 'CNY',
        openingMinor: rng.int(0, 50_000_000),
      },
    ],
    cards: [{ cardNumber: profile.cards[0]!, accountId: profile.accountIds[0]!, pin }],
  }));
}
