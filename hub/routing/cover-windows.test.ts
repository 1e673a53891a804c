import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import type { CoverSchedule, Topology, Weekday } from '../../shared/topology/schema.js';
import { activeCoverEntries, checkCoverStart, weeklyWindowEnd, type StartedCover } from './cover-windows.js';
import { NOW, province } from './testing.js';

/** A UTC instant from a date and time. Nov 2025: the 10th is a Monday, the 16th a Sunday. */
const utc = (day: number, h: number, m = 0, ms = 0) => Date.UTC(2025, 10, day, h, m) + ms;

type Weekly = Extract<CoverSchedule['when'], { kind: 'weekly' }>;
const weekly = (days: Weekday[], from: string, to: string, utcOffsetMinutes: number): Weekly => ({
  kind: 'weekly',
  days,
  from,
  to,
  utcOffsetMinutes,
});
const open = (w: Weekly, at: number) => weeklyWindowEnd(w, at) !== null;

describe('weeklyWindowEnd: windows on their own offset', () => {
  const night = weekly(['mon', 'tue', 'wed', 'thu', 'fri'], '22:00', '08:00', 480);

  test('a window crossing midnight: active from its start day into the next, half-open', () => {
    // Wednesday 22:00 in UTC+8 is 14:00 UTC.
    assert.equal(open(night, utc(12, 13, 59, 59_999)), false);
    assert.equal(weeklyWindowEnd(night, utc(12, 14)), utc(13, 0)); // ends Thursday 08:00 local
    assert.equal(open(night, utc(12, 23, 59, 59_999)), true); // Thursday 07:59:59.999 local
    assert.equal(open(night, utc(13, 0)), false); // Thursday 08:00 local: [from, to)
  });

  test("Friday's window runs into Saturday morning; Saturday's and Sunday's nights are not listed", () => {
    assert.equal(open(night, utc(14, 23)), true); // Saturday 07:00 local, Friday's window
    assert.equal(open(night, utc(15, 14)), false); // Saturday 22:00 local
    assert.equal(open(night, utc(15, 23)), false); // Sunday 07:00 local
    assert.equal(open(night, utc(16, 23)), false); // Monday 07:00 local: Sunday is not listed
    assert.equal(open(night, utc(17, 14)), true); // Monday 22:00 local
  });

  test("Saturday's night runs into Sunday (the week wraps)", () => {
    const sat = weekly(['sat'], '22:00', '06:00', 0);
    assert.equal(open(sat, utc(15, 22)), true);
    assert.equal(weeklyWindowEnd(sat, utc(16, 5, 59)), utc(16, 6));
    assert.equal(open(sat, utc(16, 6)), false);
    assert.equal(open(sat, utc(9, 5)), true); // the Sunday of the week before
  });

  test('an offset other than the province: read on its own (UTC+0 office hours)', () => {
    const london = weekly(['wed'], '09:00', '17:00', 0);
    // 08:30 UTC is 16:30 in the province: the entry's own offset says it has not started.
    assert.equal(open(london, utc(12, 8, 30)), false);
    assert.equal(open(london, utc(12, 9)), true);
    assert.equal(open(london, utc(12, 16, 59)), true);
    assert.equal(open(london, utc(12, 17)), false);
  });

  test('a negative offset moves the window across the UTC date line; 24:00 ends at local midnight', () => {
    const evening = weekly(['mon'], '20:00', '24:00', -300); // Monday 20:00-24:00 at UTC-5
    assert.equal(open(evening, utc(11, 0, 59)), false); // Monday 19:59 local
    assert.equal(weeklyWindowEnd(evening, utc(11, 1)), utc(11, 5)); // Tuesday 05:00 UTC
    assert.equal(open(evening, utc(11, 4, 59)), true);
    assert.equal(open(evening, utc(11, 5)), false); // Tuesday 00:00 local
    assert.equal(open(evening, utc(10, 20)), false); // Monday 20:00 UTC is 15:00 local
  });

  test('a whole day, 00:00-24:00', () => {
    const sunday = weekly(['sun'], '00:00', '24:00', 480);
    assert.equal(open(sunday, utc(15, 16)), true); // Sunday 00:00 local
    assert.equal(weeklyWindowEnd(sunday, utc(15, 16)), utc(16, 16));
    assert.equal(open(sunday, utc(16, 16)), false); // Monday 00:00 local
    assert.equal(open(sunday, utc(15, 15, 59)), false);
  });
});

