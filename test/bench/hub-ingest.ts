/**
 * Hub ingest benchmark (issue: "100 simulated sites, 2 snapshots per second each plus 500
 * events/s in total: hub CPU and p99 ingest lag (goal <= 100 ms)").
 *
 * What runs:
 * - the hub as its OWN process (`node --import tsx hub/main.ts`), on a fresh PostgreSQL
 *   database (TEST_PG_URL), with a generated 100-site topology and a throwaway PKI from
 *   deploy/pki.sh, so its CPU (/proc/<pid>/stat utime+stime) and RSS (/proc/<pid>/status)
 *   are its own;
 * - 100 simulated sites in this process, each a FederationClient with its own site
 *   certificate and one Link stream: Hello, the topology acknowledgement, a heartbeat every
 *   2 s, a Snapshot every 500 ms (6 queues, 5 agent states) and an EventBatch every
 *   `--batch-every-ms` (default 200 ms: 1 event per batch, so 500 batches/s and 500 events/s
 *   province-wide: the worst case for the hub, one transaction per event; a site's outbox
 *   relay ships whatever has accumulated, which at 5 events/s per site is ~1 event per poll).
 *   Events are valid envelopes (makeEvent): 40% call.ended with a CDR (also a call_facts
 *   row), 40% agent.state-changed, 20% ticket.opened. Site timers are staggered at random.
 *
 * Ingest lag per batch = time from writing the EventBatch on the stream to receiving its
 * EventBatchAck, which the hub sends after its transaction committed. Warm-up `--warmup`
 * seconds (default 5, not measured), then `--seconds` (default 30) measured.
 *
 * Baseline (the floor), in the same run after the hub phase: batches of the same shape and
 * rate inserted directly into the same database by this process with PgIngestStore.ingest
 * (the code the hub runs per batch), pool of 16 like the hub's, one chain per simulated site
 * like the hub's per-stream ordering. Its latency is what the database alone costs; the ratio
 * says what gRPC, mTLS, protobuf, validation and the hub's event loop add.
 *
 * Progress lines go to stderr; the result is one JSON document (test/bench/run.ts).
 */
import { eventToProto } from '../../shared/federation/event-proto.js';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  FederationClient,
  type Event as PbEvent,
  type HubMessage,
  type SiteMessage,
  type Snapshot,
} from '../../proto/gen/federation.js';
import { PgIngestStore } from '../../hub/ingest/pg-ingest.js';
import { makeEvent, type EventEnvelope } from '../../shared/events/envelope.js';
import { clientOptions } from '../../shared/grpc/client.js';
import { mtlsClientCredentials } from '../../shared/grpc/tls.js';
import { createPool } from '../../shared/pg/pool.js';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { makeTestPki, type TestPki } from '../support/pki.js';
import { startHubProcess, writeHubConfigFile, type NodeProcess } from './node-process.js';
import {
  machineCpu,
  requirePostgres,
  nowMs,
  parseFlags,
  processCpuMs,
  processRssMiB,
  ratio,
  summarize,
} from './stats.js';

const QUEUES = ['retail', 'credit-card', 'vip', 'corporate', 'complaints', 'fx'];
const AGENT_STATES = ['ready', 'busy', 'wrap-up', 'break', 'ringing'];
const SNAPSHOT_EVERY_MS = 500;
const HEARTBEAT_EVERY_MS = 2000;

const siteIdOf = (i: number): string => `site-${String(i + 1).padStart(3, '0')}`;
const int = (max: number): number => Math.floor(Math.random() * max);

function topologyYaml(sites: number): string {
  const lines = [
    'version: 1',
    'province: bench province',
    `hubSite: ${siteIdOf(0)}`,
    'utcOffsetMinutes: 480',
    'sites:',
  ];
  for (let i = 0; i < sites; i++) {
    const id = siteIdOf(i);
    lines.push(
      `  - id: ${id}`,
      '    kind: full',
      `    city: City ${i + 1}`,
      `    endpoints: { cti: '${id}.bank.internal:7443', sip: '10.${Math.floor(i / 250)}.${i % 250}.10:5060' }`,
      '    capacity: { trunks: 60, agents: 30, ivrPorts: 30 }',
      `    queues: [${QUEUES.join(', ')}]`,
    );
  }
  return lines.join('\n') + '\n';
}

