/**
 * The federation end to end in one process, all real: the hub on its own Postgres, site
 * links on their own Postgres databases, mTLS with certificates from deploy/pki.sh, and
 * `fedctl` as an admin would run it. Registration and heartbeats, live topology (apply,
 * push, acknowledgement, refusal of bad files, rollback, audit), drain, events over the link
 * (idempotent), province statistics, the customer directory (feed, versioned writes,
 * conflicts, audited roaming reads), and the security rules.
 */
import { afterEach, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as connectTls } from 'node:tls';
import {
  Metadata,
  makeGenericClientConstructor,
  status,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
} from '@grpc/grpc-js';
import { AdminClient, type CustomerReadsResponse } from '../../proto/gen/admin.js';
import { FederationClient, Hello, HubMessage, LookupKey, SiteMessage } from '../../proto/gen/federation.js';
import { asField, unknownCase, withUnknownFields } from '../../shared/federation/version-tolerance.js';
import { makeEvent } from '../../shared/events/envelope.js';
import { appendToOutbox } from '../../shared/events/outbox.js';
import { call, clientOptions } from '../../shared/grpc/client.js';
import { mtlsClientCredentials } from '../../shared/grpc/tls.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { readLinkMemory } from '../../site-node/link/link-store.js';
import { PgCustomerDirectory } from '../../site-node/store/customers-repo.js';
import type { DomainError } from '../../shared/errors.js';
import { pgSkip } from '../../hub/store/testing.js';
import {
  count,
  EXAMPLE_TOPOLOGY,
  refusalsBy,
  startTestProvince,
  type TestProvince,
} from '../support/federation.js';
import { makeTestPki } from '../support/pki.js';
import { waitFor } from '../support/wait.js';

const example = readFileSync(EXAMPLE_TOPOLOGY, 'utf8');

let p: TestProvince;

// Each test gets a province of its own (a hub, chongqing and wanzhou with their links up and
// running topology v1), so that any test can run alone and none depends on another's leftovers.
beforeEach(async () => {
  if (pgSkip) return;
  p = await startTestProvince({ label: 'fed_hub' });
  await p.addSite('chongqing');
  await p.addSite('wanzhou');
  await waitFor(
    'both links up and running v1',
    () =>
      ['chongqing', 'wanzhou'].every((id) => site(id).link.state === 'up') &&
      ['chongqing', 'wanzhou'].every((id) => p.hub.registry.get(id)?.topologyVersion === 1),
  );
});

afterEach(async () => {
  await p?.close();
});

const site = (id: string) => p.sites.get(id)!;

/** The example province at version 2: wanzhou hires 4 agents. */
const V2 = example
  .replace('version: 1', 'version: 2')
  .replace(
    'capacity: { trunks: 60, agents: 8, ivrPorts: 30 }\n    queues: [retail, credit-card, vip, complaints]',
    'capacity: { trunks: 60, agents: 12, ivrPorts: 30 }\n    queues: [retail, credit-card, vip, complaints]',
  );

/**
 * Chongqing records 30 retail calls (20 answered, 10 of them within 20 s; 10 abandoned) in its
 * outbox and ships them; resolves with the event ids once the hub has ingested all 30.
 */
async function shipCallRecords(): Promise<string[]> {
  const cq = site('chongqing');
  const t0 = Date.now();
  const ids: string[] = [];
  await withTransaction(cq.db.pool, async (c) => {
    for (let i = 0; i < 30; i++) {
      const answered = i % 3 !== 0;
      const e = makeEvent({
        type: 'call.ended',
        siteId: 'chongqing',
        aggregateId: `chongqing-call-${i}`,
        occurredAtMs: t0 + i,
        payload: {
          cdr: {
            callId: `chongqing-call-${i}`,
            queueId: 'retail',
            queuedAtMs: t0 - 60_000,
            ...(answered ? { answeredAtMs: t0 - 50_000 } : {}),
            abandoned: !answered,
            waitMs: answered ? (i % 2 === 0 ? 10_000 : 30_000) : 45_000,
            endedAtMs: t0 + i,
          },
        },
      });
      ids.push(e.id);
      await appendToOutbox(c, e);
    }
  });
  cq.link.wakePump();
  await waitFor(
    '30 events ingested',
    async () =>
      (await count(p.hubDb.pool, `SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)`, [ids])) ===
      30,
  );
  return ids;
}

/** Applies V2 as alice and waits until both sites acknowledged it (for tests that start from v2). */
async function applyV2(): Promise<void> {
  const r = await p.fedctl('apply', p.writeFile('v2.yaml', V2), '--comment', 'CHG-1: wanzhou hires 4 agents');
  assert.equal(r.code, 0, r.err);
  await waitFor('both sites run v2', () =>
    ['chongqing', 'wanzhou'].every((id) => p.hub.registry.get(id)?.topologyVersion === 2),
  );
}

