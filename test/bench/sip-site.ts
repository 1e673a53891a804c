/**
 * SIP site benchmark (issue 12): "SIPp drives a real site on loopback: INVITE -> IVR (DTMF) ->
 * queue -> SIPp agent phones answer -> 10 s of RTP both ways -> BYE. Report calls per second,
 * concurrent calls, setup latency p50/p99 and RTP loss, with Kamailio's stateful proxy (`-m
 * 1024`) driven by the same SIPp on the same machine in the same run as the reference for raw
 * SIP handling."
 *
 * First the reference: SIPp's caller (test/sip/scenarios/caller.xml: the IVR walk's
 * DTMF, then voice for `--talk` ms, then BYE) at `--rate` calls per second for `--seconds`, to
 * Kamailio (test/sip/kamailio/kamailio.cfg: tm, rr, record-routing every call), which relays
 * every call to one SIPp agent-phone process (agent-phone.xml: rings `--ring` ms, answers,
 * voice until the BYE). The walk's pauses are WALK_WITHOUT_PROMPTS: nothing plays prompts here.
 * The media goes peer to peer (Kamailio only handles SIP), each direction through an RTP meter
 * (test/support/rtp-meter.ts) that counts packets and the ones lost by sequence number.
 *
 * Measured: calls set up per second (from the setup times SIPp traced, first to last), the
 * most calls running at once (SIPp's statistics, a row a second), setup latency (INVITE sent to
 * 200 received, SIPp's response time "setup": Kamailio's two hops and the phone's ring), SIPp's
 * failed calls and retransmissions, RTP packets and loss each way, and the CPU time and memory
 * of Kamailio (all its processes) and of both SIPps.
 *
 * Then the site (sip-site-run.ts): the same SIPp caller, walking the IVR with the prompts
 * playing, against site-node/main.ts on its own database, with SIPp agent phones registered with
 * digest and desks answering the offers; the same figures and more (walk to agent answer, the
 * CDRs' outcomes, the site process's CPU and memory), and the site's ratios against the
 * reference (`siteVsReference`) and where it stands against the goal (`goal`). `--site-only 1`
 * skips the reference; `--profile 1` writes a CPU profile of the site process.
 *
 * Progress lines go to stderr; the result is one JSON document (test/bench/run.ts).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKamailio, type Kamailio } from '../support/kamailio.js';
import { ThreadedMeter } from './threaded-meter.js';
import { describeSipp, parseSippStats, startSipp, type SippResult, type SippRun } from '../support/sipp.js';
import { callerKeys, WALK_WITHOUT_PROMPTS } from '../support/sipp-walk.js';
import { waitFor } from '../support/wait.js';
import {
  cpuMs,
  family,
  reapedChildrenCpuMs,
  rssMiB,
  rtpFigures,
  setupRate,
  sippRttCsv,
} from './sip-bench-figures.js';
import { runSite } from './sip-site-run.js';
import { machineCpu, parseFlags, ratio, summarize } from './stats.js';

const LOCAL = '127.0.0.1';
/** What a call spends in the walk without prompts: 5 pauses and 6 PIN keys of 200 ms, the last 0. */
const WALK_MS = 12 * 200;

