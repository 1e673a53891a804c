/**
 * How far the engine's own audio fell behind the clock (docs/sip.md "Media engine", "When the
 * engine falls behind"). The tick sends each playing endpoint's frames by the clock, but after
 * a stalled event loop at most a few at once (engine.ts); the rest of the stall is time the
 * prompts and music lose: a 5 s prompt heard over 13 s, an IVR walk that no longer fits the
 * caller's patience. A starved media thread is otherwise silent (bridged audio is forwarded as
 * it arrives and loses nothing), so the engine counts it and warns, at most once a period.
 *
 * Pure: the caller gives the time; engine.ts logs what `note` returns.
 */

export interface PlayoutLagTotals {
  /** Ticks that came later than the catch-up covers while something played. */
  stalls: number;
  /** Time those ticks lost: every prompt and music playing then was heard that much later. */
  delayedMs: number;
  /** The longest of them. */
  longestStallMs: number;
}

/** What to warn about: the stalls since the last warning, and the totals since the start. */
export interface PlayoutLagReport {
  sinceLast: PlayoutLagTotals;
  total: PlayoutLagTotals;
}

const none = (): PlayoutLagTotals => ({ stalls: 0, delayedMs: 0, longestStallMs: 0 });

function add(t: PlayoutLagTotals, ms: number): void {
  t.stalls++;
  t.delayedMs += ms;
  t.longestStallMs = Math.max(t.longestStallMs, ms);
}

export class PlayoutLag {
  readonly total = none();
  private sinceLast = none();
  private lastWarnMs = Number.NEGATIVE_INFINITY;

  /** `warnEveryMs`: a warning at most this often (the first stall warns at once). */
  constructor(private readonly warnEveryMs: number) {}

  /** A tick `lostMs` late beyond what it caught up, at `nowMs`; a report when a warning is due. */
  note(lostMs: number, nowMs: number): PlayoutLagReport | null {
    if (!(lostMs > 0)) return null;
    add(this.total, lostMs);
    add(this.sinceLast, lostMs);
    if (nowMs - this.lastWarnMs < this.warnEveryMs) return null;
    this.lastWarnMs = nowMs;
    const report = { sinceLast: this.sinceLast, total: { ...this.total } };
    this.sinceLast = none();
    return report;
  }
}
