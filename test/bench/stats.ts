/**
 * Small helpers shared by the federation benchmarks: latency summaries, flag parsing, the
 * PostgreSQL check and /proc readings for a process's CPU time and memory (Linux only).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Nearest-rank percentiles of millisecond samples. */
export function summarize(samplesMs: readonly number[]): LatencySummary {
  const s = Float64Array.from(samplesMs).sort();
  const at = (p: number): number =>
    s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: s.length,
    p50Ms: round3(at(0.5)),
    p90Ms: round3(at(0.9)),
    p99Ms: round3(at(0.99)),
    maxMs: round3(s.length === 0 ? 0 : s[s.length - 1]!),
    meanMs: round3(sum / Math.max(1, s.length)),
  };
}

/** `a / b` rounded to 2 decimals (b floored at 0.001 so an empty floor cannot divide by 0). */
export const ratio = (a: number, b: number): number => Math.round((a / Math.max(0.001, b)) * 100) / 100;

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Benchmarks that need PostgreSQL say how to start it, and exit 2, when it is not set up. */
export function requirePostgres(bench: string): void {
  if (process.env.TEST_PG_URL) return;
  process.stderr.write(
    `${bench} needs PostgreSQL: run \`bash deploy/services.sh up\` and \`source .services/env.sh\`, then retry\n`,
  );
  process.exit(2);
}

/** `--name value` / `--name=value` flags; unknown flags are refused so a typo is not ignored. */
export function parseFlags(args: readonly string[], known: Record<string, number>): Record<string, number> {
  const out = { ...known };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !(m[1]! in known)) {
      throw new Error(
        `unknown argument ${JSON.stringify(a)}; flags: ${Object.keys(known)
          .map((k) => `--${k} N`)
          .join(' ')}`,
      );
    }
    const raw = m[2] ?? args[++i];
    const v = Number(raw);
    if (raw === undefined || !Number.isFinite(v) || v <= 0)
      throw new Error(`--${m[1]}: expected a positive number, got ${String(raw)}`);
    out[m[1]!] = v;
  }
  return out;
}

let ticks: number | undefined;
/** Clock ticks per second for /proc times (`getconf CLK_TCK`, almost always 100). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** utime + stime of a process (all its threads), in ms, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which is in parentheses and may contain spaces).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1000) / clockTicks();
}

/** CPU ms of each thread of a process by thread id (/proc/<pid>/task/<tid>/stat); the main thread's id is the pid. */
export function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // gone
  }
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(t), ((Number(rest[11]) + Number(rest[12])) * 1000) / clockTicks());
    } catch {
      // the thread ended
    }
  }
  return out;
}

/**
 * Where a process's CPU went between two `threadCpuMs` samples: its main thread, its busiest
 * other thread (in a site, the media engine's worker) and all the rest (GC, libuv's pool).
 * A thread that ended between the samples is not counted.
 */
export function threadCpuSplit(
  pid: number,
  before: Map<number, number>,
  after: Map<number, number>,
): { mainMs: number; busiestOtherMs: number; restMs: number; othersMs: number[] } {
  let mainMs = 0;
  const others: number[] = [];
  for (const [tid, ms] of after) {
    const d = ms - (before.get(tid) ?? 0);
    if (tid === pid) mainMs = d;
    else others.push(d);
  }
  others.sort((a, b) => b - a);
  const r = (x: number) => Math.round(x);
  const busiestOtherMs = others[0] ?? 0;
  const restMs = others.slice(1).reduce((a, b) => a + b, 0);
  return { mainMs: r(mainMs), busiestOtherMs: r(busiestOtherMs), restMs: r(restMs), othersMs: others.map(r) };
}

/** Resident set size of a process in MiB, from /proc/<pid>/status VmRSS. */
export function processRssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
