/**
 * Runs SIPp (Debian package sip-tester, 3.6.1) with a scenario of test/sip/scenarios/ for tests
 * and benches, and reads what it measured (docs/sip.md "Testing with real peers").
 *
 * Each run gets a temporary working directory holding `pcap/` (a link to SIPP_PCAP_DIR, where
 * the scenarios read their RTP clips) and SIPp's files: the statistics CSV (`-stf`, a row per
 * `statsEverySec` and one at exit), every response time (`-trace_rtt`, one row per sample) and
 * the unexpected messages (`-trace_err`). The SIP port and the media port are picked free on
 * 127.0.0.1 when not given; the run is ready once /proc shows that very process bound to them,
 * so a port taken by someone else between the pick and SIPp's bind is a retry, not a mixup.
 * `done` resolves when SIPp exits (never a fixed sleep); `stop()` asks it to finish its calls
 * (SIGUSR1) and kills it if it does not. Every run still alive when the test process exits is
 * killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/sip/scenarios/, where the scenarios named without a path are. */
export const SCENARIO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../sip/scenarios');

export interface SippOptions {
  /** A file of SCENARIO_DIR by name (`caller.xml`), or a path. */
  scenario: string;
  /** host:port of the peer a UAC calls; none for a UAS. */
  remote?: string;
  /** `-key name value` for each entry: the scenario's `[name]`. */
  keys?: Record<string, string | number>;
  /** SIP port on 127.0.0.1; 0 or absent: a free one. */
  localPort?: number;
  /** SIPp's media port (`-mp`); 0 or absent: a free one. */
  mediaPort?: number;
  /** Calls per second (`-r`), for a UAC. */
  rate?: number;
  /** At most this many calls at once (`-l`). */
  concurrent?: number;
  /** Stop after this many calls (`-m`). */
  calls?: number;
  /** SIPp's own time limit (`-timeout`), seconds; it then exits with code 97. */
  timeoutSec?: number;
  /** Echo the RTP received on the media port to its sender (`-rtp_echo`). */
  rtpEcho?: boolean;
  /** Digest credentials for `[authentication]` (`-au`, `-ap`). */
  auth?: { username: string; password: string };
  /** Statistics rows this often (`-fd`), seconds; default 1. */
  statsEverySec?: number;
  /** More SIPp arguments, as they are. */
  extraArgs?: string[];
}

/** The last row of the statistics CSV: cumulative counts since SIPp started. */
export interface SippStats {
  created: number;
  successful: number;
  failed: number;
  /** The failed calls by reason (`FailedTimeoutOnRecv` -> `TimeoutOnRecv`), only the non-zero. */
  failedBy: Record<string, number>;
  retransmissions: number;
  outOfCallMessages: number;
  deadCallMessages: number;
  /** Calls still running at the last row. */
  current: number;
  /** Most calls running at once, over the statistics rows (rows every `statsEverySec`). */
  peakConcurrent: number;
  /** SIPp's own average response time per rtd, ms. */
  meanResponseMs: Record<string, number>;
  elapsedSec: number;
}

export interface SippResult {
  /** SIPp's exit code: 0 every call succeeded, 1 some failed, 97 stopped (-timeout or a
   *  signal), 99 no call processed, 255 fatal error, 254 could not bind. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stats: SippStats | undefined;
  /** Every response time sample by rtd name (`setup`, `1`...), ms, from -trace_rtt. */
  responseTimes: Record<string, number[]>;
  /** SIPp's error log (unexpected messages, timeouts), without its pcap-location notices. */
  errors: string;
  stderr: string;
}

export interface SippRun {
  pid: number;
  /** SIP port on 127.0.0.1. */
  port: number;
  /** The media port SIPp bound (its RTP echo, and the source of its pcap replays). */
  mediaPort: number;
  dir: string;
  done: Promise<SippResult>;
  /** SIGUSR1 (finish the calls, no new ones), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<SippResult>;
  /** Kills SIPp if it still runs and removes its working directory. */
  dispose(): Promise<void>;
}

const BIND_FAILED = 254;
/** SIPp notes each pcap it finds in its working directory rather than beside the scenario. */
const PCAP_NOTICE = 'prefers looking for pcap files next to the scenario';
const running = new Set<ChildProcess>();
let exitHookSet = false;

/** The SIPp binary: SIPP_BIN (deploy/services.sh's env.sh), else Debian's place. */
export function sippBin(): string {
  const bin = process.env['SIPP_BIN'] ?? '/usr/bin/sipp';
  if (!existsSync(bin)) {
    throw new Error(
      `SIPp is not installed at ${bin}: install the Debian package sip-tester ` +
        '(bash deploy/services.sh up does) or set SIPP_BIN',
    );
  }
  return bin;
}

function pcapDir(): string {
  const dir = process.env['SIPP_PCAP_DIR'] ?? '/usr/share/sip-tester';
  if (!existsSync(join(dir, 'g711a.pcap'))) {
    throw new Error(`no g711a.pcap in ${dir}: install the Debian package sip-tester or set SIPP_PCAP_DIR`);
  }
  return dir;
}

