/**
 * Roaming customer lookup benchmark (issue: "p50/p99 of a cross-site customer lookup on
 * loopback, next to the raw gRPC round trip measured in the same run (goal: p99 within 3x
 * that floor)").
 *
 * Set-up, all real, laid out as deployed: the hub as its OWN process (`hub/main.ts`) on its
 * own fresh PostgreSQL database (TEST_PG_URL) with the example province topology and mTLS
 * certificates from deploy/pki.sh, its directory seeded (PgDirectoryStore.seed) with
 * `--customers` (default 10,000) customers homed at `wanzhou` plus 1,000 homed at
 * `chongqing`, each with a distinct phone; and in this process the site side of `chongqing`:
 * a GrpcHubLink up on its own site database, with a FederatedCustomerDirectory over its cache.
 *
 * Measured: `--warmup` (default 200) untimed then `--count` (default 2,000) timed rounds; a round
 * calls each path below once, in an order rotated every round, so all paths (and the floor)
 * share the same machine conditions. `--concurrency` (default 1: one call in flight) workers
 * run rounds side by side. Phones are picked at random:
 * - floor: a unary round trip to a trivial JSON echo service (echo-server.ts), its own
 *   process like the hub, with the SAME mTLS credentials (hub certificate on the server,
 *   chongqing's on the client), answering a profile-sized document through the same `unary`
 *   wrapper: what any round trip to the hub costs before the hub does any work;
 * - rpc: the bare Federation.LookupCustomer RPC (FederationClient) for a wanzhou customer,
 *   purpose {reason: 'ivr-ani', callId, ivrSessionId}: the hub validates, looks the phone up
 *   and, the customer being roaming, audits the read (one prepared statement) before
 *   answering. This is the number the goal is about;
 * - rpcHome: the same RPC for chongqing's own customers (no audit): the audit's share;
 * - link: GrpcHubLink.lookupCustomer (adds the profile's validation on the site side);
 * - directory: FederatedCustomerDirectory.byPhone, the path the IVR takes (site cache
 *   lookup, the hub, the cache fill);
 * - db (afterwards, diagnostic): the hub's database statements alone, run by this process on
 *   its own pool (PgDirectoryStore.lookupAudited, .lookup), to split `rpc` into the database
 *   and the rest.
 *
 * Result: p50/p90/p99/max per path, lookups/s, ratios against the floor and the goal
 * { p99WithinThreeTimesFloor } for `rpc`. Progress on stderr, one JSON document on stdout.
 */
import type { Client } from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { PgDirectoryStore } from '../../hub/directory/pg-directory.js';
import { hubTestDb, type HubTestDb } from '../../hub/store/testing.js';
import { FederationClient, LookupKey } from '../../proto/gen/federation.js';
import { systemClock } from '../../shared/clock.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { call, clientOptions } from '../../shared/grpc/client.js';
import { mtlsClientCredentials } from '../../shared/grpc/tls.js';
import { silentLogger } from '../../shared/log.js';
import { createPool } from '../../shared/pg/pool.js';
import { FederatedCustomerDirectory } from '../../site-node/link/federated-directory.js';
import { GrpcHubLink } from '../../site-node/link/hub-link.js';
import { PgCustomerDirectory } from '../../site-node/store/customers-repo.js';
import { siteTestDb, type SiteTestDb } from '../../site-node/store/testing.js';
import { EXAMPLE_TOPOLOGY } from '../support/federation.js';
import { waitFor } from '../support/wait.js';
import { makeTestPki, type TestPki } from '../support/pki.js';
import { EchoClientCtor } from './echo-service.js';
import { startHubProcess, writeHubConfigFile, startNodeProcess, type NodeProcess } from './node-process.js';
import { nowMs, parseFlags, requirePostgres, ratio, summarize, type LatencySummary } from './stats.js';

const HOME = 'wanzhou';
const ASKER = 'chongqing';
const OWN_CUSTOMERS = 1000;

// ---- data --------------------------------------------------------------------------------

const phoneOf = (site: string, i: number): string =>
  `+86${site === HOME ? '139' : '138'}${String(i).padStart(8, '0')}`;