/** One event of the realistic mix, as a validated envelope. */
function siteEvent(siteId: string, n: number): EventEnvelope {
  const t = Date.now();
  const kind = n % 5;
  const queueId = QUEUES[n % QUEUES.length]!;
  if (kind < 2) {
    const callId = `${siteId}-call-${n}`;
    const answered = n % 7 !== 0;
    const wait = 2_000 + int(40_000);
    return makeEvent({
      type: 'call.ended',
      siteId,
      aggregateId: callId,
      occurredAtMs: t,
      payload: {
        cdr: {
          callId,
          queueId,
          ani: `+86138${String(int(1e8)).padStart(8, '0')}`,
          dnis: '95588',
          queuedAtMs: t - wait - 120_000,
          ...(answered ? { answeredAtMs: t - 120_000, agentId: `${siteId}-a${int(30)}` } : {}),
          abandoned: !answered,
          waitMs: wait,
          talkMs: answered ? 120_000 : 0,
          endedAtMs: t,
          disposition: answered ? 'completed' : 'abandoned',
        },
      },
    });
  }
  if (kind < 4) {
    const agentId = `${siteId}-a${int(30)}`;
    return makeEvent({
      type: 'agent.state-changed',
      siteId,
      aggregateId: agentId,
      occurredAtMs: t,
      payload: {
        agentId,
        from: AGENT_STATES[int(AGENT_STATES.length)]!,
        to: AGENT_STATES[int(AGENT_STATES.length)]!,
        reason: 'acd',
        queueIds: [queueId],
      },
    });
  }
  const ticketId = `${siteId}-t-${n}`;
  return makeEvent({
    type: 'ticket.opened',
    siteId,
    aggregateId: ticketId,
    occurredAtMs: t,
    payload: {
      ticketId,
      customerId: `cust-${int(100_000)}`,
      callId: `${siteId}-call-${n - 1}`,
      category: 'card-dispute',
      priority: 'normal',
      summary: 'customer disputes a card transaction seen on the statement',
    },
  });
}

const toPb = (e: EventEnvelope): PbEvent => eventToProto(e);

function snapshot(): Snapshot {
  return {
    atMs: Date.now(),
    queues: QUEUES.map((queueId) => ({
      queueId,
      callsWaiting: int(8),
      oldestWaitMs: int(90_000),
      agentsReady: int(6),
      agentsServing: int(10),
      expectedWaitMs: int(60_000),
      serviceLevel: Math.round(Math.random() * 1000) / 1000,
      averageSpeedOfAnswerMs: int(40_000),
      abandonRate: Math.round(Math.random() * 100) / 1000,
    })),
    agents: AGENT_STATES.map((state) => ({ state, count: int(12) })),
    liveCalls: int(60),
    ivrSessions: int(30),
  };
}

type Phase = 'warmup' | 'measure' | 'done';

interface Counters {
  batchesSent: number;
  eventsSent: number;
  batchesAcked: number;
  eventsAcked: number;
  ackErrors: number;
  snapshotsSent: number;
  heartbeatsSent: number;
  lagMs: number[];
}

const newCounters = (): Counters => ({
  batchesSent: 0,
  eventsSent: 0,
  batchesAcked: 0,
  eventsAcked: 0,
  ackErrors: 0,
  snapshotsSent: 0,
  heartbeatsSent: 0,
  lagMs: [],
});

/** A simulated site: one client, one Link stream, three staggered timers. */
class SimSite {
  private readonly client: FederationClient;
  private stream: ClientDuplexStream<SiteMessage, HubMessage> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pending = new Map<string, { t0: number; events: number; measured: boolean }>();
  private seq = 0;
  private eventNo = 0;
  private owed = 0;
  private stopping = false;
  welcomed = false;
  error: string | undefined;

