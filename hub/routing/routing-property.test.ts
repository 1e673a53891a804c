/**
 * Property tests of the routing core on seeded random provinces (shared/random.ts; each case
 * names its seed, so a failure is replayed by running that seed alone). Each decision is
 * checked against an oracle written from the rules in docs/architecture.md §5.8: a target is
 * never drained, off-line, stale, the origin, a site the call was at, or one that does not
 * offer the queue; every site that could take the call is ranked; and the same input decides
 * the same, whatever order the live views come in.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { Random } from '../../shared/random.js';
import { WEEKDAYS, type CoverSchedule, type FullSite, type Topology } from '../../shared/topology/schema.js';
import { coverOverlap } from '../../shared/topology/validate.js';
import { routeCover } from './cover.js';
import { weeklyWindowEnd, type StartedCover } from './cover-windows.js';
import type { RoutingDecision } from './decision.js';
import { routeOverflow } from './overflow.js';
import type { OverflowRequest } from './request.js';
import { DEFAULT_MAX_SNAPSHOT_AGE_MS, type SiteLiveView } from './site-view.js';

const QUEUES = ['q0', 'q1', 'q2', 'q3'];
const LINKS = ['up', 'up', 'up', 'suspect', 'down', 'never'] as const;
const NOW = 1_763_000_000_000;

function subset<T>(r: Random, xs: readonly T[], p: number): T[] {
  return xs.filter(() => r.chance(p));
}

function shuffled<T>(r: Random, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A compiled topology built directly (not through validation), so it may hold what the file format refuses. */
function randomProvince(r: Random): Topology {
  const n = r.int(2, 7);
  const sites: FullSite[] = [];
  for (let i = 0; i < n; i++) {
    const qs = subset(r, QUEUES, 0.6);
    sites.push({
      id: `s${i}`,
      kind: 'full',
      city: `s${i}`,
      endpoints: { cti: `s${i}.x:1`, sip: `10.0.0.${i}:5060`, sipTransport: 'udp' },
      capacity: { trunks: 1, agents: 1, ivrPorts: 1 },
      queues: qs.length > 0 ? qs : ['q0'],
    });
  }
  const ids = sites.map((s) => s.id);
  const from = r.pick(ids);
  const days = subset(r, WEEKDAYS, 0.5);
  const cover: CoverSchedule = {
    id: 'c',
    agentsOf: r.pick(ids),
    serves: { site: from, queues: ['q0'] },
    when: r.chance(0.5)
      ? { kind: 'on-demand' }
      : {
          kind: 'weekly',
          days: days.length > 0 ? days : ['mon'],
          from: hhmm(r.int(0, 1439)),
          to: hhmm(r.int(1, 1440)),
          utcOffsetMinutes: r.int(-720, 840),
        },
    rank: 'below-own',
  };
  return {
    version: 1,
    province: 'random',
    hubSite: ids[0]!,
    utcOffsetMinutes: 480,
    sites,
    overflow: [
      {
        id: 'p',
        from,
        queues: ['q0', 'q1'],
        // Any sites, the origin and sites without the queue included, in a random order.
        to: shuffled(r, ids).slice(0, r.int(1, n)),
        when: {
          waitingOver: 1,
          oldestWaitOverMs: null,
          serviceLevelBelow: null,
          noAgentsLoggedIn: false,
          afterHours: false,
        },
        excludePriorities: [],
        maxHops: 1,
      },
    ],
    cover: [cover],
  };
}

const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

function randomViews(r: Random, t: Topology): Map<string, SiteLiveView> {
  const m = new Map<string, SiteLiveView>();
  for (const s of t.sites) {
    if (s.kind !== 'full' || r.chance(0.1)) continue; // never heard from
    const ageMs = r.int(-50, 2000);
    m.set(s.id, {
      link: r.pick(LINKS),
      drained: r.chance(0.2),
      overflow: r.chance(0.9),
      snapshot: r.chance(0.1)
        ? null
        : {
            atMs: NOW - r.int(-5000, 5000),
            receivedAtMs: NOW - ageMs,
            queues: subset(r, s.queues, 0.85).map((queueId) => ({
              queueId,
              callsWaiting: r.int(0, 5),
              agentsReady: r.chance(0.5) ? 0 : r.int(1, 3),
              agentsServing: r.int(0, 3),
              expectedWaitMs: r.chance(0.1) ? null : r.int(0, 60_000),
            })),
          },
    });
  }
  return m;
}