/** The reference: SIPp -> Kamailio -> SIPp, the walk without prompts. */
async function runReference(
  f: Record<string, number>,
  progress: (line: string) => void,
): Promise<Record<string, unknown> & { callsSuccessful: number }> {
  const rate = f.rate!;
  const calls = Math.max(1, Math.round(rate * f.seconds!));
  const talkMs = Math.round(f.talk!);
  const callMs = WALK_MS + talkMs + f.ring!;

  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const toAgent = await ThreadedMeter.start();
    const toCaller = await ThreadedMeter.start();
    cleanups.push(
      () => toAgent.close(),
      () => toCaller.close(),
    );
    const limitSec = Math.ceil(f.seconds! + callMs / 1000 + 60);
    const agent: SippRun = await startSipp({
      scenario: 'agent-phone.xml',
      keys: { ring_ms: f.ring!, sdp_port: toAgent.port },
      timeoutSec: limitSec + 10,
    });
    cleanups.push(() => agent.dispose());
    toAgent.target = { host: LOCAL, port: agent.mediaPort };
    const kamailio: Kamailio = await startKamailio({
      target: `${LOCAL}:${agent.port}`,
      children: Math.round(f.children!),
      sharedMemoryMb: 1024,
    });
    cleanups.push(() => kamailio.stop());
    // Kamailio binds, then forks its workers: count them when they are there.
    const kamailioPids = await waitFor("Kamailio's workers", () => {
      const pids = family(kamailio.pid);
      return pids.length > 2 && pids;
    });
    progress(
      `Kamailio pid ${kamailio.pid} (${kamailioPids.length} processes) on udp ${LOCAL}:${kamailio.port}; ` +
        `agent phones (SIPp) on ${agent.port}`,
    );
    progress(
      `${calls} calls at ${rate}/s over ${f.seconds} s: walk ${WALK_MS} ms + talk ${talkMs} ms, ` +
        `about ${Math.round((rate * callMs) / 1000)} at once`,
    );

    const cpu0 = { kamailio: cpuMs(kamailioPids), agent: cpuMs([agent.pid]) };
    const caller = await startSipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${kamailio.port}`,
      rate,
      calls,
      // A stall must not grow without bound: twice the calls the rate should keep running.
      concurrent: Math.max(10, Math.ceil((2 * rate * callMs) / 1000)),
      timeoutSec: limitSec,
      keys: { ...callerKeys(WALK_WITHOUT_PROMPTS, { dnis: '95533', talkMs }), sdp_port: toCaller.port },
    });
    cleanups.push(() => caller.dispose());
    toCaller.target = { host: LOCAL, port: caller.mediaPort };

    let peakMemory = { kamailio: 0, caller: 0, agent: 0 };
    const ticker = setInterval(() => {
      const s = parseSippStats(readFileSync(join(caller.dir, 'stats.csv'), 'utf8'));
      peakMemory = {
        kamailio: Math.max(peakMemory.kamailio, rssMiB(kamailioPids)),
        caller: Math.max(peakMemory.caller, rssMiB([caller.pid])),
        agent: Math.max(peakMemory.agent, rssMiB([agent.pid])),
      };
      if (s) {
        progress(
          `${Math.round(s.elapsedSec)} s: ${s.created} calls made, ${s.current} running, ` +
            `${s.successful} done, ${s.failed} failed, ${s.retransmissions} retransmissions`,
        );
      }
    }, 5000);
    let callerResult: SippResult;
    // The caller's CPU: what this process's reaped children used, across its exit (it is the
    // only child to end meanwhile), as /proc/<pid> is gone once it has.
    const reaped0 = reapedChildrenCpuMs();
    try {
      callerResult = await caller.done;
    } finally {
      clearInterval(ticker);
    }
    const callerCpuMs = reapedChildrenCpuMs() - reaped0;
    const cpu1 = {
      kamailio: cpuMs(kamailioPids),
      agent: cpuMs([agent.pid]),
    };
    const agentResult = await agent.stop();
    const rttCsv = sippRttCsv(caller.dir);
    const setup = summarize(callerResult.responseTimes['setup'] ?? []);
    const stats = callerResult.stats;
    if (!stats) throw new Error(describeSipp('the caller SIPp left no statistics', callerResult));
    const up = (await toAgent.summary()).forward;
    const down = (await toCaller.summary()).forward;
    progress(
      `reference: ${stats.successful}/${calls} calls, ${stats.failed} failed, setup p50 ${setup.p50Ms} ms ` +
        `p99 ${setup.p99Ms} ms, peak ${stats.peakConcurrent} at once, RTP lost ${up.lost} up ${down.lost} down`,
    );
    if (callerResult.errors) progress(`caller errors (last lines):\n${callerResult.errors.slice(-1500)}`);

    const reference = {
      walk: { keys: '1, PIN 135790 #, 9, 0', pausesMs: WALK_WITHOUT_PROMPTS },
      what:
        'SIPp caller -> Kamailio 5.6 stateful proxy (tm, rr; -m 1024) -> SIPp agent phones, UDP on loopback; ' +
        'RTP peer to peer through two counting relays',
      callsAttempted: calls,
      callsSuccessful: stats.successful,
      callsFailed: stats.failed,
      failedBy: stats.failedBy,
      callsPerSecondTarget: rate,
      callsPerSecondAchieved: setupRate(rttCsv),
      concurrentPeak: stats.peakConcurrent,
      setupLatency: { what: 'INVITE sent to 200 received, including the phone ringing --ring ms', ...setup },
      retransmissions: {
        caller: stats.retransmissions,
        agentPhones: agentResult.stats?.retransmissions ?? null,
      },
      agentPhones: {
        answered: agentResult.stats?.successful ?? null,
        failed: agentResult.stats?.failed ?? null,
      },
      rtp: {
        what: 'distinct RTP packets by sequence number per sender and SSRC; lost = gaps inside each stretch',
        callerToAgent: rtpFigures(up),
        agentToCaller: rtpFigures(down),
      },
      resources: {
        what: 'CPU ms over the run; peak resident memory MiB, sampled every 5 s',
        kamailio: {
          processes: kamailioPids.length,
          cpuMs: Math.round(cpu1.kamailio - cpu0.kamailio),
          cpuMsPerCall:
            Math.round(((cpu1.kamailio - cpu0.kamailio) / Math.max(1, stats.successful)) * 1000) / 1000,
          peakRssMiB: peakMemory.kamailio,
        },
        agentPhonesSipp: { cpuMs: Math.round(cpu1.agent - cpu0.agent), peakRssMiB: peakMemory.agent },
        callerSipp: { cpuMs: Math.round(callerCpuMs), peakRssMiB: peakMemory.caller },
      },
      sippExitCodes: { caller: callerResult.code, agentPhones: agentResult.code },
    };

    return reference;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

/** site / reference, for the figures both report; null where either is missing. */
function ratios(
  site: Record<string, unknown>,
  ref: Record<string, unknown> | null,
): Record<string, number | string | null> | null {
  if (!ref) return null;
  const num = (o: Record<string, unknown>, path: string): number | null => {
    let v: unknown = o;
    for (const k of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
    return typeof v === 'number' ? v : null;
  };
  const r = (path: string, refPath = path): number | null => {
    const a = num(site, path);
    const b = num(ref, refPath);
    return a === null || b === null ? null : ratio(a, b);
  };
  return {
    what: 'site / reference (Kamailio), same run, same machine; CPU and memory: the site process / all of Kamailio',
    callsPerSecondAchieved: r('callsPerSecondAchieved'),
    concurrentPeak: r('concurrentPeak'),
    setupLatencyP50: r('setupLatency.p50Ms'),
    setupLatencyP99: r('setupLatency.p99Ms'),
    cpuMsPerCall: r('resources.site.cpuMsPerCall', 'resources.kamailio.cpuMsPerCall'),
    peakRssMiB: r('resources.site.peakRssMiB', 'resources.kamailio.peakRssMiB'),
  };
}

/** The goal of issue 12 for one site on 2 cores, and where this run stands against it. */
function goal(site: Record<string, unknown>): Record<string, unknown> {
  const n = (k: string): number => {
    let v: unknown = site;
    for (const p of k.split('.')) v = (v as Record<string, unknown> | undefined)?.[p];
    return typeof v === 'number' ? v : NaN;
  };
  // Gaps in what the site sent, and datagrams dropped at the site's sockets on their way in.
  const rtpLost = n('rtp.toCaller.lost') + n('rtp.toAgent.lost') + n('rtp.droppedOnArrival.site');
  return {
    what: '>= 100 calls/s offered, >= 300 concurrent calls with RTP, 0 failed calls, 0 RTP loss',
    callsPerSecondOffered: n('callsPerSecondTarget'),
    callsPerSecondAchieved: n('callsPerSecondAchieved'),
    concurrentPeak: n('concurrentPeak'),
    callsFailed: n('callsFailed'),
    rtpLost,
    // A gap the bench's own relay made (its socket full) is not the site's: read the two together.
    droppedAtTheBenchRelays: n('rtp.droppedOnArrival.meters'),
    met:
      n('callsPerSecondTarget') >= 100 &&
      n('callsPerSecondAchieved') >= 95 &&
      n('concurrentPeak') >= 300 &&
      n('callsFailed') === 0 &&
      rtpLost === 0,
  };
}

export async function run(args: string[], progress: (line: string) => void): Promise<unknown> {
  const f = parseFlags(args, {
    rate: 20,
    seconds: 30,
    talk: 10_000,
    ring: 0,
    children: 2,
    // The site's: voice before the talk for "please hold", the queue and the ring; the roster
    // (0: sized to the load); 1 = wait for every prompt to end; 1 = a CPU profile of the site;
    // 1 = no reference.
    queue: 7000,
    agents: 0,
    // Customers calling in turn, each its own number and ledger row (1: all the demo's c-1001).
    customers: 50,
    'full-walk': 0,
    profile: 0,
    'site-only': 0,
  });
  const machine0 = machineCpu();
  const reference = f['site-only'] === 1 ? null : await runReference(f, progress);
  const cpuProfDir = f.profile === 1 ? mkdtempSync(join(tmpdir(), 'sip-bench-prof-')) : undefined;
  const site = await runSite(
    {
      rate: f.rate!,
      seconds: f.seconds!,
      talkMs: Math.round(f.talk!),
      ringMs: Math.round(f.ring!),
      queueMs: Math.round(f.queue!),
      agents: Math.round(f.agents!),
      customers: Math.max(1, Math.round(f.customers!)),
      fullWalk: f['full-walk'] === 1,
      ...(cpuProfDir ? { cpuProfDir } : {}),
    },
    progress,
  );
  const machine1 = machineCpu();
  return {
    bench: 'sip-site',
    node: process.version,
    setup: {
      machineCores: cpus().length,
      loadAverage1mAtEnd: Number(loadavg()[0]!.toFixed(1)),
      machineBusyPercent: Math.round(
        ((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * 100,
      ),
      callsPerSecond: f.rate,
      customers: Math.max(1, Math.round(f.customers!)),
      seconds: f.seconds,
      talkMs: f.talk,
      ringMs: f.ring,
      kamailioChildren: Math.round(f.children!),
    },
    reference,
    site,
    siteVsReference: ratios(site, reference),
    goal: goal(site),
    // A run without one call set up measured nothing; a site call lost or failed is a failure.
    exitCode:
      (reference !== null && reference.callsSuccessful === 0) ||
      site.callsSuccessful === 0 ||
      site.callsFailed !== 0
        ? 1
        : 0,
  };
}