function profile(site: string, i: number): CustomerProfile {
  return {
    customerId: `${site}-cust-${i}`,
    name: `Customer ${site} ${i}`,
    phones: [phoneOf(site, i)],
    cards: [`6222${site === HOME ? '02' : '01'}${String(i).padStart(10, '0')}`],
    homeSiteId: site,
    segment: i % 20 === 0 ? 'vip' : 'retail',
    language: 'zh',
    flags: { blacklisted: false, lostCard: false },
    accountIds: [`acct-${site}-${i}-1`, `acct-${site}-${i}-2`],
    version: 1,
  };
}

// ---- measuring ---------------------------------------------------------------------------

interface PathResult extends LatencySummary {
  /** concurrency x 1000 / mean latency: what one path alone would sustain at that concurrency. */
  lookupsPerSec: number;
  errors: number;
}

interface Path {
  name: string;
  op: (i: number) => Promise<boolean>;
}

/**
 * `warmup` untimed rounds then `count` timed rounds; a round calls every path once, in an
 * order rotated each round, so every path sees the same machine (GC, other load) and none
 * always runs first. `concurrency` workers run rounds side by side.
 */
async function measureInterleaved(
  paths: readonly Path[],
  o: { count: number; warmup: number; concurrency: number },
  progress: (line: string) => void,
): Promise<Map<string, PathResult>> {
  const samples = paths.map(() => [] as number[]);
  const errors = paths.map(() => 0);
  const firstError: unknown[] = paths.map(() => undefined);
  let next = 0;
  const total = o.warmup + o.count;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const r = next++;
      const timed = r >= o.warmup;
      for (let k = 0; k < paths.length; k++) {
        const j = (r + k) % paths.length;
        const t = nowMs();
        let ok = false;
        try {
          ok = await paths[j]!.op(r);
        } catch (e) {
          firstError[j] ??= e;
        }
        if (timed) {
          samples[j]!.push(nowMs() - t);
          if (!ok) errors[j]!++;
        }
      }
      if (r + 1 === o.warmup) progress(`warm-up done (${o.warmup} rounds)`);
      else if ((r + 1 - o.warmup) % 500 === 0 && timed) progress(`${r + 1 - o.warmup}/${o.count} rounds`);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const out = new Map<string, PathResult>();
  paths.forEach((p, j) => {
    const s = summarize(samples[j]!);
    const err = firstError[j] === undefined ? '' : `: ${String(firstError[j])}`;
    progress(`${p.name}: p50 ${s.p50Ms} ms p99 ${s.p99Ms} ms (${errors[j]} errors${err})`);
    out.set(p.name, {
      ...s,
      lookupsPerSec: Math.round((o.concurrency * 1000) / Math.max(0.001, s.meanMs)),
      errors: errors[j]!,
    });
  });
  return out;
}

