import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { query } from '../../shared/pg/pool.js';
import type { NewTopologyVersion } from '../ports.js';
import type { Topology } from '../../shared/topology/schema.js';
import { hubTestDb, pgSkip, type HubTestDb } from './testing.js';
import { PgSiteAdminStore, PgTopologyStore } from './topology-store.js';

const T0 = 1_763_000_000_123;

/** A compiled topology using every kind of part (full and access sites, overflow, both cover kinds). */
function topology(trunks: number): Topology {
  return {
    version: null,
    province: '重庆分行',
    hubSite: 'chongqing',
    utcOffsetMinutes: 480,
    sites: [
      {
        id: 'chongqing',
        kind: 'full',
        city: '重庆 Chongqing',
        endpoints: { cti: 'cq.bank.internal:7443', sip: '10.10.0.10:5060', sipTransport: 'udp' },
        capacity: { trunks, agents: 40, ivrPorts: 60 },
        queues: ['retail', 'vip'],
      },
      {
        id: 'qianjiang',
        kind: 'access',
        city: '黔江',
        endpoints: { sip: '10.30.0.2:5060' },
        capacity: { trunks: 30, ivrPorts: 0 },
        center: 'wanzhou',
        backupCenter: null,
      },
      {
        id: 'wanzhou',
        kind: 'full',
        city: '万州',
        endpoints: { cti: 'wz.bank.internal:7443', sip: '10.20.0.10:5060', sipTransport: 'tcp' },
        capacity: { trunks: 60, agents: 20, ivrPorts: 30 },
        queues: ['retail'],
      },
    ],
    overflow: [
      {
        id: 'wanzhou-retail',
        from: 'wanzhou',
        queues: ['retail'],
        to: ['chongqing'],
        when: {
          waitingOver: 5,
          oldestWaitOverMs: null,
          serviceLevelBelow: 0.8,
          noAgentsLoggedIn: false,
          afterHours: false,
        },
        excludePriorities: [10],
        maxHops: 1,
      },
    ],
    cover: [
      {
        id: 'night',
        agentsOf: 'chongqing',
        serves: { site: 'wanzhou', queues: ['retail'] },
        when: { kind: 'weekly', days: ['fri', 'mon'], from: '22:00', to: '08:00', utcOffsetMinutes: 480 },
        rank: 'below-own',
      },
      {
        id: 'on-call',
        agentsOf: 'wanzhou',
        serves: { site: 'chongqing', queues: ['vip'] },
        when: { kind: 'on-demand' },
        rank: 'by-wait',
      },
    ],
  };
}

function newVersion(expected: number, patch: Partial<NewTopologyVersion> = {}): NewTopologyVersion {
  return {
    topology: topology(100 + expected),
    sourceYaml: `# v${expected + 1}\nprovince: 重庆分行\n`,
    appliedBy: 'admin-zhang',
    comment: `apply on top of ${expected}`,
    changes: [`~ site chongqing capacity.trunks ${99 + expected} -> ${100 + expected}`],
    rollbackOf: null,
    expectedCurrentVersion: expected,
    nowMs: T0 + expected * 1000,
    ...patch,
  };
}

async function count(t: HubTestDb, table: string): Promise<number> {
  const r = await query<{ n: number }>(t.pool, `SELECT count(*)::int AS n FROM ${table}`);
  return r.rows[0]!.n;
}

