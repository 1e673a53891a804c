/**
 * Service level and abandon rate: the one definition, used by the ACD's live queue window
 * (site-node/acd/stats.ts), a site's whole-run tally (site-node/runtime/tally.ts) and the
 * hub's province statistics (hub/stats/province-stats.ts). Each of them counts calls its own
 * way (a sliding window of queue visits, counters the call flow bumps, ingested call records)
 * and hands the counts here; only the arithmetic lives in this module. Pure, no clock.
 *
 * The counts, for calls that left a queue (for good, or for another queue) in the period:
 *   answeredWithinT   answered by an agent after a wait of at most T
 *   answeredAfterT    answered after a wait longer than T
 *   abandoned         the caller hung up while waiting (queued or ringing)
 *   shortAbandoned    of those, the ones who waited less than the short-abandon threshold;
 *                     only `short-abandons-excluded` reads it, and then it is required
 *   endedByFallback   a fallback took the call after it waited: max wait reached, then an
 *                     announcement, a callback offer, leave a message, or overflow out of
 *                     the queue
 *   turnedAway        refused on entry (queue full, after hours): never waited
 *
 *   offered = answeredWithinT + answeredAfterT + abandoned + endedByFallback
 *             (+ turnedAway when the rule says `turnedAway: 'counted'`)
 *
 * Service level = answeredWithinT / denominator, where the denominator depends on the
 * rule's `definition`, i.e. on how abandons count:
 *   abandons-penalise        offered: every abandon, however quick, counts against the
 *                            level, and so does every fallback (and every refusal on entry
 *                            when those are counted)
 *   abandons-ignored         answeredWithinT + answeredAfterT: only answered calls are
 *                            measured; abandons, fallbacks and refusals do not count at all
 *   short-abandons-excluded  offered - shortAbandoned: a caller who gave up before the
 *                            threshold is treated as a misdial and not counted; longer
 *                            abandons and fallbacks count against the level
 * Abandon rate = abandoned / offered, whatever the definition.
 * Both are null when their denominator is 0: "no calls" is neither perfect nor terrible.
 *
 * Who uses which rule (each one's behaviour as it has always been):
 *   the ACD window     its configured definition (default abandons-penalise), turned-away
 *                      calls excluded: a queue's level says how fast callers who waited
 *                      were answered, and a refused call never waited
 *   the hub, the tally PROVINCE_SERVICE_LEVEL_RULE: abandons-penalise with turned-away
 *                      calls counted. Neither can tell a refusal on entry from a later
 *                      fallback (the ACD ends both with the queue's fallback action), so both
 *                      report them together as `endedByFallback`; a site's line and the
 *                      province's figures agree because they use the same rule.
 *
 * Callers that show a percentage should compute it from the integer terms returned here
 * (`(100 * answeredWithinT) / denominator`), not from the ratio: 100 * (a / b) and
 * (100 * a) / b round differently for some a, b.
 */
import { invalidArgument } from '../errors.js';

export const SERVICE_LEVEL_DEFINITIONS = [
  'abandons-ignored',
  'abandons-penalise',
  'short-abandons-excluded',
] as const;
export type ServiceLevelDefinition = (typeof SERVICE_LEVEL_DEFINITIONS)[number];

export interface ServiceLevelRule {
  definition: ServiceLevelDefinition;
  /** Whether calls refused on entry are part of `offered` (and so count against the level). */
  turnedAway: 'counted' | 'excluded';
}

/** The hub's province statistics and each site's tally: the same rule, so their figures agree. */
export const PROVINCE_SERVICE_LEVEL_RULE: ServiceLevelRule = Object.freeze({
  definition: 'abandons-penalise',
  turnedAway: 'counted',
});

/** How the calls that left a queue in the period ended; see the module doc. */
export interface QueueOutcomeCounts {
  answeredWithinT: number;
  answeredAfterT: number;
  abandoned: number;
  /** A subset of `abandoned`; required by `short-abandons-excluded` only. */
  shortAbandoned?: number;
  endedByFallback: number;
  turnedAway: number;
}

export interface ServiceLevelMeasure {
  offered: number;
  /** The service level's numerator (= answeredWithinT) and denominator under the rule. */
  answeredWithinT: number;
  denominator: number;
  /** answeredWithinT / denominator, 0..1; null when the denominator is 0. */
  serviceLevel: number | null;
  /** The abandon rate's numerator; the denominator is `offered`. */
  abandoned: number;
  /** abandoned / offered, 0..1; null when nothing was offered. */
  abandonRate: number | null;
}

const COUNT_FIELDS = [
  'answeredWithinT',
  'answeredAfterT',
  'abandoned',
  'endedByFallback',
  'turnedAway',
] as const;

function checkCount(field: string, n: unknown): void {
  if (!Number.isSafeInteger(n) || (n as number) < 0) {
    throw invalidArgument(field, `must be a whole number >= 0, got ${String(n)}`);
  }
}

function checkInput(c: QueueOutcomeCounts, rule: ServiceLevelRule): void {
  if (!SERVICE_LEVEL_DEFINITIONS.includes(rule.definition)) {
    throw invalidArgument(
      'rule.definition',
      `must be one of ${SERVICE_LEVEL_DEFINITIONS.join(', ')}, got ${JSON.stringify(rule.definition)}`,
    );
  }
  if (rule.turnedAway !== 'counted' && rule.turnedAway !== 'excluded') {
    throw invalidArgument(
      'rule.turnedAway',
      `must be counted or excluded, got ${JSON.stringify(rule.turnedAway)}`,
    );
  }
  for (const f of COUNT_FIELDS) checkCount(`counts.${f}`, c[f]);
  if (c.shortAbandoned === undefined) {
    if (rule.definition === 'short-abandons-excluded') {
      throw invalidArgument('counts.shortAbandoned', 'is required by short-abandons-excluded');
    }
  } else {
    checkCount('counts.shortAbandoned', c.shortAbandoned);
    if (c.shortAbandoned > c.abandoned) {
      throw invalidArgument(
        'counts.shortAbandoned',
        `must not exceed abandoned (${c.abandoned}), got ${c.shortAbandoned}`,
      );
    }
  }
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/** Service level and abandon rate of `counts` under `rule` (see the module doc). */
export function measureServiceLevel(counts: QueueOutcomeCounts, rule: ServiceLevelRule): ServiceLevelMeasure {
  checkInput(counts, rule);
  const answered = counts.answeredWithinT + counts.answeredAfterT;
  const offered =
    answered +
    counts.abandoned +
    counts.endedByFallback +
    (rule.turnedAway === 'counted' ? counts.turnedAway : 0);
  const denominator =
    rule.definition === 'abandons-ignored'
      ? answered
      : rule.definition === 'abandons-penalise'
        ? offered
        : offered - counts.shortAbandoned!;
  return {
    offered,
    answeredWithinT: counts.answeredWithinT,
    denominator,
    serviceLevel: ratio(counts.answeredWithinT, denominator),
    abandoned: counts.abandoned,
    abandonRate: ratio(counts.abandoned, offered),
  };
}
