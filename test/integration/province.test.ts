/**
 * The federation as deployed: a hub process and three site-node processes (simulated callers
 * and agents, real ACD, IVR, ledger), each on its own Postgres database, every site dialling
 * the hub over mTLS through its own toxiproxy proxy, and Kafka for one site's events.
 *
 *   chongqing  events over the link        wanzhou  events through Kafka
 *   fuling     events over the link        qianjiang, kaizhou: access gateways, no process
 *
 * In order (the tests share one province, as the network's day does; each first waits for the
 * links it needs and sets up the topology version it starts from, so that any of them can also
 * run alone):
 *   1. registration and heartbeats: `fedctl status` shows every site up on the bootstrap
 *      version, the hub keeps hearing them, the access cities show `never`; every site's
 *      simulated agents signed in to its TLS agent desk with passwords of their own, and the
 *      desk answers nobody else;
 *   2. topology push: `fedctl apply` of a new version reaches every site, which stores it; a
 *      version that says fuling offers a queue its ACD has not got is refused by fuling alone
 *      (it keeps its version; `fedctl status` shows why) until a rollback heals it;
 *   3. roaming: callers of one city calling another are looked up through the hub (audited),
 *      cached as `served`, and their money moves on their home site's ledger; a card loss
 *      reported anywhere marks the customer's profile lost-card, up to the home site's cache;
 *   4. a cut WAN link: the hub marks fuling down, fuling keeps taking calls with a growing
 *      outbox, and when the link returns fuling is up again and its backlog reaches the hub
 *      exactly once;
 *   5. a silent link (a toxiproxy `timeout` toxic: the socket stays open, nothing arrives): the
 *      hub goes suspect, then down, on missed heartbeats alone; wanzhou's Kafka events still
 *      arrive; the link heals when the toxic goes;
 *   6. event delivery both ways: after a clean stop of every site, every outbox event is at the
 *      hub exactly once, through the path the site is configured for; `fedctl stats` counts it.
 *
 * Needs TEST_PG_URL, KAFKA_BROKERS and TOXIPROXY_URL (`bash deploy/services.sh up && source
 * .services/env.sh`). On failure every process's last output lines are printed.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import type { StatsResponse, StatusResponse } from '../../proto/gen/admin.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { loadSiteConfig } from '../../site-node/config.js';
import { tlsClientCredentials } from '../../shared/grpc/tls.js';
import { PROVINCE_TOPOLOGY } from '../../deploy/demo/layout.js';
import { count } from '../support/federation.js';
import { PROVINCE_POLL_MS, startProvince, type FedctlResult, type Province } from '../support/province.js';
import { waitFor } from '../support/wait.js';

const missing = ['TEST_PG_URL', 'KAFKA_BROKERS', 'TOXIPROXY_URL'].filter((v) => !process.env[v]);
const skip =
  missing.length > 0
    ? `${missing.join(', ')} not set: \`bash deploy/services.sh up && source .services/env.sh\``
    : false;

const SITES = ['chongqing', 'wanzhou', 'fuling'] as const;
const HEARTBEAT_MS = 500;

let p: Province;
/** Who signed in to each site's agent desk, from the sites' own `desk signed in` lines. */
const signedIn = new Map<string, Set<string>>();

beforeAll(async () => {
  if (skip) return;
  p = await startProvince({
    sites: [
      { id: 'chongqing', events: 'link' },
      { id: 'wanzhou', events: 'kafka' },
      { id: 'fuling', events: 'link' },
    ],
    heartbeatIntervalMs: HEARTBEAT_MS,
    speed: 20,
    // Each simulated site hashes every demo customer's PINs (scrypt) before it is ready:
    // 30 customers per site keeps the start of three sites on two cores to seconds, not minutes.
    customersPerSite: 30,
    // A quarter of the known callers roam, so roaming reads happen within seconds.
    roamShare: 0.25,
    seed: 11,
    onLine: (proc, line) => {
      if (!line.includes('"desk signed in"')) return;
      const who = (JSON.parse(line) as { userId?: string }).userId;
      if (who) signedIn.set(proc, (signedIn.get(proc) ?? new Set()).add(who));
    },
  });
}, 180_000);

