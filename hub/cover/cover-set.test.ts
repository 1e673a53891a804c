import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { CoverSchedule } from '../../shared/topology/schema.js';
import { activeCoverEntries, type StartedCover } from '../routing/cover-windows.js';
import { NOW, province } from '../routing/testing.js';
import {
  activeSince,
  coverChanges,
  coverEntriesForSite,
  describeSchedule,
  nextCoverBoundary,
  nextWeeklyEdge,
  weeklyWindowLengthMs,
} from './cover-set.js';

/** A UTC instant. Nov 2025: the 10th is a Monday. NOW is Wednesday the 12th, 10:00 at +08:00. */
const utc = (day: number, h: number, m = 0) => Date.UTC(2025, 10, day, h, m);
type Weekly = Extract<CoverSchedule['when'], { kind: 'weekly' }>;
const night: Weekly = {
  kind: 'weekly',
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  from: '22:00',
  to: '08:00',
  utcOffsetMinutes: 480,
};
const none = new Map<string, StartedCover>();

describe('window edges', () => {
  test('a window crossing midnight lasts into the next day', () => {
    assert.equal(weeklyWindowLengthMs(night), 10 * 3_600_000);
    assert.equal(weeklyWindowLengthMs({ ...night, from: '00:00', to: '24:00' }), 86_400_000);
  });

  test('the next edge: the opening ahead, then the closing, then the next listed day', () => {
    assert.equal(nextWeeklyEdge(night, NOW), utc(12, 14)); // Wednesday 22:00 local
    assert.equal(nextWeeklyEdge(night, utc(12, 14)), utc(13, 0)); // at the opening: its closing
    assert.equal(nextWeeklyEdge(night, utc(14, 23)), utc(15, 0)); // Friday's window closes Saturday 08:00
    assert.equal(nextWeeklyEdge(night, utc(15, 0)), utc(17, 14)); // then nothing until Monday 22:00
  });

  test('the next boundary of a topology: the nearest edge or until', () => {
    const t = province(); // night-wanzhou weekly, fuling-helps on demand
    assert.equal(nextCoverBoundary(t, none, NOW), utc(12, 14));
    const soon = new Map([['fuling-helps', { untilMs: NOW + 60_000 }]]);
    assert.equal(nextCoverBoundary(t, soon, NOW), NOW + 60_000);
    assert.equal(
      nextCoverBoundary({ ...t, cover: t.cover.filter((c) => c.when.kind === 'on-demand') }, none, NOW),
      null,
    );
  });
});

describe('what is told', () => {
  const t = province();

  test('since: the window opening for a scheduled entry, the admin start for an on-demand one', () => {
    const at = utc(12, 15); // Wednesday 23:00 local
    const [a] = activeCoverEntries(t, none, at);
    assert.equal(
      activeSince(
        t.cover.find((c) => c.id === a!.entryId)!,
        a!,
        undefined,
      ),
      utc(12, 14),
    );
    const started = new Map([['fuling-helps', { untilMs: null }]]);
    const b = activeCoverEntries(t, started, NOW)[0]!;
    assert.equal(
      activeSince(
        t.cover.find((c) => c.id === 'fuling-helps')!,
        b,
        NOW - 5,
      ),
      NOW - 5,
    );
  });

  test('changes: began and ended, by id', () => {
    const after = activeCoverEntries(t, new Map([['fuling-helps', { untilMs: null }]]), NOW);
    assert.deepEqual(coverChanges(new Set(['night-wanzhou']), after), {
      started: after,
      ended: ['night-wanzhou'],
    });
    assert.deepEqual(coverChanges(new Set(['fuling-helps']), after), { started: [], ended: [] });
  });

  test('each site hears of the entries it is served by or covers under, and no other', () => {
    const ids = new Set(['night-wanzhou', 'fuling-helps']);
    assert.deepEqual(coverEntriesForSite(t, ids, 'wanzhou'), ['fuling-helps', 'night-wanzhou']);
    assert.deepEqual(coverEntriesForSite(t, ids, 'chongqing'), ['night-wanzhou']);
    assert.deepEqual(coverEntriesForSite(t, ids, 'fuling'), ['fuling-helps']);
    assert.deepEqual(coverEntriesForSite(t, new Set(['fuling-helps']), 'chongqing'), []);
    assert.deepEqual(coverEntriesForSite(t, ids, 'yubei'), []);
  });

  test('a schedule as people read it', () => {
    assert.equal(describeSchedule(night), 'mon,tue,wed,thu,fri 22:00-08:00 UTC+08:00');
    assert.equal(
      describeSchedule({ ...night, days: ['sat'], utcOffsetMinutes: -330 }),
      'sat 22:00-08:00 UTC-05:30',
    );
  });
});