describe('activeCoverEntries', () => {
  const t = province(); // night-wanzhou: mon-fri 22:00-08:00 on the province's +480; fuling-helps: on demand
  const none = new Map<string, StartedCover>();

  test('scheduled entries by the clock, on-demand ones only when started', () => {
    assert.deepEqual(activeCoverEntries(t, none, NOW), []); // Wednesday 10:00 local
    assert.deepEqual(activeCoverEntries(t, none, utc(12, 15)), [
      { entryId: 'night-wanzhou', how: 'scheduled', endsAtMs: utc(13, 0) },
    ]);
    const started = new Map([['fuling-helps', { untilMs: null }]]);
    assert.deepEqual(activeCoverEntries(t, started, NOW), [
      { entryId: 'fuling-helps', how: 'on-demand', endsAtMs: null },
    ]);
  });

  test('an on-demand entry stops at its until (exclusive)', () => {
    const started = new Map([['fuling-helps', { untilMs: NOW + 1 }]]);
    assert.deepEqual(activeCoverEntries(t, started, NOW), [
      { entryId: 'fuling-helps', how: 'on-demand', endsAtMs: NOW + 1 },
    ]);
    assert.deepEqual(activeCoverEntries(t, started, NOW + 1), []);
  });

  test('a started id the topology no longer has, or a weekly entry "started", is not active', () => {
    const started = new Map([
      ['gone', { untilMs: null }],
      ['night-wanzhou', { untilMs: null }],
    ]);
    assert.deepEqual(activeCoverEntries(t, started, NOW), []);
  });

  test('a weekly entry on its own offset beside the province offset', () => {
    const t2: Topology = {
      ...t,
      cover: [
        ...t.cover,
        {
          id: 'utc-office',
          agentsOf: 'fuling',
          serves: { site: 'wanzhou', queues: ['vip'] },
          when: weekly(['wed'], '09:00', '17:00', 0),
          rank: 'below-own',
        },
      ],
    };
    // Wednesday 09:30 UTC = 17:30 in the province: the office entry, not the night one.
    assert.deepEqual(
      activeCoverEntries(t2, none, utc(12, 9, 30)).map((a) => a.entryId),
      ['utc-office'],
    );
  });

  test('a nowMs that is not a number is refused', () => {
    assert.throws(
      () => activeCoverEntries(t, none, Number.NaN),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'nowMs',
    );
  });
});

describe('checkCoverStart', () => {
  const t = province();
  const refused = (f: () => unknown, field: string, message: RegExp) =>
    assert.throws(f, (e) => {
      assert.ok(isDomainError(e, 'invalid-argument'), String(e));
      assert.equal(e.field, field);
      assert.match(e.message, message);
      return true;
    });

  test('an on-demand entry, with or without until', () => {
    assert.equal(checkCoverStart(t, 'fuling-helps', null, NOW).id, 'fuling-helps');
    assert.equal(checkCoverStart(t, 'fuling-helps', NOW + 60_000, NOW).id, 'fuling-helps');
  });
  test('an unknown entry names the on-demand ones', () => {
    refused(
      () => checkCoverStart(t, 'nope', null, NOW),
      'entryId',
      /no cover entry "nope".*on-demand entries: fuling-helps/,
    );
  });
  test('a scheduled entry is started by the clock only', () => {
    refused(() => checkCoverStart(t, 'night-wanzhou', null, NOW), 'entryId', /is scheduled .*only on-demand/);
  });
  test('an until not after now', () => {
    refused(() => checkCoverStart(t, 'fuling-helps', NOW, NOW), 'until', /later than now/);
  });
  test('an entry already active is refused; one whose until has passed may start again', () => {
    const running = new Map<string, StartedCover>([['fuling-helps', { untilMs: NOW + 1 }]]);
    assert.throws(
      () => checkCoverStart(t, 'fuling-helps', null, NOW, running),
      (e) =>
        isDomainError(e, 'failed-precondition') && e.field === 'entryId' && /already active/.test(e.message),
    );
    assert.equal(checkCoverStart(t, 'fuling-helps', null, NOW + 1, running).id, 'fuling-helps');
  });
});
