/**
 * Which cover entries are active at a moment (docs/architecture.md §5.8). Pure: the topology,
 * the on-demand entries an admin has started, and `nowMs` in; no clock.
 *
 * A weekly entry is active inside its window, read on the entry's own UTC offset (which may
 * differ from the province's: the compiled topology has already filled the province's in
 * where the file left it out). Windows are half-open `[from, to)` in local `HH:MM`; `to` may
 * be `24:00`; a window whose `to` is not after its `from` crosses midnight and runs into the
 * next day, and `days` names the day it starts on (Saturday's runs into Sunday). This is the
 * reading `validateTopology` checks overlaps with (shared/topology/validate.ts).
 *
 * An on-demand entry is active from the admin's start until its optional `untilMs`
 * (exclusive) or the admin's stop. A started id that the topology no longer has, or that is a
 * weekly entry, is not active: a later topology version may drop or reschedule an entry that
 * was started under an earlier one, and the clock alone decides weekly entries.
 * {@link checkCoverStart} is the check `fedctl cover start` runs before anything is started.
 */
import { DomainError, invalidArgument } from '../../shared/errors.js';
import { WEEKDAYS, hhmmToMinutes, type CoverSchedule, type Topology } from '../../shared/topology/schema.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** 1970-01-01 was a Thursday (index 4 in WEEKDAYS, which starts on Sunday). */
const EPOCH_WEEKDAY = 4;

type WeeklyWhen = Extract<CoverSchedule['when'], { kind: 'weekly' }>;

/** An on-demand entry an admin started; `untilMs` null = until stopped. */
export interface StartedCover {
  untilMs: number | null;
}

export interface ActiveCover {
  entryId: string;
  how: 'scheduled' | 'on-demand';
  /**
   * When this activation ends as known now: the end of the current window (a next window may
   * start right then), the admin's `until`, or null (until stopped).
   */
  endsAtMs: number | null;
}

/** The end of the weekly window `nowMs` is in (UTC ms), or null when it is in none. */
export function weeklyWindowEnd(when: WeeklyWhen, nowMs: number): number | null {
  const local = nowMs + when.utcOffsetMinutes * MINUTE_MS;
  const dayNumber = Math.floor(local / DAY_MS);
  const inDay = local - dayNumber * DAY_MS;
  const weekday = (((dayNumber + EPOCH_WEEKDAY) % 7) + 7) % 7;
  const on = (d: number) => when.days.includes(WEEKDAYS[((d % 7) + 7) % 7]!);
  const from = hhmmToMinutes(when.from)! * MINUTE_MS;
  const to = hhmmToMinutes(when.to)! * MINUTE_MS;
  if (to > from) return on(weekday) && inDay >= from && inDay < to ? nowMs + (to - inDay) : null;
  // Crosses midnight: tonight's window started today, this morning's started yesterday.
  if (on(weekday) && inDay >= from) return nowMs + (DAY_MS - inDay) + to;
  if (on(weekday - 1) && inDay < to) return nowMs + (to - inDay);
  return null;
}

/** The cover entries active at `nowMs`, in the topology's order (by id). */
export function activeCoverEntries(
  topology: Topology,
  started: ReadonlyMap<string, StartedCover>,
  nowMs: number,
): ActiveCover[] {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw invalidArgument('nowMs', `must be a finite number of ms (got ${String(nowMs)})`);
  }
  const out: ActiveCover[] = [];
  for (const c of topology.cover) {
    if (c.when.kind === 'weekly') {
      const end = weeklyWindowEnd(c.when, nowMs);
      if (end !== null) out.push({ entryId: c.id, how: 'scheduled', endsAtMs: end });
      continue;
    }
    const s = started.get(c.id);
    if (s && (s.untilMs === null || nowMs < s.untilMs)) {
      out.push({ entryId: c.id, how: 'on-demand', endsAtMs: s.untilMs });
    }
  }
  return out;
}

/**
 * Check an admin's `cover start <entryId> [--until]` against the topology: the entry exists,
 * is on-demand, is not already active among `started` (when given), and `untilMs` (if any) is
 * after `nowMs`. Returns the entry; throws naming the field otherwise (invalid-argument;
 * failed-precondition for an entry already active), so nothing is started.
 */
export function checkCoverStart(
  topology: Topology,
  entryId: string,
  untilMs: number | null,
  nowMs: number,
  started?: ReadonlyMap<string, StartedCover>,
): CoverSchedule {
  const c = topology.cover.find((e) => e.id === entryId);
  if (!c) {
    const ids = topology.cover.filter((e) => e.when.kind === 'on-demand').map((e) => e.id);
    throw invalidArgument(
      'entryId',
      `no cover entry "${entryId}" in the topology (on-demand entries: ${ids.length > 0 ? ids.join(', ') : 'none'})`,
    );
  }
  if (c.when.kind !== 'on-demand') {
    throw invalidArgument(
      'entryId',
      `cover entry "${entryId}" is scheduled (${c.when.days.join(',')} ${c.when.from}-${c.when.to}); only on-demand entries are started by hand`,
    );
  }
  const running = started?.get(entryId);
  if (running && (running.untilMs === null || nowMs < running.untilMs)) {
    throw new DomainError(
      'failed-precondition',
      `cover entry "${entryId}" is already active` +
        (running.untilMs === null
          ? ' (until stopped)'
          : ` (until ${new Date(running.untilMs).toISOString()})`) +
        '; stop it first',
      { field: 'entryId' },
    );
  }
  if (untilMs !== null && !(Number.isFinite(untilMs) && untilMs > nowMs)) {
    throw invalidArgument(
      'until',
      Number.isFinite(untilMs)
        ? `must be later than now (got ${new Date(untilMs).toISOString()}, now ${new Date(nowMs).toISOString()} on the hub's clock)`
        : `must be a time (got ${String(untilMs)})`,
    );
  }
  return c;
}
