/**
 * The site half of the sip-site bench (docs/operations.md §8.7): the same SIPp caller as the
 * reference, against a real site.
 *
 * The site runs as a bank runs it: `site-node/main.ts` without `--simulate`, its own process
 * (`node --import tsx`, as the other benches run the hub), on a database of its own on the
 * test PostgreSQL, with the config of sip-site-config.ts (the example site, a roster sized for
 * the load, SIP on loopback). Before the calls: the demo customer c-1001 and its ledger are
 * seeded (the walk's caller, known by number, PIN 135790), every agent's desk password is set
 * in the site's database (one scrypt hash of one password, as the operator's CLI stores it),
 * one SIPp process answers as every agent's phone (agent-phone.xml) and one SIPp run registers
 * every extension with digest (agent-register-all.xml), and the desks sign every agent in and
 * ready (sip-site-desk.ts), answering each offer and completing each wrap-up at once.
 *
 * Then caller.xml at `rate`: INVITE, the IVR walk with the prompts playing (each key comes
 * while its prompt plays and stops it: barge-in; `fullWalk` waits for every prompt to end),
 * the queue, voice until `talk + queueMs` after the last key, BYE. The site answers each call
 * itself, rings an agent's phone once the desk answers the offer, and bridges the two.
 *
 * "Setup", two ways: INVITE sent to the site's 200 (SIPp's `setup`, as for Kamailio: the
 * site's own SIP and admission, its first database row committed before the answer); and,
 * from the CDRs, queued (the caller's last key) to the agent's phone answered (the ACD's offer,
 * the desk's answer over gRPC, the INVITE to the phone and its 200, the bridge).
 * A call counts as failed when SIPp says so (either side), or its CDR is not `answered` by an
 * agent, or it has none.
 * RTP through two counting relays: the site to the caller (prompts, hold music, the agent's
 * voice bridged) and the site to the agent's phone (the caller's voice bridged).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { systemClock } from '../../shared/clock.js';
import { createPool } from '../../shared/pg/pool.js';
import { hashPassword } from '../../site-node/cti/password-hash.js';
import { DEMO_PROFILES } from '../../site-node/ivr/test-support.js';
import { storeContext } from '../../site-node/store/context.js';
import { seedCustomers } from '../../site-node/store/index.js';
import { PgDeskCredentialStore } from '../../site-node/store/desk-auth-repo.js';
import { freshDatabase } from '../support/pg.js';
import { ThreadedMeter } from './threaded-meter.js';
import { benchCallers, populationScenario, type BenchCallers } from './sip-site-callers.js';
import { describeSipp, freeUdpPort, parseSippStats, startSipp, type SippResult } from '../support/sipp.js';
import { callerKeys, RETAIL_ANI, WALK_PHONE_BANKING_ZH, WALK_WITH_BARGE_IN } from '../support/sipp-walk.js';
import { waitFor } from '../support/wait.js';
import {
  cpuMs,
  machineCpuMs,
  playoutLagFromLog,
  reapedChildrenCpuMs,
  rssMiB,
  rtpFigures,
  setupRate,
  sippRttCsv,
  DropTally,
  udpSocketDrops,
} from './sip-bench-figures.js';
import { BENCH_DNIS, BENCH_REALM, benchSiteDocument } from './sip-site-config.js';
import { BenchDesks } from './sip-site-desk.js';
import { summarize, threadCpuMs, threadCpuSplit, type LatencySummary } from './stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOCAL = '127.0.0.1';
const SECRET_ENV = 'SIP_BENCH_NONCE_SECRET';
const PHONE_PASSWORD = 'bench-phone-password';
const DESK_PASSWORD = 'bench-desk-password';
/**
 * The site's RTP range starts here, below the ephemeral ports (32768 up) where the meters and
 * SIPp's media ports are picked, so the two never take each other's.
 */
const RTP_FROM = 10_000;
const RTP_MAX_CALLS = 5_600;
/** The IVR's "please hold" (agent.hold, 5.1 s in Mandarin) plays after the 0, before the queue. */
const PLEASE_HOLD_MS = 5_100;