afterEach(({ task }) => {
  // The processes' own words, for whoever reads a CI log of a failed run.
  if (task.result?.state === 'fail' && p)
    process.stderr.write(`\n${task.name} failed; the province said:\n${p.logTail(40)}\n`);
});

afterAll(async () => {
  if (!p) return;
  const pids = p.livePids();
  // PROVINCE_LOG_TAIL=<lines>: show the processes' output even when everything passed.
  const tail = Number(process.env.PROVINCE_LOG_TAIL ?? 0);
  if (tail > 0) process.stderr.write(`${p.logTail(tail)}\n`);
  await p.stop();
  const alive = pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  assert.deepEqual(alive, [], 'no process of the province outlives the test');
}, 120_000);

async function status(): Promise<StatusResponse> {
  const r = await p.fedctl('status', '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as StatusResponse;
}

const siteStatus = (s: StatusResponse, id: string) => {
  const row = s.sites.find((x) => x.siteId === id);
  assert.ok(row, `fedctl status has no row for ${id}`);
  return row;
};

/**
 * Waits until the hub has every site's link up, and resolves with that status. The tests before
 * leave the links up; a test run alone starts once the processes are ready, which may be before
 * every site has registered.
 */
function everyLinkUp(): Promise<StatusResponse> {
  return waitFor(
    'every site link up at the hub',
    async () => {
      const s = await status();
      return SITES.every((id) => siteStatus(s, id).link === 'up') && s;
    },
    30_000,
    PROVINCE_POLL_MS,
  );
}

/** Waits until `version` is the hub's current one and every site, link up, runs it unrefused. */
async function everySiteOn(version: number): Promise<void> {
  await waitFor(
    `every site up on v${version}`,
    async () => {
      const s = await status();
      return (
        s.currentVersion === version &&
        SITES.every((id) => {
          const row = siteStatus(s, id);
          return row.link === 'up' && row.topologyVersion === version && row.topologyError === '';
        })
      );
    },
    30_000,
    PROVINCE_POLL_MS,
  );
}

/** The example province with fuling grown from 6 agents to 10. */
const provinceV2 = () =>
  readFileSync(PROVINCE_TOPOLOGY, 'utf8')
    .replace('version: 1', 'version: 2')
    .replace(
      'capacity: { trunks: 60, agents: 6, ivrPorts: 30 }',
      'capacity: { trunks: 60, agents: 10, ivrPorts: 30 }',
    );

/** `fedctl apply` of v2 (`provinceV2`); resolves once every site acknowledged it. */
async function applyV2(): Promise<FedctlResult> {
  const apply = await p.fedctl(
    'apply',
    p.writeFile('province-v2.yaml', provinceV2()),
    '--comment',
    'fuling hires 2',
  );
  assert.equal(apply.code, 0, apply.err);
  assert.match(apply.out, /applied version 2/);
  await waitFor(
    'every site acknowledged v2',
    async () => {
      const s = await status();
      return s.currentVersion === 2 && SITES.every((id) => siteStatus(s, id).topologyVersion === 2);
    },
    20_000,
    PROVINCE_POLL_MS,
  );
  return apply;
}

async function unshippedIds(pool: pg.Pool): Promise<string[]> {
  const r = await pool.query<{ id: string }>(`SELECT id FROM outbox WHERE shipped_at IS NULL ORDER BY seq`);
  return r.rows.map((x) => x.id);
}

describe.skipIf(skip)('a province of real processes over mTLS and toxiproxy', () => {
  test('sites register through their proxies, heartbeat, and run the bootstrap topology', async () => {
    await waitFor(
      'all three sites up on v1',
      async () => {
        const s = await status();
        return (
          s.currentVersion === 1 &&
          SITES.every((id) => {
            const row = siteStatus(s, id);
            return row.link === 'up' && row.topologyVersion === 1 && row.topologyError === '';
          })
        );
      },
      30_000,
      PROVINCE_POLL_MS,
    );
    // Each site dials its own proxy, never the hub directly.
    for (const id of SITES) {
      const ready = await p.site(id).process!.ready();
      assert.equal(ready.hub, p.proxy(id).listen, `${id} dials its proxy`);
      assert.notEqual(ready.hub, p.hubAddress);
    }
    const text = await p.fedctl('status');
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /topology version 1 at the hub; 3\/5 sites up/);
    for (const id of SITES) assert.match(text.out, new RegExp(`${id}\\s+full\\s+up\\s+\\d+s ago\\s+v1\\s`));
    assert.match(text.out, /qianjiang\s+access\s+never/);
    assert.match(text.out, /kaizhou\s+access\s+never/);

    // Heartbeats: the hub keeps hearing every site, well past the 3-interval silence limit.
    const first = await status();
    const heard = new Map(SITES.map((id) => [id, siteStatus(first, id).lastHeartbeatMs]));
    await waitFor(
      'a later heartbeat from every site',
      async () => {
        const s = await status();
        return SITES.every((id) => siteStatus(s, id).lastHeartbeatMs >= heard.get(id)! + 4 * HEARTBEAT_MS);
      },
      15_000,
      PROVINCE_POLL_MS,
    );
    const later = await status();
    for (const id of SITES) assert.equal(siteStatus(later, id).link, 'up', `${id} still up`);
    // The sites remember the version they run in their own database.
    for (const id of SITES) {
      const r = await p.sitePool(id).query<{ v: string }>(`SELECT topology_version AS v FROM hub_link`);
      assert.equal(Number(r.rows[0]?.v), 1, `${id} stored v1`);
    }
  });

  test("each site's simulated agents sign in to its TLS desk with their own passwords; nobody else gets in", async () => {
    for (const id of SITES) {
      const site = p.site(id);
      const agents = loadSiteConfig(site.configPath)
        .agents.map((a) => a.id)
        .sort();
      // Passwords set as a supervisor would, fresh at the site's start, audited as `simulator`.
      const set = await p
        .sitePool(id)
        .query<{ user_id: string }>(`SELECT user_id FROM desk_credentials WHERE set_by = 'simulator'`);
      assert.deepEqual(set.rows.map((r) => r.user_id).sort(), agents, `${id}: a password per agent`);
      await waitFor(
        `every ${id} agent signed in to its desk`,
        () => agents.every((a) => signedIn.get(site.process!.name)?.has(a)),
        30_000,
        PROVINCE_POLL_MS,
      );
      const { ctiPort } = await site.process!.ready();
      const address = `127.0.0.1:${ctiPort}`;
      // The desk is TLS only: a plaintext client never reaches a handler.
      const plain = new GrpcAgentDesk({ address, deadlineMs: 3000 });
      const tls = new GrpcAgentDesk({
        address,
        deadlineMs: 3000,
        credentials: tlsClientCredentials(readFileSync(p.pki.ca), { expectServer: { kind: 'site', id } }),
      });
      try {
        const anon = await plain.agent(agents[0]!).then(
          () => assert.fail(`${id}: a plaintext desk call must fail`),
          (e: { kind?: string }) => e.kind,
        );
        assert.equal(anon, 'unavailable', `${id}: plaintext refused at the handshake`);
        // Over TLS but without signing in: refused, naming no agent's state.
        const noSession = await tls.agent(agents[0]!).then(
          () => assert.fail(`${id}: a call without a session must be refused`),
          (e: { kind?: string }) => e.kind,
        );
        assert.equal(noSession, 'unauthenticated', `${id}: no session, no answer`);
      } finally {
        plain.close();
        tls.close();
      }
    }
  });

  test('fedctl apply pushes a new topology version live to every site, which acknowledges it', async () => {
    await everySiteOn(1);
    const v1 = readFileSync(PROVINCE_TOPOLOGY, 'utf8');
    assert.notEqual(provinceV2().replace('version: 2', 'version: 1'), v1, 'the file really changes fuling');
    const apply = await applyV2();
    assert.match(apply.out, /pushed to .*chongqing/);
    for (const id of SITES) {
      const r = await p.sitePool(id).query<{ v: string; agents: number | null }>(
        `SELECT topology_version AS v,
                (SELECT (s->'capacity'->>'agents')::int FROM jsonb_array_elements(topology->'sites') s
                  WHERE s->>'id' = 'fuling') AS agents
           FROM hub_link`,
      );
      assert.deepEqual(
        { v: Number(r.rows[0]?.v), agents: r.rows[0]?.agents },
        { v: 2, agents: 10 },
        `${id} stores v2 with its content`,
      );
    }
    const text = await p.fedctl('status');
    for (const id of SITES) assert.match(text.out, new RegExp(`${id}\\s+full\\s+up\\s+\\S+ ago\\s+v2\\s`));
  });

  test('a version that gives fuling a queue its ACD has not got: fuling refuses it and keeps v2, the others run it, a rollback heals', async () => {
    // It starts from v2: what the test before applied, applied here if that test did not run.
    if ((await everyLinkUp()).currentVersion === 1) await applyV2();
    await everySiteOn(2);
    const v3 = provinceV2()
      .replace('version: 2', 'version: 3')
      .replace(
        'queues: [retail, credit-card, vip, complaints]\n\n  # Access',
        'queues: [retail, credit-card, vip, complaints, fx]\n\n  # Access',
      );
    assert.match(v3, /complaints, fx\]/, 'the file really gives fuling fx');
    const apply = await p.fedctl('apply', p.writeFile('province-v3.yaml', v3), '--comment', 'fx at fuling');
    assert.equal(apply.code, 0, apply.err);
    const refused = await waitFor(
      'fuling refuses v3, the others run it',
      async () => {
        const s = await status();
        const fl = siteStatus(s, 'fuling');
        return (
          ['chongqing', 'wanzhou'].every((id) => siteStatus(s, id).topologyVersion === 3) &&
          fl.topologyError !== '' &&
          fl
        );
      },
      20_000,
      PROVINCE_POLL_MS,
    );
    assert.equal(refused.topologyVersion, 2, 'fuling keeps running v2');
    assert.match(
      refused.topologyError,
      /site fuling offers queue fx in the topology, but its ACD has no such queue/,
    );
    const text = await p.fedctl('status');
    assert.match(text.out, /fuling refused v3: site fuling offers queue fx/);
    const stored = await p
      .sitePool('fuling')
      .query<{ v: string }>(`SELECT topology_version AS v FROM hub_link`);
    assert.equal(Number(stored.rows[0]?.v), 2, 'fuling stored nothing of v3');

    const rollback = await p.fedctl('rollback', '2', '--comment', 'fuling has no fx desk');
    assert.equal(rollback.code, 0, rollback.err);
    await waitFor(
      'every site runs v4 (v2 again), fuling without complaint',
      async () => {
        const s = await status();
        return (
          s.currentVersion === 4 &&
          SITES.every(
            (id) => siteStatus(s, id).topologyVersion === 4 && siteStatus(s, id).topologyError === '',
          )
        );
      },
      20_000,
      PROVINCE_POLL_MS,
    );
  });

  test('roaming callers are looked up through the hub (audited), cached as served, and bank on their home ledger', async () => {
    await everyLinkUp();
    // Every site reads other sites' customers for its IVR (by caller number) and its agents'
    // screen pops. (`ivr-card` is legal too, but a simulated roamer always calls from the
    // phone the directory knows, so the IVR asks for a card only when the number lookup
    // failed, e.g. while the hub was unreachable: not something to wait for here.)
    const reads = await waitFor(
      'roaming reads by every site, from the IVR and from agent screen pops',
      async () => {
        const r = await p.hubPool.query<{
          reader: string;
          home: string;
          reason: string;
          call_id: string | null;
        }>(
          `SELECT reader_site_id AS reader, home_site_id AS home, reason, call_id FROM customer_reads
            WHERE served_from = 'hub'`,
        );
        const ok = SITES.every((id) =>
          ['ivr-ani', 'agent-screen-pop'].every((why) =>
            r.rows.some((x) => x.reader === id && x.reason === why),
          ),
        );
        return ok && r.rows;
      },
      60_000,
      PROVINCE_POLL_MS,
    );
    for (const row of reads) {
      assert.ok(SITES.includes(row.reader as (typeof SITES)[number]), `reader ${row.reader}`);
      assert.notEqual(row.home, row.reader, 'only reads of another site are audited');
      assert.ok(['ivr-ani', 'ivr-card', 'agent-screen-pop'].includes(row.reason), `reason ${row.reason}`);
      assert.ok(
        row.call_id?.startsWith(`${row.reader}-`),
        `the audit names the reader's call: ${row.call_id}`,
      );
    }
    // The sites cache the roamers they served, marked as such.
    for (const id of SITES) {
      const served = await count(
        p.sitePool(id),
        `SELECT count(*) AS n FROM customers WHERE source = 'served' AND home_site_id <> $1`,
        [id],
      );
      assert.ok(served > 0, `${id} caches customers of other sites it served`);
      assert.equal(
        await count(
          p.sitePool(id),
          `SELECT count(*) AS n FROM customers WHERE source = 'served' AND home_site_id = $1`,
          [id],
        ),
        0,
        `${id}: its own customers are 'home', not 'served'`,
      );
    }

    // Money moves on the home site's ledger: a roamer's IVR transfer/bill payment at site B is
    // posted in A's ledger (its idempotency key names B's call), and a roamer's card-loss
    // report at B stops the card in A's ledger.
    const crossLedger = await waitFor(
      "a roaming caller's posting or card stop on the home site's ledger",
      async () => {
        const found: Array<{ reader: string; home: string; what: string }> = [];
        for (const home of SITES) {
          const keys = await p.sitePool(home).query<{ key: string; kind: string }>(
            `SELECT k.key, pst.kind FROM ledger.idempotency_keys k
               JOIN ledger.postings pst ON pst.posting_id = k.posting_id
              WHERE k.key NOT LIKE $1`,
            [`ivr:${home}-%`],
          );
          for (const k of keys.rows) {
            const reader = SITES.find((s) => k.key.startsWith(`ivr:${s}-`));
            assert.ok(reader, `a posting at ${home} from an unknown caller site: ${k.key}`);
            found.push({ reader, home, what: `${k.kind} ${k.key}` });
          }
        }
        for (const reader of SITES) {
          const stops = await p.sitePool(reader).query<{ customer_id: string; card_last4: string }>(
            `SELECT t.customer_id, t.data->>'cardLast4' AS card_last4 FROM tickets t
               JOIN customers c ON c.id = t.customer_id
              WHERE t.kind = 'card-loss' AND c.home_site_id <> $1 AND (t.data->>'stopConfirmed')::boolean`,
            [reader],
          );
          for (const s of stops.rows) {
            const home = SITES.find((h) => s.customer_id.startsWith(`${h}-`));
            assert.ok(home, `card-loss of a customer of no known site: ${s.customer_id}`);
            const card = await p
              .sitePool(home)
              .query<{ status: string }>(
                `SELECT status FROM ledger.cards WHERE customer_id = $1 AND right(card_number, 4) = $2`,
                [s.customer_id, s.card_last4],
              );
            assert.equal(
              card.rows[0]?.status,
              'stopped',
              `${s.customer_id}'s card stopped on ${home}'s ledger`,
            );
            found.push({ reader, home, what: `card stop ${s.customer_id}` });
          }
        }
        return found.length > 0 && found;
      },
      60_000,
      PROVINCE_POLL_MS,
    );
    process.stderr.write(
      `roaming on home ledgers: ${crossLedger.map((f) => `${f.reader}->${f.home} ${f.what}`).join('; ')}\n`,
    );
    // Nothing of it landed on the reader's own ledger.
    for (const f of crossLedger.filter((x) => x.what.startsWith('transfer') || x.what.startsWith('bill'))) {
      const key = f.what.split(' ')[1]!;
      assert.equal(
        await count(
          p.sitePool(f.reader),
          `SELECT count(*) AS n FROM ledger.idempotency_keys WHERE key = $1`,
          [key],
        ),
        0,
        `${key} not posted on ${f.reader}'s own ledger`,
      );
    }
  });

  test("a card loss reported at any site marks the customer's profile lost-card at the hub and in the home site's cache", async () => {
    await everyLinkUp();
    // Simulated callers report card losses now and then; an identified one's report reaches
    // the hub as an event (link or Kafka), which queues a flag request; the hub's worker
    // marks the profile and the change feed carries the new version to the home site.
    const flagged = await waitFor(
      'a card loss applied to the directory',
      async () => {
        const r = await p.hubPool.query<{ site_id: string; customer_id: string; home: string }>(
          `SELECT f.site_id, f.customer_id, c.home_site_id AS home FROM directory_flag_requests f
             JOIN customers c ON c.id = f.customer_id
            WHERE f.outcome = 'set' AND (c.flags->>'lostCard')::boolean`,
        );
        return r.rows.length > 0 && r.rows;
      },
      90_000,
      PROVINCE_POLL_MS,
    );
    const pending = await count(
      p.hubPool,
      // Ingest time is the hub's wall clock (at_ms is the site's sped-up simulated one).
      `SELECT count(*) AS n FROM directory_flag_requests f JOIN ingested_events e ON e.id = f.event_id
        WHERE f.applied_at_ms IS NULL AND e.ingested_at_ms < $1`,
      [Date.now() - 10_000],
    );
    assert.equal(pending, 0, 'no flag request waits more than a few seconds after its ingest');
    for (const f of flagged) {
      await waitFor(
        `${f.customer_id} lost-card in ${f.home}'s cache`,
        async () =>
          (await count(
            p.sitePool(f.home),
            `SELECT count(*) AS n FROM customers WHERE id = $1 AND (flags->>'lostCard')::boolean`,
            [f.customer_id],
          )) === 1,
        20_000,
        PROVINCE_POLL_MS,
      );
    }
    process.stderr.write(
      `lost cards flagged: ${flagged.map((f) => `${f.customer_id} (home ${f.home}, reported at ${f.site_id})`).join('; ')}\n`,
    );
  });

  test('a cut link: the hub marks fuling down, fuling keeps working, and its backlog drains exactly once when the link returns', async () => {
    await everyLinkUp();
    const fl = p.sitePool('fuling');
    const callsBefore = await count(fl, `SELECT count(*) AS n FROM calls`);
    await p.setLink('fuling', false);
    const cutAt = Date.now();
    let restored = false;
    try {
      await waitFor(
        'the hub sees fuling not up',
        async () => siteStatus(await status(), 'fuling').link !== 'up',
        10 * HEARTBEAT_MS + 10_000,
        PROVINCE_POLL_MS,
      );
      const noticedMs = Date.now() - cutAt;
      // From here on the hub cannot take anything from fuling. (Events in flight at the cut
      // may have been committed at the hub without their ack reaching fuling: those stay
      // unshipped and are replayed, which the hub must absorb.)
      const mark = Number(
        (await fl.query<{ s: string }>(`SELECT coalesce(max(seq), 0) AS s FROM outbox`)).rows[0]!.s,
      );
      const during = await status();
      assert.ok(['suspect', 'down'].includes(siteStatus(during, 'fuling').link));
      for (const id of ['chongqing', 'wanzhou'])
        assert.equal(siteStatus(during, id).link, 'up', `${id} unaffected`);

      // Fuling keeps taking calls; what it records waits in its outbox. (Wait for both: calls
      // arrive at random, and ten events can be written by calls already in progress before
      // a new one comes in.)
      await waitFor(
        'fuling takes new calls while the link is down',
        async () => (await count(fl, `SELECT count(*) AS n FROM calls`)) > callsBefore,
        30_000,
        PROVINCE_POLL_MS,
      );
      const writtenDuringCut = await waitFor(
        "fuling's outbox grows while the link is down",
        async () => {
          const r = await fl.query<{ id: string }>(
            `SELECT id FROM outbox WHERE seq > $1 AND shipped_at IS NULL ORDER BY seq`,
            [mark],
          );
          return r.rows.length >= 10 && r.rows.map((x) => x.id);
        },
        30_000,
        PROVINCE_POLL_MS,
      );
      assert.ok(p.site('fuling').process?.running, 'fuling is still running');
      assert.equal(
        await count(p.hubPool, `SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)`, [
          writtenDuringCut,
        ]),
        0,
        'nothing written during the cut reached the hub',
      );
      const heldIds = await unshippedIds(fl);

      await p.setLink('fuling', true);
      restored = true;
      const healedAt = Date.now();
      await waitFor(
        'fuling up again at the hub',
        async () => siteStatus(await status(), 'fuling').link === 'up',
        30_000,
        PROVINCE_POLL_MS,
      );
      const upMs = Date.now() - healedAt;
      await waitFor(
        "fuling's backlog shipped",
        async () =>
          (await count(fl, `SELECT count(*) AS n FROM outbox WHERE shipped_at IS NULL AND id = ANY($1)`, [
            heldIds,
          ])) === 0,
        30_000,
        PROVINCE_POLL_MS,
      );
      await waitFor(
        'the outbox drains to empty',
        // Calls go on, so the outbox is empty only between two of them: poll it often.
        async () => (await unshippedIds(fl)).length === 0,
        30_000,
        50,
      );
      const drainedMs = Date.now() - healedAt;
      const at = await p.hubPool.query<{ n: string; via: string; site_id: string }>(
        `SELECT count(*) AS n, via, site_id FROM ingested_events WHERE id = ANY($1) GROUP BY via, site_id`,
        [heldIds],
      );
      assert.deepEqual(
        at.rows.map((r) => ({ n: Number(r.n), via: r.via, site: r.site_id })),
        [{ n: heldIds.length, via: 'link', site: 'fuling' }],
        'every held event at the hub once, over the link',
      );
      process.stderr.write(
        `cut noticed by the hub after ${noticedMs} ms; ${heldIds.length} events held; ` +
          `up ${upMs} ms and drained ${drainedMs} ms after the link returned\n`,
      );
    } finally {
      // A failed check must not leave the link cut for the tests after it.
      if (!restored) await p.setLink('fuling', true).catch(() => undefined);
    }
  });

  test('a silent link (timeout toxic): the hub goes suspect, then down, on missed heartbeats alone; Kafka keeps flowing', async () => {
    // The connection stays open but nothing from wanzhou reaches the hub: only the heartbeat
    // silence tells (3 intervals -> suspect, 10 -> down), unlike a cut that closes the socket.
    await everyLinkUp();
    const proxy = p.proxy('wanzhou');
    const toxic = await proxy.addToxic<{ timeout: number }>({
      name: 'silence',
      type: 'timeout',
      stream: 'upstream',
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    let removed = false;
    try {
      const seen = new Set<string>();
      const silentAt = Date.now();
      await waitFor(
        'the hub marks wanzhou down',
        async () => {
          const link = siteStatus(await status(), 'wanzhou').link;
          seen.add(link);
          return link === 'down';
        },
        10 * HEARTBEAT_MS + 15_000,
        PROVINCE_POLL_MS,
      );
      const downMs = Date.now() - silentAt;
      process.stderr.write(
        `silent link: down at the hub after ${downMs} ms (saw ${[...seen].join(' -> ')})\n`,
      );
      assert.ok(seen.has('suspect'), `suspect before down (saw ${[...seen].join(', ')})`);
      // (The last message may have left up to one interval before the toxic: 10 - 2 intervals.)
      assert.ok(downMs >= 8 * HEARTBEAT_MS, `down only after the silence limit (${downMs} ms)`);
      // Its events do not ride the link: Kafka still carries them to the hub.
      const before = await count(
        p.hubPool,
        `SELECT count(*) AS n FROM ingested_events WHERE site_id = 'wanzhou'`,
      );
      await waitFor(
        "wanzhou's events still arrive through Kafka",
        async () =>
          (await count(p.hubPool, `SELECT count(*) AS n FROM ingested_events WHERE site_id = 'wanzhou'`)) >
          before,
        20_000,
        PROVINCE_POLL_MS,
      );
      await toxic.remove();
      removed = true;
      await waitFor(
        'wanzhou up again',
        async () => siteStatus(await status(), 'wanzhou').link === 'up',
        30_000,
        PROVINCE_POLL_MS,
      );
    } finally {
      if (!removed) await toxic.remove().catch(() => undefined);
    }
  });

  test('events reach the hub exactly once, over the link or through Kafka; fedctl stats counts every site', async () => {
    // (A site's window ends at its own simulated clock only while it is connected: the
    // sites run 20x fast, so this needs every link up.)
    await everyLinkUp();
    let seen = '';
    const stats = await waitFor(
      'province stats with calls offered at every site',
      async () => {
        const r = await p.fedctl('stats', '--window', '1h', '--json');
        assert.equal(r.code, 0, r.err);
        const s = JSON.parse(r.out) as StatsResponse;
        seen = s.sites.map((x) => `${x.siteId}:${x.link}:offered=${x.offered}`).join(' ');
        return SITES.every((id) => (s.sites.find((x) => x.siteId === id)?.offered ?? 0) > 0) && s;
      },
      30_000,
      PROVINCE_POLL_MS,
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; last seen: ${seen}`, { cause: e });
    });
    for (const id of SITES) {
      const row = stats.sites.find((x) => x.siteId === id)!;
      assert.ok(
        row.offered >= row.answered + row.abandoned,
        `${id}: offered ${row.offered} >= answered + abandoned`,
      );
    }

    // A clean stop drains calls and flushes the outbox (link or Kafka) before the exit.
    const exits = await Promise.all(SITES.map((id) => p.stopSite(id, 'SIGTERM')));
    exits.forEach((x, i) =>
      assert.deepEqual(x, { code: 0, signal: null, killed: false }, `${SITES[i]} stopped cleanly`),
    );

    const expectVia: Record<(typeof SITES)[number], string> = {
      chongqing: 'link',
      wanzhou: 'kafka',
      fuling: 'link',
    };
    for (const id of SITES) {
      const pool = p.sitePool(id);
      const ids = (await pool.query<{ id: string }>(`SELECT id FROM outbox`)).rows.map((r) => r.id);
      assert.ok(ids.length > 50, `${id} produced events (${ids.length})`);
      assert.equal(
        await count(pool, `SELECT count(*) AS n FROM outbox WHERE shipped_at IS NULL`),
        0,
        `${id} shipped all`,
      );
      // Kafka is consumed by the hub asynchronously: wait (bounded) for the last of it.
      await waitFor(
        `every event of ${id} at the hub`,
        async () =>
          (await count(p.hubPool, `SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)`, [ids])) ===
          ids.length,
        30_000,
        PROVINCE_POLL_MS,
      );
      const byVia = await p.hubPool.query<{ via: string; n: string }>(
        `SELECT via, count(*) AS n FROM ingested_events WHERE site_id = $1 GROUP BY via`,
        [id],
      );
      assert.deepEqual(
        byVia.rows.map((r) => ({ via: r.via, n: Number(r.n) })),
        [{ via: expectVia[id], n: ids.length }],
        `${id}: exactly its outbox, once each, via ${expectVia[id]}`,
      );
    }
  });
});
