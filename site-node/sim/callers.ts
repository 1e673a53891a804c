/**
 * Simulated callers for the phone-banking flow: who calls (a known customer from the
 * cache, or an unknown number), why (an intent drawn from a mix), and how they answer each
 * prompt. A caller who has finished their business hangs up at the next main menu; some
 * ask for an agent instead. Keys are chosen by the prompt just played, the way a person
 * answers what they were asked.
 */
import type { Random } from '../../shared/random.js';
import type { SimCaller } from './sim-media.js';
import type { SimCustomer } from './population.js';

export type Intent =
  'balance' | 'transfer' | 'card-loss' | 'bill' | 'rates' | 'complaint' | 'suggestion' | 'callback' | 'agent';

/** Share of calls per intent. Most calls are self-service, as in seed 003 (~5% reach an agent). */
export const DEFAULT_INTENT_MIX: Record<Intent, number> = {
  balance: 0.4,
  transfer: 0.1,
  'card-loss': 0.03,
  bill: 0.14,
  rates: 0.14,
  complaint: 0.03,
  suggestion: 0.02,
  callback: 0.02,
  agent: 0.12,
};

const MENU_KEY: Record<Intent, string> = {
  balance: '1',
  transfer: '2',
  'card-loss': '3',
  bill: '4',
  rates: '5',
  complaint: '6',
  suggestion: '6',
  callback: '6',
  agent: '0',
};

export interface CallerMixOptions {
  /** Share of calls from numbers the site does not know. */
  unknownShare: number;
  /** Share of callers who, once done, ask for an agent instead of hanging up. */
  agentAfterSelfService: number;
  /** Mean patience on hold (exponential). */
  meanPatienceMs: number;
  /** Chance of keying a wrong PIN on each try. */
  wrongPinChance: number;
  intentMix: Record<Intent, number>;
}

export const DEFAULT_CALLER_MIX: CallerMixOptions = {
  unknownShare: 0.1,
  agentAfterSelfService: 0.04,
  meanPatienceMs: 150_000,
  wrongPinChance: 0.05,
  intentMix: DEFAULT_INTENT_MIX,
};

function drawIntent(rng: Random, mix: Record<Intent, number>): Intent {
  const entries = Object.entries(mix) as Array<[Intent, number]>;
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let x = rng.next() * total;
  for (const [k, w] of entries) {
    if ((x -= w) < 0) return k;
  }
  return 'agent';
}

export function makeCaller(
  rng: Random,
  customers: readonly SimCustomer[],
  opts: CallerMixOptions = DEFAULT_CALLER_MIX,
  dnis = '95599',
): SimCaller & { intent: Intent } {
  const known = customers.length > 0 && !rng.chance(opts.unknownShare);
  const who = known ? rng.pick(customers) : undefined;
  const intent = drawIntent(rng, opts.intentMix);
  let menuVisits = 0;
  let accountChoice = 0;
  const ani = who ? who.profile.phones[0]! : `1770000${String(rng.int(0, 9999)).padStart(4, '0')}`;
  const pin = who?.pin;
  const card = who?.profile.cards[0];

  const respond = (prompt: string | undefined): string | 'timeout' | 'hangup' => {
    switch (prompt) {
      case 'main.menu':
        menuVisits++;
        if (menuVisits === 1) return MENU_KEY[intent];
        return rng.chance(opts.agentAfterSelfService) ? '0' : 'hangup';
      case 'identify.enter_card':
      case 'identify.unknown_card':
        // Strangers rarely have a card of ours at hand; they wait for the agent.
        return card ?? 'timeout';
      case 'pin.enter':
      case 'pin.wrong':
        if (!pin) return 'timeout';
        return rng.chance(opts.wrongPinChance) ? '000000' : pin;
      case 'balance.menu':
        return rng.chance(0.3) ? '1' : '9';
      case 'bank.choose_account_item':
        accountChoice++;
        return accountChoice % 2 === 1 ? '1' : '2';
      case 'transfer.enter_amount':
        return String(rng.int(1, 500));
      case 'transfer.confirm':
      case 'bill.confirm':
      case 'cardloss.confirm':
        return rng.chance(0.9) ? '1' : '2';
      case 'cardloss.choose_card':
      case 'bill.payee_item':
        return '1';
      case 'cardloss.enter_card':
        return card ?? 'timeout';
      case 'bill.enter_ref':
        return String(rng.int(10_000_000, 99_999_999));
      case 'bill.enter_amount':
        return String(rng.int(20, 300));
      case 'rates.menu':
        return '9';
      case 'feedback.menu':
        return intent === 'complaint'
          ? '1'
          : intent === 'suggestion'
            ? '2'
            : intent === 'callback'
              ? '3'
              : '9';
      default:
        return 'timeout';
    }
  };

  return {
    ani,
    dnis,
    intent,
    patienceMs: rng.exponential(opts.meanPatienceMs),
    thinkMs: rng.uniform(1_000, 4_000),
    respond: (prompt) => respond(prompt),
  };
}