function randomRequest(r: Random, t: Topology): OverflowRequest {
  const p = t.overflow[0]!;
  return {
    originSiteId: p.from,
    callId: `call-${r.int(1, 1e6)}`,
    queueId: r.pick(p.queues),
    priority: r.int(0, 9),
    waitedMs: r.int(0, 120_000),
    remainingPatienceMs: r.chance(0.3) ? null : r.int(0, 60_000),
    policyId: p.id,
    // Mostly the origin alone (a first move); sometimes other sites too.
    visitedSiteIds: r.chance(0.7)
      ? [p.from]
      : subset(
          r,
          t.sites.map((s) => s.id),
          0.3,
        ),
  };
}

/** Whether the live state lets a site take anything: the rule, written again for the oracle. */
function liveOk(
  v: SiteLiveView | undefined,
  maxAge: number,
): v is SiteLiveView & { snapshot: NonNullable<SiteLiveView['snapshot']> } {
  if (!v || v.drained || v.link !== 'up' || !v.overflow || !v.snapshot) return false;
  const age = NOW - v.snapshot.receivedAtMs;
  return age >= 0 && age <= maxAge;
}

/** A reversed-insertion copy: the decision must not depend on the map's order. */
const reversed = (m: Map<string, SiteLiveView>) => new Map([...m].reverse());

function checkRanks(d: RoutingDecision): void {
  const eligible = d.candidates.filter((c) => c.outcome !== 'skipped');
  assert.deepEqual(
    eligible.map((c) => c.rank).sort((a, b) => a! - b!),
    eligible.map((_, i) => i + 1),
  );
  const taken = d.candidates.filter((c) => c.outcome === 'taken');
  assert.equal(taken.length, d.target === null ? 0 : 1);
  assert.equal(taken[0]?.siteId ?? null, d.target);
  assert.equal(d.target === null, d.noTarget !== null);
  for (const c of d.candidates) assert.equal(c.outcome === 'skipped', c.reason !== null);
}

