/**
 * Resync benchmark (issue 9): a site whose link was down while `--events` (default 100,000)
 * events accumulated in its outbox ships them to the hub when the link comes back, on the link
 * and, separately, through Kafka. Goal: each path stores all of them at the hub within 10 s,
 * none lost, none doubled.
 *
 * What runs:
 * - the hub as its OWN process (`hub/main.ts`, its own fresh PostgreSQL database, mTLS gRPC,
 *   the Kafka consumer on a topic and group of this run), as deployed;
 * - in this process, the site's parts that ship: its real `GrpcHubLink` (events on the link,
 *   the site's defaults) on a site database of its own, and for Kafka the site's real relay
 *   (`siteKafkaRelay`, the settings the site runs) on another site database, so the two runs
 *   carry different events;
 * - between the link and the hub, a TCP gate: while it is shut every dial is refused (the
 *   link is down and redials with its backoff); opening it is "the link comes back".
 *
 * The backlog is written straight into the site's `outbox` table in the site's own format
 * (envelopes made by `makeEvent`: per call `call.created`, four `call.state-changed` and a
 * `call.ended` with its CDR, as the call repository writes them, plus agents'
 * `agent.state-changed`), by one multi-row insert: how it accumulated is not measured.
 *
 * Before the measured link run, a warm-up (`--warmup`, default 5,000 events) goes over the link
 * and the gate is shut again: a hub and a site have been running when a link comes back, so
 * their code is compiled and their pools open (a cold hub ships the first seconds at a tenth
 * of its rate). The Kafka run follows on the same, warm, hub.
 *
 * Measured: from opening the gate (link) or starting the relay (Kafka) until the hub's
 * `ingested_events` holds every event of the run (link: the site's count of acked events, an
 * ack following the commit; Kafka: a count of the hub's rows every 250 ms, so up to 250 ms late).
 * Then the ids are compared: lost (sent, not stored), doubled (stored more than once, or a
 * call with more than one call fact), unexpected (stored, never sent), and the site's outbox
 * must be all marked shipped.
 *
 * Baseline, in the same run: the link run's rows inserted straight into the `ingested_events`
 * table of another fresh hub database, one transaction of multi-row `INSERT ... SELECT FROM
 * unnest(...)` statements of 10,000 rows. Each path's time is given as a ratio to it.
 *
 * Left behind: nothing. The databases are dropped and the Kafka topic deleted at the end.
 * Progress lines (events stored so far, rate) go to stderr every second; the result is one
 * JSON document (test/bench/run.ts).
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect, type Server, type Socket } from 'node:net';
import Kafka from 'node-rdkafka';
import type pg from 'pg';
import { migrateHubStore } from '../../hub/store/migrate.js';
import { GrpcHubLink } from '../../site-node/link/hub-link.js';
import { siteKafkaRelay } from '../../site-node/runtime/kafka-relay.js';
import { siteTestDb, type SiteTestDb } from '../../site-node/store/testing.js';
import { makeEvent, type EventEnvelope } from '../../shared/events/envelope.js';
import { ensureTopic } from '../../shared/events/kafka.js';
import { newCallId } from '../../shared/ids.js';
import { silentLogger } from '../../shared/log.js';
import { createPool, query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { EXAMPLE_TOPOLOGY } from '../support/federation.js';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { makeTestPki } from '../support/pki.js';
import { waitFor } from '../support/wait.js';
import { startHubProcess, type NodeProcess } from './node-process.js';
import { nowMs, parseFlags, processCpuMs, ratio, requirePostgres } from './stats.js';

const SITE = 'chongqing';
const GOAL_S = 10;
const CHUNK = 10_000;

/** A site's backlog as the site writes it: six events per call, and agents' state changes. */
function backlog(n: number, t0: number): EventEnvelope[] {
  const out: EventEnvelope[] = [];
  const states = ['ivr', 'queued', 'offered', 'connected', 'wrapup'] as const;
  for (let i = 0; out.length < n; i++) {
    const at = t0 + i * 10;
    const callId = newCallId(SITE, at);
    const agentId = `agent-${i % 40}`;
    const queueId = i % 3 === 0 ? 'vip' : 'retail';
    const ev = (
      type: Parameters<typeof makeEvent>[0]['type'],
      aggregateId: string,
      payload: Record<string, unknown>,
    ) =>
      out.length < n && out.push(makeEvent({ type, siteId: SITE, aggregateId, occurredAtMs: at, payload }));
    ev('call.created', callId, {
      ani: '13800000000',
      dnis: '95533',
      entrySiteId: SITE,
      state: 'ivr',
      queueId: null,
      customerId: null,
    });
    for (let s = 0; s < states.length - 1; s++) {
      ev('call.state-changed', callId, {
        from: states[s],
        to: states[s + 1],
        event: 'acd',
        detail: null,
        queueId,
        agentId: s >= 1 ? agentId : null,
        priority: 5,
      });
    }
    ev('agent.state-changed', agentId, { agentId, from: 'ready', to: 'reserved', reason: 'acd' });
    ev('call.ended', callId, {
      from: 'wrapup',
      to: 'ended',
      reason: 'wrapup-done',
      cdr: {
        callId,
        siteId: SITE,
        entrySiteId: SITE,
        ani: '13800000000',
        dnis: '95533',
        queueId,
        agentId,
        startedAtMs: at - 90_000,
        queuedAtMs: at - 60_000,
        offeredAtMs: at - 45_000,
        answeredAtMs: at - 40_000,
        endedAtMs: at,
        waitMs: 20_000,
        talkMs: 40_000,
        finalState: 'ended',
        outcome: 'answered',
        endReason: 'wrapup-done',
      },
    });
    ev('agent.state-changed', agentId, { agentId, from: 'wrap-up', to: 'ready', reason: 'wrapup-done' });
  }
  return out;
}

