/**
 * Overflow benchmark (issue 11: "hub and 20 site processes on loopback with mTLS, 100
 * overflow requests per second, measuring request -> decision -> target reserve -> origin
 * commit; p50/p99 against the floor of two sequential gRPC round trips measured in the same
 * run; goal p99 <= 3x that floor, 0 calls answered twice, 0 lost").
 *
 * What runs, laid out as deployed:
 * - the hub as its OWN process (`hub/main.ts`) on a fresh PostgreSQL database (TEST_PG_URL),
 *   certificates from deploy/pki.sh, and a generated topology: `--sites` full sites (default
 *   20) running the queue `retail`, and one overflow policy per site to the next `--targets`
 *   sites round the ring (default 4), so every request gives the routing core a choice;
 * - `--sites` site PROCESSES (overflow-site.ts), each a raw hub link with the real origin and
 *   reservation machines (site-node/overflow/) over the real wire mapping. Their snapshots
 *   (every 200 to 500 ms) draw new numbers each time: no agent ready 30% of the time, else 1
 *   to 4; an expected wait of 5 to 120 s against the callers' 60 s of patience. So the hub
 *   picks among targets, skips some, refuses a few requests (no eligible site), and a target
 *   refuses now and then on its own state (its agents promised to held reservations);
 * - the floor's echo server (echo-server.ts) as its own process on the hub's certificate.
 *
 * The driver (this process) asks `--rate` requests per second in all (default 100), each
 * from a site picked at random, under that site's policy; `--warmup` seconds (default 5)
 * unmeasured, then `--seconds` (default 30) measured. Beside them, `--floor-rate` times a
 * second (default 20) a site picked at random makes two sequential unary round trips to the
 * echo server over its own mTLS connection: the floor, on the same kind of process and in the
 * same seconds as the requests it is compared with.
 *
 * Measured per request on the origin's clock: request sent -> accept received (the hub's
 * decision and the target's reservation: two hops through the hub) -> commit sent (the
 * origin's own step) -> commit-ack received (the hub's relay and the target's admit: two hops
 * again). The processes share one host clock, so each hop is also measured one way (the
 * target says when the offer and the commit reached it): a request routed by the hub against
 * a commit only relayed is what routing and the decision cost. The window is also cut in 5 s
 * slices (path and floor), so a stall shows when it happened. A third figure, beside the
 * floor: the heartbeat round trip on the same site links (every 500 ms per site), which the hub
 * answers as it arrives, before any other work: what a trip through the hub process costs at
 * that moment, overflow code aside. After the window the driver waits for every request to end, then counts outcomes
 * across the sites (overflow-tally.ts): moved, home, refused by who and why, timeouts, calls
 * admitted twice and calls lost. Either of the last two not 0 ends the run with exit code 1.
 *
 * Progress lines go to stderr; the result is one JSON document (test/bench/run.ts).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { makeTestPki, type TestPki } from '../support/pki.js';
import { startHubProcess, startNodeProcess, writeHubConfigFile, type NodeProcess } from './node-process.js';
import { tallyOverflow, type Admission, type Asked, type OriginOutcome } from './overflow-tally.js';
import {
  machineCpu,
  parseFlags,
  processCpuMs,
  processRssMiB,
  ratio,
  requirePostgres,
  summarize,
} from './stats.js';

const QUEUE = 'retail';
/** Longer than any attempt lives (2 s of asking, 3 s of holding, the commit's resends). */
const DRAIN_MS = 30_000;

const siteIdOf = (i: number): string => `site-${String(i + 1).padStart(2, '0')}`;
const policyOf = (siteId: string): string => `${siteId}-busy`;
/** The policy of site i sends to the next `targets` sites (its `to`, which the origin checks). */
const targetsOf = (i: number, sites: number, targets: number): string[] =>
  Array.from({ length: Math.min(targets, sites - 1) }, (_, k) => siteIdOf((i + 1 + k) % sites));