function rawClient(kind: 'site' | 'admin', id: string): FederationClient {
  p.pki.issue(kind, id);
  return new FederationClient(
    p.address,
    mtlsClientCredentials(p.pki.material(kind, id), { expectServer: { kind: 'hub' } }),
    clientOptions(),
  );
}

/**
 * Open a raw link, send `messages`, and collect what comes back until the hub ends the link or
 * `enough(received)` holds. Past `timeoutMs` the link is cancelled and what came so far is
 * returned, for the test's assertions to say what is missing.
 */
function rawLink(
  client: FederationClient,
  messages: SiteMessage[],
  enough: (received: HubMessage[]) => boolean = () => false,
  timeoutMs = 15_000,
): Promise<{ received: HubMessage[]; error: (Error & { code?: number; details?: string }) | undefined }> {
  return new Promise((resolve) => {
    const received: HubMessage[] = [];
    const s = client.link(new Metadata(), {});
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.cancel();
      resolve({ received, error });
    };
    const t = setTimeout(() => finish(), timeoutMs);
    s.on('data', (m: HubMessage) => {
      received.push(m);
      if (enough(received)) finish();
    });
    s.on('error', (e: Error) => finish(e));
    s.on('end', () => finish());
    for (const m of messages) s.write(m);
  });
}

const hello = (
  siteId: string,
  extra: Partial<Extract<SiteMessage['body'], { $case: 'hello' }>['value']> = {},
) =>
  ({
    body: {
      $case: 'hello',
      value: {
        siteId,
        softwareVersion: 'test',
        contractVersion: 1,
        capabilities: ['events-over-link', 'topology'],
        topologyVersion: 0,
        customerCursor: 0,
        sentAtMs: Date.now(),
        ...extra,
      },
    },
  }) as SiteMessage;

