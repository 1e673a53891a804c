import { test } from 'vitest';
import assert from 'node:assert/strict';
import { calendarSchema, compileCalendar, dayNumber, isOpen } from './hours.js';

const cal = compileCalendar(
  calendarSchema.parse({
    utcOffsetMinutes: 480,
    weekly: {
      mon: [
        { from: '08:00', to: '12:00' },
        { from: '13:00', to: '24:00' },
      ],
      sun: [{ from: '00:00', to: '24:00' }],
    },
    holidays: ['2026-10-01'],
  }),
  'cal',
);
// 2026-11-23 is a Monday. Local = UTC+8.
const local = (d: number, h: number, m = 0): number => Date.UTC(2026, 10, d, h, m) - 8 * 3600_000;

test('windows are half-open, in local time, per weekday', () => {
  assert.equal(isOpen(cal, local(23, 7, 59)), false);
  assert.equal(isOpen(cal, local(23, 8, 0)), true);
  assert.equal(isOpen(cal, local(23, 11, 59)), true);
  assert.equal(isOpen(cal, local(23, 12, 0)), false);
  assert.equal(isOpen(cal, local(23, 23, 59)), true);
  assert.equal(isOpen(cal, local(24, 0, 0)), false); // Tuesday: no windows
  assert.equal(isOpen(cal, local(22, 3, 0)), true); // Sunday all day
  assert.equal(isOpen(undefined, 0), true);
});

test('holidays close the whole local day; dates are validated', () => {
  const thu = Date.UTC(2026, 9, 1, 2) - 8 * 3600_000; // 2026-10-01 local 02:00, a Thursday
  assert.equal(isOpen(cal, thu), false);
  assert.equal(dayNumber('2026-02-29'), undefined);
  assert.equal(dayNumber('1970-01-02'), 1);
});
