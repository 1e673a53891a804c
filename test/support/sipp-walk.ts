/**
 * Keys for test/sip/scenarios/caller.xml's IVR walk: the phone-banking flow
 * (site-node/ivr/flows/phone-banking.yaml) from a known caller, balance enquiry, then an agent.
 * SIPp only sends; the pauses are how long it lets the far end talk before each key.
 */

/**
 * The demo retail customer c-1001's number (DEMO_PROFILES in site-node/ivr/test-support.ts): known
 * by number, so no card entry; caller.xml keys in its PIN, 135790 (shared/bank-host/demo.ts).
 */
export const RETAIL_ANI = '13800000001';

/** For peers that play no prompts (SIPp, Kamailio): long enough for each 140 ms DTMF clip to end. */
export const WALK_WITHOUT_PROMPTS = {
  greeting_ms: 200,
  pin_ms: 200,
  balance_ms: 200,
  menu_ms: 200,
  digit_ms: 200,
} as const;

/**
 * For a site playing the prompts, a caller who knows the menu: each key comes while its prompt
 * plays (welcome 5.1 s: the 1 at 1.5 s; pin.enter 7.7 s: the first digit at 0.8 s...), so every
 * prompt starts and the key stops it (barge-in, docs/sip.md "The site over SIP"); a key already
 * waiting when a prompt is due skips it (type-ahead: the main menu after the welcome). The
 * walk takes about 5.4 s. As test/sip/site-over-sip.test.ts walks it.
 */
export const WALK_WITH_BARGE_IN = {
  greeting_ms: 1500,
  pin_ms: 800,
  balance_ms: 800,
  menu_ms: 800,
  digit_ms: 250,
} as const;

/**
 * For a site playing the Mandarin prompts to the end (no barge-in), from the clip lengths in
 * .cache/prompts/manifest.json: welcome 5.1 s + main.menu 22.3 s; pin.enter 7.7 s; two balance
 * items (about 7 s each, depending on the numbers read) + balance.menu 9.1 s; main.menu again.
 * Rounded up; retune when the site's barge-in is settled.
 */
export const WALK_PHONE_BANKING_ZH = {
  greeting_ms: 28_500,
  pin_ms: 8_500,
  balance_ms: 25_000,
  menu_ms: 23_000,
  digit_ms: 300,
} as const;

export type Walk = Record<keyof typeof WALK_WITHOUT_PROMPTS, number>;

/** caller.xml's keys: the walk, who calls whom, and how long from the last key to the BYE. */
export function callerKeys(
  walk: Walk,
  o: { dnis: string; ani?: string; talkMs: number },
): Record<string, string | number> {
  return { ...walk, dnis: o.dnis, ani: o.ani ?? RETAIL_ANI, talk_ms: o.talkMs };
}
