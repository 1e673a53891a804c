/**
 * `npm run -s bench -- acd --scale`: the ACD at province scale (issue 11). The same seeded
 * simulation as the single-size bench (acd.ts) at 1,000, 10,000 and 50,000 agents, with one
 * queue (and one skill) per 20 agents, so every queue keeps about the same traffic and only
 * the size grows. Each size is measured the three ways acd.ts describes (live per-event
 * timing, replay of the recorded events, the trivial-step baseline over the same events).
 *
 * The bigger sizes simulate fewer hours so the whole run stays within about three minutes on
 * the 2-core development machine: the event counts stay of the same order (every size well
 * past the first wave of calls), and the table says how long each size simulated.
 *
 * Cost per event is the replay's mean (pure core, no per-event clock reads, no simulator),
 * the fastest of two passes. "x smallest" is that cost over the smallest size's; "x / log"
 * divides it again by log2(agents) / log2(smallest agents): at most 1 means the cost grows no
 * faster than the logarithm of the size (the goal, with p99 <= 50 us at 10,000 agents).
 *
 * The floor (acd.ts `floorReplay`) is the same events doing only the id lookups any ACD must
 * do, over maps as big as the core's: it grows with the size through the machine's memory
 * alone (caches, garbage collection). "floor x smallest" beside "x smallest" tells that growth
 * apart from the core's own; "x floor" is the core's cost over it at each size. The load
 * average at the start of each size is in the JSON: the machine is shared.
 *
 * The table goes to stderr with the progress lines; stdout stays one JSON document (run.ts),
 * which holds the same table as lines and every size's full measurement.
 */
import { loadavg } from 'node:os';
import { measureAcd, type AcdMeasurement, type AcdSetup } from './acd.js';

export const SCALE_SIZES: ReadonlyArray<{ agents: number; queues: number; hours: number }> = [
  { agents: 1_000, queues: 50, hours: 6 },
  { agents: 10_000, queues: 500, hours: 1 },
  { agents: 50_000, queues: 2_500, hours: 0.25 },
];

export interface ScaleRow {
  agents: number;
  queues: number;
  simulatedHours: number;
  events: number;
  liveEventsPerSec: number;
  p50Us: number;
  p99Us: number;
  replayUsPerEvent: number;
  replayCoreOverBaseline: number;
  costVsSmallest: number;
  costVsSmallestOverLog2: number;
  floorUsPerEvent: number;
  floorVsSmallest: number;
  replayCoreOverFloor: number;
  /** The same after the logins at the start (acd.ts `Pass`). */
  steadyUsPerEvent: number;
  steadyVsSmallest: number;
  steadyFloorVsSmallest: number;
  steadyCoreOverFloor: number;
  loginUs: number;
  /** The routing's counted steps per steady event (site-node/acd/work-count.ts). */
  workPerEvent: number;
  workVsSmallest: number;
}

const r2 = (v: number): number => Math.round(v * 100) / 100;

/** Rows from measurements, smallest size first; pure, so the table's arithmetic is plain. */
export function scaleRows(ms: readonly AcdMeasurement[]): ScaleRow[] {
  const first = ms[0]!;
  const c0 = first.replay.meanUs;
  const floorUs = (m: AcdMeasurement): number =>
    (m.floor.replay.ms * 1000) / Math.max(1, m.traffic.events as number);
  const f0 = floorUs(first);
  const s0 = first.replay.steady.meanUs;
  const sf0 = first.floor.replay.steadyMeanUs;
  const w0 = first.replay.steadyWorkPerEvent;
  return ms.map((m) => {
    const cost = m.replay.meanUs / Math.max(0.001, c0);
    const log = Math.log2(m.setup.agents) / Math.log2(first.setup.agents);
    return {
      agents: m.setup.agents,
      queues: m.setup.queues,
      simulatedHours: m.setup.simulatedHours,
      events: m.traffic.events as number,
      liveEventsPerSec: m.live.eventsPerSec,
      p50Us: m.live.p50Us,
      p99Us: m.live.p99Us,
      replayUsPerEvent: m.replay.meanUs,
      replayCoreOverBaseline: m.ratio.replayCoreOverBaseline,
      costVsSmallest: r2(cost),
      costVsSmallestOverLog2: r2(cost / log),
      floorUsPerEvent: r2(floorUs(m)),
      floorVsSmallest: r2(floorUs(m) / Math.max(0.001, f0)),
      replayCoreOverFloor: m.ratio.replayCoreOverFloor,
      steadyUsPerEvent: m.replay.steady.meanUs,
      steadyVsSmallest: r2(m.replay.steady.meanUs / Math.max(0.001, s0)),
      steadyFloorVsSmallest: r2(m.floor.replay.steadyMeanUs / Math.max(0.001, sf0)),
      steadyCoreOverFloor: r2(m.replay.steady.meanUs / Math.max(0.001, m.floor.replay.steadyMeanUs)),
      loginUs: r2(m.replay.loginMeanUs),
      workPerEvent: r2(m.replay.steadyWorkPerEvent),
      workVsSmallest: r2(m.replay.steadyWorkPerEvent / Math.max(0.001, w0)),
    };
  });
}