export interface SiteRunOptions {
  rate: number;
  seconds: number;
  talkMs: number;
  ringMs: number;
  /**
   * Voice before the talk, for the IVR's "please hold" (5.1 s), the queue and the ring: the
   * caller talks `talkMs + queueMs` after its last key.
   */
  queueMs: number;
  /** 0: as many as the load needs (`rate` x the agent's part of a call, and a margin). */
  agents: number;
  /** Wait for every prompt to end before the next key (about 85 s of walk a call). */
  fullWalk: boolean;
  /** Customers calling, in turn (sip-site-callers.ts); 1: every call is the demo customer c-1001. */
  customers: number;
  /** A V8 CPU profile of the site process into this folder (`node --cpu-prof`). */
  cpuProfDir?: string;
}

/** The walk's length, as the caller's pauses give it (5 pauses, 6 gaps between PIN keys, 200 ms after the 0). */
function walkMs(w: Record<string, number>): number {
  return w.greeting_ms! + w.pin_ms! + w.balance_ms! + w.menu_ms! + 6 * w.digit_ms! + 200;
}

interface SiteProcess {
  child: ChildProcess;
  pid: number;
  ctiPort: number;
  stderrTail: string[];
  /** The media engine's stalls over the run, from its line at stop (sip-bench-figures.ts). */
  playoutLag: ReturnType<typeof playoutLagFromLog>;
  stop(): Promise<number | null>;
}

/** `site-node/main.ts` as a bank runs it, without --simulate; ready on its ready line. */
async function startSiteProcess(
  configFile: string,
  databaseUrl: string,
  nodeArgs: string[],
): Promise<SiteProcess> {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      '--import',
      'tsx',
      'site-node/main.ts',
      '--config',
      configFile,
      '--database',
      databaseUrl,
      '--insecure-loopback',
      '--stats-every',
      '3600',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A log line per call event at 100 calls/s is the log's cost, not the calls': warnings only,
      // as the hub's bench runs it.
      env: {
        ...process.env,
        LOG_LEVEL: process.env['SIP_BENCH_SITE_LOG'] ? 'debug' : 'warn',
        [SECRET_ENV]: 'a-sip-bench-nonce-secret-of-more-than-32',
      },
    },
  );
  const stderrTail: string[] = [];
  const seen: Pick<SiteProcess, 'playoutLag'> = { playoutLag: undefined };
  // SIP_BENCH_SITE_LOG=FILE keeps the site's whole log there, when a run needs explaining.
  const logFile = process.env['SIP_BENCH_SITE_LOG'];
  const logLines: string[] = [];
  if (logFile) child.once('exit', () => writeFileSync(logFile, logLines.join('\n') + '\n'));
  createInterface({ input: child.stderr! }).on('line', (l) => {
    if (logFile) logLines.push(l);
    stderrTail.push(l);
    if (stderrTail.length > 30) stderrTail.shift();
    seen.playoutLag = playoutLagFromLog(l) ?? seen.playoutLag;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = await new Promise<{ ctiPort: number } | undefined>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (!l.includes('"event":"ready"')) return;
      resolve(JSON.parse(l) as { ctiPort: number });
    });
    void exited.then(() => resolve(undefined));
  });
  if (!ready) throw new Error(`the site did not start:\n${stderrTail.join('\n')}`);
  let stopping: Promise<number | null> | undefined;
  return {
    child,
    pid: child.pid!,
    ctiPort: ready.ctiPort,
    stderrTail,
    get playoutLag() {
      return seen.playoutLag;
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const code = await exited;
        clearTimeout(t);
        return code;
      })();
      return stopping;
    },
  };
}

interface CdrFigures {
  cdrs: number;
  byOutcome: Record<string, number>;
  answeredByAgent: number;
  /** queued (the caller's last key) to the agent's phone answered and bridged. */
  queuedToAnswer: LatencySummary;
  /** the offer to the agent's phone answered: the desk's answer, the phone's INVITE and 200. */
  offeredToAnswer: LatencySummary;
  /** the INVITE's arrival to the queue: the IVR walk, paced by the caller. */
  walk: LatencySummary;
  /** answered to the call's end, as the CDR has it. */
  agentTalk: LatencySummary;
  /** Calls not answered by an agent, by `<end reason> at <the last IVR node they reached>`. */
  notAnsweredBy: Record<string, number>;
}