export async function run(args: string[], progress: (line: string) => void): Promise<unknown> {
  const f = parseFlags(args, { count: 2000, warmup: 200, concurrency: 1, customers: 10_000 });
  const o = {
    count: Math.round(f.count!),
    warmup: Math.round(f.warmup!),
    concurrency: Math.round(f.concurrency!),
  };
  const customers = Math.round(f.customers!);
  requirePostgres('roaming-lookup');

  let pki: TestPki | undefined;
  let hubDb: HubTestDb | undefined;
  let siteDb: SiteTestDb | undefined;
  let hub: NodeProcess | undefined;
  let link: GrpcHubLink | undefined;
  let echoServer: NodeProcess | undefined;
  const clients: Client[] = [];
  const pools: Array<{ end(): Promise<void> }> = [];
  try {
    pki = makeTestPki([
      ['hub', 'hub'],
      ['site', ASKER],
    ]);
    hubDb = await hubTestDb('bench_roaming_hub', { max: 10 });
    const hubPaths = pki.paths('hub', 'hub');
    const configPath = writeHubConfigFile(pki.dir, hubPaths, EXAMPLE_TOPOLOGY);
    progress(`seeding ${customers} ${HOME} + ${OWN_CUSTOMERS} ${ASKER} customers`);
    const directory = new PgDirectoryStore(hubDb.pool);
    const seedProfiles = [
      ...Array.from({ length: customers }, (_, i) => profile(HOME, i)),
      ...Array.from({ length: OWN_CUSTOMERS }, (_, i) => profile(ASKER, i)),
    ];
    await directory.seed(seedProfiles, Date.now());
    await hubDb.pool.query('ANALYZE');
    hub = await startHubProcess(configPath, hubDb.db.url);
    const address = `127.0.0.1:${hub.port}`;
    progress(`hub pid ${hub.pid} on ${address}`);

    // The floor server, its own process too: same hub certificate, same client certificate,
    // a trivial handler answering a profile-sized document.
    const answerPath = join(pki.dir, 'echo-answer.json');
    writeFileSync(answerPath, JSON.stringify({ found: true, profile: profile(HOME, 42), roaming: true }));
    echoServer = await startNodeProcess('echo server', 'test/bench/echo-server.ts', [
      '--ca',
      hubPaths.caPath,
      '--cert',
      hubPaths.certPath,
      '--key',
      hubPaths.keyPath,
      '--answer',
      answerPath,
    ]);
    progress(`echo server (the floor) pid ${echoServer.pid} on 127.0.0.1:${echoServer.port}`);

    siteDb = await siteTestDb('bench_roaming_cq', { siteId: ASKER });
    const tls = pki.material('site', ASKER);
    const channel = { 'grpc.ssl_target_name_override': 'localhost' };
    link = new GrpcHubLink({
      siteId: ASKER,
      addresses: [address],
      tls,
      hubId: 'hub',
      store: siteDb.ctx,
      clock: systemClock,
      log: silentLogger,
      eventsOverLink: true,
      heartbeatIntervalMs: 2000,
      channelOptions: channel,
    });
    await link.start();
    const up = link;
    await waitFor(`${ASKER}'s link up`, () => up.state === 'up', 30_000);
    const federated = new FederatedCustomerDirectory({
      siteId: ASKER,
      cache: new PgCustomerDirectory(siteDb.pool),
      store: siteDb.ctx,
      link,
      clock: systemClock,
      log: silentLogger,
    });

    const fed = new FederationClient(
      address,
      mtlsClientCredentials(tls, { expectServer: { kind: 'hub' } }),
      clientOptions(channel),
    );
    clients.push(fed);
    const echo = new EchoClientCtor(
      `127.0.0.1:${echoServer.port}`,
      mtlsClientCredentials(tls, { expectServer: { kind: 'hub' } }),
      clientOptions(channel),
    );
    clients.push(echo);

    const pick = (n: number): number => Math.floor(Math.random() * n);
    const purpose = (i: number) => ({
      reason: 'ivr-ani',
      callId: `${ASKER}-call-${i}`,
      agentId: '',
      ivrSessionId: `ivr-${i}`,
    });
    const lookupRpc = async (site: string, n: number, i: number): Promise<boolean> => {
      const r = await call(
        fed.lookupCustomer.bind(fed),
        {
          siteId: ASKER,
          key: LookupKey.LOOKUP_KEY_PHONE,
          value: phoneOf(site, pick(n)),
          purpose: purpose(i),
        },
        { deadlineMs: 5000 },
      );
      return r.found && r.roaming === (site !== ASKER);
    };

    progress(
      `measuring: ${o.warmup} warm-up + ${o.count} timed rounds (every path once per round), ${o.concurrency} in flight`,
    );
    const load0 = loadavg()[0]!;
    const r = await measureInterleaved(
      [
        {
          name: 'floor',
          op: async (i) => {
            await call(
              echo.echo.bind(echo),
              { siteId: ASKER, value: phoneOf(HOME, pick(customers)), purpose: purpose(i) },
              { deadlineMs: 5000 },
            );
            return true;
          },
        },
        { name: 'rpc', op: (i) => lookupRpc(HOME, customers, i) },
        { name: 'rpcHome', op: (i) => lookupRpc(ASKER, OWN_CUSTOMERS, i) },
        {
          name: 'link',
          op: async (i) =>
            (await up.lookupCustomer('phone', phoneOf(HOME, pick(customers)), purpose(i)))?.roaming === true,
        },
        {
          name: 'directory',
          op: async (i) => {
            const p = await federated.byPhone(phoneOf(HOME, pick(customers)), {
              reason: 'ivr-ani',
              callId: `${ASKER}-call-${i}`,
              ivrSessionId: `ivr-${i}`,
            });
            return p?.homeSiteId === HOME;
          },
        },
      ],
      o,
      progress,
    );
    const floor = r.get('floor')!;
    const rpc = r.get('rpc')!;
    const rpcHome = r.get('rpcHome')!;
    const viaLink = r.get('link')!;
    const viaDirectory = r.get('directory')!;

    // The hub's two database steps alone, on a pool of this process (diagnostic).
    const benchPool = createPool(hubDb.db.url, { applicationName: 'bench-roaming-db', max: 10 });
    pools.push(benchPool);
    const benchDir = new PgDirectoryStore(benchPool);
    const db = await measureInterleaved(
      [
        {
          name: 'db lookupAudited (roaming: lookup + audit, one statement)',
          op: async (i) =>
            (
              await benchDir.lookupAudited('phone', phoneOf(HOME, pick(customers)), {
                readerSiteId: ASKER,
                reason: 'ivr-ani',
                callId: `${ASKER}-call-${i}`,
                agentId: null,
                ivrSessionId: `ivr-${i}`,
                atMs: Date.now(),
              })
            )?.homeSiteId === HOME,
        },
        {
          name: 'db lookup (own customer, no audit)',
          op: async () =>
            (await benchDir.lookup('phone', phoneOf(ASKER, pick(OWN_CUSTOMERS))))?.homeSiteId === ASKER,
        },
      ],
      o,
      progress,
    );
    const audited = Number(
      (
        await hubDb.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM customer_reads WHERE reader_site_id = $1`,
          [ASKER],
        )
      ).rows[0]?.n ?? 0,
    );

    const vsFloor = (r: PathResult) => ({
      p50: ratio(r.p50Ms, floor.p50Ms),
      p99: ratio(r.p99Ms, floor.p99Ms),
    });
    return {
      bench: 'roaming-lookup',
      node: process.version,
      setup: {
        customersHomedAt: { [HOME]: customers, [ASKER]: OWN_CUSTOMERS },
        askingSite: ASKER,
        key: 'phone',
        purpose: 'ivr-ani (callId, ivrSessionId)',
        warmup: o.warmup,
        count: o.count,
        concurrency: o.concurrency,
        processes: 'hub and floor each their own process; the site side (link, clients) in this one',
        machine: {
          cores: cpus().length,
          loadAvg1mStartEnd: [load0, loadavg()[0]!].map((v) => Math.round(v * 100) / 100),
        },
      },
      floor: { what: 'unary JSON echo, same mTLS credentials, loopback, profile-sized answer', ...floor },
      rpc: { what: 'Federation.LookupCustomer, roaming customer (audited at the hub)', ...rpc },
      rpcHome: { what: 'Federation.LookupCustomer, own customer (no audit)', ...rpcHome },
      link: { what: 'GrpcHubLink.lookupCustomer, roaming', ...viaLink },
      directory: { what: 'FederatedCustomerDirectory.byPhone: site cache, hub, cache fill', ...viaDirectory },
      db: {
        what: "the hub's database steps alone, from this process (interleaved with each other)",
        lookupAudited: db.get('db lookupAudited (roaming: lookup + audit, one statement)'),
        lookup: db.get('db lookup (own customer, no audit)'),
      },
      auditRowsWritten: audited,
      ratio: {
        rpcOverFloor: vsFloor(rpc),
        rpcHomeOverFloor: vsFloor(rpcHome),
        linkOverFloor: vsFloor(viaLink),
        directoryOverFloor: vsFloor(viaDirectory),
      },
      goal: { p99WithinThreeTimesFloor: rpc.errors === 0 && rpc.p99Ms <= 3 * floor.p99Ms },
    };
  } finally {
    for (const c of clients) c.close();
    if (link) await link.stop(200);
    if (echoServer) await echoServer.stop();
    if (hub) await hub.stop();
    for (const p of pools) await p.end();
    if (siteDb) await siteDb.close();
    if (hubDb) await hubDb.close();
    pki?.cleanup();
  }
}