export function formatTable(rows: readonly ScaleRow[]): string[] {
  const head = [
    'agents',
    'queues',
    'sim h',
    'events',
    'events/s',
    'p50 us',
    'p99 us',
    'us/event',
    'x base',
    'x smallest',
    'x / log',
    'floor us',
    'floor x smallest',
    'x floor',
    'steady us',
    'steady x smallest',
    'steady floor x smallest',
    'steady x floor',
    'login us',
    'work/event',
    'work x smallest',
  ];
  const body = rows.map((r) => [
    r.agents.toLocaleString('en'),
    r.queues.toLocaleString('en'),
    String(r.simulatedHours),
    r.events.toLocaleString('en'),
    r.liveEventsPerSec.toLocaleString('en'),
    r.p50Us.toFixed(2),
    r.p99Us.toFixed(2),
    r.replayUsPerEvent.toFixed(2),
    r.replayCoreOverBaseline.toFixed(1),
    r.costVsSmallest.toFixed(2),
    r.costVsSmallestOverLog2.toFixed(2),
    r.floorUsPerEvent.toFixed(2),
    r.floorVsSmallest.toFixed(2),
    r.replayCoreOverFloor.toFixed(1),
    r.steadyUsPerEvent.toFixed(2),
    r.steadyVsSmallest.toFixed(2),
    r.steadyFloorVsSmallest.toFixed(2),
    r.steadyCoreOverFloor.toFixed(2),
    r.loginUs.toFixed(2),
    r.workPerEvent.toFixed(2),
    r.workVsSmallest.toFixed(2),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(width[i]!)).join('  ');
  return [line(head), ...body.map(line)];
}

export function runScale(base: AcdSetup, progress: (line: string) => void): unknown {
  const t0 = Date.now();
  const ms: AcdMeasurement[] = [];
  const loads: number[] = [];
  for (const size of SCALE_SIZES) {
    progress(
      `size ${ms.length + 1}/${SCALE_SIZES.length}: ${size.agents} agents (${Math.round((Date.now() - t0) / 1000)} s so far)`,
    );
    loads.push(Number(loadavg()[0]!.toFixed(1)));
    ms.push(measureAcd({ ...base, ...size }, progress, 2));
  }
  const rows = scaleRows(ms);
  const table = formatTable(rows);
  const note = `bigger sizes simulate fewer hours (${SCALE_SIZES.map((s) => `${s.agents}: ${s.hours} h`).join(', ')}) to keep the run near three minutes`;
  process.stderr.write(`\n${table.join('\n')}\n(${note})\n\n`);
  const at10k = rows.find((r) => r.agents === 10_000);
  const logRatio = (r: ScaleRow): number => Math.log2(r.agents) / Math.log2(rows[0]!.agents);
  return {
    bench: 'acd',
    mode: 'scale',
    node: process.version,
    note,
    costPerEvent:
      'replay mean of the core (fastest of 2 passes); x / log = x smallest / (log2 agents / log2 1000)',
    loadAverageAtEachSize: loads,
    wallSeconds: Math.round((Date.now() - t0) / 1000),
    table,
    rows,
    goals: {
      p99AtMost50usAt10k: at10k !== undefined && at10k.p99Us <= 50,
      costGrowsNoFasterThanLog: rows.every((r) => r.costVsSmallestOverLog2 <= 1),
      // The same test on the core's cost over the floor: the growth that is the core's own.
      coreOverFloorGrowsNoFasterThanLog: rows.every(
        (r) => r.replayCoreOverFloor / Math.max(0.01, rows[0]!.replayCoreOverFloor) <= logRatio(r),
      ),
      // After the logins: the same, on the events a running centre sees.
      steadyCostGrowsNoFasterThanLog: rows.every((r) => r.steadyVsSmallest <= logRatio(r)),
      steadyCoreOverFloorGrowsNoFasterThanLog: rows.every(
        (r) => r.steadyCoreOverFloor / Math.max(0.01, rows[0]!.steadyCoreOverFloor) <= logRatio(r),
      ),
      // The routing's own work, counted in steps: no machine in it.
      workGrowsNoFasterThanLog: rows.every((r) => r.workVsSmallest <= logRatio(r)),
      // Even the floor (id lookups only) outgrows log2 when this is false: the machine's memory,
      // not any ACD's routing, sets the wall-clock growth.
      floorGrowsNoFasterThanLog: rows.every((r) => r.steadyFloorVsSmallest <= logRatio(r)),
    },
    sizes: ms,
  };
}