/** Multi-row inserts of the envelopes into `table`'s envelope columns, in one transaction. */
async function bulkInsert(pool: pg.Pool, table: 'outbox' | 'ingested_events', events: EventEnvelope[]) {
  const hub = table === 'ingested_events';
  await withTransaction(pool, async (c) => {
    for (let i = 0; i < events.length; i += CHUNK) {
      const rows = events.slice(i, i + CHUNK);
      await query(
        c,
        `INSERT INTO ${table} (id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload
                               ${hub ? ', via, ingested_at_ms' : ''})
         SELECT t.*${hub ? `, 'link', ${Date.now()}` : ''}
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::jsonb[])
                AS t(id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload)`,
        [
          rows.map((e) => e.id),
          rows.map((e) => e.type),
          rows.map((e) => e.siteId),
          rows.map((e) => e.aggregateId),
          rows.map((e) => e.occurredAtMs),
          rows.map((e) => e.schemaVersion),
          rows.map((e) => JSON.stringify(e.payload)),
        ],
      );
    }
  });
}

/** A TCP gate to the hub: shut, every connection is refused at once (the link is down). */
async function gateTo(
  port: number,
): Promise<{ port: number; open(): void; shut(): void; close(): Promise<void> }> {
  let open = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((a) => {
    if (!open) return void a.destroy();
    const b = connect(port, '127.0.0.1');
    for (const s of [a, b]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        a.destroy();
        b.destroy();
      });
    }
    a.pipe(b);
    b.pipe(a);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    open: () => void (open = true),
    shut: () => {
      open = false;
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function countStored(hub: pg.Pool, via: 'link' | 'kafka'): Promise<number> {
  const r = await query<{ n: string }>(
    hub,
    `SELECT count(*) AS n FROM ingested_events WHERE site_id = $1 AND via = $2`,
    [SITE, via],
  );
  return Number(r.rows[0]!.n);
}

/**
 * Wait until the hub stored `n` events of the run, with a progress line every second. `stored`
 * is how many the hub has so far: for the link the site's count of events the hub acked (an
 * ack comes after the commit), polled every 10 ms at no cost; for Kafka a count of the hub's
 * rows, polled every 250 ms (so up to 250 ms late) not to load the database being measured.
 */
async function timeUntilStored(
  via: 'link' | 'kafka',
  stored: () => Promise<number> | number,
  n: number,
  t0: number,
  progress: (line: string) => void,
): Promise<number> {
  let lastLine = t0;
  let lastCount = 0;
  let end = 0;
  await waitFor(
    `the hub to store ${n} events (${via})`,
    async () => {
      const k = await stored();
      const t = nowMs();
      if (k >= n) return (end = t);
      if (t - lastLine >= 1000) {
        const rate = Math.round(((k - lastCount) * 1000) / (t - lastLine));
        progress(`${via}: ${k} of ${n} stored after ${((t - t0) / 1000).toFixed(1)} s (${rate} events/s)`);
        lastLine = t;
        lastCount = k;
      }
      return false;
    },
    120_000,
    via === 'link' ? 10 : 250,
  );
  return (end - t0) / 1000;
}

/** Lost, doubled and unexpected ids of one run, by comparing the hub's rows with what was sent. */
async function verify(
  hub: pg.Pool,
  via: 'link' | 'kafka',
  sent: EventEnvelope[],
  site: SiteTestDb,
  /** Events of the same path shipped before the measured run (the warm-up). */
  earlier: EventEnvelope[] = [],
) {
  const r = await query<{ id: string; n: string }>(
    hub,
    `SELECT id, count(*) AS n FROM ingested_events WHERE site_id = $1 AND via = $2 GROUP BY id`,
    [SITE, via],
  );
  const stored = new Map(r.rows.map((x) => [x.id, Number(x.n)]));
  let lost = 0;
  let doubled = 0;
  const ids = new Set<string>();
  for (const e of sent) {
    ids.add(e.id);
    const k = stored.get(e.id) ?? 0;
    if (k === 0) lost++;
    if (k > 1) doubled += k - 1;
  }
  const known = new Set(earlier.map((e) => e.id));
  const unexpected = [...stored.keys()].filter((id) => !ids.has(id) && !known.has(id)).length;
  const calls = sent.filter((e) => e.type === 'call.ended').map((e) => e.aggregateId);
  const f = await query<{ n: string; calls: string }>(
    hub,
    `SELECT count(*) AS n, count(DISTINCT call_id) AS calls FROM call_facts WHERE call_id = ANY($1::text[])`,
    [calls],
  );
  const factsDoubled = Number(f.rows[0]!.n) - Number(f.rows[0]!.calls);
  const factsLost = calls.length - Number(f.rows[0]!.calls);
  const u = await query<{ n: string }>(
    site.pool,
    `SELECT count(*) AS n FROM outbox WHERE shipped_at IS NULL`,
  );
  return {
    lost: lost + factsLost,
    doubled: doubled + factsDoubled,
    unexpected,
    unshippedAtSite: Number(u.rows[0]!.n),
  };
}

/**
 * CPU seconds the hub process and this one (the site's shipping) spend from now until the
 * returned function is called: what a path costs, which the machine's load does not change
 * as much as it changes the wall time.
 */
async function cpuMeter(
  hubPid: number,
  pg: pg.Pool,
  databases: string[],
): Promise<() => Promise<{ hub: number; site: number; postgres: number }>> {
  // PostgreSQL's share: its backends serving the hub's and the site's databases (one process
  // each, on this machine), read from /proc like the hub's.
  const backends = async () => {
    const r = await query<{ pid: number }>(
      pg,
      `SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()`,
      [databases],
    );
    const out = new Map<number, number>();
    for (const { pid } of r.rows) {
      try {
        out.set(pid, processCpuMs(pid));
      } catch {
        // gone meanwhile, or not readable
      }
    }
    return out;
  };
  const pg0 = await backends();
  const hub0 = processCpuMs(hubPid);
  const site0 = process.cpuUsage();
  return async () => {
    const site = process.cpuUsage(site0);
    let postgres = 0;
    for (const [pid, ms] of await backends()) postgres += ms - (pg0.get(pid) ?? 0);
    return {
      hub: Math.round(processCpuMs(hubPid) - hub0) / 1000,
      site: Math.round((site.user + site.system) / 1000) / 1000,
      postgres: Math.round(postgres) / 1000,
    };
  };
}

async function deleteTopic(brokers: string, topic: string): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'client.id': 'bench-resync', 'metadata.broker.list': brokers });
  try {
    await new Promise<void>((resolve) => admin.deleteTopic(topic, 10_000, () => resolve()));
  } finally {
    admin.disconnect();
  }
}