describe('routing core, random provinces', () => {
  test('overflow: never a drained, off-line, stale, origin, visited or non-offering site; every eligible ranked; deterministic', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const r = new Random(seed);
      const t = randomProvince(r);
      const sites = randomViews(r, t);
      const request = randomRequest(r, t);
      const maxSnapshotAgeMs = r.chance(0.5) ? undefined : r.int(0, 1500);
      const maxAge = maxSnapshotAgeMs ?? DEFAULT_MAX_SNAPSHOT_AGE_MS;
      const input = { request, topology: t, sites, nowMs: NOW, options: { maxSnapshotAgeMs } };
      const d = routeOverflow(input);
      const at = `seed ${seed}`;
      assert.deepEqual(routeOverflow({ ...input, sites: reversed(sites) }), d, `${at}: not deterministic`);
      checkRanks(d);

      const p = t.overflow[0]!;
      const q = request.queueId;
      const moved = request.visitedSiteIds.some((s) => s !== request.originSiteId);
      if (moved) {
        assert.equal(d.noTarget?.reason, 'max-hops', at);
        continue;
      }
      assert.deepEqual(
        d.candidates.map((c) => c.siteId),
        p.to,
        `${at}: verdicts in preference order`,
      );
      const patience = request.remainingPatienceMs;
      const canTake = (id: string): boolean => {
        const v = sites.get(id);
        const site = t.sites.find((s) => s.id === id);
        if (id === request.originSiteId || request.visitedSiteIds.includes(id)) return false;
        if (!site || site.kind !== 'full' || !site.queues.includes(q) || !liveOk(v, maxAge)) return false;
        const row = v.snapshot.queues.find((x) => x.queueId === q);
        if (!row) return false;
        if (row.agentsReady > 0) return true;
        return (
          row.agentsServing > 0 &&
          row.expectedWaitMs !== null &&
          (patience === null || row.expectedWaitMs <= patience)
        );
      };
      const expected = p.to.filter(canTake);
      assert.deepEqual(
        d.candidates.filter((c) => c.outcome !== 'skipped').map((c) => c.siteId),
        expected,
        `${at}: the eligible sites`,
      );
      if (d.target !== null) {
        assert.ok(canTake(d.target), `${at}: chose ${d.target}`);
        const ready = (id: string) =>
          sites.get(id)!.snapshot!.queues.find((x) => x.queueId === q)!.agentsReady > 0;
        // The preferred ready site if any, else the preferred eligible one.
        assert.equal(d.target, expected.find(ready) ?? expected[0], at);
        assert.equal(d.targetState!.ageMs, NOW - sites.get(d.target)!.snapshot!.receivedAtMs, at);
      } else {
        assert.deepEqual(expected, [], at);
      }
    }
  });

  test('cover: the covering site only when the entry is active and its state is usable; deterministic', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = new Random(seed);
      const t = randomProvince(r);
      const c = t.cover[0]!;
      const sites = randomViews(r, t);
      const nowMs = NOW + r.int(0, 7 * 86_400_000);
      for (const v of sites.values())
        if (v.snapshot) v.snapshot = { ...v.snapshot, receivedAtMs: v.snapshot.receivedAtMs + (nowMs - NOW) };
      const started = new Map<string, StartedCover>(
        r.chance(0.5) ? [['c', { untilMs: r.chance(0.5) ? null : nowMs + r.int(-1000, 1000) }]] : [],
      );
      const request = {
        ...randomRequest(r, t),
        queueId: 'q0',
        coverEntryId: 'c',
        originSiteId: c.serves.site,
        visitedSiteIds: r.chance(0.8)
          ? []
          : subset(
              r,
              t.sites.map((s) => s.id),
              0.3,
            ),
      };
      const input = { request, topology: t, sites, started, nowMs };
      const d = routeCover(input);
      const at = `seed ${seed}`;
      assert.deepEqual(routeCover({ ...input, sites: reversed(sites) }), d, `${at}: not deterministic`);
      checkRanks(d);
      const s = started.get('c');
      const active =
        c.when.kind === 'weekly'
          ? weeklyWindowEnd(c.when, nowMs) !== null
          : s !== undefined && (s.untilMs === null || nowMs < s.untilMs);
      const moved = request.visitedSiteIds.some((x) => x !== request.originSiteId);
      const v = sites.get(c.agentsOf);
      const usable = (() => {
        if (!v || v.drained || v.link !== 'up' || !v.overflow || !v.snapshot) return false;
        const age = nowMs - v.snapshot.receivedAtMs;
        return age >= 0 && age <= DEFAULT_MAX_SNAPSHOT_AGE_MS;
      })();
      const expected = active && !moved && c.agentsOf !== request.originSiteId && usable ? c.agentsOf : null;
      assert.equal(d.target, expected, at);
      if (!active) assert.equal(d.noTarget?.reason, 'cover-not-active', at);
    }
  });

  test("weekly windows: open exactly when validation's overlap check sees the minute inside the window", () => {
    // coverOverlap (shared/topology/validate.ts) reads windows as UTC minutes of the week; a
    // one-minute window at the moment asked must overlap exactly when the window is open.
    for (let seed = 1; seed <= 3000; seed++) {
      const r = new Random(seed);
      const days = subset(r, WEEKDAYS, 0.4);
      const from = r.int(0, 1439);
      let to = r.int(1, 1440);
      if (to === from) to = from + 1;
      const w = {
        kind: 'weekly' as const,
        days: days.length > 0 ? days : (['sat'] as const).slice(),
        from: hhmm(from),
        to: hhmm(to),
        utcOffsetMinutes: r.int(-720, 840),
      };
      const minute = NOW - (NOW % 60_000) + r.int(0, 7 * 1440) * 60_000;
      const at = minute + r.int(0, 59_999);
      const utcMinute = Math.floor((minute % 86_400_000) / 60_000);
      const probe = {
        kind: 'weekly' as const,
        days: [WEEKDAYS[(Math.floor(minute / 86_400_000) + 4) % 7]!],
        from: hhmm(utcMinute),
        to: hhmm(utcMinute + 1),
        utcOffsetMinutes: 0,
      };
      assert.equal(
        weeklyWindowEnd(w, at) !== null,
        coverOverlap(w, probe) !== null,
        `seed ${seed}: ${JSON.stringify(w)} at ${new Date(at).toISOString()}`,
      );
    }
  });
});
