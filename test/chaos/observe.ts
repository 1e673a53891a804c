/**
 * What the province's processes say, collected line by line as they print it: the calls each
 * site's traffic placed (per run of the process: a restart starts a new run), what callers
 * were told was recorded, the tally each site logged at its clean stop, the site's own view
 * of its hub link, and how many steps of the overflow protocol each site has logged (so a
 * scenario can strike while a move is in flight). The invariants (invariants.ts) are checked
 * against these.
 */

/** The overflow lines counted per site (site-node/runtime/overflow-origin.ts, overflow-target.ts). */
export const OVERFLOW_STEPS = [
  'overflow asked',
  'overflow accepted',
  'overflow admitted',
  'overflow: call moved',
] as const;
export type OverflowStep = (typeof OVERFLOW_STEPS)[number];

/** One run of a site process: the calls its traffic placed, in order. */
export interface SiteRun {
  /** The site's call id of each call placed, '' for a call the site refused. */
  placed: string[];
  /**
   * Calls refused after they got an id (their first row not committed in time): their
   * `call.refused` event is written in a later batch, so a kill can lose it.
   */
  refusedWithId: Set<string>;
  /** The run ended in a kill -9 (the suite killed it). */
  killed: boolean;
}

export interface HeardConfirmation {
  siteId: string;
  callId: string;
  promptId: string;
  ref?: string;
}

export interface LinkChange {
  siteId: string;
  state: string;
  atMs: number;
}

export class Observer {
  readonly runs = new Map<string, SiteRun[]>();
  readonly confirmations: HeardConfirmation[] = [];
  /** The tally each site logged at its last clean stop, with the site time it was taken at. */
  readonly stopTallies = new Map<string, { atMs: number; tally: Record<string, number> }>();
  readonly siteLink: LinkChange[] = [];
  /** Per site, how many times it logged each overflow step, over all its runs. */
  private readonly steps = new Map<string, Map<OverflowStep, number>>();
  private readonly lastN = new Map<string, number>();
  /** Sites killed since their last placement: the next one starts a new run. */
  private readonly killed = new Set<string>();

  /** Feed it every line (province.ts `onLine`). */
  line(process: string, text: string): void {
    if (!process.startsWith('site ') || !text.startsWith('{')) return;
    const siteId = process.slice('site '.length);
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (o.msg) {
      case 'call placed': {
        const n = Number(o.n);
        // The traffic's counter starts at 1 in every process: a smaller one is a new run.
        // (Both tested: the kill's mark is used up by this placement either way.)
        const afterKill = this.killed.delete(siteId);
        if (afterKill || !(n > (this.lastN.get(siteId) ?? 0))) this.newRun(siteId);
        this.lastN.set(siteId, n);
        this.currentRun(siteId).placed.push(String(o.callId ?? ''));
        return;
      }
      case 'call refused with busy: the store cannot take its writes':
        if (typeof o.callId === 'string') this.currentRun(siteId).refusedWithId.add(o.callId);
        return;
      case 'caller told recorded':
        this.confirmations.push({
          siteId,
          callId: String(o.callId),
          promptId: String(o.promptId),
          ...(typeof o.ref === 'string' ? { ref: o.ref } : {}),
        });
        return;
      case 'site stopped':
        if (typeof o.tally === 'object' && o.tally !== null)
          this.stopTallies.set(siteId, { atMs: Number(o.atMs), tally: o.tally as Record<string, number> });
        return;
      case 'hub link':
        this.siteLink.push({ siteId, state: String(o.state), atMs: Date.now() });
        return;
    }
    if ((OVERFLOW_STEPS as readonly unknown[]).includes(o.msg)) {
      const step = o.msg as OverflowStep;
      const bySite = this.steps.get(siteId) ?? new Map<OverflowStep, number>();
      bySite.set(step, (bySite.get(step) ?? 0) + 1);
      this.steps.set(siteId, bySite);
    }
  }

  /** The suite killed this site's process: its current run ended in a crash. */
  markKilled(siteId: string): void {
    const runs = this.runs.get(siteId);
    if (runs && runs.length > 0) runs[runs.length - 1]!.killed = true;
    this.killed.add(siteId);
  }

  /** How many times `siteId` logged `step` so far. */
  overflowSteps(siteId: string, step: OverflowStep): number {
    return this.steps.get(siteId)?.get(step) ?? 0;
  }

  placedCount(siteId: string): number {
    return (this.runs.get(siteId) ?? []).reduce((n, r) => n + r.placed.length, 0);
  }

  /** The first time since `sinceMs` the site saw its link in one of `states`. */
  siteSaw(siteId: string, states: readonly string[], sinceMs: number): number | undefined {
    return this.siteLink.find((c) => c.siteId === siteId && c.atMs >= sinceMs && states.includes(c.state))
      ?.atMs;
  }

  private newRun(siteId: string): void {
    const runs = this.runs.get(siteId) ?? [];
    runs.push({ placed: [], refusedWithId: new Set(), killed: false });
    this.runs.set(siteId, runs);
  }

  private currentRun(siteId: string): SiteRun {
    const runs = this.runs.get(siteId);
    if (!runs || runs.length === 0) this.newRun(siteId);
    return this.runs.get(siteId)!.at(-1)!;
  }
}