describe.skipIf(pgSkip)('federation over mTLS', () => {
  test('sites register, heartbeat and run the bootstrap topology; fedctl status shows it', async () => {
    await waitFor(
      'both links up',
      () => site('chongqing').link.state === 'up' && site('wanzhou').link.state === 'up',
    );
    await waitFor('v1 acknowledged', () =>
      ['chongqing', 'wanzhou'].every((id) => p.hub.registry.get(id)?.topologyVersion === 1),
    );
    assert.equal(site('wanzhou').link.topologyVersion, 1);
    assert.equal((await readLinkMemory(site('wanzhou').db.pool)).topologyVersion, 1, 'the site remembers it');
    const r = await p.fedctl('status');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /topology version 1 at the hub; 2\/5 sites up/);
    assert.match(r.out, /chongqing\s+full\s+up\s+\d+s ago\s+v1\s/);
    assert.match(r.out, /qianjiang\s+access\s+never/);
    // Heartbeats keep the link up well past the silence limit (3 x 200 ms).
    const heard = p.hub.registry.get('wanzhou')!.link.lastHeardMs!;
    await waitFor('a later heartbeat', () => p.hub.registry.get('wanzhou')!.link.lastHeardMs! > heard + 300);
    assert.equal(p.hub.registry.get('wanzhou')!.link.state, 'up');
  });

  test('fedctl validate / diff / apply: a new version is stored with its audit, pushed and acknowledged live', async () => {
    assert.notEqual(V2, example);
    const file = p.writeFile('v2.yaml', V2);
    const val = await p.fedctl('validate', file);
    assert.equal(val.code, 0, val.err);
    assert.match(val.out, /valid\. 5 sites \(3 full, 2 access\)/);
    const diff = await p.fedctl('diff', file);
    assert.equal(diff.code, 0, diff.err);
    assert.match(diff.out, /against version 1 \(apply stores version 2\)/);
    assert.match(diff.out, /wanzhou/);
    const apply = await p.fedctl('apply', file, '--comment', 'CHG-1: wanzhou hires 4 agents');
    assert.equal(apply.code, 0, apply.err);
    assert.match(apply.out, /applied version 2/);
    assert.match(apply.out, /pushed to chongqing, wanzhou/);
    await waitFor('both sites run v2', async () =>
      (await Promise.all(['chongqing', 'wanzhou'].map((id) => readLinkMemory(site(id).db.pool)))).every(
        (m) => m.topologyVersion === 2,
      ),
    );
    await waitFor('hub saw the acks', () =>
      ['chongqing', 'wanzhou'].every((id) => p.hub.registry.get(id)?.topologyVersion === 2),
    );
    const mem = await readLinkMemory(site('wanzhou').db.pool);
    const wz = mem.topology!.sites.find((s) => s.id === 'wanzhou');
    assert.equal(wz?.kind === 'full' && wz.capacity.agents, 12, 'the pushed content, not just the number');
    const hist = await p.fedctl('history');
    assert.match(hist.out, /v2 .* by alice {2}"CHG-1: wanzhou hires 4 agents"/);
    assert.match(hist.out, /v1 .* by hub:hub/);
    const audit = await p.hubDb.pool.query<{ actor: string; action: string }>(
      `SELECT actor, action FROM admin_audit ORDER BY id`,
    );
    assert.deepEqual(
      audit.rows.map((r) => `${r.actor} ${r.action}`),
      ['hub:hub topology.apply', 'alice topology.apply'],
    );
  });

  test('a file with thousands of problems is refused at once, the first ones listed and the rest counted', async () => {
    // 1,000 access cities with no city, endpoints or capacity and a center that does not
    // exist: thousands of problems, far more text than a gRPC status can carry in its trailers
    // (before, fedctl waited out its deadline and showed none of them).
    const extra = Array.from(
      { length: 1000 },
      (_, i) => `  - { id: x${String(i).padStart(4, '0')}, kind: access, center: nowhere }\n`,
    ).join('');
    const huge = example.replace('version: 1', 'version: 9').replace('\nsites:\n', `\nsites:\n${extra}`);
    const r = await p.fedctl('apply', p.writeFile('huge.yaml', huge));
    assert.equal(r.code, 1);
    assert.match(r.err, /invalid-argument/);
    assert.match(r.err, /^fedctl: invalid-argument: \d+ problems:\n {2}- sites\[0\]\.city: /);
    assert.match(r.err, /and \d+ more problems/);
    assert.match(r.err, /fedctl validate/);
    assert.equal(p.hub.state.currentVersion < 9, true);
  });

  test('a bad file is refused with every problem listed, and nothing is applied', async () => {
    await applyV2();
    const bad = example
      .replace('version: 1', 'version: 3')
      .replace('center: wanzhou', 'center: nowhere')
      .replace('  - id: fuling\n', '  - id: wanzhou\n');
    const r = await p.fedctl('apply', p.writeFile('bad.yaml', bad));
    assert.equal(r.code, 1);
    assert.match(r.err, /invalid-argument/);
    assert.match(r.err, /duplicate/i);
    assert.match(r.err, /nowhere/);
    const stale = await p.fedctl(
      'apply',
      p.writeFile(
        'stale.yaml',
        example.replace(
          'capacity: { trunks: 30, ivrPorts: 8 }\n    center: fuling',
          'capacity: { trunks: 31, ivrPorts: 8 }\n    center: fuling',
        ),
      ),
    );
    assert.equal(stale.code, 1);
    assert.match(stale.err, /conflict: version: the file says version 1, but the hub is at version 2/);
    assert.equal(p.hub.state.currentVersion, 2);
    assert.equal(await count(p.hubDb.pool, `SELECT count(*) AS n FROM topology_versions`), 2);
  });

  test('two admins applying at once: the one planned against an old version is refused', async () => {
    await applyV2();
    const admin = new AdminClient(
      p.address,
      mtlsClientCredentials(p.pki.material('admin', 'alice'), { expectServer: { kind: 'hub' } }),
      clientOptions(),
    );
    try {
      const err = await call(admin.applyTopology.bind(admin), {
        yaml: example.replace('version: 1\n', ''),
        expectedCurrentVersion: 1,
        comment: '',
      }).then(
        () => assert.fail('must be refused'),
        (e: unknown) => e as DomainError,
      );
      assert.equal(err.kind, 'conflict');
      assert.match(err.message, /planned against version 1 but version 2 is current/);
    } finally {
      admin.close();
    }
  });

  test('rollback makes an earlier version current as a new version, pushed like any other', async () => {
    await applyV2();
    const r = await p.fedctl('rollback', '1', '--comment', 'undo CHG-1');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /version 3 restores version 1/);
    await waitFor('sites run v3', () =>
      ['chongqing', 'wanzhou'].every((id) => p.hub.registry.get(id)?.topologyVersion === 3),
    );
    const mem = await readLinkMemory(site('wanzhou').db.pool);
    const wz = mem.topology!.sites.find((s) => s.id === 'wanzhou');
    assert.equal(wz?.kind === 'full' && wz.capacity.agents, 8);
    const hist = await p.fedctl('history', '--limit', '1');
    assert.match(hist.out, /v3 \(rollback to v1\) .* by alice {2}"undo CHG-1"/);
  });

  test('drain and undrain reach the site live and are audited', async () => {
    const d = await p.fedctl('drain', 'wanzhou', '--comment', 'maintenance');
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /wanzhou drained/);
    await waitFor('site drained', () => site('wanzhou').link.drained);
    // The site acts on the drain at once and remembers it (for a restart) right after.
    await waitFor(
      'the drain remembered',
      async () => (await readLinkMemory(site('wanzhou').db.pool)).drained,
    );
    assert.match((await p.fedctl('status')).out, /wanzhou\s+full\s+up \(drained\)/);
    const u = await p.fedctl('undrain', 'wanzhou');
    assert.equal(u.code, 0, u.err);
    await waitFor('site undrained', () => !site('wanzhou').link.drained);
    const unknown = await p.fedctl('drain', 'lhasa');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /not-found: site "lhasa" is not in topology version 1/);
    assert.equal(
      await count(
        p.hubDb.pool,
        `SELECT count(*) AS n FROM admin_audit WHERE action LIKE 'site.%' AND target = 'wanzhou'`,
      ),
      2,
    );
  });

  test('events ride the link into the hub exactly once, and feed fedctl stats', async () => {
    const cq = site('chongqing');
    const ids = await shipCallRecords();
    await waitFor(
      'outbox marked shipped',
      async () =>
        (await count(cq.db.pool, `SELECT count(*) AS n FROM outbox WHERE shipped_at IS NULL`)) === 0,
    );
    // Replay: the site ships them again (as after a crash between ack and mark): no double count.
    await cq.db.pool.query(`UPDATE outbox SET shipped_at = NULL WHERE id = ANY($1)`, [ids]);
    cq.link.wakePump();
    await waitFor(
      'replay acknowledged',
      async () =>
        (await count(cq.db.pool, `SELECT count(*) AS n FROM outbox WHERE shipped_at IS NULL`)) === 0,
    );
    assert.equal(
      await count(p.hubDb.pool, `SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)`, [ids]),
      30,
    );
    assert.ok(cq.link.stats.duplicates >= 30, `duplicates counted: ${cq.link.stats.duplicates}`);
    const stats = await p.fedctl('stats', '--window', '1h', '--json');
    assert.equal(stats.code, 0, stats.err);
    const s = JSON.parse(stats.out) as {
      queues: Array<{
        siteId: string;
        queueId: string;
        offered: number;
        answered: number;
        abandoned: number;
        serviceLevel: number;
      }>;
    };
    const q = s.queues.find((x) => x.siteId === 'chongqing' && x.queueId === 'retail')!;
    assert.equal(q.offered, 30);
    assert.equal(q.answered, 20);
    assert.equal(q.abandoned, 10);
    assert.ok(Math.abs(q.serviceLevel - 10 / 30) < 1e-9, `SL ${q.serviceLevel}`);
    const table = await p.fedctl('stats');
    assert.match(table.out, /PROVINCE/);
    assert.match(table.out, /chongqing\s+retail\s+30\s+20\s+10\s+33\.3/);
  });

  test('the customer directory: home feed, versioned writes, conflicts recorded, roaming reads audited', async () => {
    const wz = site('wanzhou');
    const cq = site('chongqing');
    const zhang: CustomerProfile = {
      customerId: 'wz-c-0001',
      name: '张伟',
      phones: ['13900001111'],
      cards: ['6222020000001111'],
      homeSiteId: 'wanzhou',
      segment: 'vip',
      language: 'zh',
      flags: { blacklisted: false, lostCard: false },
      accountIds: ['wz-acc-0001'],
      version: 0,
    };
    const created = await wz.link.writeCustomer(zhang, 0, 'a01', 'new customer');
    assert.equal(created.version, 1);
    const wzCache = new PgCustomerDirectory(wz.db.pool);
    await waitFor(
      'home site cached its new customer from the feed',
      async () => (await wzCache.byId('wz-c-0001'))?.version === 1,
    );
    assert.ok((await readLinkMemory(wz.db.pool)).customerCursor > 0, 'feed cursor persisted');

    // Roaming: the customer calls Chongqing; recognised by caller number through the hub.
    const found = await cq.link.lookupCustomer('phone', '13900001111', {
      reason: 'ivr-ani',
      callId: 'chongqing-call-roam-1',
      ivrSessionId: 'ivr-1',
    });
    assert.ok(found);
    assert.equal(found.roaming, true);
    assert.equal(found.profile.homeSiteId, 'wanzhou');
    const byCard = await cq.link.lookupCustomer('card', '6222020000001111', {
      reason: 'agent-screen-pop',
      callId: 'chongqing-call-roam-1',
      agentId: 'a03',
    });
    assert.equal(byCard?.profile.customerId, 'wz-c-0001');
    const reads = await p.hubDb.pool.query<{
      reader_site_id: string;
      reason: string;
      agent_id: string | null;
      ivr_session_id: string | null;
    }>(
      `SELECT reader_site_id, reason, agent_id, ivr_session_id FROM customer_reads WHERE customer_id = 'wz-c-0001' ORDER BY id`,
    );
    assert.deepEqual(reads.rows, [
      { reader_site_id: 'chongqing', reason: 'ivr-ani', agent_id: null, ivr_session_id: 'ivr-1' },
      { reader_site_id: 'chongqing', reason: 'agent-screen-pop', agent_id: 'a03', ivr_session_id: null },
    ]);
    // An own-site read is not a cross-site read: no audit row.
    await wz.link.lookupCustomer('phone', '13900001111', { reason: 'ivr-ani' });
    assert.equal(
      await count(p.hubDb.pool, `SELECT count(*) AS n FROM customer_reads WHERE reader_site_id = 'wanzhou'`),
      0,
    );
    // An admin reads the audit trail with fedctl: newest first, who/why/how served.
    const audit = await p.fedctl('reads', '--customer', 'wz-c-0001', '--json');
    assert.equal(audit.code, 0, audit.err);
    const rows = (JSON.parse(audit.out) as CustomerReadsResponse).reads;
    assert.deepEqual(
      rows.map((x) => [x.readerSiteId, x.homeSiteId, x.reason, x.agentId || x.ivrSessionId, x.servedFrom]),
      [
        ['chongqing', 'wanzhou', 'agent-screen-pop', 'a03', 'hub'],
        ['chongqing', 'wanzhou', 'ivr-ani', 'ivr-1', 'hub'],
      ],
    );
    const table = await p.fedctl('reads', '--site', 'chongqing', '--since', '1h', '--limit', '1');
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /chongqing\s+wz-c-0001\s+wanzhou\s+agent-screen-pop\s+agent a03/);
    assert.match(table.out, /more reads match/);
    const bad = await p.fedctl('reads', '--customer', 'not a customer id');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /invalid-argument: customer_id: /);
    assert.ok(p.hubLog.some((l) => l.includes('"read audit queried"') && l.includes('"by":"alice"')));

    // A change by the home site reaches both the home site and the site that served the customer.
    const updated = await wz.link.writeCustomer(
      { ...created, flags: { blacklisted: false, lostCard: true } },
      1,
      'a02',
      'card lost',
    );
    assert.equal(updated.version, 2);
    const cqCache = new PgCustomerDirectory(cq.db.pool);
    await waitFor(
      'both caches at v2',
      async () =>
        (await wzCache.byId('wz-c-0001'))?.version === 2 &&
        (await cqCache.byId('wz-c-0001'))?.flags.lostCard === true,
    );

    // A write based on an old version is refused and recorded, never silently applied.
    const err = await cq.link.writeCustomer({ ...created, name: '张 伟' }, 1, 'a05', 'typo').then(
      () => assert.fail('a stale write must be refused'),
      (e: unknown) => e as DomainError,
    );
    assert.equal(err.kind, 'conflict');
    assert.match(err.message, /based on version 1 but version 2 is current/);
    assert.equal(
      await count(
        p.hubDb.pool,
        `SELECT count(*) AS n FROM customer_conflicts WHERE customer_id = 'wz-c-0001'`,
      ),
      1,
    );
    assert.equal((await wzCache.byId('wz-c-0001'))?.name, '张伟');
    assert.equal(await cq.link.lookupCustomer('phone', '13000000000', { reason: 'ivr-ani' }), undefined);
  });

  test('a site can never speak for another; unknown sites and non-admins are refused; nothing changes', async () => {
    const logFrom = p.hubLog.length;
    // Wanzhou's certificate saying hello as Chongqing.
    const wzRaw = rawClient('site', 'wanzhou');
    const spoof = await rawLink(wzRaw, [hello('chongqing')]);
    assert.equal(spoof.error?.code, status.PERMISSION_DENIED);
    assert.match(spoof.error!.details!, /site "wanzhou" cannot act for site "chongqing"/);
    // A unary lookup for another site.
    const e1 = await call(wzRaw.lookupCustomer.bind(wzRaw), {
      siteId: 'chongqing',
      key: LookupKey.LOOKUP_KEY_PHONE,
      value: '13900001111',
      purpose: { reason: 'ivr-ani', callId: '', agentId: '', ivrSessionId: '' },
    }).then(
      () => assert.fail('refused'),
      (e: unknown) => e as DomainError,
    );
    assert.equal(e1.kind, 'permission-denied');
    // A certificate of a site the topology does not know.
    const rogue = rawClient('site', 'lhasa');
    const r = await rawLink(rogue, [hello('lhasa')]);
    assert.equal(r.error?.code, status.NOT_FOUND);
    assert.match(r.error!.details!, /site "lhasa" is not in topology version 1/);
    // A site certificate on the admin API.
    const asAdmin = new AdminClient(
      p.address,
      mtlsClientCredentials(p.pki.material('site', 'wanzhou'), { expectServer: { kind: 'hub' } }),
      clientOptions(),
    );
    const e2 = await call(asAdmin.setDrain.bind(asAdmin), {
      siteId: 'chongqing',
      drained: true,
      comment: '',
    }).then(
      () => assert.fail('refused'),
      (e: unknown) => e as DomainError,
    );
    assert.equal(e2.kind, 'permission-denied');
    assert.match(e2.message, /needs a certificate of kind admin/);
    // Each identity refusal is one hub log line naming who, from where and why, or, in a burst
    // from one peer, counted in its `more rpc refusals` summary (the unknown site is a
    // topology matter, not an identity one, and is answered NOT_FOUND without either).
    await waitFor(
      'all three refusals logged or counted',
      () => refusalsBy(p.hubLog.slice(logFrom), 'site wanzhou').total === 3,
    );
    const expected = [
      ['/pcc.federation.v1.Federation/Link', /site "wanzhou" cannot act for site "chongqing"/],
      ['/pcc.federation.v1.Federation/LookupCustomer', /site "wanzhou" cannot act for site "chongqing"/],
      ['/pcc.admin.v1.Admin/SetDrain', /needs a certificate of kind admin/],
    ] as const;
    const { lines } = refusalsBy(p.hubLog.slice(logFrom), 'site wanzhou');
    assert.ok(lines.length >= 1, 'the first refusal of a burst has its own line');
    for (const l of lines) {
      const want = expected.find(([m]) => m === l.method);
      assert.ok(want, `a refusal line for ${l.method}`);
      assert.match(l.reason!, want[1]);
      assert.equal(l.peer, '127.0.0.1');
    }
    assert.equal(p.hub.state.drained.has('chongqing'), false);
    for (const c of [wzRaw, rogue, asAdmin]) c.close();
    // The real links were not disturbed... except Wanzhou's, replaced by nothing: the spoof
    // never got past hello, so it never replaced the real stream.
    assert.equal(site('wanzhou').link.state, 'up');
  });

  test("bad input on the link: wrong first message, another site's events, malformed events, bad lookups", async () => {
    p.pki.issue('site', 'fuling');
    const fl = rawClient('site', 'fuling');
    const noHello = await rawLink(fl, [
      { body: { $case: 'heartbeat', value: { seq: 1, sentAtMs: 1, outboxBacklog: 0 } } },
    ]);
    assert.equal(noHello.error?.code, status.INVALID_ARGUMENT);
    assert.match(noHello.error!.details!, /first message on the link must be a Hello, got heartbeat/);
    const badHello = await rawLink(fl, [hello('fuling', { contractVersion: 0 })]);
    assert.equal(badHello.error?.code, status.INVALID_ARGUMENT);
    assert.match(badHello.error!.details!, /hello\.contractVersion/);

    const before = await count(p.hubDb.pool, `SELECT count(*) AS n FROM ingested_events`);
    const good = makeEvent({
      type: 'ticket.opened',
      siteId: 'fuling',
      aggregateId: 't-1',
      occurredAtMs: Date.now(),
      payload: {},
    });
    const foreign = makeEvent({
      type: 'ticket.opened',
      siteId: 'wanzhou',
      aggregateId: 't-2',
      occurredAtMs: Date.now(),
      payload: {},
    });
    const pb = (e: typeof good) => ({ ...e, payloadJson: Buffer.from(JSON.stringify(e.payload)) });
    const eventsAcks = (received: HubMessage[]) => received.filter((m) => m.body?.$case === 'eventsAck');
    const res = await rawLink(
      fl,
      [
        hello('fuling'),
        { body: { $case: 'events', value: { batchId: 'b1', events: [pb(good), pb(foreign)] } } },
        { body: { $case: 'events', value: { batchId: 'b2', events: [{ ...pb(good), id: 'not-an-id' }] } } },
        {
          body: {
            $case: 'events',
            value: { batchId: 'b3', events: [{ ...pb(good), payloadJson: Buffer.from('{oops') }] },
          },
        },
        { body: { $case: 'events', value: { batchId: 'b4', events: [pb(good)] } } },
      ],
      (received) => eventsAcks(received).length >= 4,
    );
    const acks = eventsAcks(res.received).map(
      (m) => (m.body as { value: { batchId: string; accepted: number; error: string } }).value,
    );
    assert.equal(acks.length, 4, JSON.stringify(res.received.map((m) => m.body?.$case)));
    assert.match(acks[0]!.error, /events\[1\]\.site_id: site "fuling" cannot ship events of site "wanzhou"/);
    assert.match(acks[1]!.error, /events\[0\]\.id: must be evt_<ULID>/);
    assert.match(acks[2]!.error, /events\[0\]\.payload_json: is not JSON/);
    assert.deepEqual([acks[3]!.error, acks[3]!.accepted], ['', 1], 'the link stays up after refused batches');
    assert.equal(
      await count(p.hubDb.pool, `SELECT count(*) AS n FROM ingested_events`),
      before + 1,
      'only the good batch stored',
    );

    const e = await call(fl.lookupCustomer.bind(fl), {
      siteId: 'fuling',
      key: LookupKey.LOOKUP_KEY_PHONE,
      value: '13900001111',
      purpose: { reason: '', callId: '', agentId: '', ivrSessionId: '' },
    }).then(
      () => assert.fail('refused'),
      (x: unknown) => x as DomainError,
    );
    assert.equal(e.kind, 'invalid-argument');
    assert.match(e.message, /purpose\.reason: must say why the customer is read/);
    const e3 = await call(fl.lookupCustomer.bind(fl), {
      siteId: 'fuling',
      key: LookupKey.LOOKUP_KEY_UNSPECIFIED,
      value: '1',
      purpose: { reason: 'ivr-ani', callId: '', agentId: '', ivrSessionId: '' },
    }).then(
      () => assert.fail('refused'),
      (x: unknown) => x as DomainError,
    );
    assert.match(e3.message, /key: unknown lookup key 0/);
    // Oversized: the server's 1 MiB limit refuses it before any handler runs.
    const big = await rawLink(fl, [
      hello('fuling'),
      {
        body: {
          $case: 'events',
          value: {
            batchId: 'big',
            events: [{ ...pb(good), payloadJson: Buffer.alloc(2 * 1024 * 1024, 32) }],
          },
        },
      },
    ]);
    assert.equal(big.error?.code, status.RESOURCE_EXHAUSTED);
    fl.close();
  });

  test('a newer site (contract v3: unknown fields and message kinds) is served by this hub', async () => {
    p.pki.issue('site', 'fuling');
    const ctor = makeGenericClientConstructor(
      {
        link: {
          path: '/pcc.federation.v1.Federation/Link',
          requestStream: true,
          responseStream: true,
          requestSerialize: (b: Uint8Array) => Buffer.from(b),
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (m: HubMessage) => Buffer.from(HubMessage.encode(m).finish()),
          responseDeserialize: (b: Buffer) => HubMessage.decode(b),
        },
      },
      'FederationV2',
    ) as unknown as new (
      a: string,
      c: ChannelCredentials,
      o?: object,
    ) => Client & {
      link(): ClientDuplexStream<Uint8Array, HubMessage>;
    };
    const v2 = new ctor(
      p.address,
      mtlsClientCredentials(p.pki.material('site', 'fuling'), { expectServer: { kind: 'hub' } }),
      clientOptions(),
    );
    const helloV2 = Hello.encode({
      siteId: 'fuling',
      softwareVersion: '3.0.0',
      contractVersion: 3,
      capabilities: ['snapshots', 'topology', 'video-offers'],
      topologyVersion: 0,
      customerCursor: 0,
      sentAtMs: Date.now(),
    }).finish();
    const heartbeat = SiteMessage.encode({
      body: { $case: 'heartbeat', value: { seq: 7, sentAtMs: Date.now(), outboxBacklog: 0 } },
    }).finish();
    const received: HubMessage[] = [];
    let error: Error | undefined;
    const s = v2.link();
    s.on('data', (m: HubMessage) => received.push(m));
    s.on('error', (e: Error) => (error = e));
    s.write(asField(1, withUnknownFields(helloV2)));
    s.write(unknownCase(12)); // a message kind this hub does not know: skipped
    s.write(withUnknownFields(heartbeat));
    await waitFor('welcome, topology and heartbeat ack', () =>
      ['welcome', 'topology', 'heartbeatAck'].every((k) => received.some((m) => m.body?.$case === k)),
    );
    const welcome = received.find((m) => m.body?.$case === 'welcome')!.body as {
      value: { contractVersion: number; capabilities: string[] };
    };
    assert.equal(welcome.value.contractVersion, 2, 'the hub says which contract it speaks');
    assert.deepEqual(welcome.value.capabilities, ['snapshots', 'topology'], 'only what both sides know');
    const ack = received.find((m) => m.body?.$case === 'heartbeatAck')!.body as { value: { seq: number } };
    assert.equal(ack.value.seq, 7);
    assert.equal(error, undefined, 'the link stays up');
    assert.equal(p.hub.registry.get('fuling')?.contractVersion, 3);
    s.cancel();
    v2.close();
  });

  test('the province board serves the page and a live snapshot of links, versions and statistics', async () => {
    await shipCallRecords();
    const base = `http://127.0.0.1:${p.hub.webPort}`;
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /全省联网 · Province/);
    const snap = (await (await fetch(`${base}/api/snapshot`)).json()) as {
      topology: { version: number };
      sites: Array<{ siteId: string; link: string; topologyVersion: number }>;
      stats: { province: { offered: number } };
    };
    assert.equal(snap.topology.version, 1);
    assert.equal(snap.sites.find((x) => x.siteId === 'wanzhou')?.link, 'up');
    assert.equal(snap.sites.find((x) => x.siteId === 'qianjiang')?.link, 'never');
    assert.ok(snap.stats.province.offered >= 30);
    assert.equal((await fetch(`${base}/api/snapshot`, { method: 'POST' })).status, 405, 'read-only');
  });

  test('the hub logs refused TLS handshakes', async () => {
    const before = p.hub.refusedHandshakes;
    const anon = new FederationClient(
      p.address,
      (await import('@grpc/grpc-js')).credentials.createSsl(readFileSync(p.pki.paths('hub', 'hub').caPath)),
      clientOptions(),
    );
    await call(
      anon.customerChanges.bind(anon),
      { siteId: 'wanzhou', afterCursor: 0, limit: 1 },
      { deadlineMs: 2000 },
    ).catch(() => undefined);
    anon.close();
    await waitFor('refusal counted', () => p.hub.refusedHandshakes > before);
    const lines = () =>
      p.hubLog
        .map((l) => JSON.parse(l) as { msg: string; peer?: string; reason?: string; count?: number })
        .filter((l) => l.msg === 'tls handshake refused' || l.msg === 'more tls handshakes refused');
    const first = lines()[0];
    assert.ok(first, 'a "tls handshake refused" line is logged');
    assert.match(first.peer!, /127\.0\.0\.1:\d+$/, 'it names the remote address, not ?:?');
    assert.equal(first.reason, 'no client certificate');
    // A flood of 200 bad handshakes: a bounded number of lines that still count them all.
    const { caPath } = p.pki.paths('hub', 'hub');
    const [host, port] = [
      p.address.slice(0, p.address.lastIndexOf(':')),
      Number(p.address.split(':').at(-1)),
    ];
    const ca = readFileSync(caPath);
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((resolve) => {
        const s = connectTls({ host, port, ca, servername: 'localhost' });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    }
    await waitFor('all refusals counted', () => p.hub.refusedHandshakes >= before + 200);
    const logged = () => lines().reduce((n, l) => n + (l.msg === 'tls handshake refused' ? 1 : l.count!), 0);
    await waitFor('the summaries count every refusal', () => logged() === p.hub.refusedHandshakes, 25_000);
    assert.ok(lines().length <= 3, `${lines().length} lines for ${p.hub.refusedHandshakes} refusals`);
  });

  test('a certificate from another CA is logged with the peer address and the verification error', async () => {
    // A site certificate with the very same name, issued by another CA: Node refuses it after
    // the handshake and destroys the socket itself, which used to be logged as a hang-up from
    // an unknown address.
    const other = makeTestPki([['site', 'wanzhou']]);
    try {
      const foreign = other.material('site', 'wanzhou');
      const { ca } = p.pki.material('site', 'wanzhou');
      const c = new FederationClient(
        p.address,
        mtlsClientCredentials({ ...foreign, ca }, { expectServer: { kind: 'hub' } }),
        clientOptions(),
      );
      await call(
        c.customerChanges.bind(c),
        { siteId: 'wanzhou', afterCursor: 0, limit: 1 },
        { deadlineMs: 2000 },
      ).catch(() => undefined);
      c.close();
    } finally {
      other.cleanup();
    }
    const line = await waitFor('the refusal is logged', () =>
      p.hubLog
        .map((l) => JSON.parse(l) as { msg: string; peer?: string; reason?: string; verifyError?: string })
        .find((l) => l.msg === 'tls handshake refused'),
    );
    assert.match(line.peer!, /^127\.0\.0\.1:\d+$/, 'the remote address, not "unknown address"');
    assert.equal(line.reason, 'client certificate from an unknown CA');
    assert.equal(line.verifyError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