export async function run(args: string[], progress: (line: string) => void): Promise<unknown> {
  const f = parseFlags(args, { events: 100_000, warmup: 5_000, partitions: 6 });
  requirePostgres('resync');
  const brokers = process.env.KAFKA_BROKERS ?? '';
  if (!brokers) throw new Error('KAFKA_BROKERS is not set (source the test services env)');
  const n = f.events!;
  const tag = randomBytes(4).toString('hex');
  const topic = `bench-resync-${tag}`;
  const pki = makeTestPki([
    ['hub', 'hub'],
    ['site', SITE],
  ]);
  const cleanups: Array<() => Promise<unknown>> = [async () => pki.cleanup()];
  try {
    const hubDb: TestDatabase = await freshDatabase('bench_resync_hub');
    cleanups.unshift(() => hubDb.drop());
    await ensureTopic(brokers, topic, f.partitions!);
    cleanups.unshift(() => deleteTopic(brokers, topic));
    const hubTls = pki.paths('hub', 'hub');
    const configPath = join(pki.dir, 'hub.yaml');
    writeFileSync(
      configPath,
      [
        'hub: { id: hub }',
        "grpc: { host: '127.0.0.1', port: 0 }",
        `tls: { ca: '${hubTls.caPath}', cert: '${hubTls.certPath}', key: '${hubTls.keyPath}' }`,
        `topology: '${EXAMPLE_TOPOLOGY}'`,
        `kafka: { brokers: '${brokers}', topic: '${topic}', groupId: 'bench-resync-${tag}' }`,
        '',
      ].join('\n'),
    );
    const hubProc: NodeProcess = await startHubProcess(configPath, hubDb.url);
    cleanups.unshift(() => hubProc.stop());
    const hubPool = createPool(hubDb.url, { applicationName: 'bench-resync', max: 2 });
    cleanups.unshift(() => hubPool.end());
    progress(`hub ready (pid ${hubProc.pid}, port ${hubProc.port}); topic ${topic}`);

    // ---- the link --------------------------------------------------------------------
    const linkSite = await siteTestDb('bench_resync_link', { siteId: SITE });
    cleanups.unshift(() => linkSite.close());
    // Warm-up, not measured: a hub and a site have been running when a link comes back, so
    // a small backlog goes first (the code paths compiled, the hub's pools open).
    const warmEvents = backlog(f.warmup!, Date.now() - 7_200_000);
    await bulkInsert(linkSite.pool, 'outbox', warmEvents);
    const gate = await gateTo(hubProc.port);
    cleanups.unshift(() => gate.close());
    const link = new GrpcHubLink({
      siteId: SITE,
      addresses: [`127.0.0.1:${gate.port}`],
      tls: pki.material('site', SITE),
      hubId: 'hub',
      store: linkSite.ctx,
      clock: { now: () => Date.now() },
      log: silentLogger,
      eventsOverLink: true,
    });
    gate.open();
    await link.start();
    cleanups.unshift(() => link.stop(0));
    await waitFor(
      'the warm-up shipped',
      () => link.state === 'up' && link.stats.eventsShipped >= f.warmup!,
      60_000,
    );
    gate.shut();
    await waitFor('the link down', () => link.state === 'down', 10_000, 5);
    const linkEvents = backlog(n, Date.now() - 3_600_000);
    await bulkInsert(linkSite.pool, 'outbox', linkEvents);
    const dials = link.status.dials;
    await waitFor('the link to fail a dial', () => link.status.dials >= dials + 2 && link.state === 'down');
    const shippedBefore = link.stats.eventsShipped + link.stats.duplicates;
    progress(
      `link: warmed up; ${n} events in the outbox, link down (${link.status.dials - dials} failed dials); opening`,
    );
    const linkCpu = await cpuMeter(hubProc.pid, hubPool, [hubDb.name, linkSite.db.name]);
    const t0 = nowMs();
    gate.open();
    const linkSeconds = await timeUntilStored(
      'link',
      () => link.stats.eventsShipped + link.stats.duplicates - shippedBefore,
      n,
      t0,
      progress,
    );
    const linkCpuS = await linkCpu();
    const linkCheck = await verify(hubPool, 'link', linkEvents, linkSite, warmEvents);
    progress(`link: ${n} stored in ${linkSeconds.toFixed(2)} s; ${JSON.stringify(linkCheck)}`);
    await link.stop(0);

    // ---- Kafka -------------------------------------------------------------------------
    const kafkaSite = await siteTestDb('bench_resync_kafka', { siteId: SITE });
    cleanups.unshift(() => kafkaSite.close());
    const kafkaEvents = backlog(n, Date.now() - 1_800_000);
    await bulkInsert(kafkaSite.pool, 'outbox', kafkaEvents);
    const { relay, shipper } = siteKafkaRelay({
      siteId: SITE,
      brokers,
      topic,
      pool: kafkaSite.pool,
      log: silentLogger,
    });
    cleanups.unshift(async () => {
      await relay.stop();
      await shipper.disconnect();
    });
    await shipper.connect();
    progress(`kafka: ${n} events in the outbox; starting the relay`);
    const kafkaCpu = await cpuMeter(hubProc.pid, hubPool, [hubDb.name, kafkaSite.db.name]);
    const k0 = nowMs();
    relay.start();
    // When the relay had every event acknowledged by the broker: the site's half of the path.
    const atBroker = waitFor(
      'the broker to have every event',
      () => relay.stats.shipped >= n,
      120_000,
      20,
    ).then(() => (nowMs() - k0) / 1000);
    const kafkaSeconds = await timeUntilStored('kafka', () => countStored(hubPool, 'kafka'), n, k0, progress);
    const kafkaAtBrokerSeconds = Math.round((await atBroker) * 100) / 100;
    const kafkaCpuS = await kafkaCpu();
    const kafkaCheck = await verify(hubPool, 'kafka', kafkaEvents, kafkaSite);
    progress(`kafka: ${n} stored in ${kafkaSeconds.toFixed(2)} s; ${JSON.stringify(kafkaCheck)}`);

    // ---- baseline ----------------------------------------------------------------------
    const baseDb = await freshDatabase('bench_resync_base');
    cleanups.unshift(() => baseDb.drop());
    const basePool = createPool(baseDb.url, { applicationName: 'bench-resync-baseline', max: 2 });
    cleanups.unshift(() => basePool.end());
    await migrateHubStore(basePool);
    const b0 = nowMs();
    await bulkInsert(basePool, 'ingested_events', linkEvents);
    const baseSeconds = (nowMs() - b0) / 1000;
    progress(`baseline: ${n} rows inserted in ${baseSeconds.toFixed(2)} s`);

    const path = (seconds: number, check: Awaited<ReturnType<typeof verify>>) => ({
      events: n,
      seconds: Math.round(seconds * 100) / 100,
      eventsPerSec: Math.round(n / seconds),
      ...check,
      ratioToBaseline: ratio(seconds, baseSeconds),
      goalMet: seconds <= GOAL_S && check.lost === 0 && check.doubled === 0,
    });
    return {
      goalSeconds: GOAL_S,
      baseline: {
        what: 'the same rows in one transaction of multi-row INSERTs into the hub event table',
        events: n,
        seconds: Math.round(baseSeconds * 100) / 100,
        eventsPerSec: Math.round(n / baseSeconds),
      },
      link: { ...path(linkSeconds, linkCheck), cpuSeconds: linkCpuS },
      kafka: {
        ...path(kafkaSeconds, kafkaCheck),
        allAtBrokerSeconds: kafkaAtBrokerSeconds,
        cpuSeconds: kafkaCpuS,
      },
      machine: { cores: cpus().length, loadAverage1m: Math.round(loadavg()[0]! * 100) / 100 },
      goalMet:
        linkSeconds <= GOAL_S &&
        kafkaSeconds <= GOAL_S &&
        linkCheck.lost + linkCheck.doubled + kafkaCheck.lost + kafkaCheck.doubled === 0,
    };
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch (e) {
        progress(`cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
