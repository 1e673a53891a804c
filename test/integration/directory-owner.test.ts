/**
 * Directory writes by their owner and a read audit the hub writes (issue 10, findings 2 and
 * 3), end to end: the real hub on its own Postgres, real site links over mTLS with
 * certificates from deploy/pki.sh, an admin certificate, and fedctl.
 *
 * - Another site renaming, re-homing or re-phoning a customer, or creating one homed
 *   elsewhere, is PERMISSION_DENIED naming the field, changes nothing (version, feed, caches)
 *   and is recorded (a `rpc refused` line, a `customer_write_refusals` row); what an agent who
 *   served the customer may add (a note, a callback number, the lost-card flag) goes through
 *   and reaches the home site's feed; the home site and an admin change identity fields; the
 *   author is the certificate, the request's `changed_by` only a claim scoped to it.
 * - A `customer.read` event that claims the wrong home, or names a customer the hub does not
 *   know or never served to that site, is stored flagged with the directory's home, shown
 *   flagged by `fedctl reads`, and gives the site no change-feed entries for that customer;
 *   an honest one of a customer the hub served the site still does.
 */
import { afterEach, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { CustomerReadsResponse } from '../../proto/gen/admin.js';
import { FederationClient } from '../../proto/gen/federation.js';
import { customerFromProto, customerToProto } from '../../shared/domain/customer-proto.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { makeEvent } from '../../shared/events/envelope.js';
import { appendToOutbox } from '../../shared/events/outbox.js';
import { isDomainError, type DomainError } from '../../shared/errors.js';
import { call, clientOptions } from '../../shared/grpc/client.js';
import { mtlsClientCredentials } from '../../shared/grpc/tls.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { PgCustomerDirectory } from '../../site-node/store/customers-repo.js';
import { pgSkip } from '../../hub/store/testing.js';
import { count, refusalsBy, startTestProvince, type TestProvince } from '../support/federation.js';
import { waitFor } from '../support/wait.js';

let p: TestProvince;

beforeEach(async () => {
  if (pgSkip) return;
  p = await startTestProvince({ label: 'owner_hub' });
  await p.addSite('chongqing');
  await p.addSite('wanzhou');
  await waitFor('both links up', () =>
    ['chongqing', 'wanzhou'].every((id) => p.sites.get(id)!.link.state === 'up'),
  );
});

afterEach(async () => {
  await p?.close();
});

const site = (id: string) => p.sites.get(id)!;

function customer(id: string, home: string, n: number): CustomerProfile {
  return {
    customerId: id,
    name: `客户 ${n}`,
    phones: [`139${String(n).padStart(8, '0')}`],
    cards: [`622202${String(n).padStart(10, '0')}`],
    homeSiteId: home,
    segment: 'retail',
    language: 'zh',
    flags: { blacklisted: false, lostCard: false },
    accountIds: [`${id}-acc`],
    version: 0,
  };
}

/** A federation client with a certificate of its own (the admin's, or a site's raw one). */
function client(kind: 'site' | 'admin', id: string): FederationClient {
  if (kind === 'site') p.pki.issue(kind, id);
  return new FederationClient(
    p.address,
    mtlsClientCredentials(p.pki.material(kind, id), { expectServer: { kind: 'hub' } }),
    clientOptions(),
  );
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  return promise.then(
    () => assert.fail('the write must be refused'),
    (e: unknown) => e as DomainError,
  );
}

/** The change feed the hub gives `siteId` after `afterCursor` (its own view, by its certificate). */
async function feedOf(siteId: string, afterCursor: number): Promise<CustomerProfile[]> {
  const c = client('site', siteId);
  try {
    const r = await call(c.customerChanges.bind(c), { siteId, afterCursor, limit: 1000 });
    return r.changes.map((x) => customerFromProto(x.profile, 'profile'));
  } finally {
    c.close();
  }
}

const head = async (): Promise<number> =>
  count(p.hubDb.pool, `SELECT coalesce(max(cursor), 0) AS n FROM customer_changes`);

describe.skipIf(pgSkip)('directory writes by their owner', () => {
  test('another site cannot rename, re-home or re-phone a customer, nor create one homed elsewhere; nothing changes and it is recorded', async () => {
    const wz = site('wanzhou');
    const cq = site('chongqing');
    const logFrom = p.hubLog.length;
    const zhang = await wz.link.writeCustomer(customer('wz-o-1', 'wanzhou', 1), 0, 'w01', 'new customer');
    const wzCache = new PgCustomerDirectory(wz.db.pool);
    await waitFor('wanzhou caches its customer', async () => (await wzCache.byId('wz-o-1'))?.version === 1);
    // Chongqing served the customer (so it holds the profile and could try to write it).
    assert.ok(
      await cq.link.lookupCustomer('customer-id', 'wz-o-1', { reason: 'agent-search', agentId: 'c05' }),
    );
    const cursor = await head();

    const attempts: Array<[string, CustomerProfile]> = [
      ['profile.name', { ...zhang, name: '李四' }],
      ['profile.homeSiteId', { ...zhang, homeSiteId: 'chongqing' }],
      ['profile.phones', { ...zhang, phones: ['13911112222'] }],
    ];
    for (const [field, proposed] of attempts) {
      const e = await refusal(cq.link.writeCustomer(proposed, 1, 'c05', 'takeover'));
      assert.ok(isDomainError(e, 'permission-denied'), `${field}: ${e.kind} ${e.message}`);
      assert.equal(e.field, field);
      assert.equal(e.message, `${field}: only the customer's home site (wanzhou) or an admin may change it`);
    }
    const created = await refusal(
      cq.link.writeCustomer(customer('wz-o-2', 'wanzhou', 2), 0, 'c05', 'planted'),
    );
    assert.equal(created.kind, 'permission-denied');
    assert.equal(created.field, 'profile.homeSiteId');
    assert.match(created.message, /site chongqing may only create customers homed at itself, not at wanzhou/);

    // Nothing changed: the version, the feed, the home site's cache, the phone's owner.
    assert.equal((await p.hub.state.d.directory.lookup('customer-id', 'wz-o-1'))?.version, 1);
    assert.equal(await p.hub.state.d.directory.lookup('customer-id', 'wz-o-2'), undefined);
    assert.equal(await p.hub.state.d.directory.lookup('phone', '13911112222'), undefined);
    assert.equal(await head(), cursor, 'no change-feed entry');
    assert.deepEqual(await feedOf('wanzhou', cursor), []);
    assert.equal((await wzCache.byId('wz-o-1'))?.name, zhang.name);

    // Recorded: a row each, and in the log one `rpc refused` line each with who and the field,
    // or, in a burst from one peer, counted in its `more rpc refusals` summary.
    await waitFor(
      'all four refusals logged or counted',
      () => refusalsBy(p.hubLog.slice(logFrom), 'site chongqing').total === 4,
    );
    const { lines } = refusalsBy(p.hubLog.slice(logFrom), 'site chongqing');
    assert.ok(lines.length >= 1, 'the first refusal of a burst has its own line');
    for (const l of lines) {
      assert.equal(l.method, '/pcc.federation.v1.Federation/WriteCustomer');
      assert.ok(['profile.name', 'profile.homeSiteId', 'profile.phones'].includes(l.field!), l.field);
      assert.match(
        l.reason!,
        /only the customer's home site \(wanzhou\) or an admin|may only create customers homed at itself/,
      );
    }
    assert.equal(
      await count(
        p.hubDb.pool,
        `SELECT count(*) AS n FROM customer_write_refusals WHERE writer_id = 'chongqing' AND changed_by = 'chongqing/c05'`,
      ),
      4,
    );
  });

  test("what a serving agent may add goes through from another site and reaches the home site's feed; the home site and an admin change identity fields", async () => {
    const wz = site('wanzhou');
    const cq = site('chongqing');
    const v1 = await wz.link.writeCustomer(customer('wz-o-3', 'wanzhou', 3), 0, 'w01', 'new customer');
    assert.ok(
      await cq.link.lookupCustomer('customer-id', 'wz-o-3', { reason: 'agent-screen-pop', agentId: 'c07' }),
    );
    const cursor = await head();

    // Chongqing (not the home) adds a note, a callback number and the lost-card flag. The
    // note's site, author and time are the hub's, whatever the request put there.
    const v2 = await cq.link.writeCustomer(
      {
        ...v1,
        notes: [
          {
            siteId: 'wanzhou',
            by: 'admin alice',
            atMs: 1,
            text: 'reported the card lost; wants a call back',
          },
        ],
        preferredCallback: '13700000003',
        flags: { blacklisted: false, lostCard: true },
      },
      1,
      'c07',
      'card lost while roaming',
    );
    assert.equal(v2.version, 2);
    assert.equal(v2.notes?.length, 1);
    assert.deepEqual(
      { ...v2.notes![0]!, atMs: undefined },
      {
        siteId: 'chongqing',
        by: 'chongqing/c07',
        atMs: undefined,
        text: 'reported the card lost; wants a call back',
      },
    );
    assert.equal(v2.preferredCallback, '13700000003');
    // Once one is stored, another site may not redirect the customer's callbacks.
    const redirect = await refusal(
      cq.link.writeCustomer({ ...v2, preferredCallback: '13799999999' }, 2, 'c07', 'redirect'),
    );
    assert.equal(redirect.kind, 'permission-denied');
    assert.equal(redirect.field, 'profile.preferredCallback');
    const feed = await feedOf('wanzhou', cursor);
    assert.equal(feed.length, 1);
    assert.equal(feed[0]!.version, 2);
    assert.equal(feed[0]!.notes?.[0]?.by, 'chongqing/c07');
    assert.equal(feed[0]!.preferredCallback, '13700000003');
    const wzCache = new PgCustomerDirectory(wz.db.pool);
    await waitFor(
      "the home site's cache took the flag",
      async () => (await wzCache.byId('wz-o-3'))?.flags.lostCard === true,
    );

    // The home site renames the customer (from its cache, which keeps no notes: none is lost).
    const cached = (await wzCache.byId('wz-o-3'))!;
    const v3 = await wz.link.writeCustomer({ ...cached, name: '张三丰' }, 2, 'w02', 'name corrected');
    assert.equal(v3.name, '张三丰');
    assert.equal(v3.notes?.length, 1);
    assert.equal(v3.preferredCallback, '13700000003');

    // An admin (its own certificate, no site) changes the phone.
    const admin = client('admin', 'alice');
    try {
      const r = await call(admin.writeCustomer.bind(admin), {
        siteId: '',
        profile: customerToProto({ ...v3, phones: ['13900000333'] }),
        baseVersion: 3,
        changedBy: 'wanzhou/w01',
        reason: 'verified at the branch',
      });
      assert.deepEqual(r.profile?.phones, ['13900000333']);
      // An admin cannot write as a site.
      const asSite = await refusal(
        call(admin.writeCustomer.bind(admin), {
          siteId: 'wanzhou',
          profile: customerToProto({ ...v3, version: 4 }),
          baseVersion: 4,
          changedBy: '',
          reason: '',
        }),
      );
      assert.equal(asSite.kind, 'permission-denied');
    } finally {
      admin.close();
    }
    const authors = await p.hubDb.pool.query<{ version: string; site_id: string; changed_by: string }>(
      `SELECT version, site_id, changed_by FROM customer_changes WHERE customer_id = 'wz-o-3' ORDER BY cursor`,
    );
    assert.deepEqual(
      authors.rows.map((r) => `${r.version} ${r.site_id || '-'} ${r.changed_by}`),
      ['1 wanzhou wanzhou/w01', '2 chongqing chongqing/c07', '3 wanzhou wanzhou/w02', '4 - admin alice'],
    );
  });

  test('a site the hub never served the customer to can neither write it nor mark its card lost, and gains no interest; a roaming card loss still marks it', async () => {
    const wz = site('wanzhou');
    const cq = site('chongqing');
    const li = await wz.link.writeCustomer(customer('wz-o-5', 'wanzhou', 5), 0, 'w01', 'new customer');
    const wang = await wz.link.writeCustomer(customer('wz-o-6', 'wanzhou', 6), 0, 'w01', 'new customer');
    const logFrom = p.hubLog.length;
    const cursor = await head();

    // Chongqing never looked wz-o-5 up: a note is refused naming the customer, and recorded.
    const note = await refusal(
      cq.link.writeCustomer(
        { ...li, notes: [{ siteId: '', by: '', atMs: 0, text: 'planted' }] },
        1,
        'c05',
        'planted',
      ),
    );
    assert.equal(note.kind, 'permission-denied');
    assert.equal(note.field, 'profile.customerId');
    assert.match(note.message, /the hub never served customer wz-o-5 to site chongqing/);

    // A card loss chongqing reports for wz-o-5 (it never served) and for wz-o-6 (a roaming
    // caller it looked up through the hub): the events are stored either way.
    assert.ok(
      await cq.link.lookupCustomer('phone', wang.phones[0]!, { reason: 'ivr-ani', ivrSessionId: 'i-6' }),
    );
    const ids: string[] = [];
    await withTransaction(cq.db.pool, async (c) => {
      for (const customerId of ['wz-o-5', 'wz-o-6']) {
        const e = makeEvent({
          type: 'card-loss.reported',
          siteId: 'chongqing',
          aggregateId: `tkt-${customerId}`,
          occurredAtMs: Date.now(),
          payload: {
            kind: 'card-loss',
            customerId,
            callId: `cq-call-${customerId}`,
            slaDueAtMs: null,
            data: { cardLast4: '0005', stopConfirmed: true },
          },
        });
        ids.push(e.id);
        await appendToOutbox(c, e);
      }
    });
    cq.link.wakePump();
    await waitFor(
      'both flag requests applied',
      async () =>
        (await count(
          p.hubDb.pool,
          `SELECT count(*) AS n FROM directory_flag_requests WHERE event_id = ANY($1) AND applied_at_ms IS NOT NULL`,
          [ids],
        )) === 2,
    );
    const outcomes = await p.hubDb.pool.query<{ customer_id: string; outcome: string }>(
      `SELECT customer_id, outcome FROM directory_flag_requests WHERE event_id = ANY($1) ORDER BY customer_id`,
      [ids],
    );
    assert.deepEqual(outcomes.rows, [
      { customer_id: 'wz-o-5', outcome: 'uncorroborated' },
      { customer_id: 'wz-o-6', outcome: 'set' },
    ]);
    assert.equal(
      await count(p.hubDb.pool, `SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)`, [ids]),
      2,
      'both events stored',
    );
    const dir = p.hub.state.d.directory;
    assert.equal((await dir.lookup('customer-id', 'wz-o-5'))?.flags.lostCard, false);
    assert.equal((await dir.lookup('customer-id', 'wz-o-5'))?.version, 1);
    assert.deepEqual(await dir.interestedSites('wz-o-5'), ['wanzhou'], 'chongqing does not follow it');
    assert.deepEqual(
      (await feedOf('chongqing', cursor)).map((x) => [x.customerId, x.flags.lostCard]),
      [['wz-o-6', true]],
      "chongqing's feed: only the customer it served",
    );
    const wzCache = new PgCustomerDirectory(wz.db.pool);
    await waitFor(
      "the roaming card loss reached the home site's cache",
      async () => (await wzCache.byId('wz-o-6'))?.flags.lostCard === true,
    );

    // Both refusals are logged once with who and why (or counted in the peer's summary).
    await waitFor(
      'both refusals logged or counted',
      () => refusalsBy(p.hubLog.slice(logFrom), 'site chongqing').total === 2,
    );
    const { lines } = refusalsBy(p.hubLog.slice(logFrom), 'site chongqing');
    assert.ok(lines.length >= 1);
    assert.ok(lines.every((l) => /never served customer wz-o-5 to site chongqing/.test(l.reason!)));
  });

  test('changed_by cannot be forged: it is the certificate, with the claim scoped to it', async () => {
    const cq = site('chongqing');
    const c = await cq.link.writeCustomer(
      customer('cq-o-1', 'chongqing', 11),
      0,
      'wanzhou',
      'claims to be wanzhou',
    );
    for (const forged of ['admin alice', 'wanzhou/w01', 'w01@wanzhou', 'a'.repeat(65)]) {
      const e = await refusal(cq.link.writeCustomer({ ...c, name: 'x' }, 1, forged, 'forged'));
      assert.ok(isDomainError(e, 'invalid-argument'), `${forged}: ${e.kind}`);
      assert.equal(e.field, 'changed_by');
    }
    const row = await p.hubDb.pool.query<{ changed_by: string; site_id: string }>(
      `SELECT changed_by, site_id FROM customer_changes WHERE customer_id = 'cq-o-1'`,
    );
    assert.deepEqual(row.rows, [{ changed_by: 'chongqing/wanzhou', site_id: 'chongqing' }]);
    assert.equal((await p.hub.state.d.directory.lookup('customer-id', 'cq-o-1'))?.version, 1);
  });
});

describe.skipIf(pgSkip)('the read audit holds the hub’s facts', () => {
  /** Wanzhou reports cache reads by writing `customer.read` events to its outbox, as its directory does. */
  async function report(reads: Array<{ customerId: string; homeSiteId: string }>): Promise<string[]> {
    const wz = site('wanzhou');
    const ids: string[] = [];
    await withTransaction(wz.db.pool, async (c) => {
      for (const r of reads) {
        const e = makeEvent({
          type: 'customer.read',
          siteId: 'wanzhou',
          aggregateId: r.customerId,
          occurredAtMs: Date.now(),
          payload: {
            ...r,
            reason: 'agent-search',
            callId: null,
            agentId: 'w09',
            ivrSessionId: null,
            key: 'customer-id',
            servedFrom: 'cache',
          },
        });
        ids.push(e.id);
        await appendToOutbox(c, e);
      }
    });
    wz.link.wakePump();
    await waitFor(
      'the reads are ingested',
      async () =>
        (await count(p.hubDb.pool, `SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)`, [ids])) ===
        ids.length,
    );
    return ids;
  }

  test('a forged read is stored flagged and grants no interest; an honest one of a customer the hub served still does', async () => {
    const cq = site('chongqing');
    const wz = site('wanzhou');
    const hidden = await cq.link.writeCustomer(customer('cq-r-1', 'chongqing', 21), 0, 'c01', 'new');
    const honest = await cq.link.writeCustomer(customer('cq-r-2', 'chongqing', 22), 0, 'c01', 'new');
    // The hub served cq-r-2 to wanzhou once; wanzhou's interest has lapsed since.
    assert.ok(
      await wz.link.lookupCustomer('customer-id', 'cq-r-2', { reason: 'ivr-ani', ivrSessionId: 'i-1' }),
    );
    await p.hubDb.pool.query(`DELETE FROM customer_interest WHERE site_id = 'wanzhou'`);

    // Wanzhou claims cq-r-1 is its own (hiding a roaming read it never made through the hub),
    // names a customer nobody has, and reports an honest cache read of cq-r-2.
    await report([
      { customerId: 'cq-r-1', homeSiteId: 'wanzhou' },
      { customerId: 'nobody-1', homeSiteId: 'chongqing' },
      { customerId: 'cq-r-2', homeSiteId: 'chongqing' },
    ]);
    const audit = await p.fedctl('reads', '--site', 'wanzhou', '--json');
    assert.equal(audit.code, 0, audit.err);
    const rows = (JSON.parse(audit.out) as CustomerReadsResponse).reads.filter(
      (r) => r.servedFrom === 'site-cache',
    );
    assert.deepEqual(
      rows.map((r) => [r.customerId, r.homeSiteId, r.claimedHomeSiteId, r.flag.split(':')[0]]).sort(),
      [
        ['cq-r-1', 'chongqing', 'wanzhou', 'home-mismatch'],
        ['cq-r-2', 'chongqing', 'chongqing', ''],
        ['nobody-1', '', 'chongqing', 'unknown-customer'],
      ],
    );
    const table = await p.fedctl('reads', '--site', 'wanzhou');
    assert.match(table.out, /FLAG/);
    assert.match(table.out, /wanzhou\s+cq-r-1\s+chongqing\s+.*home-mismatch: the event claims home wanzhou/);
    assert.deepEqual(await p.hub.state.d.directory.interestedSites('cq-r-1'), ['chongqing']);
    assert.deepEqual(await p.hub.state.d.directory.interestedSites('cq-r-2'), ['chongqing', 'wanzhou']);

    // Chongqing changes both: wanzhou's feed carries the honest one only.
    const cursor = await head();
    await cq.link.writeCustomer({ ...hidden, name: '改名 1' }, 1, 'c01', 'rename');
    await cq.link.writeCustomer({ ...honest, name: '改名 2' }, 1, 'c01', 'rename');
    assert.deepEqual(
      (await feedOf('wanzhou', cursor)).map((x) => [x.customerId, x.name]),
      [['cq-r-2', '改名 2']],
    );
    const wzCache = new PgCustomerDirectory(wz.db.pool);
    await waitFor(
      'wanzhou cached the honest change',
      async () => (await wzCache.byId('cq-r-2'))?.name === '改名 2',
    );
    assert.equal(await wzCache.byId('cq-r-1'), undefined);
  });
});
