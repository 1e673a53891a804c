/**
 * The overflow benchmark's count of outcomes (test/bench/overflow.ts), pure: what the driver
 * asked, what each origin says became of each request, and what each target says it admitted
 * in; out come the counts and the two invariants of docs/architecture.md §5.9 checked across
 * the sites, not on any one site's word:
 *
 * - admitted twice: a call admitted more than once (at two targets, or twice at one under two
 *   tokens), a token admitted at two sites, a call its origin reports moved more than once, or
 *   a call its origin kept home while a target admitted it (then two sites would offer it);
 * - lost: a request that ended neither moved nor home (still in flight after the drain, or no
 *   outcome at all), or a call its origin let go as moved that no target admitted under that
 *   token (then no site offers it).
 *
 * Refusals are counted by who refused and why; a target's reason has its numbers replaced by
 * `N` so "expected wait of 4100 ms" and "of 3900 ms" count as one reason.
 */
export interface Asked {
  requestId: string;
  callId: string;
  originSiteId: string;
}

/** Why an attempt ended with the call at home (site-node/overflow/origin.ts HomeReason). */
export type HomeReason =
  | 'refused'
  | 'timeout'
  | 'link-down'
  | 'call-left'
  | 'not-waiting'
  | 'too-late'
  | 'not-recorded'
  | 'requeued'
  | 'commit-refused';

export interface OriginOutcome {
  requestId: string;
  callId: string;
  originSiteId: string;
  state: 'moved' | 'home';
  homeReason: HomeReason | null;
  /** The refuse that sent it home, when one did. */
  refusal: { reason: string; byHub: boolean } | null;
  toSiteId: string | null;
  token: string | null;
}

export interface Admission {
  /** The target that admitted the call. */
  siteId: string;
  token: string;
  requestId: string;
  callId: string;
  fromSiteId: string;
}

export interface OverflowTally {
  requests: number;
  moved: number;
  home: number;
  /** `hub: <reason>` or `target: <reason>` -> count. */
  refused: Record<string, number>;
  timeouts: number;
  /** Home for any other reason (link-down, too-late, commit-refused...) -> count. */
  otherHome: Record<string, number>;
  admittedTwice: number;
  lost: number;
  /** The first few broken invariants, named (empty when both counts are 0). */
  problems: string[];
}

const MAX_PROBLEMS = 20;

/** A refusal's reason as a count key: who refused, numbers as `N`. */
export function refusalKey(r: { reason: string; byHub: boolean }): string {
  return `${r.byHub ? 'hub' : 'target'}: ${r.reason.replace(/\d+/g, 'N')}`;
}

const bump = (m: Record<string, number>, k: string): void => void (m[k] = (m[k] ?? 0) + 1);

export function tallyOverflow(
  asked: readonly Asked[],
  outcomes: readonly OriginOutcome[],
  admissions: readonly Admission[],
): OverflowTally {
  const t: OverflowTally = {
    requests: asked.length,
    moved: 0,
    home: 0,
    refused: {},
    timeouts: 0,
    otherHome: {},
    admittedTwice: 0,
    lost: 0,
    problems: [],
  };
  const problem = (p: string): void => void (t.problems.length < MAX_PROBLEMS && t.problems.push(p));

  const outcomeOf = new Map<string, OriginOutcome>();
  const movedCalls = new Map<string, number>();
  const homeCalls = new Set<string>();
  for (const o of outcomes) {
    if (outcomeOf.has(o.requestId)) {
      problem(`request ${o.requestId}: reported ended twice`);
      continue;
    }
    outcomeOf.set(o.requestId, o);
    if (o.state === 'moved') {
      t.moved++;
      movedCalls.set(o.callId, (movedCalls.get(o.callId) ?? 0) + 1);
      continue;
    }
    t.home++;
    homeCalls.add(o.callId);
    if (o.refusal) bump(t.refused, refusalKey(o.refusal));
    else if (o.homeReason === 'timeout') t.timeouts++;
    else bump(t.otherHome, o.homeReason ?? 'unknown');
  }
  for (const [callId, n] of movedCalls) {
    if (n > 1) {
      t.admittedTwice++;
      problem(`call ${callId}: its origin moved it ${n} times`);
    }
  }

  const byCall = new Map<string, Admission[]>();
  const siteOfToken = new Map<string, string>();
  for (const a of admissions) {
    const seen = siteOfToken.get(a.token);
    if (seen !== undefined && seen !== a.siteId) {
      t.admittedTwice++;
      problem(`token ${a.token}: admitted at ${seen} and at ${a.siteId}`);
    }
    siteOfToken.set(a.token, a.siteId);
    const list = byCall.get(a.callId) ?? [];
    list.push(a);
    byCall.set(a.callId, list);
  }
  for (const [callId, list] of byCall) {
    if (list.length > 1) {
      t.admittedTwice++;
      problem(`call ${callId}: admitted ${list.length} times (${list.map((a) => a.siteId).join(', ')})`);
    }
    if (homeCalls.has(callId) && !movedCalls.has(callId)) {
      t.admittedTwice++;
      problem(`call ${callId}: kept home by its origin but admitted at ${list[0]!.siteId}`);
    }
  }

  for (const a of asked) {
    const o = outcomeOf.get(a.requestId);
    if (!o) {
      t.lost++;
      problem(`request ${a.requestId}: ended neither moved nor home`);
      continue;
    }
    if (o.state !== 'moved') continue;
    const admitted = (byCall.get(o.callId) ?? []).some((x) => x.token === o.token && x.siteId === o.toSiteId);
    if (!admitted) {
      t.lost++;
      problem(`call ${o.callId}: moved to ${String(o.toSiteId)} under a token no target admitted`);
    }
  }
  const askedIds = new Set(asked.map((a) => a.requestId));
  for (const o of outcomes) if (!askedIds.has(o.requestId)) problem(`request ${o.requestId}: never asked`);
  return t;
}
