/**
 * The sip-site bench's callers as a population (docs/operations.md §8.7): `count` retail
 * customers, each with a number of their own and the demo customer's PIN, seeded in the site's
 * ledger and customer table, and a copy of test/sip/scenarios/caller.xml that takes each call's
 * number (its From) from a SIPp injection file (`-inf`, one line a call, in turn). With one
 * customer for every call, every PIN check queued on that customer's row lock in the ledger
 * and the bench measured one hot row instead of a site; a province's callers are many.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_LEDGER_CUSTOMERS, type DemoLedgerCustomer } from '../../shared/bank-host/demo.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { DEMO_PROFILES } from '../../site-node/ivr/test-support.js';
import { SCENARIO_DIR } from '../support/sipp.js';

export interface BenchCallers {
  ledger: DemoLedgerCustomer[];
  profiles: CustomerProfile[];
  /** Each customer's number, the ANI its calls come from. */
  anis: string[];
}

/** `count` customers like the demo's c-1001 (retail, PIN 135790, known by number, no card). */
export function benchCallers(count: number, homeSiteId: string): BenchCallers {
  const base = DEMO_LEDGER_CUSTOMERS[0]!;
  const profile = DEMO_PROFILES[0]!;
  const ledger: DemoLedgerCustomer[] = [];
  const profiles: CustomerProfile[] = [];
  const anis: string[] = [];
  for (let i = 1; i <= count; i++) {
    const n = String(i).padStart(5, '0');
    const customerId = `c-bench-${n}`;
    const accounts = base.accounts.map((a) => ({ ...a, accountId: `${a.accountId}-${n}` }));
    const ani = `138100${n}`;
    ledger.push({ customerId, pin: base.pin, accounts, cards: [] });
    profiles.push({
      ...profile,
      customerId,
      homeSiteId,
      phones: [ani],
      cards: [],
      accountIds: accounts.map((a) => a.accountId),
    });
    anis.push(ani);
  }
  return { ledger, profiles, anis };
}

/**
 * caller.xml with each call's From taken from the injection file's first field, written to
 * `dir`; returns its path and SIPp's arguments for the file (the pcaps are still read from
 * SIPp's working directory, test/support/sipp.ts).
 */
export function populationScenario(
  dir: string,
  anis: readonly string[],
): { scenario: string; args: string[] } {
  const xml = readFileSync(join(SCENARIO_DIR, 'caller.xml'), 'utf8');
  if (!xml.includes('[ani]'))
    throw new Error('caller.xml no longer names [ani]: the population cannot replace it');
  const scenario = join(dir, 'caller-population.xml');
  writeFileSync(scenario, xml.replaceAll('[ani]', '[field0]'));
  const injection = join(dir, 'callers.csv');
  writeFileSync(injection, ['SEQUENTIAL', ...anis].join('\n') + '\n');
  return { scenario, args: ['-inf', injection] };
}