async function cdrFigures(databaseUrl: string): Promise<CdrFigures & { calls: number }> {
  const pool = createPool(databaseUrl, { applicationName: 'sip-bench/read' });
  try {
    const calls = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM calls')).rows[0]!.n);
    const r = await pool.query<{
      outcome: string;
      agent_id: string | null;
      q: number | null;
      o: number | null;
      w: number | null;
      talk_ms: string;
      end_reason: string;
      last_node: string | null;
    }>(
      `SELECT d.outcome, d.agent_id,
              extract(epoch FROM d.answered_at - d.queued_at) * 1000 AS q,
              extract(epoch FROM d.answered_at - d.offered_at) * 1000 AS o,
              extract(epoch FROM d.queued_at - d.started_at) * 1000 AS w,
              d.talk_ms, d.end_reason, c.ivr_path ->> -1 AS last_node
         FROM cdrs d JOIN calls c ON c.id = d.call_id`,
    );
    const notAnsweredBy: Record<string, number> = {};
    const byOutcome: Record<string, number> = {};
    const q: number[] = [];
    const o: number[] = [];
    const w: number[] = [];
    const talk: number[] = [];
    let answeredByAgent = 0;
    for (const row of r.rows) {
      byOutcome[row.outcome] = (byOutcome[row.outcome] ?? 0) + 1;
      if (row.outcome === 'answered' && row.agent_id) {
        answeredByAgent++;
        talk.push(Number(row.talk_ms));
      } else {
        const why = `${row.end_reason} at ${row.last_node ?? 'no IVR node'}`;
        notAnsweredBy[why] = (notAnsweredBy[why] ?? 0) + 1;
      }
      if (row.q !== null) q.push(Number(row.q));
      if (row.o !== null) o.push(Number(row.o));
      if (row.w !== null) w.push(Number(row.w));
    }
    return {
      calls,
      cdrs: r.rows.length,
      byOutcome,
      answeredByAgent,
      queuedToAnswer: summarize(q),
      offeredToAnswer: summarize(o),
      walk: summarize(w),
      agentTalk: summarize(talk),
      notAnsweredBy,
    };
  } finally {
    await pool.end();
  }
}

/** Transactions each poll of `cdrFigures` commits (its two queries). */
const CDR_POLL_QUERIES = 2;

/** Transactions committed in the site's database so far (pg_stat_database), this query's own included. */
async function committedTransactions(databaseUrl: string): Promise<number> {
  const pool = createPool(databaseUrl, { applicationName: 'sip-bench/read' });
  try {
    const r = await pool.query<{ n: string }>(
      'SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()',
    );
    return Number(r.rows[0]!.n);
  } finally {
    await pool.end();
  }
}

/** What the site needs in its database before the calls: the walk's customer, the desks' passwords. */
async function seedSite(
  databaseUrl: string,
  siteId: string,
  agentIds: readonly string[],
  callers: BenchCallers | null,
): Promise<void> {
  const pool = createPool(databaseUrl, { applicationName: 'sip-bench/seed' });
  try {
    await seedDemoLedger(pool, callers ? callers.ledger : DEMO_LEDGER_CUSTOMERS.slice(0, 1));
    await seedCustomers(
      storeContext(pool, siteId, systemClock),
      callers ? callers.profiles : [{ ...DEMO_PROFILES[0]!, homeSiteId: siteId }],
    );
    // One hash for every agent: the site checks each sign-in against it as against any other.
    const hash = await hashPassword(DESK_PASSWORD);
    const store = new PgDeskCredentialStore(pool);
    for (const id of agentIds) {
      await store.setPasswordHash(id, hash, {
        atMs: Date.now(),
        actor: 'operator:sip-bench',
        action: 'set-password',
        target: id,
        detail: {},
      });
    }
  } finally {
    await pool.end();
  }
}

