import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { isDomainError } from '../../shared/errors.js';
import { query } from '../../shared/pg/pool.js';
import type { WriteCustomerInput } from '../ports.js';
import { hubTestDb, pgSkip, type HubTestDb } from '../store/testing.js';
import { MAX_NOTES } from '../../shared/domain/customer-schema.js';
import { PgDirectoryStore, REFUSALS_KEPT_PER_MINUTE } from './pg-directory.js';

const T0 = 1_763_000_000_000;
/** A roaming IVR read by a site of its own, for the phone-normalisation tests. */
const NORM_AUDIT = {
  readerSiteId: 'norm-reader',
  reason: 'ivr-ani',
  callId: null,
  agentId: null,
  ivrSessionId: null,
  atMs: T0,
};

/** A valid profile whose phone and card are derived from `n` (distinct n, distinct keys). */
function profile(
  id: string,
  homeSiteId: string,
  n: number,
  patch: Partial<CustomerProfile> = {},
): CustomerProfile {
  return {
    customerId: id,
    name: `客户 ${n}`,
    phones: [`139${String(n).padStart(8, '0')}`],
    cards: [`622202${String(n).padStart(10, '0')}`],
    homeSiteId,
    segment: 'retail',
    language: 'zh',
    flags: { blacklisted: false, lostCard: false },
    accountIds: [`${id}-cur`],
    version: 0,
    ...patch,
  };
}

function w(p: CustomerProfile, baseVersion: number, siteId = p.homeSiteId, nowMs = T0): WriteCustomerInput {
  return {
    writer: { kind: 'site', id: siteId },
    profile: p,
    baseVersion,
    claimedBy: 'a01',
    reason: 'agent-edit',
    nowMs,
  };
}

/** The same write by the admin `alice`, who may change any customer. */
function asAdmin(p: CustomerProfile, baseVersion: number, nowMs = T0): WriteCustomerInput {
  return { ...w(p, baseVersion, p.homeSiteId, nowMs), writer: { kind: 'admin', id: 'alice' } };
}

