/**
 * What both halves of the sip-site bench (sip-site.ts: the Kamailio reference; sip-site-run.ts:
 * the site) read the same way: calls per second from SIPp's trace, RTP figures from a meter,
 * CPU and memory of a family of processes, the CPU of reaped children, and the kernel's UDP
 * drops per socket. Linux /proc only.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { PLAYOUT_LAG_AT_STOP } from '../../site-node/telephony/sip-voice.js';
import type { RtpCountSummary } from '../support/rtp-count.js';
import { clockTicks, processCpuMs, processRssMiB } from './stats.js';

/** A process and its children (Kamailio's workers), for CPU and memory. */
export function family(pid: number): number[] {
  const out = [pid];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone while we looked
    }
  }
  return out;
}

export function cpuMs(pids: readonly number[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      sum += processCpuMs(p);
    } catch {
      // gone
    }
  }
  return sum;
}

export function rssMiB(pids: readonly number[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      sum += processRssMiB(p);
    } catch {
      // gone
    }
  }
  return Math.round(sum * 10) / 10;
}

/** CPU ms of this process's children that have ended and been waited for (/proc/self/stat). */
export function reapedChildrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3; cutime and cstime are fields 16 and 17.
  return ((Number(rest[13]) + Number(rest[14])) * 1000) / clockTicks();
}

export function rtpFigures(s: RtpCountSummary): Record<string, number> {
  return {
    packets: s.packets,
    distinct: s.expected - s.lost,
    lost: s.lost,
    lossPercent: s.expected === 0 ? 0 : Math.round((s.lost / s.expected) * 1e6) / 1e4,
    streams: s.streams,
    duplicates: s.duplicates,
  };
}

/** Calls per second between the first and the last setup SIPp traced (ms since its start). */
export function setupRate(rttCsv: string): number {
  const times = rttCsv
    .split('\n')
    .slice(1)
    .map((l) => l.split(';'))
    .filter((f) => f[2] === 'setup')
    .map((f) => Number(f[0]));
  if (times.length < 2) return 0;
  const spanS = (Math.max(...times) - Math.min(...times)) / 1000;
  return spanS > 0 ? Math.round(((times.length - 1) / spanS) * 100) / 100 : 0;
}

/** The SIPp run's response-time trace (`-trace_rtt`), or '' when it wrote none. */
export function sippRttCsv(dir: string): string {
  const rttFile = readdirSync(dir).find((n) => n.endsWith('_rtt.csv'));
  return rttFile ? readFileSync(`${dir}/${rttFile}`, 'utf8') : '';
}

/**
 * Datagrams the kernel dropped at each UDP socket `pid` holds (its receive buffer full: the
 * process did not read in time), by socket inode, from /proc/net/udp's `drops` column. A
 * relay numbers what it received, so its far end sees no gap for a datagram dropped on the
 * way in: this is where such a loss shows. A socket closed is gone from the table, so callers
 * sample while the sockets live.
 */
export function udpSocketDrops(pid: number): Map<string, number> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return new Map();
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed while we listed
    }
  }
  const out = new Map<string, number>();
  for (const table of ['udp', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13 || !inodes.has(f[9]!)) continue;
      out.set(f[9]!, Number(f[f.length - 1]));
    }
  }
  return out;
}

/** The drops over samples of `udpSocketDrops`: per socket, the highest seen less its count at the start. */
export class DropTally {
  private readonly seen = new Map<string, number>();
  constructor(private readonly atStart: Map<string, number>) {}
  add(sample: Map<string, number>): void {
    for (const [inode, drops] of sample) this.seen.set(inode, Math.max(drops, this.seen.get(inode) ?? 0));
  }
  total(): number {
    let sum = 0;
    for (const [inode, v] of this.seen) sum += v - (this.atStart.get(inode) ?? 0);
    return sum;
  }
}

/** The whole machine's CPU so far (/proc/stat's first line): busy and total, in ms of all cores. */
export function machineCpuMs(): { busyMs: number; totalMs: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are the idle ones.
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3]! + f[4]!;
  const ms = 1000 / clockTicks();
  return { busyMs: (total - idle) * ms, totalMs: total * ms };
}

/**
 * The media engine's run total of time its prompts and music lost to stalls, from the warning
 * the site logs as it stops (site-node/telephony/sip-voice.ts); none when it never stalled.
 */
export function playoutLagFromLog(
  line: string,
): { stalls: number; delayedMs: number; longestStallMs: number } | undefined {
  if (!line.includes(PLAYOUT_LAG_AT_STOP)) return undefined;
  try {
    const j = JSON.parse(line) as Record<string, number>;
    return { stalls: j['stalls']!, delayedMs: j['delayedMs']!, longestStallMs: j['longestStallMs']! };
  } catch {
    return undefined;
  }
}