function topologyYaml(sites: number, targets: number): string {
  const lines = [
    'version: 1',
    'province: overflow bench province',
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
      `    endpoints: { cti: '${id}.bank.internal:7443', sip: '10.0.${i}.10:5060' }`,
      '    capacity: { trunks: 60, agents: 8, ivrPorts: 30 }',
      `    queues: [${QUEUE}]`,
    );
  }
  lines.push('overflow:');
  for (let i = 0; i < sites; i++) {
    const to = targetsOf(i, sites, targets);
    lines.push(
      `  - id: ${policyOf(siteIdOf(i))}`,
      `    from: ${siteIdOf(i)}`,
      `    queues: [${QUEUE}]`,
      `    to: [${to.join(', ')}]`,
      '    when: { waitingOver: 5 }',
    );
  }
  return lines.join('\n') + '\n';
}

interface DoneLine extends OriginOutcome {
  e: 'done';
  measured: boolean;
  /** When the request left the origin, on the host clock every process of the run shares. */
  sentAtMs: number;
  ms: { accept: number | null; commitSent: number | null; ack: number | null };
  /** When the driver read it (Date.now()), for the figures per 5 s. */
  readAtMs: number;
}
interface ReportLine {
  e: 'report';
  inFlight: string[];
  held: number;
  linkError: string | null;
}

/** A site process and what it said. */
class BenchSite {
  report: ReportLine | undefined;
  constructor(
    readonly siteId: string,
    readonly proc: NodeProcess,
    onLine: (siteId: string, line: Record<string, unknown>) => void,
  ) {
    createInterface({ input: proc.child.stdout! }).on('line', (l) => {
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(l) as Record<string, unknown>;
      } catch {
        return; // not ours
      }
      if (j.e === 'report') this.report = j as unknown as ReportLine;
      else onLine(siteId, j);
    });
  }

  command(c: object): void {
    this.proc.child.stdin!.write(`${JSON.stringify(c)}\n`);
  }
}