describe.skipIf(pgSkip)('PgDirectoryStore', () => {
  let t: HubTestDb;
  let dir: PgDirectoryStore;

  beforeAll(async () => {
    t = await hubTestDb('hub_directory', { max: 10 });
    dir = new PgDirectoryStore(t.pool);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function count(table: string, where = 'true', values: unknown[] = []): Promise<number> {
    const r = await query<{ n: number }>(
      t.pool,
      `SELECT count(*)::int AS n FROM ${table} WHERE ${where}`,
      values,
    );
    return r.rows[0]!.n;
  }

  test('create, then look up by phone, card and customer id', async () => {
    const p = profile('c-1', 'wanzhou', 1, { phones: ['13900000001', '+862312345678'] });
    const stored = { ...p, phones: ['13900000001', '02312345678'] };
    const created = await dir.write(w(p, 0));
    assert.ok(created.cursor > 0);
    assert.deepEqual(created.profile, { ...stored, version: 1 });
    assert.deepEqual(await dir.lookup('phone', '+862312345678'), { ...stored, version: 1 });
    assert.deepEqual(await dir.lookup('phone', '13900000001'), { ...stored, version: 1 });
    assert.deepEqual(await dir.lookup('card', p.cards[0]!), { ...stored, version: 1 });
    assert.deepEqual(await dir.lookup('customer-id', 'c-1'), { ...stored, version: 1 });
    assert.equal(await dir.lookup('phone', '13999999999'), undefined);
    assert.equal(await dir.lookup('card', ''), undefined);
    assert.equal(await dir.lookup('customer-id', 'nobody'), undefined);
    await assert.rejects(
      dir.lookup('email' as 'phone', 'x'),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'key',
    );
  });

  test('phones are stored canonical and every spelling of the number finds the customer', async () => {
    const p = profile('n-1', 'wanzhou', 601, { phones: ['+86 139 1234 5678', '023-6388-1234'] });
    const created = await dir.write(w(p, 0));
    const stored = { ...p, phones: ['13912345678', '02363881234'], version: 1 };
    assert.deepEqual(created.profile, stored);
    assert.deepEqual(await dir.lookup('customer-id', 'n-1'), stored);
    for (const spelling of [
      '13912345678',
      '+8613912345678',
      '008613912345678',
      '8613912345678',
      '013912345678',
      '139 1234 5678',
      '(+86) 139-1234-5678',
    ]) {
      assert.equal((await dir.lookup('phone', spelling))?.customerId, 'n-1', spelling);
    }
    for (const spelling of ['02363881234', '+862363881234', '0086 23 6388 1234', '(023) 6388-1234']) {
      assert.equal((await dir.lookup('phone', spelling))?.customerId, 'n-1', spelling);
    }
    // The hub knows no area code: a bare local number is not guessed into 023.
    assert.equal(await dir.lookup('phone', '63881234'), undefined);

    // The audited lookup (one prepared statement) normalises the same way.
    assert.equal((await dir.lookupAudited('phone', '+86 139 1234 5678', NORM_AUDIT))?.customerId, 'n-1');
    assert.equal(await count('customer_reads', `customer_id = 'n-1' AND reader_site_id = 'norm-reader'`), 1);

    // Another customer may not take the number in another spelling.
    await assert.rejects(
      dir.write(w(profile('n-2', 'fuling', 602, { phones: ['0086-139-1234-5678'] }), 0)),
      (e) => {
        assert.ok(isDomainError(e, 'conflict'));
        assert.equal(e.message, 'customer n-2: phone 13912345678 already belongs to customer n-1');
        assert.equal(e.field, 'profile.phones[0]');
        return true;
      },
    );
    // Nor list it twice in one profile.
    await assert.rejects(
      dir.write(w(profile('n-3', 'fuling', 603, { phones: ['13900000603', '+8613900000603'] }), 0)),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'profile.phones[1]',
    );
  });

  test('a lookup by something that is not a phone number is invalid-argument naming the value', async () => {
    for (const bad of ['anonymous', 'unknown', '139x', '1'.repeat(21), '+']) {
      await assert.rejects(
        dir.lookup('phone', bad),
        (e) => isDomainError(e, 'invalid-argument') && e.field === 'value',
        bad,
      );
      await assert.rejects(
        dir.lookupAudited('phone', bad, NORM_AUDIT),
        (e) => isDomainError(e, 'invalid-argument') && e.field === 'value' && e.message.startsWith('value: '),
        bad,
      );
    }
    // Other keys are not phone numbers and are not normalised.
    assert.equal(await dir.lookup('customer-id', 'anonymous'), undefined);
    assert.equal(await dir.lookup('card', '139 1234'), undefined);
    // An empty value still finds nobody (as before), without an error.
    assert.equal(await dir.lookup('phone', ''), undefined);
  });

  test('a versioned update bumps the version, re-keys lookups and appends to the feed', async () => {
    const p = profile('c-2', 'wanzhou', 2);
    const v1 = await dir.write(w(p, 0));
    const changed = { ...p, phones: ['13911111112'], segment: 'vip' as const, version: 1 };
    const v2 = await dir.write(w(changed, 1, 'wanzhou', T0 + 5));
    assert.equal(v2.profile.version, 2);
    assert.ok(v2.cursor > v1.cursor);
    assert.equal(await dir.lookup('phone', p.phones[0]!), undefined, 'the old phone no longer matches');
    assert.deepEqual(await dir.lookup('phone', '13911111112'), { ...changed, version: 2 });
    const rows = await query<{ version: string; site_id: string; reason: string; changed_at_ms: string }>(
      t.pool,
      `SELECT version, site_id, reason, changed_at_ms FROM customer_changes WHERE customer_id = 'c-2' ORDER BY cursor`,
    );
    assert.deepEqual(
      rows.rows.map((r) => `${r.version} ${r.site_id} ${r.reason} ${r.changed_at_ms}`),
      [`1 wanzhou agent-edit ${T0}`, `2 wanzhou agent-edit ${T0 + 5}`],
    );
  });

  test('a stale base is a conflict naming both versions; it is recorded and nothing changes', async () => {
    const p = profile('c-3', 'wanzhou', 3);
    await dir.write(w(p, 0));
    await dir.lookupAudited('customer-id', 'c-3', { ...NORM_AUDIT, readerSiteId: 'fuling' });
    await dir.write(w({ ...p, preferredCallback: '13700000003' }, 1, 'fuling'));
    const before = await dir.lookup('customer-id', 'c-3');
    const feed = await count('customer_changes');

    await assert.rejects(dir.write(w({ ...p, name: 'stale' }, 1, 'chongqing', T0 + 9)), (e) => {
      assert.ok(isDomainError(e, 'conflict'));
      assert.equal(e.field, 'baseVersion');
      assert.equal(
        e.message,
        'customer c-3: your change was based on version 1 but version 2 is current (changed by fuling/a01); reload and retry',
      );
      return true;
    });
    await assert.rejects(
      dir.write(w(p, 0)),
      (e) => isDomainError(e, 'conflict') && /version 0 \(a new customer\)/.test(e.message),
    );
    await assert.rejects(
      dir.write(w(profile('c-none', 'wanzhou', 33), 4)),
      (e) =>
        isDomainError(e, 'conflict') && /based on version 4 but the customer does not exist/.test(e.message),
    );

    assert.deepEqual(await dir.lookup('customer-id', 'c-3'), before);
    assert.equal(await dir.lookup('customer-id', 'c-none'), undefined);
    assert.equal(await count('customer_changes'), feed);
    const rec = await query<{
      site_id: string;
      base_version: string;
      current_version: string;
      attempted: CustomerProfile;
      changed_by: string;
      at_ms: string;
    }>(t.pool, `SELECT * FROM customer_conflicts WHERE customer_id = 'c-3' ORDER BY id`);
    assert.equal(rec.rows.length, 2);
    assert.deepEqual(
      { ...rec.rows[0]!, id: undefined, customer_id: undefined },
      {
        id: undefined,
        customer_id: undefined,
        site_id: 'chongqing',
        base_version: '1',
        current_version: '2',
        attempted: { ...p, name: 'stale' },
        changed_by: 'chongqing/a01',
        at_ms: String(T0 + 9),
      },
    );
    assert.equal(rec.rows[1]!.base_version, '0');
    assert.equal(await count('customer_conflicts', `customer_id = 'c-none' AND current_version = 0`), 1);
  });

  test('two writers on the same base: exactly one wins, the other conflict is recorded', async () => {
    const p = profile('c-4', 'wanzhou', 4);
    await dir.write(w(p, 0));
    // The home site last: any of them may win the race.
    const sites = ['fuling', 'chongqing', 'qianjiang', 'wanzhou'];
    // The hub served the customer to the other sites, so each may add a note; without that the
    // owner rule refused a site that got to the row first ("never served"), not the race.
    for (const s of sites.slice(0, -1))
      await dir.lookupAudited('customer-id', 'c-4', { ...NORM_AUDIT, readerSiteId: s });
    // Each adds a note: one wins, the others are stale and must reload.
    const note = (s: string) => [{ siteId: '', by: '', atMs: 0, text: `by ${s}` }];
    const results = await Promise.allSettled(sites.map((s) => dir.write(w({ ...p, notes: note(s) }, 1, s))));
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    assert.equal(won.length, 1);
    for (const r of results)
      if (r.status === 'rejected') assert.ok(isDomainError(r.reason, 'conflict'), String(r.reason));
    const stored = await dir.lookup('customer-id', 'c-4');
    assert.deepEqual(stored, won[0]!.profile);
    assert.equal(stored!.version, 2);
    assert.equal(await count('customer_conflicts', `customer_id = 'c-4'`), sites.length - 1);
    assert.equal(await count('customer_changes', `customer_id = 'c-4'`), 2);

    // Creating the same new customer twice at once (its home site and an admin): one create,
    // one conflict.
    const n = profile('c-5', 'wanzhou', 5);
    const creates = await Promise.allSettled([dir.write(w(n, 0, 'wanzhou')), dir.write(asAdmin(n, 0))]);
    assert.equal(creates.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = creates.find((r) => r.status === 'rejected');
    assert.ok(lost && isDomainError(lost.reason, 'conflict'), String(lost?.reason));
    assert.equal(await count('customer_conflicts', `customer_id = 'c-5'`), 1);
  });

  test('another site changing an identity field is refused, recorded, and changes nothing', async () => {
    const p = profile('o-1', 'wanzhou', 851);
    await dir.write(w(p, 0));
    // Chongqing served the customer (the hub answered its lookup), so it may add to it.
    await dir.lookupAudited('customer-id', 'o-1', { ...NORM_AUDIT, readerSiteId: 'chongqing' });
    const feed = await count('customer_changes');
    await assert.rejects(dir.write(w({ ...p, phones: ['13800000851'] }, 1, 'chongqing', T0 + 3)), (e) => {
      assert.ok(isDomainError(e, 'permission-denied'));
      assert.equal(e.field, 'profile.phones');
      assert.equal(
        e.message,
        "profile.phones: only the customer's home site (wanzhou) or an admin may change it",
      );
      return true;
    });
    assert.equal((await dir.lookup('customer-id', 'o-1'))?.version, 1);
    assert.equal(await dir.lookup('phone', '13800000851'), undefined, 'the phone was not moved');
    assert.equal(await count('customer_changes'), feed);
    const rec = await query<{
      writer_kind: string;
      writer_id: string;
      changed_by: string;
      field: string;
      at_ms: string;
    }>(
      t.pool,
      `SELECT writer_kind, writer_id, changed_by, field, at_ms FROM customer_write_refusals WHERE customer_id = 'o-1'`,
    );
    assert.deepEqual(rec.rows, [
      {
        writer_kind: 'site',
        writer_id: 'chongqing',
        changed_by: 'chongqing/a01',
        field: 'profile.phones',
        at_ms: String(T0 + 3),
      },
    ]);

    // What it may add is stored, stamped by the hub; an admin may change identity fields.
    const noted = await dir.write(
      w(
        { ...p, notes: [{ siteId: 'wanzhou', by: 'admin x', atMs: 1, text: 'asked about fees' }] },
        1,
        'chongqing',
        T0 + 4,
      ),
    );
    assert.deepEqual(noted.profile.notes, [
      { siteId: 'chongqing', by: 'chongqing/a01', atMs: T0 + 4, text: 'asked about fees' },
    ]);
    assert.deepEqual(await dir.lookup('customer-id', 'o-1'), noted.profile);
    const renamed = await dir.write(asAdmin({ ...p, name: '王五' }, 2, T0 + 5));
    assert.equal(renamed.profile.name, '王五');
    assert.equal(renamed.profile.notes?.length, 1, 'a write without the notes keeps them');
    const by = await query<{ site_id: string; changed_by: string }>(
      t.pool,
      `SELECT site_id, changed_by FROM customer_changes WHERE customer_id = 'o-1' ORDER BY cursor`,
    );
    assert.deepEqual(
      by.rows.map((r) => `${r.site_id}|${r.changed_by}`),
      ['wanzhou|wanzhou/a01', 'chongqing|chongqing/a01', '|admin alice'],
    );
  });

  test('a phone or card owned by another customer is a conflict naming the owner', async () => {
    const a = profile('c-6', 'wanzhou', 6);
    await dir.write(w(a, 0));
    const b = profile('c-7', 'wanzhou', 7, { phones: ['13900000077', a.phones[0]!] });
    await assert.rejects(dir.write(w(b, 0)), (e) => {
      assert.ok(isDomainError(e, 'conflict'));
      assert.equal(e.message, `customer c-7: phone ${a.phones[0]} already belongs to customer c-6`);
      assert.equal(e.field, 'profile.phones[1]');
      return true;
    });
    assert.equal(await dir.lookup('customer-id', 'c-7'), undefined, 'nothing stored');
    assert.equal(await dir.lookup('phone', '13900000077'), undefined);

    await dir.write(w(profile('c-7', 'wanzhou', 7), 0));
    await assert.rejects(
      dir.write(w(profile('c-7', 'wanzhou', 7, { cards: a.cards }), 1)),
      (e) => isDomainError(e, 'conflict') && /card \d+ already belongs to customer c-6/.test(e.message),
    );
    assert.equal((await dir.lookup('card', a.cards[0]!))!.customerId, 'c-6');
    assert.equal((await dir.lookup('customer-id', 'c-7'))!.version, 1);

    // Once c-6 gives the phone up, c-7 may take it.
    await dir.write(w({ ...a, phones: [] }, 1));
    await dir.write(w(profile('c-7', 'wanzhou', 7, { phones: a.phones }), 1));
    assert.equal((await dir.lookup('phone', a.phones[0]!))!.customerId, 'c-7');

    // Two new customers racing for the same phone: one gets it.
    const race = await Promise.allSettled([
      dir.write(w(profile('c-8', 'wanzhou', 8, { phones: ['13988888888'] }), 0)),
      dir.write(w(profile('c-9', 'wanzhou', 9, { phones: ['13988888888'] }), 0)),
    ]);
    assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = race.find((r) => r.status === 'rejected');
    assert.ok(lost && isDomainError(lost.reason, 'conflict') && /already belongs/.test(String(lost.reason)));
  });

  test('a bad profile or input is invalid-argument naming the field; nothing is stored', async () => {
    const feed = await count('customer_changes');
    await assert.rejects(
      dir.write(w(profile('c-10', 'wanzhou', 10, { phones: ['not-a-phone'] }), 0)),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'profile.phones[0]',
    );
    await assert.rejects(
      dir.write(w(profile('c-10', 'Wanzhou', 10), 0, 'wanzhou')),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'profile.homeSiteId',
    );
    await assert.rejects(
      dir.write({ ...w(profile('c-10', 'wanzhou', 10), 0), baseVersion: -1 }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'baseVersion',
    );
    await assert.rejects(
      dir.write({ ...w(profile('c-10', 'wanzhou', 10), 0), writer: { kind: 'site', id: 'bad site' } }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'writer.id',
    );
    assert.equal(await dir.lookup('customer-id', 'c-10'), undefined);
    assert.equal(await count('customer_changes'), feed);
    assert.equal(await count('customer_conflicts', `customer_id = 'c-10'`), 0);
  });

  test('recordRead audits the read and makes the reader follow the customer', async () => {
    const p = profile('r-1', 'yubei', 101);
    await dir.write(w(p, 0));
    assert.deepEqual(await dir.interestedSites('r-1'), ['yubei']);
    const head0 = (await dir.changesFor('jiangbei', 0, 100)).headCursor;
    assert.deepEqual((await dir.changesFor('jiangbei', 0, 100)).changes, [], 'not its customer, not read');

    const read = {
      readerSiteId: 'jiangbei',
      customerId: 'r-1',
      homeSiteId: 'yubei',
      reason: 'agent-screen-pop',
      callId: 'jiangbei-01JD000000000000000000000',
      agentId: 'a-7',
      ivrSessionId: null,
      atMs: T0 + 100,
    };
    await dir.recordRead(read);
    await dir.recordRead({ ...read, reason: 'ivr', agentId: null, ivrSessionId: 'ivr-1', atMs: T0 + 200 });
    const audit = await query(
      t.pool,
      `SELECT reader_site_id, customer_id, home_site_id, reason, call_id, agent_id, ivr_session_id, at_ms::float8 AS at_ms
       FROM customer_reads WHERE customer_id = 'r-1' ORDER BY id`,
    );
    assert.deepEqual(audit.rows[0], {
      reader_site_id: 'jiangbei',
      customer_id: 'r-1',
      home_site_id: 'yubei',
      reason: 'agent-screen-pop',
      call_id: read.callId,
      agent_id: 'a-7',
      ivr_session_id: null,
      at_ms: T0 + 100,
    });
    assert.equal(audit.rows.length, 2);
    const interest = await query<{ since_ms: string }>(
      t.pool,
      `SELECT since_ms FROM customer_interest WHERE site_id = 'jiangbei' AND customer_id = 'r-1'`,
    );
    assert.deepEqual(interest.rows, [{ since_ms: String(T0 + 100) }], 'one row, since the first read');
    assert.deepEqual(await dir.interestedSites('r-1'), ['jiangbei', 'yubei']);

    // The home site reading its own customer is audited but adds no interest.
    await dir.recordRead({ ...read, readerSiteId: 'yubei' });
    assert.deepEqual(await dir.interestedSites('r-1'), ['jiangbei', 'yubei']);

    const v2 = await dir.write(w({ ...p, name: 'renamed' }, 1));
    const feed = await dir.changesFor('jiangbei', head0, 100);
    assert.deepEqual(feed.changes, [v2]);
    assert.equal(feed.headCursor, v2.cursor);

    // A site the hub never served the customer to cannot write it (not even a note), and is
    // not made to follow it.
    const note = { ...v2.profile, notes: [{ siteId: '', by: '', atMs: 0, text: 'by nanan' }] };
    await assert.rejects(
      dir.write(w(note, 2, 'nanan')),
      (e) => isDomainError(e, 'permission-denied') && e.field === 'profile.customerId',
    );
    assert.deepEqual(await dir.interestedSites('r-1'), ['jiangbei', 'yubei']);
    assert.deepEqual(await dir.interestedSites('nobody'), []);
  });

  test('lookupAudited: one statement looks up, audits a cross-site read and adds interest; own reads are not audited', async () => {
    const p = profile('la-1', 'yubei', 501);
    await dir.write(w(p, 0));
    const audit = {
      readerSiteId: 'jiangbei',
      reason: 'ivr-ani',
      callId: 'jb-call-1',
      agentId: null,
      ivrSessionId: 'ivr-5',
      atMs: T0 + 5,
    };
    const found = await dir.lookupAudited('phone', p.phones[0]!, audit);
    assert.equal(found?.customerId, 'la-1');
    assert.equal(await count('customer_reads', `customer_id = 'la-1'`), 1);
    const row = await query(
      t.pool,
      `SELECT reader_site_id, home_site_id, reason, call_id, agent_id, ivr_session_id, at_ms FROM customer_reads WHERE customer_id = 'la-1'`,
    );
    assert.deepEqual(row.rows[0], {
      reader_site_id: 'jiangbei',
      home_site_id: 'yubei',
      reason: 'ivr-ani',
      call_id: 'jb-call-1',
      agent_id: null,
      ivr_session_id: 'ivr-5',
      at_ms: String(T0 + 5),
    });
    assert.deepEqual(await dir.interestedSites('la-1'), ['jiangbei', 'yubei']);
    // The home site reading its own customer: found, not audited.
    assert.equal(
      (await dir.lookupAudited('card', p.cards[0]!, { ...audit, readerSiteId: 'yubei' }))?.customerId,
      'la-1',
    );
    assert.equal(await count('customer_reads', `customer_id = 'la-1'`), 1);
    // Nobody found: nothing audited.
    assert.equal(await dir.lookupAudited('phone', '13000000999', audit), undefined);
    assert.equal(await count('customer_reads', `reader_site_id = 'jiangbei' AND customer_id IS NULL`), 0);
  });

  test('interest lapses when the site has not read the customer since the cut-off; every read renews it', async () => {
    const p = profile('lapse-1', 'yubei', 701);
    const change = await dir.write(w(p, 0));
    const read = (site: string, atMs: number) =>
      dir.lookupAudited('phone', p.phones[0]!, {
        readerSiteId: site,
        reason: 'ivr-ani',
        callId: `${site}-call`,
        agentId: null,
        ivrSessionId: 'ivr-1',
        atMs,
      });
    await read('jiangbei', T0 + 1_000);
    await read('nanan', T0 + 1_000);
    // jiangbei reads again later (through the hub), nanan reported a cache read: both renew.
    await read('jiangbei', T0 + 5_000);
    await dir.recordRead({
      readerSiteId: 'nanan',
      customerId: 'lapse-1',
      homeSiteId: 'yubei',
      reason: 'ivr-ani',
      callId: 'nn-call-2',
      agentId: null,
      ivrSessionId: 'ivr-2',
      atMs: T0 + 3_000,
    });
    const lastRead = await query<{ site_id: string; since_ms: string; last_read_ms: string }>(
      t.pool,
      `SELECT site_id, since_ms, last_read_ms FROM customer_interest WHERE customer_id = 'lapse-1' ORDER BY site_id`,
    );
    assert.deepEqual(lastRead.rows, [
      { site_id: 'jiangbei', since_ms: String(T0 + 1_000), last_read_ms: String(T0 + 5_000) },
      { site_id: 'nanan', since_ms: String(T0 + 1_000), last_read_ms: String(T0 + 3_000) },
    ]);
    // An older read reported late does not move the renewal back.
    await read('jiangbei', T0 + 2_000);
    assert.deepEqual(await dir.interestedSites('lapse-1'), ['jiangbei', 'nanan', 'yubei']);

    // Cut-off between the two: nanan's interest lapses, jiangbei's stays, the home site is
    // not interest (it always hears about its customers).
    const lapsed = await dir.lapseInterest(T0 + 4_000);
    assert.ok(lapsed >= 1);
    assert.deepEqual(await dir.interestedSites('lapse-1'), ['jiangbei', 'yubei']);
    assert.deepEqual(
      (await dir.changesFor('nanan', change.cursor - 1, 10)).changes,
      [],
      'nanan no longer fed',
    );
    assert.deepEqual((await dir.changesFor('jiangbei', change.cursor - 1, 10)).changes, [change]);
    // Reading again gives the interest back.
    await read('nanan', T0 + 6_000);
    assert.deepEqual(await dir.interestedSites('lapse-1'), ['jiangbei', 'nanan', 'yubei']);
    await assert.rejects(dir.lapseInterest(-1), (e) => isDomainError(e, 'invalid-argument'));
  });

  test('flag requests: a card loss reported by a site the hub served the customer to marks the profile once; others are recorded uncorroborated', async () => {
    const p = profile('fl-1', 'yubei', 801);
    await dir.write(w(p, 0));
    // nanan looked the customer up through the hub (a roaming caller); jiangbei never did.
    await dir.lookupAudited('customer-id', 'fl-1', { ...NORM_AUDIT, readerSiteId: 'nanan' });
    const request = (eventId: string, site: string, customerId: string, atMs: number) =>
      query(
        t.pool,
        `INSERT INTO directory_flag_requests (event_id, site_id, customer_id, flag, reason, at_ms)
         VALUES ($1, $2, $3, 'lostCard', $4, $5)`,
        [eventId, site, customerId, `card loss reported at ${site}`, atMs],
      );
    await request('evt-fl-1', 'jiangbei', 'fl-1', T0 + 1); // names a customer it was never served
    await request('evt-fl-2', 'nanan', 'fl-1', T0 + 2);
    await request('evt-fl-3', 'yubei', 'fl-1', T0 + 3); // the same card reported twice
    await request('evt-fl-4', 'nanan', 'nobody-known', T0 + 4);

    const r = await dir.applyFlagRequests(10, T0 + 100);
    assert.equal(r.changes.length, 1, 'one new version');
    const v2 = r.changes[0]!;
    assert.equal(v2.profile.customerId, 'fl-1');
    assert.equal(v2.profile.version, 2);
    assert.deepEqual(v2.profile.flags, { blacklisted: false, lostCard: true });
    assert.equal(v2.profile.name, p.name, 'nothing else changes');
    assert.equal((await dir.lookup('phone', p.phones[0]!))?.flags.lostCard, true);
    // The change is on the feed of the home site and of the reporter (which followed it
    // since its lookup); jiangbei gained nothing.
    assert.deepEqual((await dir.changesFor('yubei', v2.cursor - 1, 10)).changes, [v2]);
    assert.deepEqual(await dir.interestedSites('fl-1'), ['nanan', 'yubei']);
    assert.deepEqual((await dir.changesFor('jiangbei', v2.cursor - 1, 10)).changes, []);
    assert.deepEqual(r.refused, [
      {
        eventId: 'evt-fl-1',
        siteId: 'jiangbei',
        customerId: 'fl-1',
        reason:
          'profile.customerId: the hub never served customer fl-1 to site jiangbei; only its home site (yubei), an admin or a site that served it may write it',
      },
    ]);
    const done = await query<{ event_id: string; outcome: string; applied_at_ms: string }>(
      t.pool,
      `SELECT event_id, outcome, applied_at_ms FROM directory_flag_requests WHERE event_id LIKE 'evt-fl-%' ORDER BY event_id`,
    );
    assert.deepEqual(done.rows, [
      { event_id: 'evt-fl-1', outcome: 'uncorroborated', applied_at_ms: String(T0 + 100) },
      { event_id: 'evt-fl-2', outcome: 'set', applied_at_ms: String(T0 + 100) },
      { event_id: 'evt-fl-3', outcome: 'already-set', applied_at_ms: String(T0 + 100) },
      { event_id: 'evt-fl-4', outcome: 'unknown-customer', applied_at_ms: String(T0 + 100) },
    ]);
    const who = await query<{ updated_by_site: string }>(
      t.pool,
      `SELECT updated_by_site FROM customers WHERE id = 'fl-1'`,
    );
    assert.equal(who.rows[0]?.updated_by_site, 'nanan');
    // Nothing pending: a second run changes nothing.
    assert.deepEqual(await dir.applyFlagRequests(10, T0 + 200), { changes: [], refused: [] });
    assert.equal((await dir.lookup('phone', p.phones[0]!))?.version, 2);
  });

  test('a write by a site that is not the home gives it no interest it did not have', async () => {
    const p = profile('wi-1', 'yubei', 811);
    await dir.write(w(p, 0));
    // jiangbei was served the customer long ago; its interest has lapsed since.
    await dir.lookupAudited('customer-id', 'wi-1', { ...NORM_AUDIT, readerSiteId: 'jiangbei', atMs: T0 });
    await query(t.pool, `DELETE FROM customer_interest WHERE customer_id = 'wi-1'`);
    const noted = await dir.write(
      w({ ...p, version: 1, notes: [{ siteId: '', by: '', atMs: 0, text: 'called back' }] }, 1, 'jiangbei'),
    );
    assert.equal(noted.profile.notes?.[0]?.siteId, 'jiangbei', 'served once: it may add a note');
    assert.deepEqual(
      await dir.interestedSites('wi-1'),
      ['yubei'],
      'and follows the customer no more than before',
    );
  });

  test('the preferred callback number: another site adds one; changing it is the home site’s', async () => {
    const p = profile('cb-1', 'yubei', 821);
    await dir.write(w(p, 0));
    await dir.lookupAudited('customer-id', 'cb-1', { ...NORM_AUDIT, readerSiteId: 'jiangbei' });
    const v2 = await dir.write(w({ ...p, preferredCallback: '13700000821' }, 1, 'jiangbei'));
    assert.equal(v2.profile.preferredCallback, '13700000821');
    await assert.rejects(
      dir.write(w({ ...v2.profile, preferredCallback: '13700000999' }, 2, 'jiangbei')),
      (e) => isDomainError(e, 'permission-denied') && e.field === 'profile.preferredCallback',
    );
    assert.equal((await dir.lookup('customer-id', 'cb-1'))?.preferredCallback, '13700000821');
    const v3 = await dir.write(w({ ...v2.profile, preferredCallback: '' }, 2, 'yubei'));
    assert.equal(v3.profile.preferredCallback, undefined, 'the home site clears it');
  });

  test('past the note limit the oldest note moves to the archive in the same write; none is lost', async () => {
    const notes = Array.from({ length: MAX_NOTES }, (_, i) => ({
      siteId: 'yubei',
      by: 'yubei/a01',
      atMs: T0 + i,
      text: `note ${i}`,
    }));
    await dir.seed([{ ...profile('nt-1', 'yubei', 831), version: 1, notes }], T0);
    const v2 = await dir.write(
      w({ ...profile('nt-1', 'yubei', 831), notes: [{ siteId: '', by: '', atMs: 0, text: 'newest' }] }, 1),
    );
    assert.equal(v2.profile.notes?.length, MAX_NOTES);
    assert.equal(v2.profile.notes?.[0]?.text, 'note 1');
    assert.equal(v2.profile.notes?.at(-1)?.text, 'newest');
    const archived = await query<{
      site_id: string;
      by: string;
      at_ms: string;
      text: string;
      version: string;
    }>(
      t.pool,
      `SELECT site_id, by, at_ms, text, version FROM customer_notes_archive WHERE customer_id = 'nt-1'`,
    );
    assert.deepEqual(archived.rows, [
      { site_id: 'yubei', by: 'yubei/a01', at_ms: String(T0), text: 'note 0', version: '2' },
    ]);
  });

  test('refused writes: a full record for the first few per writer per minute, then only a count', async () => {
    const p = profile('rf-1', 'yubei', 841);
    await dir.write(w(p, 0));
    const minute = Math.ceil(T0 / 60_000) * 60_000;
    const attempts = REFUSALS_KEPT_PER_MINUTE + 5;
    for (let i = 0; i < attempts; i++) {
      await assert.rejects(
        dir.write(w({ ...p, version: 1, name: `forged ${i}` }, 1, 'flooder', minute + i)),
        (e) => isDomainError(e, 'permission-denied'),
      );
    }
    // The next minute starts a new allowance.
    await assert.rejects(dir.write(w({ ...p, version: 1, name: 'later' }, 1, 'flooder', minute + 60_000)));
    const rows = await query<{ at_ms: string; more: number; name: string }>(
      t.pool,
      `SELECT at_ms, more, attempted->>'name' AS name FROM customer_write_refusals
        WHERE writer_id = 'flooder' ORDER BY id`,
    );
    assert.equal(rows.rows.length, REFUSALS_KEPT_PER_MINUTE + 1);
    assert.deepEqual(
      rows.rows.map((r) => r.more),
      [...Array<number>(REFUSALS_KEPT_PER_MINUTE - 1).fill(0), 5, 0],
      'the last full record of the minute counts the refusals after it',
    );
    assert.equal(rows.rows.at(-1)?.name, 'later');
    const total = await query<{ n: number }>(
      t.pool,
      `SELECT sum(1 + more)::int AS n FROM customer_write_refusals WHERE writer_id = 'flooder'`,
    );
    assert.equal(total.rows[0]?.n, attempts + 1, 'every refusal is counted');
  });

  test('counts: customers in the directory, and roaming reads by reading site and by home site', async () => {
    const before = await dir.counts();
    await dir.write(w(profile('k-1', 'count-home-a', 901), 0));
    await dir.write(w(profile('k-2', 'count-home-b', 902), 0));
    const read = (readerSiteId: string, customerId: string, homeSiteId: string) =>
      dir.recordRead({
        readerSiteId,
        customerId,
        homeSiteId,
        reason: 'ivr',
        callId: null,
        agentId: null,
        ivrSessionId: null,
        atMs: T0,
      });
    await read('count-reader-a', 'k-1', 'count-home-a');
    await read('count-reader-a', 'k-2', 'count-home-b');
    await read('count-reader-b', 'k-1', 'count-home-a');
    await read('count-home-a', 'k-1', 'count-home-a'); // a home read: audited, but not roaming
    // Through the audited lookup too (the path a roaming call takes).
    await dir.lookupAudited('customer-id', 'k-2', { ...NORM_AUDIT, readerSiteId: 'count-reader-b' });

    const after = await dir.counts();
    assert.equal(after.customers, before.customers + 2);
    assert.equal(after.roamingReadsByReader.get('count-reader-a'), 2);
    assert.equal(after.roamingReadsByReader.get('count-reader-b'), 2);
    assert.equal(after.roamingReadsByReader.get('count-home-a'), undefined, 'own customers are not roaming');
    assert.equal(after.roamingReadsByHome.get('count-home-a'), 2);
    assert.equal(after.roamingReadsByHome.get('count-home-b'), 2);
    const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    assert.equal(total(after.roamingReadsByReader), total(before.roamingReadsByReader) + 4);
    assert.equal(total(after.roamingReadsByHome), total(after.roamingReadsByReader));
  });

  test('readAudit: filters by customer, reader and time, newest first, says when it was cut', async () => {
    const read = (reader: string, customerId: string, atMs: number, agentId: string | null) =>
      dir.recordRead({
        readerSiteId: reader,
        customerId,
        homeSiteId: 'audit-home',
        reason: agentId ? 'agent-screen-pop' : 'ivr-ani',
        callId: `${reader}-call-${atMs}`,
        agentId,
        ivrSessionId: agentId ? null : `ivr-${atMs}`,
        atMs,
      });
    const t = T0 + 9_000_000;
    await read('audit-a', 'audit-c1', t + 1, null);
    await read('audit-a', 'audit-c1', t + 2, 'a01');
    await read('audit-b', 'audit-c1', t + 3, null);
    await read('audit-b', 'audit-c2', t + 4, 'b07');

    const c1 = await dir.readAudit({ customerId: 'audit-c1', limit: 10 });
    assert.deepEqual(
      c1.reads.map((r) => [r.readerSiteId, r.atMs, r.agentId, r.ivrSessionId, r.servedFrom]),
      [
        ['audit-b', t + 3, null, `ivr-${t + 3}`, 'hub'],
        ['audit-a', t + 2, 'a01', null, 'hub'],
        ['audit-a', t + 1, null, `ivr-${t + 1}`, 'hub'],
      ],
    );
    assert.equal(c1.truncated, false);
    const bSince = await dir.readAudit({ readerSiteId: 'audit-b', sinceMs: t + 4, limit: 10 });
    assert.deepEqual(
      bSince.reads.map((r) => r.customerId),
      ['audit-c2'],
    );
    const cut = await dir.readAudit({ customerId: 'audit-c1', readerSiteId: 'audit-a', limit: 1 });
    assert.deepEqual([cut.reads.length, cut.reads[0]?.atMs, cut.truncated], [1, t + 2, true]);

    for (const [q, field] of [
      [{ customerId: 'not an id', limit: 10 }, 'customerId'],
      [{ readerSiteId: 'Not A Site', limit: 10 }, 'readerSiteId'],
      [{ sinceMs: -5, limit: 10 }, 'sinceMs'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 1001 }, 'limit'],
    ] as const) {
      await assert.rejects(
        dir.readAudit(q),
        (e) => isDomainError(e, 'invalid-argument') && e.field === field,
      );
    }
  });

  test('a customer moving home is still sent to the site it left', async () => {
    const p = profile('m-1', 'dazu', 201);
    await dir.write(w(p, 0));
    const moved = await dir.write(w({ ...p, homeSiteId: 'tongnan' }, 1, 'dazu'));
    assert.deepEqual(await dir.interestedSites('m-1'), ['dazu', 'tongnan']);
    assert.deepEqual((await dir.changesFor('dazu', 0, 10)).changes, [moved]);
    assert.deepEqual((await dir.changesFor('tongnan', 0, 10)).changes, [moved]);
  });

  test("changesFor: only the site's customers, latest version each, ordered, paged, with the head", async () => {
    const start = (await dir.changesFor('feed-a', 0, 1)).headCursor;
    const a1 = profile('f-a1', 'feed-a', 301);
    const a2 = profile('f-a2', 'feed-a', 302);
    const b1 = profile('f-b1', 'feed-b', 303);
    await dir.write(w(a1, 0)); // cursor s+1
    await dir.write(w(a2, 0)); // s+2
    await dir.write(w(b1, 0)); // s+3
    await dir.write(w({ ...a1, name: 'a1 v2' }, 1)); // s+4
    const a1v3 = await dir.write(w({ ...a1, name: 'a1 v3' }, 2)); // s+5
    const b1v2 = await dir.write(w({ ...b1, name: 'b1 v2' }, 1)); // s+6
    const a2v1 = (await dir.lookup('customer-id', 'f-a2'))!;

    const all = await dir.changesFor('feed-a', start, 100);
    assert.equal(all.headCursor, b1v2.cursor);
    assert.deepEqual(
      all.changes.map((c) => `${c.profile.customerId}@${c.profile.version}`),
      ['f-a2@1', 'f-a1@3'],
      'collapsed to the latest version, ordered by cursor, no feed-b customer',
    );
    assert.equal(all.changes[1]!.cursor, a1v3.cursor);
    assert.deepEqual(all.changes[0]!.profile, a2v1);

    const page1 = await dir.changesFor('feed-a', start, 1);
    assert.deepEqual(
      page1.changes.map((c) => c.profile.customerId),
      ['f-a2'],
    );
    const page2 = await dir.changesFor('feed-a', page1.changes[0]!.cursor, 1);
    assert.deepEqual(
      page2.changes.map((c) => c.profile.customerId),
      ['f-a1'],
    );
    const page3 = await dir.changesFor('feed-a', page2.changes[0]!.cursor, 1);
    assert.deepEqual(page3, { changes: [], headCursor: b1v2.cursor });

    // After a1's v2 only a1's v3 remains for feed-a; feed-b sees only its own.
    assert.deepEqual(
      (await dir.changesFor('feed-a', a1v3.cursor - 1, 100)).changes.map((c) => c.profile.version),
      [3],
    );
    assert.deepEqual(
      (await dir.changesFor('feed-b', start, 100)).changes.map(
        (c) => `${c.profile.customerId}@${c.profile.version}`,
      ),
      ['f-b1@2'],
    );
    assert.deepEqual(await dir.changesFor('feed-a', start, 0), { changes: [], headCursor: b1v2.cursor });
    await assert.rejects(dir.changesFor('feed-a', -1, 10), (e) => isDomainError(e, 'invalid-argument'));
  });

  test('the feed has no holes: a reader polling during concurrent writes sees every change', async () => {
    const site = 'feed-c';
    let cursor = (await dir.changesFor(site, 0, 1)).headCursor;
    const seen = new Map<string, number>();
    let writing = true;
    const reader = (async () => {
      for (;;) {
        const done = !writing;
        const page = await dir.changesFor(site, cursor, 1000);
        for (const c of page.changes) seen.set(c.profile.customerId, c.profile.version);
        if (page.changes.length > 0) cursor = page.changes[page.changes.length - 1]!.cursor;
        if (done) return;
      }
    })();
    const writes = Array.from({ length: 40 }, (_, i) => dir.write(w(profile(`h-${i}`, site, 400 + i), 0)));
    await Promise.all(writes);
    writing = false;
    await reader;
    assert.equal(seen.size, 40);
  });

  test('seed: 2,000 profiles in bulk, then lookups; reseeding replaces at version 1', async () => {
    const pop = Array.from({ length: 2000 }, (_, i) =>
      profile(`s-${i}`, i % 2 ? 'seed-a' : 'seed-b', 10_000 + i, {
        version: 7,
        segment: i % 10 ? 'retail' : 'vip',
      }),
    );
    const started = Date.now();
    assert.equal(await dir.seed(pop, T0), 2000);
    const took = Date.now() - started;
    assert.ok(took < 10_000, `seeding 2,000 took ${took} ms`);

    assert.deepEqual(await dir.lookup('phone', pop[1234]!.phones[0]!), { ...pop[1234]!, version: 1 });
    assert.deepEqual(await dir.lookup('card', pop[1999]!.cards[0]!), { ...pop[1999]!, version: 1 });
    assert.equal((await dir.lookup('customer-id', 's-0'))!.segment, 'vip');
    assert.equal(await count('customer_changes', `customer_id LIKE 's-%'`), 2000);
    const feedA = await dir.changesFor('seed-a', 0, 5000);
    assert.equal(feedA.changes.length, 1000);
    assert.ok(feedA.changes.every((c) => c.profile.homeSiteId === 'seed-a' && c.profile.version === 1));

    // Write on top, then reseed: back to version 1; two seeded customers may swap phones.
    await dir.write(w({ ...pop[0]!, name: 'edited' }, 1));
    const swapped = [
      { ...pop[0]!, phones: pop[1]!.phones },
      { ...pop[1]!, phones: pop[0]!.phones },
    ];
    assert.equal(await dir.seed(swapped, T0 + 1), 2);
    assert.deepEqual(await dir.lookup('customer-id', 's-0'), { ...swapped[0]!, version: 1 });
    assert.equal((await dir.lookup('phone', pop[0]!.phones[0]!))!.customerId, 's-1');
  });

  test('seed stores phones canonical; two spellings of one number across profiles clash', async () => {
    const a = profile('sn-1', 'seed-n', 95_001, { phones: ['+86 139 5000 0001', '0086-23-6500-0001'] });
    assert.equal(await dir.seed([a], T0), 1);
    const stored = await dir.lookup('customer-id', 'sn-1');
    assert.deepEqual(stored?.phones, ['13950000001', '02365000001']);
    assert.equal((await dir.lookup('phone', '013950000001'))?.customerId, 'sn-1');
    assert.equal((await dir.lookup('phone', '023 6500 0001'))?.customerId, 'sn-1');
    const feed = await count('customer_changes');
    await assert.rejects(
      dir.seed(
        [
          profile('sn-2', 'seed-n', 95_002),
          profile('sn-3', 'seed-n', 95_003, { phones: ['+8613950000001'] }),
        ],
        T0,
      ),
      (e) =>
        isDomainError(e, 'conflict') && /phone 13950000001 already belongs to customer sn-1/.test(e.message),
    );
    await assert.rejects(
      dir.seed([profile('sn-4', 'seed-n', 95_004, { phones: ['anonymous'] })], T0),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'profiles[0].phones[0]',
    );
    assert.equal(await count('customer_changes'), feed);
    assert.equal(await dir.lookup('customer-id', 'sn-2'), undefined);
  });

  test('seed is all or nothing: a bad profile, a repeated id or a taken phone stores nothing', async () => {
    // The customer whose card a seeded profile tries to take (this test's own).
    const owner = (await dir.write(w(profile('z-0', 'seed-z', 90_000), 0))).profile;
    const feed = await count('customer_changes');
    const ok = profile('z-1', 'seed-z', 90_001);
    await assert.rejects(
      dir.seed([ok, profile('z-2', 'seed-z', 90_002, { language: 'chinese' })], T0),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'profiles[1].language',
    );
    await assert.rejects(
      dir.seed([ok, ok], T0),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'profiles[1].customerId',
    );
    await assert.rejects(
      dir.seed([ok, profile('z-3', 'seed-z', 90_003, { cards: owner.cards })], T0),
      (e) => isDomainError(e, 'conflict') && /already belongs to customer z-0/.test(e.message),
    );
    await assert.rejects(dir.seed([ok, profile('z-4', 'seed-z', 90_004, { phones: ok.phones })], T0), (e) => {
      assert.ok(isDomainError(e, 'conflict'));
      assert.equal(e.message, `customer z-4: phone ${ok.phones[0]} already belongs to customer z-1`);
      assert.equal(e.field, 'profiles[1].phones');
      return true;
    });
    assert.equal(await dir.lookup('customer-id', 'z-1'), undefined);
    assert.equal(await count('customer_changes'), feed);
    assert.equal(await dir.seed([], T0), 0);
  });
});
