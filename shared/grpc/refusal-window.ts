/**
 * Which refused TLS handshakes to log (issue 10, finding 4): a pure suppression window keyed
 * by remote address, time passed in. The first refusal from an address is logged at once;
 * the ones after it within `windowMs` are only counted, and `due()` turns each count into one
 * summary line per window. So a flood of bad handshakes costs a line per address per window,
 * and the summaries still count every refusal.
 *
 * Memory is bounded: past `maxKeys` addresses, new ones share the key OTHER_ADDRESSES.
 */

/** The key of addresses beyond `maxKeys`. */
export const OTHER_ADDRESSES = 'other addresses';

export interface RefusalSummary {
  key: string;
  /** Refusals counted but not logged since the window opened. */
  suppressed: number;
  /** How many of them each reason accounts for. */
  reasons: Record<string, number>;
  /** How long the window ran, ms. */
  windowMs: number;
}

interface Entry {
  openedAtMs: number;
  suppressed: number;
  reasons: Record<string, number>;
}

export class RefusalWindow {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 1024,
  ) {
    if (!(Number.isInteger(windowMs) && windowMs > 0)) {
      throw new RangeError(`refusal window: windowMs must be a positive integer, got ${windowMs}`);
    }
    if (!(Number.isInteger(maxKeys) && maxKeys > 0)) {
      throw new RangeError(`refusal window: maxKeys must be a positive integer, got ${maxKeys}`);
    }
  }

  /** Count one refusal; true when it is to be logged now (the first from `key` in a window). */
  note(key: string, reason: string, nowMs: number): boolean {
    const k = this.entries.has(key) || this.entries.size < this.maxKeys ? key : OTHER_ADDRESSES;
    const e = this.entries.get(k);
    // A quiet window that ended without `due()` being asked is over: log this one afresh.
    if (e === undefined || (e.suppressed === 0 && nowMs - e.openedAtMs >= this.windowMs)) {
      this.entries.set(k, { openedAtMs: nowMs, suppressed: 0, reasons: {} });
      return true;
    }
    e.suppressed++;
    e.reasons[reason] = (e.reasons[reason] ?? 0) + 1;
    return false;
  }

  /**
   * The summaries of windows that have ended by `nowMs`. A window with refusals opens a new
   * one (a continuing flood keeps to one line per window); a quiet one is forgotten, so the
   * next refusal from that address is logged at once. `all` ends every window (at stop), so
   * no count is left unsaid.
   */
  due(nowMs: number, all = false): RefusalSummary[] {
    const out: RefusalSummary[] = [];
    for (const [key, e] of this.entries) {
      if (!all && nowMs - e.openedAtMs < this.windowMs) continue;
      if (e.suppressed === 0 || all) this.entries.delete(key);
      if (e.suppressed === 0) continue;
      out.push({ key, suppressed: e.suppressed, reasons: e.reasons, windowMs: nowMs - e.openedAtMs });
      if (!all) this.entries.set(key, { openedAtMs: nowMs, suppressed: 0, reasons: {} });
    }
    return out;
  }

  /** Addresses currently tracked (for tests of the bound). */
  get size(): number {
    return this.entries.size;
  }
}
