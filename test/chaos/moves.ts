/**
 * The invariants of calls that moved between sites (docs/architecture.md §5.9), pure: the
 * sites' call records and the hub's call facts in, three checks out. invariants.ts reads the
 * databases into this shape; moves.test.ts feeds it crafted histories.
 *
 *   answeredOnce   no call answered at two sites: an origin call and every record another site
 *                  admitted for it (followed by `overflow_in.originCallId`) hold at most one
 *                  answer between them, and at most one site admitted it
 *   movesLanded    no call lost in a move: every record that ended `overflowed` has its
 *                  `overflow-in` record at the site it names, under the same token; every
 *                  `overflow-in` record names an origin record that ended `overflowed` to it
 *   countedOnce    the hub counts a moved call once: no fact for the origin's `overflowed` end,
 *                  one for the target's record, with the caller's full wait
 *
 * What a kill -9 cannot keep is said, not hidden, as callsTerminal does for `lostInKill`: the
 * origin writes `overflowed` only after the target's commit-ack, so an origin killed between
 * its commit and that write comes back with the call ended by crash recovery (`failed`,
 * `site-restart`) while the target holds the caller. That pair is counted as `splitByKill`
 * (the call still ends somewhere, once answered at most), not as lost; the province then has
 * a fact at each end of it, which countedOnce reports.
 *
 * The other end's kill (docs/architecture.md §5.9 "A restart"): a target killed after it
 * admitted a call (the `overflow-in` record committed) but before its commit-ack reached the
 * origin (a loaded target's stream to the hub can hold the ack for seconds) comes back with
 * that record ended by crash recovery (`failed`, `site-restart`) and an empty book: the
 * origin's resent commit is refused as an unknown token, and the origin keeps its caller,
 * who ends at home. The two ends agree (the target's copy of the call died with it, never
 * answered there), so the pair is counted as `splitByTargetKill`, not as a disagreement. An
 * answered target record is not such a split (its caller was served there). Neither is a
 * loss; the province has a fact at each end of such a pair, which the target cannot avoid
 * (at its restart it cannot know whether the origin heard the ack), so countedOnce says how
 * many rather than failing. A record the target stored but could not admit (`failed`,
 * `overflow-not-admitted`: no trunk or the ACD refused it, the commit refused) is no move
 * either: counted as `notAdmitted`.
 */
import type { Check } from './invariants.js';

/** One call record of a site, with its CDR (outcome null while it has none). */
export interface CallRecord {
  siteId: string;
  callId: string;
  outcome: string | null;
  answered: boolean;
  endReason: string | null;
  overflowOut: { toSiteId: string; token: string } | null;
  overflowIn: { originSiteId: string; originCallId: string; token: string; waitedMs: number } | null;
}

/** A call fact the hub computes province statistics from. */
export interface HubFact {
  siteId: string;
  callId: string;
  waitMs: number;
}

export interface MovesVerdict {
  answeredOnce: Check;
  movesLanded: Check;
  countedOnce: Check;
  /** Moves whose two records agree, and pairs split by a kill of the origin or of the target. */
  moves: number;
  splitByKill: number;
  splitByTargetKill: number;
  /** Records a target stored for a commit it then refused (`overflow-not-admitted`). */
  notAdmitted: number;
}

/** Crash recovery's end reason (site-node/store/recovery.ts RESTART_REASON). */
export const RESTART_REASON = 'site-restart';

/** A target's end of a record it stored but did not admit (runtime/overflow-target.ts). */
export const NOT_ADMITTED_REASON = 'overflow-not-admitted';

const few = (xs: readonly string[], n = 5): string =>
  xs.length <= n ? xs.join(', ') : `${xs.slice(0, n).join(', ')} … (+${xs.length - n})`;

const check = (problems: string[], facts: string[]): Check => ({
  pass: problems.length === 0,
  detail: [...problems.map((x) => `FAIL ${x}`), ...facts].join('; '),
});

const key = (siteId: string, callId: string): string => `${siteId}/${callId}`;

/**
 * `siteIds`: the sites whose records are all given. A move to or from a site outside them (one
 * the run did not include) cannot be followed and is not judged.
 */
