/**
 * The pure parts of the hub's cover component (docs/architecture.md §5.8): when the active set
 * can next change, how a change is told (what started, what ended, and why), and which
 * entries each site is told about. No clock, no I/O: `hub-cover.ts` feeds them the topology,
 * the admins' activations and its scheduler's `nowMs`.
 *
 * The active set itself is `activeCoverEntries` (hub/routing/cover-windows.ts): one reading of
 * the windows for routing, for the pushes and for `fedctl status`.
 */
import { WEEKDAYS, hhmmToMinutes, type CoverSchedule, type Topology } from '../../shared/topology/schema.js';
import type { ActiveCover, StartedCover } from '../routing/cover-windows.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** 1970-01-01 was a Thursday (index 4 in WEEKDAYS, which starts on Sunday). */
const EPOCH_WEEKDAY = 4;

type WeeklyWhen = Extract<CoverSchedule['when'], { kind: 'weekly' }>;

/** How long a weekly window lasts: `to - from`, or into the next day when it crosses midnight. */
export function weeklyWindowLengthMs(when: WeeklyWhen): number {
  const from = hhmmToMinutes(when.from)! * MINUTE_MS;
  const to = hhmmToMinutes(when.to)! * MINUTE_MS;
  return to > from ? to - from : DAY_MS - from + to;
}

/**
 * The first instant after `nowMs` at which a weekly entry's window opens or closes. Every
 * window of the week starts on a listed day, so the days from yesterday to a week ahead hold
 * the next edge.
 */
export function nextWeeklyEdge(when: WeeklyWhen, nowMs: number): number {
  const offset = when.utcOffsetMinutes * MINUTE_MS;
  const today = Math.floor((nowMs + offset) / DAY_MS);
  const from = hhmmToMinutes(when.from)! * MINUTE_MS;
  const length = weeklyWindowLengthMs(when);
  let best = Infinity;
  for (let d = today - 1; d <= today + 8; d++) {
    const weekday = WEEKDAYS[(((d + EPOCH_WEEKDAY) % 7) + 7) % 7]!;
    if (!when.days.includes(weekday)) continue;
    const opens = d * DAY_MS + from - offset;
    for (const edge of [opens, opens + length]) if (edge > nowMs && edge < best) best = edge;
  }
  return best;
}

/**
 * When the active set can next change after `nowMs`: the next window edge of a weekly entry,
 * or the next `until` of a started on-demand one; null when nothing is due (no weekly entry,
 * no `until` ahead). Re-evaluating at that instant is enough between admin actions and
 * topology versions, which re-evaluate on their own.
 */
export function nextCoverBoundary(
  topology: Topology,
  started: ReadonlyMap<string, StartedCover>,
  nowMs: number,
): number | null {
  let best = Infinity;
  for (const c of topology.cover) {
    if (c.when.kind === 'weekly') best = Math.min(best, nextWeeklyEdge(c.when, nowMs));
    else {
      const until = started.get(c.id)?.untilMs;
      if (until != null && until > nowMs) best = Math.min(best, until);
    }
  }
  return Number.isFinite(best) ? best : null;
}

/** Since when an active entry has been active: its window's start, or the admin's start. */
export function activeSince(
  entry: CoverSchedule,
  active: ActiveCover,
  startedAtMs: number | undefined,
): number {
  if (entry.when.kind === 'weekly' && active.endsAtMs !== null) {
    return active.endsAtMs - weeklyWindowLengthMs(entry.when);
  }
  return startedAtMs ?? 0;
}

/** Entries that became active and entries that stopped being active, each in id order. */
export function coverChanges(
  before: ReadonlySet<string>,
  after: readonly ActiveCover[],
): { started: ActiveCover[]; ended: string[] } {
  const now = new Set(after.map((a) => a.entryId));
  return {
    started: after.filter((a) => !before.has(a.entryId)),
    ended: [...before].filter((id) => !now.has(id)).sort(),
  };
}

/**
 * What a site is told (CoverState): the active entries in which it is the served or the
 * covering site, in the topology's order. Other sites' cover is none of its business.
 */
export function coverEntriesForSite(
  topology: Topology,
  activeIds: ReadonlySet<string>,
  siteId: string,
): string[] {
  return topology.cover
    .filter((c) => activeIds.has(c.id) && (c.serves.site === siteId || c.agentsOf === siteId))
    .map((c) => c.id);
}

/** A weekly entry's window as people read it: "mon,tue 22:00-08:00 UTC+08:00". */
export function describeSchedule(when: CoverSchedule['when']): string {
  if (when.kind === 'on-demand') return 'on demand';
  const m = Math.abs(when.utcOffsetMinutes);
  const sign = when.utcOffsetMinutes < 0 ? '-' : '+';
  const hh = String(Math.floor(m / 60)).padStart(2, '0');
  const mm = String(m % 60).padStart(2, '0');
  return `${when.days.join(',')} ${when.from}-${when.to} UTC${sign}${hh}:${mm}`;
}