describe.skipIf(pgSkip)('PgTopologyStore', () => {
  let t: HubTestDb;
  let store: PgTopologyStore;

  beforeAll(async () => {
    t = await hubTestDb('hub_topology', { max: 8 });
    store = new PgTopologyStore(t.pool);
  });
  afterAll(async () => {
    await t?.close();
  });
  // Every test starts from an empty hub and stores the versions it needs, so each can run alone.
  beforeEach(async () => {
    await query(t.pool, 'TRUNCATE topology_versions, admin_audit');
  });

  /** Versions 1..n, each applied on top of the one before. */
  async function appendVersions(n: number): Promise<void> {
    for (let v = 0; v < n; v++) await store.append(newVersion(v));
  }

  test('an empty hub has no current version', async () => {
    assert.equal(await store.current(), undefined);
    assert.equal(await store.get(1), undefined);
    assert.deepEqual(await store.history(10), []);
  });

  test('append/current/get/history round trip keeps every field deep-equal', async () => {
    const v1 = await store.append(newVersion(0));
    assert.equal(v1.version, 1);
    const want = newVersion(0);
    assert.deepEqual(v1, {
      version: 1,
      topology: want.topology,
      sourceYaml: want.sourceYaml,
      appliedAtMs: want.nowMs,
      appliedBy: want.appliedBy,
      comment: want.comment,
      changes: want.changes,
      rollbackOf: null,
    });
    assert.deepEqual(await store.current(), v1);
    assert.deepEqual(await store.get(1), v1);

    const v2 = await store.append(newVersion(1));
    const v3 = await store.append(
      newVersion(2, { rollbackOf: 1, topology: topology(100), comment: 'back to v1' }),
    );
    assert.equal(v3.rollbackOf, 1);
    assert.deepEqual(v3.topology, v1.topology);
    assert.deepEqual(await store.current(), v3);
    assert.deepEqual(await store.get(2), v2);
    assert.deepEqual(
      (await store.history(10)).map((v) => v.version),
      [3, 2, 1],
    );
    assert.deepEqual(await store.history(2), [v3, v2]);
    assert.equal(await store.get(99), undefined);
    assert.equal(await store.get(-1), undefined);

    const audit = await new PgSiteAdminStore(t.pool).audit(10);
    assert.deepEqual(
      audit.map((a) => `${a.action} ${a.target} ${a.actor}`),
      [
        'topology.rollback topology v3 admin-zhang',
        'topology.apply topology v2 admin-zhang',
        'topology.apply topology v1 admin-zhang',
      ],
    );
    assert.deepEqual(audit[0]!.detail, {
      version: 3,
      previousVersion: 2,
      changes: newVersion(2).changes,
      comment: 'back to v1',
      rollbackOf: 1,
    });
    assert.equal(audit[0]!.atMs, newVersion(2).nowMs);
  });

  test('a stale expected version is a conflict naming both versions, and stores nothing', async () => {
    await appendVersions(3);
    const before = await store.current();
    const audits = await count(t, 'admin_audit');
    await assert.rejects(store.append(newVersion(1)), (e) => {
      assert.ok(isDomainError(e, 'conflict'));
      assert.match(e.message, /planned against version 1 but version 3 is current; plan again/);
      return true;
    });
    await assert.rejects(
      store.append(newVersion(0)),
      (e) => isDomainError(e, 'conflict') && /version 3/.test(e.message),
    );
    await assert.rejects(store.append(newVersion(7)), (e) => isDomainError(e, 'conflict'));
    assert.deepEqual(await store.current(), before);
    assert.equal(await count(t, 'topology_versions'), 3);
    assert.equal(await count(t, 'admin_audit'), audits);
  });

  test('bad input is refused before touching the database', async () => {
    // On top of version 3, so that a request the checks let through would be stored.
    await appendVersions(3);
    await assert.rejects(
      store.append(newVersion(3, { expectedCurrentVersion: -1 })),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'expectedCurrentVersion',
    );
    await assert.rejects(
      store.append(newVersion(3, { appliedBy: ' ' })),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'appliedBy',
    );
    await assert.rejects(
      store.append(newVersion(3, { rollbackOf: 9 })),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'rollbackOf',
    );
    assert.equal(await count(t, 'topology_versions'), 3);
  });

  test('two concurrent appends on the same version: exactly one wins', async () => {
    await appendVersions(3);
    const base = (await store.current())!.version;
    for (let round = 0; round < 3; round++) {
      const expected = base + round;
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, (_, i) => store.append(newVersion(expected, { comment: `admin ${i}` }))),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: exactly one wins`);
      for (const l of lost) assert.ok(isDomainError(l.reason, 'conflict'), String(l.reason));
      assert.equal(won[0]!.value.version, expected + 1);
    }
    assert.equal((await store.current())!.version, base + 3);
    const r = await query<{ n: number }>(
      t.pool,
      `SELECT count(*)::int AS n FROM admin_audit WHERE action LIKE 'topology.%'`,
    );
    assert.equal(r.rows[0]!.n, base + 3, 'one audit row per stored version');
  });
});

describe.skipIf(pgSkip)('PgSiteAdminStore', () => {
  let t: HubTestDb;
  let admin: PgSiteAdminStore;

  beforeAll(async () => {
    t = await hubTestDb('hub_siteadmin');
    admin = new PgSiteAdminStore(t.pool);
  });
  afterAll(async () => {
    await t?.close();
  });

  test('drain and undrain are persisted and audited, newest first', async () => {
    assert.deepEqual(await admin.drainedSites(), new Set());
    await admin.setDrained('wanzhou', true, 'admin-li', 'fibre cut', T0);
    await admin.setDrained('fuling', true, 'admin-li', 'maintenance', T0 + 1);
    assert.deepEqual(await admin.drainedSites(), new Set(['wanzhou', 'fuling']));
    await admin.setDrained('wanzhou', false, 'admin-wang', 'repaired', T0 + 2);
    await admin.setDrained('wanzhou', false, 'admin-wang', 'again', T0 + 3);

    // A fresh store over the same database (a restarted hub) sees the same state.
    const restarted = new PgSiteAdminStore(t.pool);
    assert.deepEqual(await restarted.drainedSites(), new Set(['fuling']));
    const row = await query<{ changed_by: string; changed_at_ms: string; comment: string }>(
      t.pool,
      `SELECT changed_by, changed_at_ms, comment FROM site_admin WHERE site_id = 'wanzhou'`,
    );
    assert.deepEqual(row.rows[0], {
      changed_by: 'admin-wang',
      changed_at_ms: String(T0 + 3),
      comment: 'again',
    });

    const audit = await restarted.audit(10);
    assert.deepEqual(audit, [
      {
        atMs: T0 + 3,
        actor: 'admin-wang',
        action: 'site.undrain',
        target: 'wanzhou',
        detail: { drained: false, wasDrained: false, comment: 'again' },
      },
      {
        atMs: T0 + 2,
        actor: 'admin-wang',
        action: 'site.undrain',
        target: 'wanzhou',
        detail: { drained: false, wasDrained: true, comment: 'repaired' },
      },
      {
        atMs: T0 + 1,
        actor: 'admin-li',
        action: 'site.drain',
        target: 'fuling',
        detail: { drained: true, wasDrained: false, comment: 'maintenance' },
      },
      {
        atMs: T0,
        actor: 'admin-li',
        action: 'site.drain',
        target: 'wanzhou',
        detail: { drained: true, wasDrained: false, comment: 'fibre cut' },
      },
    ]);
    assert.deepEqual(
      (await restarted.audit(2)).map((a) => a.atMs),
      [T0 + 3, T0 + 2],
    );
    assert.deepEqual(await restarted.audit(0), []);
  });

  test('a bad site id or actor is refused and nothing is written', async () => {
    const before = await admin.audit(100);
    await assert.rejects(
      admin.setDrained('Not A Site', true, 'admin-li', '', T0),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'siteId',
    );
    await assert.rejects(
      admin.setDrained('wanzhou', true, '', '', T0),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'actor',
    );
    assert.deepEqual(await admin.audit(100), before);
  });
});