export function checkMoves(
  siteIds: readonly string[],
  records: readonly CallRecord[],
  facts: readonly HubFact[],
): MovesVerdict {
  const byKey = new Map(records.map((r) => [key(r.siteId, r.callId), r]));
  const sites = new Set(siteIds);
  /** Origin call -> the records other sites admitted for it. */
  const admitted = new Map<string, CallRecord[]>();
  for (const r of records) {
    if (!r.overflowIn) continue;
    const k = key(r.overflowIn.originSiteId, r.overflowIn.originCallId);
    admitted.set(k, [...(admitted.get(k) ?? []), r]);
  }
  const factsOf = new Map<string, HubFact[]>();
  for (const f of facts) {
    const k = key(f.siteId, f.callId);
    factsOf.set(k, [...(factsOf.get(k) ?? []), f]);
  }

  // answeredOnce
  const twiceAnswered: string[] = [];
  const twiceAdmitted: string[] = [];
  for (const [k, ins] of admitted) {
    if (ins.length > 1)
      twiceAdmitted.push(`${k} at ${ins.map((r) => key(r.siteId, r.callId)).join(' and ')}`);
    const answers = [byKey.get(k), ...ins].filter((r) => r?.answered === true) as CallRecord[];
    if (answers.length > 1)
      twiceAnswered.push(`${k} at ${answers.map((r) => key(r.siteId, r.callId)).join(' and ')}`);
  }
  const answerProblems: string[] = [];
  if (twiceAnswered.length > 0)
    answerProblems.push(`${twiceAnswered.length} calls answered at two sites: ${few(twiceAnswered)}`);
  if (twiceAdmitted.length > 0)
    answerProblems.push(`${twiceAdmitted.length} calls admitted twice: ${few(twiceAdmitted)}`);

  // movesLanded
  const lost: string[] = [];
  const fromNowhere: string[] = [];
  const disagree: string[] = [];
  const split: Array<{ origin: CallRecord; target: CallRecord }> = [];
  const targetSplit: Array<{ origin: CallRecord; target: CallRecord }> = [];
  let notAdmitted = 0;
  const pairs: Array<{ origin: CallRecord; target: CallRecord }> = [];
  for (const r of records) {
    if (r.outcome !== 'overflowed') continue;
    const k = key(r.siteId, r.callId);
    const out = r.overflowOut;
    const landed = out ? (admitted.get(k) ?? []).find((t) => t.siteId === out.toSiteId) : undefined;
    if (!out) lost.push(`${k} (ended overflowed naming no target)`);
    else if (!landed) {
      if (sites.has(out.toSiteId)) lost.push(`${k} -> ${out.toSiteId} (no overflow-in record there)`);
    } else if (landed.overflowIn!.token !== out.token)
      disagree.push(`${k} -> ${key(landed.siteId, landed.callId)} (tokens differ)`);
    else pairs.push({ origin: r, target: landed });
  }
  for (const t of records) {
    if (!t.overflowIn) continue;
    const o = t.overflowIn;
    if (!sites.has(o.originSiteId)) continue;
    const origin = byKey.get(key(o.originSiteId, o.originCallId));
    const here = key(t.siteId, t.callId);
    if (!origin) fromNowhere.push(`${here} names ${key(o.originSiteId, o.originCallId)}`);
    else if (origin.outcome === 'overflowed') {
      if (origin.overflowOut?.toSiteId !== t.siteId)
        disagree.push(`${here}: its origin ${origin.callId} says it went to ${origin.overflowOut?.toSiteId}`);
    } else if (origin.endReason === RESTART_REASON) split.push({ origin, target: t });
    else if (t.endReason === RESTART_REASON && !t.answered) targetSplit.push({ origin, target: t });
    else if (t.endReason === NOT_ADMITTED_REASON && !t.answered) notAdmitted++;
    else
      disagree.push(
        `${here}: its origin ${origin.callId} ended ${origin.outcome ?? 'without a CDR'} (${origin.endReason}) at home`,
      );
  }
  const landProblems: string[] = [];
  if (lost.length > 0) landProblems.push(`${lost.length} moved calls never arrived: ${few(lost)}`);
  if (fromNowhere.length > 0)
    landProblems.push(`${fromNowhere.length} calls moved in from an unknown call: ${few(fromNowhere)}`);
  if (disagree.length > 0)
    landProblems.push(`${disagree.length} moves the two ends disagree on: ${few(disagree)}`);

  // countedOnce
  const originCounted: string[] = [];
  const targetNotOnce: string[] = [];
  const shortWait: string[] = [];
  const countedTwice: string[] = [];
  for (const { origin, target } of pairs) {
    const ok = key(origin.siteId, origin.callId);
    const tk = key(target.siteId, target.callId);
    if ((factsOf.get(ok) ?? []).length > 0) originCounted.push(ok);
    const tf = factsOf.get(tk) ?? [];
    if (tf.length !== 1) targetNotOnce.push(`${tk} (${tf.length} facts)`);
    else if (tf[0]!.waitMs < target.overflowIn!.waitedMs)
      shortWait.push(
        `${tk} (${tf[0]!.waitMs} ms < ${target.overflowIn!.waitedMs} ms waited at ${origin.siteId})`,
      );
  }
  for (const { origin, target } of split) {
    const ok = key(origin.siteId, origin.callId);
    const tk = key(target.siteId, target.callId);
    if ((factsOf.get(ok) ?? []).length > 0 && (factsOf.get(tk) ?? []).length > 0)
      countedTwice.push(`${ok} (${RESTART_REASON}) and ${tk}`);
  }
  let targetSplitCountedTwice = 0;
  for (const { origin, target } of targetSplit) {
    const ok = key(origin.siteId, origin.callId);
    const tk = key(target.siteId, target.callId);
    if ((factsOf.get(ok) ?? []).length > 0 && (factsOf.get(tk) ?? []).length > 0) targetSplitCountedTwice++;
  }
  const countProblems: string[] = [];
  if (originCounted.length > 0)
    countProblems.push(
      `${originCounted.length} overflowed ends counted at the origin: ${few(originCounted)}`,
    );
  if (targetNotOnce.length > 0)
    countProblems.push(
      `${targetNotOnce.length} moved calls not counted once at the target: ${few(targetNotOnce)}`,
    );
  if (shortWait.length > 0)
    countProblems.push(
      `${shortWait.length} moved calls counted without their wait at home: ${few(shortWait)}`,
    );
  if (countedTwice.length > 0)
    countProblems.push(
      `${countedTwice.length} calls counted at both ends after a kill of the origin: ${few(countedTwice)}`,
    );

  const summary =
    `${pairs.length} moves, ${split.length} split by a kill of the origin, ` +
    `${targetSplit.length} by a kill of the target, ${notAdmitted} stored but not admitted`;
  const counted = [`${pairs.length} moves checked at the hub`];
  if (targetSplitCountedTwice > 0)
    counted.push(`${targetSplitCountedTwice} split by a kill of the target counted at both ends`);
  return {
    answeredOnce: check(answerProblems, [`${admitted.size} calls admitted elsewhere`]),
    movesLanded: check(landProblems, [summary]),
    countedOnce: check(countProblems, counted),
    moves: pairs.length,
    splitByKill: split.length,
    splitByTargetKill: targetSplit.length,
    notAdmitted,
  };
}