export async function runSite(
  o: SiteRunOptions,
  progress: (line: string) => void,
): Promise<Record<string, unknown>> {
  const walk = o.fullWalk ? WALK_PHONE_BANKING_ZH : WALK_WITH_BARGE_IN;
  const calls = Math.max(1, Math.round(o.rate * o.seconds));
  const callerTalkMs = o.talkMs + o.queueMs;
  const callMs = walkMs(walk) + callerTalkMs;
  // An agent holds a call from the offer (after the IVR's "please hold") to the caller's BYE,
  // then wraps up at once; a quarter more for the calls that overlap.
  const agentHoldsMs = Math.max(0, o.queueMs - PLEASE_HOLD_MS) + o.talkMs + o.ringMs + 1000;
  const agents = o.agents || Math.ceil(((o.rate * agentHoldsMs) / 1000) * 1.25) + 5;
  const maxCalls = Math.min(RTP_MAX_CALLS, Math.ceil((2 * o.rate * callMs) / 1000) + agents);

  const cleanups: Array<() => Promise<unknown>> = [];
  const dir = mkdtempSync(join(tmpdir(), 'sip-bench-site-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  try {
    const db = await freshDatabase('sip_bench_site');
    cleanups.push(() => db.drop());
    const sipPort = await freeUdpPort();
    const { doc, roster } = benchSiteDocument({
      agents,
      sipPort,
      rtpFrom: RTP_FROM,
      maxCalls,
      phonePassword: PHONE_PASSWORD,
      secretEnv: SECRET_ENV,
      recordingsDir: join(dir, 'recordings'),
    });
    const configFile = join(dir, 'site.yaml');
    writeFileSync(configFile, stringify(doc));
    const siteId = (doc.site as { id: string }).id;

    const t0 = Date.now();
    const site = await startSiteProcess(
      configFile,
      db.url,
      o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [],
    );
    cleanups.push(() => site.stop());
    const startMs = Date.now() - t0;
    progress(
      `site pid ${site.pid} ready in ${startMs} ms: SIP udp ${LOCAL}:${sipPort}, desk ${site.ctiPort}`,
    );
    const callers = o.customers > 1 ? benchCallers(o.customers, siteId) : null;
    await seedSite(
      db.url,
      siteId,
      roster.map((a) => a.id),
      callers,
    );
    if (callers) progress(`${o.customers} customers seeded, calling in turn`);
    const population = callers ? populationScenario(dir, callers.anis) : null;

    // The agents' phones: one SIPp answering for all, every extension registered to it.
    const toAgent = await ThreadedMeter.start();
    const toCaller = await ThreadedMeter.start();
    cleanups.push(
      () => toAgent.close(),
      () => toCaller.close(),
    );
    const limitSec = Math.ceil(o.seconds + callMs / 1000 + 120);
    const phones = await startSipp({
      scenario: 'agent-phone.xml',
      keys: { ring_ms: o.ringMs, sdp_port: toAgent.port },
      timeoutSec: limitSec + 600,
    });
    cleanups.push(() => phones.dispose());
    toAgent.target = { host: LOCAL, port: phones.mediaPort };
    const injection = join(dir, 'phones.csv');
    writeFileSync(
      injection,
      [
        'SEQUENTIAL',
        ...roster.map(
          (a) => `${a.extension};[authentication username=${a.extension} password=${PHONE_PASSWORD}]`,
        ),
      ].join('\n') + '\n',
    );
    const register = await startSipp({
      scenario: 'agent-register-all.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: roster.length,
      rate: 200,
      concurrent: 50,
      timeoutSec: 120,
      // SIPp signs the address it sends to unless told; the site checks the digest's uri is the
      // REGISTER's Request-URI (sip:realm).
      extraArgs: ['-inf', injection, '-auth_uri', BENCH_REALM],
      keys: { domain: BENCH_REALM, contact_port: phones.port, expires: 3600 },
    });
    cleanups.push(() => register.dispose());
    const registered = await register.done;
    if (registered.stats?.successful !== roster.length) {
      throw new Error(describeSipp(`registering ${roster.length} phones`, registered));
    }
    progress(`${roster.length} agents' phones registered`);

    const desks = new BenchDesks(`${LOCAL}:${site.ctiPort}`, DESK_PASSWORD);
    cleanups.push(async () => desks.close());
    await desks.signInAll(
      roster.map((a) => a.id),
      4,
      (n) => progress(`${n} agents signed in and ready`),
    );
    progress(
      `${roster.length} agents ready; ${calls} calls at ${o.rate}/s over ${o.seconds} s: walk ` +
        `${walkMs(walk)} ms (${o.fullWalk ? 'every prompt to its end' : 'keys barge in'}) + voice ` +
        `${callerTalkMs} ms, about ${Math.round((o.rate * callMs) / 1000)} at once`,
    );

    // --- The measured run ------------------------------------------------------------------
    const siteDrops = new DropTally(udpSocketDrops(site.pid));
    const meterDrops = new DropTally(udpSocketDrops(process.pid));
    // The site's RTP sockets live as long as their call: sampled every second while they do.
    const dropSampler = setInterval(() => {
      siteDrops.add(udpSocketDrops(site.pid));
      meterDrops.add(udpSocketDrops(process.pid));
    }, 1000);
    const cpu0 = { site: cpuMs([site.pid]), phones: cpuMs([phones.pid]) };
    const threads0 = threadCpuMs(site.pid);
    const machine0 = machineCpuMs();
    const commits0 = await committedTransactions(db.url);
    const wall0 = Date.now();
    const caller = await startSipp({
      scenario: population?.scenario ?? 'caller.xml',
      ...(population ? { extraArgs: population.args } : {}),
      remote: `${LOCAL}:${sipPort}`,
      rate: o.rate,
      calls,
      concurrent: Math.max(10, Math.ceil((2 * o.rate * callMs) / 1000)),
      timeoutSec: limitSec,
      keys: {
        ...callerKeys(walk, { dnis: BENCH_DNIS, ani: RETAIL_ANI, talkMs: callerTalkMs }),
        sdp_port: toCaller.port,
      },
    });
    cleanups.push(() => caller.dispose());
    toCaller.target = { host: LOCAL, port: caller.mediaPort };

    let peak = { site: 0, caller: 0, phones: 0 };
    let lastCpu = { at: Date.now(), ms: cpu0.site };
    let peakCores = 0;
    const ticker = setInterval(() => {
      const now = { at: Date.now(), ms: cpuMs([site.pid]) };
      const cores = (now.ms - lastCpu.ms) / Math.max(1, now.at - lastCpu.at);
      peakCores = Math.max(peakCores, cores);
      lastCpu = now;
      peak = {
        site: Math.max(peak.site, rssMiB([site.pid])),
        caller: Math.max(peak.caller, rssMiB([caller.pid])),
        phones: Math.max(peak.phones, rssMiB([phones.pid])),
      };
      let s;
      try {
        s = parseSippStats(readFileSync(join(caller.dir, 'stats.csv'), 'utf8'));
      } catch {
        s = undefined; // not written yet
      }
      if (s) {
        const c = desks.counts;
        progress(
          `${Math.round(s.elapsedSec)} s: ${s.created} calls made, ${s.current} running, ${s.successful} done, ` +
            `${s.failed} failed, ${s.retransmissions} retransmissions; desks ${c.offers} offers ${c.answered} ` +
            `answered, ${c.heartbeats} heartbeats (lease ${c.lastLeaseMs}), not-ready ${JSON.stringify(c.notReady)}; site ${cores.toFixed(2)} cores, ${peak.site} MiB`,
        );
      }
    }, 5000);
    let callerResult: SippResult;
    const reaped0 = reapedChildrenCpuMs();
    try {
      callerResult = await caller.done;
    } finally {
      clearInterval(ticker);
      clearInterval(dropSampler);
    }
    siteDrops.add(udpSocketDrops(site.pid));
    meterDrops.add(udpSocketDrops(process.pid));
    const callerCpuMs = reapedChildrenCpuMs() - reaped0;
    const wallMs = Date.now() - wall0;
    const cpu1 = { site: cpuMs([site.pid]), phones: cpuMs([phones.pid]) };
    const threads = threadCpuSplit(site.pid, threads0, threadCpuMs(site.pid));
    const machine1 = machineCpuMs();
    const stats = callerResult.stats;
    if (!stats) throw new Error(describeSipp('the caller SIPp left no statistics', callerResult));
    // Every call's end is written once the agent's leg and the desk are done with it.
    let polls = 0;
    const cdr = await waitFor(
      'a CDR for every call',
      async () => {
        polls++;
        const f = await cdrFigures(db.url);
        return f.cdrs >= f.calls && f;
      },
      60_000,
      500,
    ).catch(() => {
      polls++;
      return cdrFigures(db.url);
    });
    // PostgreSQL's statistics reach pg_stat_database within a second of a commit.
    await new Promise((r) => setTimeout(r, 1500));
    const commits = (await committedTransactions(db.url)) - commits0 - CDR_POLL_QUERIES * polls - 1;
    const phonesResult = await phones.stop();
    const siteCpuMs = cpu1.site - cpu0.site;
    const perCall = (ms: number) => Math.round((ms / Math.max(1, stats.successful)) * 10) / 10;
    const setup = summarize(callerResult.responseTimes['setup'] ?? []);
    const up = (await toAgent.summary()).forward;
    const down = (await toCaller.summary()).forward;
    const callsFailed =
      stats.failed +
      (phonesResult.stats?.failed ?? 0) +
      (cdr.calls - cdr.answeredByAgent) +
      (calls - stats.created);
    progress(
      `site: ${stats.successful}/${calls} calls, ${cdr.answeredByAgent} answered by an agent, ${callsFailed} failed; ` +
        `setup p50 ${setup.p50Ms} ms p99 ${setup.p99Ms} ms; queued to answer p50 ${cdr.queuedToAnswer.p50Ms} ms ` +
        `p99 ${cdr.queuedToAnswer.p99Ms} ms; peak ${stats.peakConcurrent} at once; RTP lost ${up.lost} to agents, ` +
        `${down.lost} to callers; site ${Math.round(siteCpuMs)} ms CPU`,
    );
    if (callerResult.errors) progress(`caller errors (last lines):\n${callerResult.errors.slice(-1500)}`);

    // The desks go first: heartbeats to a stopped site would count as refusals.
    desks.close();
    const siteExit = await site.stop();
    let profile: string | null = null;
    if (o.cpuProfDir) {
      profile = readdirSync(o.cpuProfDir).find((f) => f.endsWith('.cpuprofile')) ?? null;
    }
    return {
      what:
        'SIPp caller -> the site (site-node/main.ts without --simulate: SIP stack, IVR with prompts, ACD, ' +
        'PostgreSQL, media engine worker) -> SIPp agent phones, UDP on loopback; RTP through the site, ' +
        'counted on its way out to each side',
      howRun: 'node --import tsx site-node/main.ts --insecure-loopback (LOG_LEVEL=warn), its own process',
      agents: roster.length,
      siteStartMs: startMs,
      walk: {
        pausesMs: walk,
        ms: walkMs(walk),
        prompts: o.fullWalk ? 'each to its end' : 'each key barges in',
      },
      callerVoiceAfterLastKeyMs: callerTalkMs,
      callsAttempted: calls,
      callsCreated: stats.created,
      callsSuccessful: stats.successful,
      callsFailed,
      failedBy: {
        callerSipp: stats.failed,
        callerSippReasons: stats.failedBy,
        agentPhonesSipp: phonesResult.stats?.failed ?? null,
        notAnsweredByAnAgent: cdr.calls - cdr.answeredByAgent,
        notMade: calls - stats.created,
      },
      callsPerSecondTarget: o.rate,
      callsPerSecondAchieved: setupRate(sippRttCsv(caller.dir)),
      concurrentPeak: stats.peakConcurrent,
      setupLatency: { what: "INVITE sent to the site's 200 received (the site answers itself)", ...setup },
      queuedToAgentAnswer: {
        what: "the caller's last key (queued) to the agent's phone answered and bridged, from the CDRs",
        ...cdr.queuedToAnswer,
      },
      offeredToAgentAnswer: {
        what: "the offer to the agent's phone answered: desk answer over gRPC, INVITE to the phone, 200, bridge",
        ...cdr.offeredToAnswer,
      },
      walkInSite: { what: 'the INVITE to the queue, as the CDRs have it', ...cdr.walk },
      agentTalk: { what: 'answered to the end, per answered call (CDR talk_ms)', ...cdr.agentTalk },
      cdrs: {
        calls: cdr.calls,
        written: cdr.cdrs,
        byOutcome: cdr.byOutcome,
        notAnsweredBy: cdr.notAnsweredBy,
      },
      store: {
        what:
          'transactions committed in the site database over the run (pg_stat_database; every query ' +
          "outside a transaction counts, reads included; the bench's own reads taken off). The writes " +
          'among them run side by side per call and agent, store.writeConcurrency at once (docs/architecture.md §7.1)',
        transactions: commits,
        perCall: Math.round((commits / Math.max(1, cdr.calls)) * 10) / 10,
      },
      desks: { ...desks.counts, lastErrors: desks.lastErrors },
      retransmissions: {
        caller: stats.retransmissions,
        agentPhones: phonesResult.stats?.retransmissions ?? null,
      },
      agentPhones: {
        answered: phonesResult.stats?.successful ?? null,
        failed: phonesResult.stats?.failed ?? null,
      },
      rtp: {
        what:
          'distinct RTP packets by sequence number per sender and SSRC; lost = gaps inside each stretch. ' +
          'toCaller: prompts, hold music and the agent voice the site sends the caller; toAgent: the caller ' +
          'voice it bridges to the agent phone',
        toCaller: rtpFigures(down),
        toAgent: rtpFigures(up),
        droppedOnArrival: {
          what:
            "datagrams the kernel dropped at a full receive buffer (/proc/net/udp drops): at the site's " +
            'sockets (sampled every second; what arrives from both phones, which no gap would show), ' +
            "and at the bench's two meters",
          site: siteDrops.total(),
          meters: meterDrops.total(),
        },
      },
      resources: {
        what: 'CPU ms over the measured run (all threads); cores = CPU / wall time; peak resident MiB sampled every 5 s',
        site: {
          cpuMs: Math.round(siteCpuMs),
          cpuMsPerCall: Math.round((siteCpuMs / Math.max(1, stats.successful)) * 1000) / 1000,
          coresMean: Math.round((siteCpuMs / Math.max(1, wallMs)) * 100) / 100,
          coresPeak5s: Math.round(peakCores * 100) / 100,
          // Which thread the CPU went to: the site's main thread (SIP, IVR, ACD, store, desks) or
          // the media engine's worker (RTP in and out, prompts, DTMF, bridges), per call.
          perCallByThread: {
            mainMs: perCall(threads.mainMs),
            mediaWorkerMs: perCall(threads.busiestOtherMs),
            otherThreadsMs: perCall(threads.restMs),
            eachOtherThreadMs: threads.othersMs.filter((ms) => ms > 0).map(perCall),
            what: 'main: the main thread; mediaWorker: the busiest other thread (the media engine); other: GC and libuv threads',
          },
          peakRssMiB: peak.site,
          exitCode: siteExit,
          cpuProfile: profile && o.cpuProfDir ? join(o.cpuProfDir, profile) : null,
        },
        // Everything on the machine (the bench, Postgres, the kernel's loopback UDP): a machine near
        // 100 % starves the media engine whatever the site's own share (mediaPlayoutLag).
        machine: {
          cores: cpus().length,
          busyPercent:
            Math.round(
              ((machine1.busyMs - machine0.busyMs) / Math.max(1, machine1.totalMs - machine0.totalMs)) * 1000,
            ) / 10,
        },
        agentPhonesSipp: { cpuMs: Math.round(cpu1.phones - cpu0.phones), peakRssMiB: peak.phones },
        callerSipp: { cpuMs: Math.round(callerCpuMs), peakRssMiB: peak.caller },
      },
      sippExitCodes: { caller: callerResult.code, agentPhones: phonesResult.code },
      mediaPlayoutLag: {
        what:
          "time the site's own audio (prompts, music) lost to a stalled media engine over the run, from its warning at stop: " +
          'a prompt heard that much later, the IVR walk longer by as much (docs/operations.md §8.7)',
        ...(site.playoutLag ?? { stalls: 0, delayedMs: 0, longestStallMs: 0 }),
      },
      siteLogTail: site.stderrTail.slice(-10),
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}