  constructor(
    readonly siteId: string,
    address: string,
    pki: TestPki,
    private readonly phase: () => Phase,
    private readonly c: Counters,
  ) {
    this.client = new FederationClient(
      address,
      mtlsClientCredentials(pki.material('site', siteId), { expectServer: { kind: 'hub' } }),
      // SNI "localhost" (in every node certificate) rather than the IP we dial.
      clientOptions({ 'grpc.ssl_target_name_override': 'localhost' }),
    );
  }

  open(): void {
    const s = this.client.link(new Metadata(), {});
    this.stream = s;
    s.on('data', (m: HubMessage) => this.onMessage(m));
    s.on('error', (e: Error) => {
      if (!this.stopping) this.error = e.message;
    });
    s.on('end', () => {
      if (!this.stopping) this.error ??= 'hub ended the stream';
    });
    s.write({
      body: {
        $case: 'hello',
        value: {
          siteId: this.siteId,
          softwareVersion: 'bench',
          contractVersion: 1,
          capabilities: ['events-over-link', 'snapshots', 'topology'],
          topologyVersion: 0,
          customerCursor: 0,
          sentAtMs: Date.now(),
        },
      },
    });
  }

  private onMessage(m: HubMessage): void {
    const b = m.body;
    switch (b?.$case) {
      case 'welcome':
        this.welcomed = true;
        return;
      case 'topology':
        this.stream?.write({
          body: { $case: 'topologyAck', value: { version: b.value.version, error: '' } },
        });
        return;
      case 'eventsAck': {
        const p = this.pending.get(b.value.batchId);
        if (!p) return;
        this.pending.delete(b.value.batchId);
        if (!p.measured) return;
        this.c.batchesAcked++;
        if (b.value.error) this.c.ackErrors++;
        else this.c.eventsAcked += b.value.accepted;
        this.c.lagMs.push(nowMs() - p.t0);
        return;
      }
      default:
        return;
    }
  }

  /** Start the snapshot, event and heartbeat timers, each at a random phase. */
  startTraffic(batchEveryMs: number, eventsPerBatch: number): void {
    const every = (periodMs: number, f: () => void): void => {
      const t = setTimeout(() => {
        f();
        this.timers.push(setInterval(f, periodMs));
      }, Math.random() * periodMs);
      this.timers.push(t);
    };
    every(SNAPSHOT_EVERY_MS, () => {
      if (!this.write({ body: { $case: 'snapshot', value: snapshot() } })) return;
      if (this.phase() === 'measure') this.c.snapshotsSent++;
    });
    every(HEARTBEAT_EVERY_MS, () => {
      if (
        !this.write({
          body: { $case: 'heartbeat', value: { seq: ++this.seq, sentAtMs: Date.now(), outboxBacklog: 0 } },
        })
      )
        return;
      if (this.phase() === 'measure') this.c.heartbeatsSent++;
    });
    every(batchEveryMs, () => {
      this.owed += eventsPerBatch;
      const n = Math.floor(this.owed);
      if (n === 0) return;
      this.owed -= n;
      const events: PbEvent[] = [];
      for (let i = 0; i < n; i++) events.push(toPb(siteEvent(this.siteId, this.eventNo++)));
      const batchId = `${this.siteId}-b${++this.seq}`;
      const measured = this.phase() === 'measure';
      this.pending.set(batchId, { t0: nowMs(), events: n, measured });
      if (!this.write({ body: { $case: 'events', value: { batchId, events } } })) return;
      if (measured) {
        this.c.batchesSent++;
        this.c.eventsSent += n;
      }
    });
  }

