/**
 * Business hours and holidays. A calendar has a fixed UTC offset (configurable, in minutes;
 * no DST: the province's banks run on one offset), windows per weekday in local time and a
 * list of local dates that are closed all day.
 *
 * The ACD checks a queue's calendar when a call enters the queue (arrival, transfer,
 * overflow). A closed queue sends the call down the queue's `afterHours` fallback. Calls
 * already waiting at closing time stay queued and are served (the usual practice); no timer
 * is needed for opening or closing.
 *
 * Windows are half-open `[from, to)`, `HH:MM` local, `to` may be `24:00`; a day may have
 * several windows (lunch break). A window cannot cross midnight: split it in two.
 */
import { z } from 'zod';
import { invalidArgument } from '../../shared/errors.js';

const HHMM = /^([01]\d|2[0-4]):([0-5]\d)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const windowSchema = z.object({ from: z.string(), to: z.string() }).strict();

export const calendarSchema = z
  .object({
    utcOffsetMinutes: z.number().int().min(-720).max(840).default(0),
    weekly: z
      .object({
        sun: z.array(windowSchema).optional(),
        mon: z.array(windowSchema).optional(),
        tue: z.array(windowSchema).optional(),
        wed: z.array(windowSchema).optional(),
        thu: z.array(windowSchema).optional(),
        fri: z.array(windowSchema).optional(),
        sat: z.array(windowSchema).optional(),
      })
      .strict(),
    holidays: z.array(z.string()).default([]),
  })
  .strict();

export type CalendarInput = z.input<typeof calendarSchema>;

export interface CompiledCalendar {
  offsetMs: number;
  /** Index 0 = Sunday. Each: sorted [fromMin, toMin) pairs, local minutes since midnight. */
  windows: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  /** Local day numbers (days since 1970-01-01 in local time) that are closed. */
  holidays: ReadonlySet<number>;
}

const DAY_MS = 86_400_000;

function minutes(s: string, field: string): number {
  const m = HHMM.exec(s);
  if (!m) throw invalidArgument(field, `"${s}" is not HH:MM`);
  const v = Number(m[1]) * 60 + Number(m[2]);
  if (v > 24 * 60) throw invalidArgument(field, `"${s}" is after 24:00`);
  return v;
}

/** Days since 1970-01-01 for a `YYYY-MM-DD` date, or undefined if it is not a real date. */
export function dayNumber(date: string): number | undefined {
  const m = DATE.exec(date);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return undefined;
  return ms / DAY_MS;
}

export function compileCalendar(input: z.output<typeof calendarSchema>, field: string): CompiledCalendar {
  const windows = WEEKDAYS.map((day) => {
    const list = (input.weekly[day] ?? []).map((w, i): [number, number] => {
      const f = `${field}.weekly.${day}[${i}]`;
      const from = minutes(w.from, `${f}.from`);
      const to = minutes(w.to, `${f}.to`);
      if (to <= from)
        throw invalidArgument(`${f}.to`, `must be after from (${w.from}); split windows at midnight`);
      return [from, to];
    });
    list.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < list.length; i++) {
      if (list[i]![0] < list[i - 1]![1]) throw invalidArgument(`${field}.weekly.${day}`, 'windows overlap');
    }
    return list;
  });
  const holidays = new Set<number>();
  input.holidays.forEach((h, i) => {
    const n = dayNumber(h);
    if (n === undefined) throw invalidArgument(`${field}.holidays[${i}]`, `"${h}" is not a YYYY-MM-DD date`);
    holidays.add(n);
  });
  return { offsetMs: input.utcOffsetMinutes * 60_000, windows, holidays };
}

/** Is the calendar open at `nowMs` (UTC epoch ms)? No calendar = always open. */
export function isOpen(cal: CompiledCalendar | undefined, nowMs: number): boolean {
  if (!cal) return true;
  const local = nowMs + cal.offsetMs;
  const day = Math.floor(local / DAY_MS);
  if (cal.holidays.has(day)) return false;
  const weekday = (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  const minute = (local - day * DAY_MS) / 60_000;
  for (const [from, to] of cal.windows[weekday]!) {
    if (minute >= from && minute < to) return true;
  }
  return false;
}