/** A UDP port free on 127.0.0.1 right now (the system picks it). */
export function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, host, () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/** The UDP ports a process has bound on 127.0.0.1 (Linux /proc: its fds' inodes in /proc/net/udp). */
export function boundUdpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // an fd closed while we listed them
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/udp`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [ip, port] = (f[1] ?? '').split(':');
    if (ip === '0100007F' && port && inodes.has(f[9] ?? '')) ports.push(parseInt(port, 16));
  }
  return ports.sort((a, b) => a - b);
}

/** SIPp's arguments for `o` on the given ports, writing its files into `dir`. */
export function sippArgs(o: SippOptions, port: number, mediaPort: number, dir: string): string[] {
  const scenario =
    isAbsolute(o.scenario) || o.scenario.includes('/') ? resolve(o.scenario) : join(SCENARIO_DIR, o.scenario);
  if (!existsSync(scenario)) throw new Error(`SIPp scenario ${scenario} does not exist`);
  const args = ['-sf', scenario];
  if (o.remote !== undefined) args.push(o.remote);
  args.push('-i', '127.0.0.1', '-p', String(port), '-mi', '127.0.0.1', '-mp', String(mediaPort));
  // The scenarios' SDP names `sdp_port`: SIPp's own media port unless a meter sits in between.
  const keys: Record<string, string | number> = { sdp_port: mediaPort, ...o.keys };
  for (const [k, v] of Object.entries(keys)) {
    if (!/^[a-z_][a-z0-9_]*$/i.test(k))
      throw new Error(`SIPp key ${JSON.stringify(k)}: letters, digits and _ only`);
    args.push('-key', k, String(v));
  }
  if (o.rate !== undefined) args.push('-r', String(o.rate));
  if (o.concurrent !== undefined) args.push('-l', String(o.concurrent));
  if (o.calls !== undefined) args.push('-m', String(o.calls));
  if (o.timeoutSec !== undefined) args.push('-timeout', `${o.timeoutSec}s`);
  if (o.rtpEcho) args.push('-rtp_echo');
  if (o.auth) args.push('-au', o.auth.username, '-ap', o.auth.password);
  args.push(
    '-nostdin',
    '-trace_stat',
    '-stf',
    join(dir, 'stats.csv'),
    '-fd',
    String(o.statsEverySec ?? 1),
    '-trace_rtt',
    '-rtt_freq',
    '1',
    '-trace_err',
    '-error_file',
    join(dir, 'errors.log'),
    ...(o.extraArgs ?? []),
  );
  // SIPP_TRACE_DIR=<dir> keeps every run's messages there, for a run that needs explaining.
  const traces = process.env['SIPP_TRACE_DIR'];
  if (traces)
    args.push(
      '-trace_msg',
      '-message_file',
      join(resolve(traces), `${basename(scenario, '.xml')}-${port}.log`),
    );
  return args;
}

/** Starts SIPp; resolves once it has bound its SIP and media ports. */
export async function startSipp(o: SippOptions, attempts = 5): Promise<SippRun> {
  const bin = sippBin();
  const pcaps = pcapDir();
  for (let attempt = 1; ; attempt++) {
    const port = o.localPort || (await freeUdpPort());
    let mediaPort = o.mediaPort || (await freeUdpPort());
    while (mediaPort === port || mediaPort === port - 2) mediaPort = await freeUdpPort();
    const dir = mkdtempSync(join(tmpdir(), `sipp-${basename(o.scenario, '.xml')}-`));
    symlinkSync(pcaps, join(dir, 'pcap'));
    const run = spawnSipp(bin, sippArgs(o, port, mediaPort, dir), dir, port);
    const bound = await run.bound;
    if (bound.ok && bound.mediaPort === mediaPort) return run.handle(mediaPort);
    // SIPp steps to the next media port when its own is taken; the SDP would then be wrong.
    if (bound.ok) await run.handle(bound.mediaPort).stop(0);
    const result = await run.done;
    const retry = !bound.ok ? result.code === BIND_FAILED : true;
    if (!retry || attempt >= attempts || o.localPort) {
      throw new Error(
        `SIPp (${o.scenario}) did not start on 127.0.0.1:${port} (media ${mediaPort}): ` +
          `exit ${result.code ?? result.signal}: ${(result.stderr || result.errors).trim().slice(-2000)}`,
      );
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Spawned {
  bound: Promise<{ ok: true; mediaPort: number } | { ok: false }>;
  done: Promise<SippResult>;
  handle(mediaPort: number): SippRun;
}

function spawnSipp(bin: string, args: string[], dir: string, port: number): Spawned {
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  if (!exitHookSet) {
    exitHookSet = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += d.toString();
  });
  let exited = false;
  const done = new Promise<SippResult>((resolveDone) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      exited = true;
      running.delete(child);
      resolveDone(readResult(dir, code, signal, stderr));
    };
    child.once('exit', finish);
    child.once('error', (e) => {
      stderr += String(e);
      finish(null, null);
    });
  });
  const bound = (async (): Promise<{ ok: true; mediaPort: number } | { ok: false }> => {
    // Polls /proc until this process holds its SIP port, or it exits (a failed bind): SIPp
    // prints nothing when it is ready.
    for (;;) {
      if (exited || child.pid === undefined) return { ok: false };
      try {
        const ports = boundUdpPorts(child.pid);
        const media = ports.filter((p) => p !== port);
        if (ports.includes(port) && media.length > 0) return { ok: true, mediaPort: media[0]! };
      } catch {
        // the process is going away; the next round sees it exited
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const handle = (mediaPort: number): SippRun => ({
    pid: child.pid!,
    port,
    mediaPort,
    dir,
    done,
    stop: async (graceMs = 10_000) => {
      if (!exited) {
        child.kill('SIGUSR1');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await done;
        clearTimeout(timer);
      }
      return done;
    },
    dispose: async () => {
      if (!exited) child.kill('SIGKILL');
      await done;
      rmSync(dir, { recursive: true, force: true });
    },
  });
  return { bound, done, handle };
}

function readResult(
  dir: string,
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): SippResult {
  const read = (f: string): string => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  const errors = read('errors.log')
    .replace(/The following events occurred:\n?/g, '')
    .split(/(?=\d{4}-\d\d-\d\d\t)/)
    .filter((l, i, all) => l.trim() !== '' && !l.includes(PCAP_NOTICE) && l !== all[i - 1])
    .join('\n');
  const rttFile = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
  return {
    code,
    signal,
    stats: parseSippStats(read('stats.csv')),
    responseTimes: parseSippRtt(rttFile ? read(rttFile) : ''),
    errors,
    stderr: stderr
      .split('\n')
      .filter(
        (l) => !/^(In pcap|max pkt length|base port|Resolving remote host|There were more errors)/.test(l),
      )
      .filter((l) => !l.includes(PCAP_NOTICE))
      .join('\n'),
  };
}

/** `HH:MM:SS:uuuuuu` (SIPp's durations) in ms. */
function durationMs(v: string | undefined): number {
  const p = (v ?? '').split(':').map(Number);
  if (p.length !== 4 || p.some((n) => !Number.isFinite(n))) return NaN;
  return ((p[0]! * 60 + p[1]!) * 60 + p[2]!) * 1000 + p[3]! / 1000;
}

/** The statistics CSV of `-trace_stat` (`;`-separated, a header row then one row per dump). */
export function parseSippStats(csv: string): SippStats | undefined {
  const rows = csv
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(';'));
  if (rows.length < 2) return undefined;
  const header = rows[0]!;
  const col = (row: string[], name: string): string | undefined => {
    const i = header.indexOf(name);
    return i < 0 ? undefined : row[i];
  };
  const last = rows[rows.length - 1]!;
  const num = (name: string): number => Number(col(last, name) ?? NaN);
  const failedBy: Record<string, number> = {};
  const meanResponseMs: Record<string, number> = {};
  for (const name of header) {
    const f = /^Failed(.+)\(C\)$/.exec(name);
    if (f && f[1] !== 'Call' && num(name) > 0) failedBy[f[1]!] = num(name);
    const r = /^ResponseTime(.+)\(C\)$/.exec(name);
    if (r && !r[1]!.endsWith('StDev')) meanResponseMs[r[1]!] = durationMs(col(last, name));
  }
  let peak = 0;
  for (const row of rows.slice(1)) peak = Math.max(peak, Number(col(row, 'CurrentCall') ?? 0));
  return {
    created: num('TotalCallCreated'),
    successful: num('SuccessfulCall(C)'),
    failed: num('FailedCall(C)'),
    failedBy,
    retransmissions: num('Retransmissions(C)'),
    outOfCallMessages: num('OutOfCallMsgs(C)'),
    deadCallMessages: num('DeadCallMsgs(C)'),
    current: num('CurrentCall'),
    peakConcurrent: peak,
    meanResponseMs,
    elapsedSec: durationMs(`${col(last, 'ElapsedTime(C)') ?? ''}:0`) / 1000,
  };
}

/** The `-trace_rtt` CSV (`Date_ms;response_time_ms;rtd_no`): the samples by rtd name. */
export function parseSippRtt(csv: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const line of csv.split('\n').slice(1)) {
    const [, ms, rtd] = line.trim().split(';');
    if (rtd === undefined || ms === undefined || !Number.isFinite(Number(ms))) continue;
    (out[rtd] ??= []).push(Number(ms));
  }
  return out;
}

/** One line saying what a run gave, for assertion messages. */
export function describeSipp(what: string, r: SippResult): string {
  const s = r.stats;
  const counts = s
    ? `${s.successful} successful, ${s.failed} failed ${JSON.stringify(s.failedBy)}, ${s.retransmissions} retransmissions`
    : 'no statistics';
  return `${what}: exit ${r.code ?? r.signal}, ${counts}${r.errors ? `\nerrors:\n${r.errors.slice(-3000)}` : ''}${
    r.stderr.trim() ? `\nstderr:\n${r.stderr.trim().slice(-2000)}` : ''
  }`;
}