  get inFlight(): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.measured) n++;
    return n;
  }

  private write(m: SiteMessage): boolean {
    const s = this.stream;
    if (!s || this.stopping || s.writableEnded || s.destroyed) return false;
    s.write(m);
    return true;
  }

  stopTraffic(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.length = 0;
  }

  close(): void {
    this.stopping = true;
    this.stopTraffic();
    if (this.stream && !this.stream.writableEnded) this.stream.end();
    this.stream?.cancel();
    this.client.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The floor: the same batches straight into the database through PgIngestStore. */
async function baseline(
  databaseUrl: string,
  o: { sites: number; batchEveryMs: number; eventsPerBatch: number; warmupS: number; seconds: number },
  progress: (line: string) => void,
): Promise<{ insertMs: ReturnType<typeof summarize>; eventsPerSec: number; errors: number }> {
  const pool = createPool(databaseUrl, { applicationName: 'bench-baseline', max: 16 });
  const store = new PgIngestStore(pool);
  const lat: number[] = [];
  let phase: Phase = 'warmup';
  let events = 0;
  let errors = 0;
  const timers: NodeJS.Timeout[] = [];
  const chains: Array<Promise<void>> = [];
  try {
    for (let i = 0; i < o.sites; i++) {
      const siteId = siteIdOf(i);
      let owed = 0;
      let n = 1_000_000;
      const tick = (): void => {
        owed += o.eventsPerBatch;
        const k = Math.floor(owed);
        if (k === 0) return;
        owed -= k;
        const batch: EventEnvelope[] = [];
        for (let j = 0; j < k; j++) batch.push(siteEvent(siteId, n++));
        const measured = phase === 'measure';
        const t0 = nowMs();
        chains[i] = (chains[i] ?? Promise.resolve()).then(async () => {
          try {
            const r = await store.ingest(batch, 'link', Date.now());
            if (measured) {
              lat.push(nowMs() - t0);
              events += r.accepted;
            }
          } catch {
            if (measured) errors++;
          }
        });
      };
      timers.push(
        setTimeout(() => {
          tick();
          timers.push(setInterval(tick, o.batchEveryMs));
        }, Math.random() * o.batchEveryMs),
      );
    }
    progress(`baseline: warm-up ${o.warmupS} s`);
    await sleep(o.warmupS * 1000);
    phase = 'measure';
    progress(`baseline: measuring ${o.seconds} s`);
    await sleep(o.seconds * 1000);
    phase = 'done';
    for (const t of timers) clearTimeout(t);
    await Promise.all(chains);
  } finally {
    for (const t of timers) clearTimeout(t);
    await pool.end();
  }
  return { insertMs: summarize(lat), eventsPerSec: Math.round(events / o.seconds), errors };
}

export async function run(args: string[], progress: (line: string) => void): Promise<unknown> {
  const f = parseFlags(args, {
    seconds: 30,
    warmup: 5,
    sites: 100,
    'events-per-sec': 500,
    'batch-every-ms': 200,
  });
  const sites = Math.round(f.sites!);
  const seconds = f.seconds!;
  const warmupS = f.warmup!;
  const batchEveryMs = f['batch-every-ms']!;
  const eventsPerSec = f['events-per-sec']!;
  const eventsPerBatch = (eventsPerSec / sites) * (batchEveryMs / 1000);
  requirePostgres('hub-ingest');

  let pki: TestPki | undefined;
  let db: TestDatabase | undefined;
  let hub: NodeProcess | undefined;
  const sims: SimSite[] = [];
  try {
    progress(`PKI: CA, hub and ${sites} site certificates`);
    pki = makeTestPki([['hub', 'hub']]);
    for (let i = 0; i < sites; i++) {
      pki.issue('site', siteIdOf(i));
      if ((i + 1) % 25 === 0) progress(`  ${i + 1}/${sites} site certificates`);
    }
    const topoPath = join(pki.dir, 'topology.yaml');
    writeFileSync(topoPath, topologyYaml(sites));
    const hubPaths = pki.paths('hub', 'hub');
    const configPath = writeHubConfigFile(pki.dir, hubPaths, topoPath);
    db = await freshDatabase('bench_hub_ingest');
    progress(`database ${db.name}; starting the hub process`);
    hub = await startHubProcess(configPath, db.url);
    progress(`hub pid ${hub.pid} on port ${hub.port}; opening ${sites} links`);

    let phase: Phase = 'warmup';
    const c = newCounters();
    const address = `127.0.0.1:${hub.port}`;
    for (let i = 0; i < sites; i++) {
      const s = new SimSite(siteIdOf(i), address, pki, () => phase, c);
      sims.push(s);
      s.open();
    }
    const deadline = Date.now() + 60_000;
    while (!sims.every((s) => s.welcomed)) {
      const failed = sims.find((s) => s.error);
      if (failed) throw new Error(`${failed.siteId}: ${failed.error}\n${hub.stderrTail.join('\n')}`);
      if (Date.now() > deadline) {
        throw new Error(`only ${sims.filter((s) => s.welcomed).length}/${sites} sites welcomed after 60 s`);
      }
      await sleep(50);
    }
    progress(
      `all ${sites} sites welcomed; traffic: snapshot/${SNAPSHOT_EVERY_MS} ms, ` +
        `${eventsPerBatch} event(s)/batch every ${batchEveryMs} ms per site; warm-up ${warmupS} s`,
    );
    for (const s of sims) s.startTraffic(batchEveryMs, eventsPerBatch);
    await sleep(warmupS * 1000);

    // A probe beside the hub: one event every 100 ms straight into the database, so a stall
    // of the database itself shows up here too and a stall of the hub alone does not.
    const probeMs: number[] = [];
    const probePool = createPool(db.url, { applicationName: 'bench-probe', max: 2 });
    const probeStore = new PgIngestStore(probePool);
    let probeOn = false;
    let probeNo = 2_000_000;
    let probeBusy = Promise.resolve();
    const probeTimer = setInterval(() => {
      if (!probeOn) return;
      const e = siteEvent(siteIdOf(0), probeNo++);
      probeBusy = probeBusy.then(async () => {
        const t = nowMs();
        await probeStore.ingest([e], 'link', Date.now()).catch(() => undefined);
        probeMs.push(nowMs() - t);
      });
    }, 100);

    // Measured window.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const cpu0 = processCpuMs(hub.pid);
    const m0 = machineCpu();
    const bench0 = process.cpuUsage();
    const t0 = nowMs();
    phase = 'measure';
    probeOn = true;
    progress(`measuring ${seconds} s`);
    let rssPeak = 0;
    let shown = 0;
    let probeShown = 0;
    const lagBy5s: Array<{ p50Ms: number; p99Ms: number; maxMs: number; dbProbeP99Ms: number }> = [];
    const load0 = loadavg()[0]!;
    for (let s = 0; s < seconds; s++) {
      await sleep(1000);
      rssPeak = Math.max(rssPeak, processRssMiB(hub.pid));
      if ((s + 1) % 5 === 0) {
        const lag = summarize(c.lagMs.slice(shown));
        shown = c.lagMs.length;
        const probe = summarize(probeMs.slice(probeShown));
        probeShown = probeMs.length;
        lagBy5s.push({ p50Ms: lag.p50Ms, p99Ms: lag.p99Ms, maxMs: lag.maxMs, dbProbeP99Ms: probe.p99Ms });
        progress(
          `  ${s + 1} s: ${c.batchesAcked} batches acked; last 5 s lag p50 ${lag.p50Ms} ms p99 ${lag.p99Ms} ms`,
        );
      }
    }
    phase = 'done';
    probeOn = false;
    const wallMs = nowMs() - t0;
    const load1 = loadavg()[0]!;
    const cpu1 = processCpuMs(hub.pid);
    const m1 = machineCpu();
    const bench1 = process.cpuUsage(bench0);
    loop.disable();
    const rss = processRssMiB(hub.pid);
    for (const s of sims) s.stopTraffic();
    // Acks of batches sent inside the window still count (their lag is real).
    const drainUntil = Date.now() + 10_000;
    while (sims.some((s) => s.inFlight > 0) && Date.now() < drainUntil) await sleep(50);
    const unacked = sims.reduce((n, s) => n + s.inFlight, 0);
    const linkErrors = sims.filter((s) => s.error).map((s) => `${s.siteId}: ${s.error}`);
    for (const s of sims) s.close();
    sims.length = 0;
    clearInterval(probeTimer);
    await probeBusy;
    await probePool.end();
    const hubExit = await hub.stop();
    progress(`hub stopped (exit ${String(hubExit)})`);

    const base = await baseline(db.url, { sites, batchEveryMs, eventsPerBatch, warmupS, seconds }, progress);
    const lag = summarize(c.lagMs);
    const windowS = wallMs / 1000;
    const hubCpuPct = Math.round(((cpu1 - cpu0) / wallMs) * 1000) / 10;
    const cores = cpus().length;
    return {
      bench: 'hub-ingest',
      node: process.version,
      setup: {
        sites,
        snapshotsPerSitePerSec: 1000 / SNAPSHOT_EVERY_MS,
        queuesPerSnapshot: QUEUES.length,
        offeredEventsPerSec: eventsPerSec,
        batchEveryMs,
        eventsPerBatch,
        heartbeatEveryMs: HEARTBEAT_EVERY_MS,
        eventMix: { 'call.ended': 0.4, 'agent.state-changed': 0.4, 'ticket.opened': 0.2 },
        warmupS,
        measuredS: Math.round(windowS * 10) / 10,
        machineCores: cores,
      },
      hub: {
        pid: hub.pid,
        cpuPctOfOneCore: hubCpuPct,
        rssMiB: rss,
        rssPeakMiB: rssPeak,
        exitCode: hubExit,
      },
      ingest: {
        batchesSent: c.batchesSent,
        batchesAcked: c.batchesAcked,
        unackedAfterDrain: unacked,
        ackErrors: c.ackErrors,
        offeredEventsPerSec: Math.round(c.eventsSent / windowS),
        ackedEventsPerSec: Math.round(c.eventsAcked / windowS),
        lagMs: lag,
        lagBy5s,
      },
      dbProbeDuringRun: {
        what: '1 event every 100 ms via PgIngestStore.ingest from this process, beside the hub (extra 10 events/s)',
        insertMs: summarize(probeMs),
      },
      snapshots: { sentPerSec: Math.round(c.snapshotsSent / windowS) },
      heartbeats: { sentPerSec: Math.round(c.heartbeatsSent / windowS) },
      linkErrors,
      machine: {
        loadAvg1mStartEnd: [load0, load1].map((v) => Math.round(v * 100) / 100),
        cpuBusyPctAllCores: Math.round(((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 1000) / 10,
        note: 'hub, PostgreSQL, the simulated sites and anything else on the machine share these cores',
      },
      benchProcess: {
        cpuPctOfOneCore: Math.round(((bench1.user + bench1.system) / 1000 / wallMs) * 1000) / 10,
        eventLoopDelayP99Ms: Math.round(loop.percentile(99) / 1e4) / 100,
      },
      baseline: {
        what: 'same-shaped batches at the same rate, PgIngestStore.ingest straight into the hub database from this process (pool 16)',
        insertMs: base.insertMs,
        eventsPerSec: base.eventsPerSec,
        errors: base.errors,
      },
      ratio: {
        lagP50OverBaselineP50: ratio(lag.p50Ms, base.insertMs.p50Ms),
        lagP99OverBaselineP99: ratio(lag.p99Ms, base.insertMs.p99Ms),
      },
      goal: { p99LagMsAtMost100: lag.count > 0 && lag.p99Ms <= 100 && c.ackErrors === 0 },
    };
  } finally {
    for (const s of sims) s.close();
    if (hub) await hub.stop();
    if (db) await db.drop().catch((e: unknown) => progress(`could not drop ${db?.name}: ${String(e)}`));
    pki?.cleanup();
  }
}