/** Moved requests by the target's place in its origin's `to` list (the ring of topologyYaml). */
function choices(ds: readonly DoneLine[], sites: number): Record<string, number> {
  const out: Record<string, number> = {};
  const n = (id: string): number => Number(id.slice('site-'.length)) - 1;
  for (const d of ds) {
    if (d.state !== 'moved' || d.toSiteId === null) continue;
    const k = String((n(d.toSiteId) - n(d.originSiteId) + sites) % sites);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` until true (true) or `withinMs` passed (false). */
async function waitUntil(ok: () => boolean, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (!ok()) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

/** `n` events a second, spread evenly over time, until `stop()`: `f(k)` for the k-th. */
function paced(perSec: number, f: () => void): { stop(): void } {
  const t0 = Date.now();
  let done = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - t0) / 1000) * perSec);
    for (; done < due; done++) f();
  }, 5);
  return { stop: () => clearInterval(timer) };
}

export async function run(args: string[], progress: (line: string) => void): Promise<unknown> {
  const f = parseFlags(args, { rate: 100, seconds: 30, warmup: 5, sites: 20, targets: 4, 'floor-rate': 20 });
  const sites = Math.round(f.sites!);
  const targets = Math.round(f.targets!);
  if (sites < 2) throw new Error('--sites: at least 2 (an origin and a target)');
  requirePostgres('overflow');

  let pki: TestPki | undefined;
  let db: TestDatabase | undefined;
  let hub: NodeProcess | undefined;
  let echo: NodeProcess | undefined;
  const benchSites: BenchSite[] = [];
  try {
    progress(`PKI: CA, hub and ${sites} site certificates`);
    const ids = Array.from({ length: sites }, (_, i) => siteIdOf(i));
    pki = makeTestPki([['hub', 'hub'], ...ids.map((id) => ['site', id] as const)]);
    const topoPath = join(pki.dir, 'topology.yaml');
    writeFileSync(topoPath, topologyYaml(sites, targets));
    const hubPaths = pki.paths('hub', 'hub');
    db = await freshDatabase('bench_overflow');
    hub = await startHubProcess(writeHubConfigFile(pki.dir, hubPaths, topoPath), db.url);
    progress(`hub pid ${hub.pid} on port ${hub.port} (database ${db.name})`);
    const answerPath = join(pki.dir, 'echo-answer.json');
    // About the size of an overflow envelope on the wire.
    writeFileSync(
      answerPath,
      JSON.stringify({ requestId: 'site-01-c1#1', token: 'x'.repeat(36), holdMs: 3000 }),
    );
    const tlsArgs = (p: { caPath: string; certPath: string; keyPath: string }) => [
      '--ca',
      p.caPath,
      '--cert',
      p.certPath,
      '--key',
      p.keyPath,
    ];
    echo = await startNodeProcess('echo server', 'test/bench/echo-server.ts', [
      ...tlsArgs(hubPaths),
      '--answer',
      answerPath,
    ]);
    progress(`echo server (the floor) pid ${echo.pid} on port ${echo.port}`);

    const asked: Asked[] = [];
    const done: DoneLine[] = [];
    const admissions: Admission[] = [];
    const floorMs: Array<{ ms: number[]; readAtMs: number }> = [];
    let floorFailed = 0;
    /** Heartbeat round trips through the hub (answered on arrival): the link's floor. */
    const heartbeatMs: Array<{ ms: number; readAtMs: number }> = [];
    /** When each offer and each commit reached its target (host clock). */
    const arrived = new Map<string, { request?: number; commit?: number }>();
    const onLine = (_siteId: string, j: Record<string, unknown>): void => {
      if (j.e === 'done') done.push({ ...(j as unknown as DoneLine), readAtMs: Date.now() });
      else if (j.e === 'admitted') admissions.push(j as unknown as Admission);
      else if (j.e === 'arrived') {
        const a = arrived.get(j.requestId as string) ?? {};
        const k = j.kind as 'request' | 'commit';
        a[k] ??= j.atMs as number;
        arrived.set(j.requestId as string, a);
      } else if (j.e === 'heartbeat') {
        heartbeatMs.push({ ms: j.ms as number, readAtMs: Date.now() });
      } else if (j.e === 'floor' && j.measured === true) {
        floorMs.push({ ms: j.ms as number[], readAtMs: Date.now() });
      } else if (j.e === 'floor-failed') floorFailed++;
    };
    progress(`starting ${sites} site processes`);
    // A few at a time: each start compiles the TypeScript it loads, on cores others share.
    for (let i = 0; i < sites; i += 4) {
      const batch = ids.slice(i, i + 4);
      const started = await Promise.all(
        batch.map((id) =>
          startNodeProcess(
            `site ${id}`,
            'test/bench/overflow-site.ts',
            [
              '--site',
              id,
              '--hub',
              `127.0.0.1:${hub!.port}`,
              '--echo',
              `127.0.0.1:${echo!.port}`,
              ...tlsArgs(pki!.paths('site', id)),
            ],
            { stdin: true },
          ),
        ),
      );
      started.forEach((p, k) => benchSites.push(new BenchSite(batch[k]!, p, onLine)));
      progress(`  ${benchSites.length}/${sites} sites linked`);
    }

    let measured = false;
    let callNo = 0;
    const toOf = new Map(
      Array.from({ length: sites }, (_, i) => [siteIdOf(i), targetsOf(i, sites, targets)]),
    );
    const driveAsks = paced(f.rate!, () => {
      const s = benchSites[Math.floor(Math.random() * benchSites.length)]!;
      const callId = `${s.siteId}-c${++callNo}`;
      asked.push({ requestId: `${callId}#1`, callId, originSiteId: s.siteId });
      s.command({ cmd: 'ask', callId, policyId: policyOf(s.siteId), to: toOf.get(s.siteId), measured });
    });
    const driveFloor = paced(f['floor-rate']!, () => {
      benchSites[Math.floor(Math.random() * benchSites.length)]!.command({ cmd: 'floor', measured });
    });
    progress(`${f.rate} requests/s, floor ${f['floor-rate']} pairs/s; warm-up ${f.warmup} s`);
    await sleep(f.warmup! * 1000);

    const hubCpu0 = processCpuMs(hub.pid);
    const sitesCpu0 = benchSites.reduce((n, s) => n + processCpuMs(s.proc.pid), 0);
    const m0 = machineCpu();
    const load0 = loadavg()[0]!;
    const t0 = Date.now();
    measured = true;
    progress(`measuring ${f.seconds} s`);
    for (let s = 1; s <= f.seconds!; s++) {
      await sleep(1000);
      if (s % 5 === 0) {
        const m = done.filter((d) => d.measured);
        const whole = summarize(m.flatMap((d) => (d.ms.ack === null ? [] : [d.ms.ack])));
        progress(
          `  ${s} s: ${m.length} ended (${m.filter((d) => d.state === 'moved').length} moved); ` +
            `whole path p50 ${whole.p50Ms} ms p99 ${whole.p99Ms} ms`,
        );
      }
    }
    measured = false;
    const wallMs = Date.now() - t0;
    const hubCpuMs = processCpuMs(hub.pid) - hubCpu0;
    const sitesCpuMs = benchSites.reduce((n, s) => n + processCpuMs(s.proc.pid), 0) - sitesCpu0;
    const m1 = machineCpu();
    const load1 = loadavg()[0]!;
    const hubRss = processRssMiB(hub.pid);
    driveAsks.stop();
    driveFloor.stop();

    progress(`draining: waiting for all ${asked.length} requests to end`);
    await waitUntil(() => done.length >= asked.length, DRAIN_MS);
    for (const s of benchSites) s.command({ cmd: 'report' });
    await waitUntil(() => benchSites.every((s) => s.report !== undefined), 10_000);

    const tally = tallyOverflow(asked, done, admissions);
    const m = done.filter((d) => d.measured);
    const parts = (pick: (d: DoneLine) => number | null) =>
      summarize(m.flatMap((d) => (d.state === 'moved' ? [pick(d)!] : [])));
    const whole = parts((d) => d.ms.ack);
    const pairOf = (f: { ms: number[] }): number => f.ms[0]! + f.ms[1]!;
    const floorPair = summarize(floorMs.map(pairOf));
    // The path's hops through the hub, from the times its messages reached the target.
    const hop = (pick: (d: DoneLine, at: { request?: number; commit?: number }) => number | undefined) =>
      summarize(
        m.flatMap((d) => {
          const at = arrived.get(d.requestId);
          const v = d.state === 'moved' && at ? pick(d, at) : undefined;
          return v === undefined ? [] : [v];
        }),
      );
    // The window in 5 s slices (by when the driver read each line): a stall shows here.
    const by5s: Array<Record<string, number>> = [];
    for (let from = t0; from < t0 + wallMs; from += 5000) {
      const inSlice = (x: { readAtMs: number }) => x.readAtMs >= from && x.readAtMs < from + 5000;
      const w = summarize(m.filter((d) => inSlice(d) && d.state === 'moved').map((d) => d.ms.ack!));
      const fl = summarize(floorMs.filter(inSlice).map(pairOf));
      const hb = summarize(heartbeatMs.filter(inSlice).map((h) => h.ms));
      by5s.push({
        fromS: (from - t0) / 1000,
        wholeP50Ms: w.p50Ms,
        wholeP99Ms: w.p99Ms,
        floorP50Ms: fl.p50Ms,
        floorP99Ms: fl.p99Ms,
        heartbeatP99Ms: hb.p99Ms,
        timeouts: m.filter((d) => inSlice(d) && d.homeReason === 'timeout').length,
      });
    }
    const exitCode = tally.admittedTwice === 0 && tally.lost === 0 ? 0 : 1;
    progress(
      `whole path p50 ${whole.p50Ms} ms p99 ${whole.p99Ms} ms; floor p50 ${floorPair.p50Ms} ms ` +
        `p99 ${floorPair.p99Ms} ms; p99 ratio ${ratio(whole.p99Ms, floorPair.p99Ms)}; ` +
        `admitted twice ${tally.admittedTwice}, lost ${tally.lost}`,
    );
    const windowS = wallMs / 1000;
    return {
      bench: 'overflow',
      node: process.version,
      setup: {
        sites,
        targetsPerPolicy: Math.min(targets, sites - 1),
        offeredPerSec: f.rate,
        floorPairsPerSec: f['floor-rate'],
        warmupS: f.warmup,
        measuredS: Math.round(windowS * 10) / 10,
        machineCores: cpus().length,
        noAcd: 'targets admit at once (admit-call answered admit-done), origins give the call up at once',
      },
      path: {
        what: 'moved requests of the measured window, on the origin clock, from the request sent',
        whole,
        parts: {
          requestToAccept: parts((d) => d.ms.accept),
          acceptToCommitSent: parts((d) => d.ms.commitSent! - d.ms.accept!),
          commitToCommitAck: parts((d) => d.ms.ack! - d.ms.commitSent!),
        },
        hops: {
          what: 'one way, from the times the offer and the commit reached the target (host clock)',
          requestOriginToTargetRoutedByHub: hop((d, at) =>
            at.request === undefined ? undefined : at.request - d.sentAtMs,
          ),
          acceptTargetToOriginRelayed: hop((d, at) =>
            at.request === undefined ? undefined : d.sentAtMs + d.ms.accept! - at.request,
          ),
          commitOriginToTargetRelayed: hop((d, at) =>
            at.commit === undefined ? undefined : at.commit - d.sentAtMs - d.ms.commitSent!,
          ),
          commitAckTargetToOriginRelayed: hop((d, at) =>
            at.commit === undefined ? undefined : d.sentAtMs + d.ms.ack! - at.commit,
          ),
        },
        by5s,
      },
      floor: {
        what: 'two sequential unary gRPC round trips (echo-server.ts, own process, hub certificate) from a site process over mTLS',
        twoRoundTrips: floorPair,
        oneRoundTrip: summarize(floorMs.flatMap((f) => f.ms)),
        failed: floorFailed,
      },
      hubHeartbeat: {
        what: 'a heartbeat round trip on the same site links, answered by the hub as it arrives (no overflow work): what any round trip through the hub process costs here',
        roundTrip: summarize(
          heartbeatMs.filter((h) => h.readAtMs >= t0 && h.readAtMs < t0 + wallMs).map((h) => h.ms),
        ),
      },
      ratio: {
        wholeP50OverFloorP50: ratio(whole.p50Ms, floorPair.p50Ms),
        wholeP99OverFloorP99: ratio(whole.p99Ms, floorPair.p99Ms),
      },
      outcomes: {
        ...tally,
        measuredWindow: {
          ended: m.length,
          moved: m.filter((d) => d.state === 'moved').length,
          endedPerSec: Math.round(m.length / windowS),
          /** Moved calls by the target's place in the origin's policy (1 = its first choice). */
          movedToChoice: choices(m, sites),
        },
      },
      sites: {
        stillInFlightAtReport: benchSites.flatMap((s) => s.report?.inFlight ?? []),
        reservationsHeldAtReport: benchSites.reduce((n, s) => n + (s.report?.held ?? 0), 0),
        linkErrors: benchSites.flatMap((s) =>
          s.report?.linkError ? [`${s.siteId}: ${s.report.linkError}`] : [],
        ),
        cpuPctOfOneCoreAll: Math.round((sitesCpuMs / wallMs) * 1000) / 10,
      },
      hub: {
        pid: hub.pid,
        cpuPctOfOneCore: Math.round((hubCpuMs / wallMs) * 1000) / 10,
        rssMiB: hubRss,
        /** Its last log lines (warnings and errors only: LOG_LEVEL=warn), to explain a bad run. */
        stderrTail: hub.stderrTail.slice(-5),
      },
      machine: {
        loadAvg1mStartEnd: [load0, load1].map((v) => Math.round(v * 100) / 100),
        cpuBusyPctAllCores: Math.round(((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 1000) / 10,
      },
      goal: {
        p99WithinThreeTimesFloor: whole.count > 0 && whole.p99Ms <= 3 * floorPair.p99Ms,
        admittedTwiceIsZero: tally.admittedTwice === 0,
        lostIsZero: tally.lost === 0,
      },
      exitCode,
    };
  } finally {
    await Promise.all(benchSites.map((s) => s.proc.stop()));
    if (echo) await echo.stop();
    if (hub) await hub.stop();
    if (db) await db.drop().catch((e: unknown) => progress(`could not drop ${db?.name}: ${String(e)}`));
    pki?.cleanup();
  }
}
