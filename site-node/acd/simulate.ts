/**
 * A seeded discrete-event simulation around the pure ACD core: Poisson arrivals, random
 * handle times, ring delays, ring-no-answers, caller patience, breaks and transfers, played
 * against `acdStep` with an event heap instead of a clock. Pure and deterministic: the same
 * options and seed give the same summary. Used by the Erlang C check (erlang.test.ts) and
 * the benchmark (test/bench/acd.ts), which wraps `step` to time each decision.
 *
 * Distribution helpers: `exponential(mean)`, `lognormal(mean, sd)`, `constant(v)`,
 * `uniform(lo, hi)`; all take the simulation's PRNG (shared/random.ts's mulberry32).
 */
import { isDomainError } from '../../shared/errors.js';
import { mulberry32 } from '../../shared/random.js';
import { compileAcdConfig } from './config.js';
import { acdStep, type AcdStepResult } from './core.js';
import { createAcdState, type AcdState } from './state.js';
import type { AcdCommand, AcdEvent, CallOutcome, SkillMap } from './types.js';

// ---------------------------------------------------------------------------------------
// PRNG and distributions

export type Rng = () => number;

/** The project's seeded generator (shared/random.ts): uniform in [0, 1). */
export const seededRng = (seed: number): Rng => mulberry32(seed);

export type Dist = (rng: Rng) => number;

export const constant =
  (v: number): Dist =>
  () =>
    v;
export const uniform =
  (lo: number, hi: number): Dist =>
  (rng) =>
    lo + (hi - lo) * rng();
export const exponential =
  (mean: number): Dist =>
  (rng) =>
    -mean * Math.log(1 - rng());

function normal(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Lognormal with the given mean and standard deviation (of the variable itself). */
export function lognormal(mean: number, sd: number): Dist {
  const s2 = Math.log(1 + (sd * sd) / (mean * mean));
  const mu = Math.log(mean) - s2 / 2;
  const s = Math.sqrt(s2);
  return (rng) => Math.exp(mu + s * normal(rng));
}

// ---------------------------------------------------------------------------------------
// Event heap

interface Item {
  at: number;
  seq: number;
  kind: 'arrival' | 'acd' | 'timer' | 'patience' | 'break';
  /** arrival: stream index; break: agent index */
  n: number;
  ev: AcdEvent | undefined;
  id: string;
  gen: number;
}

export class EventHeap {
  private a: Item[] = [];
  private seq = 0;
  get size(): number {
    return this.a.length;
  }
  push(it: Omit<Item, 'seq'>): void {
    const item = it as Item;
    item.seq = this.seq++;
    const a = this.a;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Item | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
const less = (x: Item, y: Item): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq);

// ---------------------------------------------------------------------------------------
// The simulation

export interface SimOptions {
  seed: number;
  /** ACD config input (compiled here). */
  config: unknown;
  agents: ReadonlyArray<{ id: string; skills: SkillMap }>;
  arrivals: ReadonlyArray<{ queueId: string; perHour: number; priority?: (rng: Rng) => number }>;
  /** Talk time per call. */
  talkMs: Dist;
  /** Per-queue talk time, overriding talkMs. */
  talkMsByQueue?: Readonly<Record<string, Dist>>;
  /** Delay between the offer and the answer. Default 0. */
  answerDelayMs?: Dist;
  /** Probability that an offered agent does not answer (the offer times out). Default 0. */
  ringNoAnswer?: number;
  /** How long an agent stays not-ready after a ring-no-answer before going ready. Default 30 s. */
  rnaRecoveryMs?: Dist;
  /** Caller patience while waiting or ringing; undefined = callers never abandon. */
  patienceMs?: Dist;
  /** Agent breaks: mean time between breaks per agent, and break length. */
  breaks?: { everyMs: Dist; lengthMs: Dist };
  /** Probability a connected call is transferred (to a random queue) instead of ended. */
  transfer?: number;
  /** Agents complete wrap-up early after this long (else the wrap-up timer ends it). */
  wrapupDoneMs?: Dist;
  /** Arrivals stop at durationMs; the run then drains until no call is left. */
  durationMs: number;
  /** Calls arriving before this are not counted in the summary. Default 0. */
  warmupMs?: number;
  /** Service level threshold for the summary. Default 20 s. */
  thresholdMs?: number;
  /** Replace the core's step, e.g. to time it. Default acdStep. */
  step?: (state: AcdState, event: AcdEvent, nowMs: number) => AcdStepResult;
  /** Start time (epoch ms). Default 0. */
  startMs?: number;
}

export interface SimSummary {
  seed: number;
  simulatedMs: number;
  steps: number;
  rejectedSteps: number;
  arrivals: number;
  /** Counted calls (arrived after warm-up). */
  calls: number;
  outcomes: Partial<Record<CallOutcome, number>>;
  answered: number;
  answeredWithinT: number;
  /** answeredWithinT / calls counted (every counted call reaches an outcome). */
  serviceLevel: number;
  /** Mean wait from first arrival to (first) answer, ms. */
  asaMs: number;
  /** Fraction of answered counted calls that waited at all (> 0 ms). */
  probWait: number;
  abandonRate: number;
  transfers: number;
}

export function simulate(opts: SimOptions): SimSummary {
  const rng = seededRng(opts.seed);
  const start = opts.startMs ?? 0;
  const state = createAcdState(compileAcdConfig(opts.config), start);
  const step = opts.step ?? acdStep;
  const heap = new EventHeap();
  const warmup = start + (opts.warmupMs ?? 0);
  const end = start + opts.durationMs;
  const T = opts.thresholdMs ?? 20_000;
  const talkFor = (q: string): Dist => opts.talkMsByQueue?.[q] ?? opts.talkMs;
  const queueIds = (state.config.queues as ReadonlyArray<{ id: string }>).map((q) => q.id);

  const timerGen = new Map<string, number>();
  let gen = 0;
  const arrivedAt = new Map<string, number>();
  const answeredAt = new Map<string, number>();
  const connected = new Set<string>();
  let callN = 0;
  const s: SimSummary = {
    seed: opts.seed,
    simulatedMs: 0,
    steps: 0,
    rejectedSteps: 0,
    arrivals: 0,
    calls: 0,
    outcomes: {},
    answered: 0,
    answeredWithinT: 0,
    serviceLevel: 0,
    asaMs: 0,
    probWait: 0,
    abandonRate: 0,
    transfers: 0,
  };
  let waitSum = 0;
  let waited = 0;
  const acd = (at: number, ev: AcdEvent): void => heap.push({ at, kind: 'acd', n: 0, ev, id: '', gen: 0 });

  let now = start;
  const send = (ev: AcdEvent): void => {
    let cmds: AcdCommand[];
    try {
      cmds = step(state, ev, now).commands;
      s.steps++;
    } catch (e) {
      if (!isDomainError(e)) throw e;
      s.rejectedSteps++;
      return;
    }
    for (const c of cmds) react(c);
  };

  const react = (c: AcdCommand): void => {
    switch (c.type) {
      case 'start-timer':
        timerGen.set(c.id, ++gen);
        heap.push({ at: c.atMs, kind: 'timer', n: 0, ev: undefined, id: c.id, gen });
        return;
      case 'cancel-timer':
        timerGen.delete(c.id);
        return;
      case 'offer-call':
        if (opts.ringNoAnswer && rng() < opts.ringNoAnswer) return;
        acd(now + (opts.answerDelayMs ? opts.answerDelayMs(rng) : 0), {
          type: 'agent-answered',
          agentId: c.agentId,
          callId: c.callId,
        });
        return;
      case 'call-connected': {
        connected.add(c.callId);
        if (!answeredAt.has(c.callId)) {
          answeredAt.set(c.callId, now);
          const t0 = arrivedAt.get(c.callId)!;
          if (t0 >= warmup) {
            const w = now - t0;
            s.answered++;
            waitSum += w;
            if (w > 0) waited++;
            if (w <= T) s.answeredWithinT++;
          }
        }
        const at = now + talkFor(c.queueId)(rng);
        if (opts.transfer && rng() < opts.transfer) {
          acd(at, {
            type: 'transfer',
            callId: c.callId,
            toQueueId: queueIds[Math.floor(rng() * queueIds.length)]!,
          });
        } else acd(at, { type: 'agent-hung-up', agentId: c.agentId, callId: c.callId });
        return;
      }
      case 'call-transferred':
        connected.delete(c.callId);
        s.transfers++;
        return;
      case 'call-ended': {
        connected.delete(c.callId);
        const t0 = arrivedAt.get(c.callId)!;
        arrivedAt.delete(c.callId);
        answeredAt.delete(c.callId);
        if (t0 >= warmup) s.outcomes[c.outcome] = (s.outcomes[c.outcome] ?? 0) + 1;
        return;
      }
      case 'agent-state-changed':
        if (c.to === 'not-ready' && c.reason === 'ring-no-answer') {
          acd(now + (opts.rnaRecoveryMs ? opts.rnaRecoveryMs(rng) : 30_000), {
            type: 'agent-ready',
            agentId: c.agentId,
          });
        } else if (c.to === 'wrap-up' && opts.wrapupDoneMs) {
          acd(now + opts.wrapupDoneMs(rng), { type: 'wrapup-done', agentId: c.agentId });
        } else if (c.to === 'not-ready' && c.reason === 'break' && opts.breaks) {
          acd(now + opts.breaks.lengthMs(rng), { type: 'agent-ready', agentId: c.agentId });
        }
        return;
      default:
        return;
    }
  };

  // Agents log in ready at the start; arrival streams and breaks are seeded.
  for (const a of opts.agents)
    acd(start, { type: 'agent-login', agentId: a.id, skills: a.skills, ready: true });
  opts.arrivals.forEach((a, i) => {
    if (a.perHour > 0)
      heap.push({
        at: start + exponential(3_600_000 / a.perHour)(rng),
        kind: 'arrival',
        n: i,
        ev: undefined,
        id: '',
        gen: 0,
      });
  });
  if (opts.breaks) {
    opts.agents.forEach((_a, i) =>
      heap.push({
        at: start + opts.breaks!.everyMs(rng),
        kind: 'break',
        n: i,
        ev: undefined,
        id: '',
        gen: 0,
      }),
    );
  }

  for (let it = heap.pop(); it; it = heap.pop()) {
    now = Math.max(now, Math.round(it.at));
    switch (it.kind) {
      case 'arrival': {
        if (it.at > end) continue;
        const stream = opts.arrivals[it.n]!;
        const callId = `sim-${++callN}`;
        arrivedAt.set(callId, now);
        s.arrivals++;
        if (now >= warmup) s.calls++;
        if (opts.patienceMs) {
          heap.push({
            at: now + opts.patienceMs(rng),
            kind: 'patience',
            n: 0,
            ev: undefined,
            id: callId,
            gen: 0,
          });
        }
        send({
          type: 'call-arrived',
          callId,
          queueId: stream.queueId,
          priority: stream.priority?.(rng) ?? 0,
        });
        heap.push({
          at: it.at + exponential(3_600_000 / stream.perHour)(rng),
          kind: 'arrival',
          n: it.n,
          ev: undefined,
          id: '',
          gen: 0,
        });
        break;
      }
      case 'acd': {
        // An adapter knows its desks: it does not send a wrap-up end or a ready that the
        // agent's current state already made moot (the wrap-up timer won, a second break...).
        const ev = it.ev!;
        if (ev.type === 'wrapup-done' || ev.type === 'agent-ready') {
          const st = state.agents.get(ev.agentId)?.state;
          if (st !== (ev.type === 'wrapup-done' ? 'wrap-up' : 'not-ready')) break;
        }
        send(ev);
        break;
      }
      case 'timer':
        if (timerGen.get(it.id) !== it.gen) break;
        timerGen.delete(it.id);
        send({ type: 'timer-fired', id: it.id });
        break;
      case 'patience':
        if (arrivedAt.has(it.id) && !answeredAt.has(it.id) && !connected.has(it.id)) {
          send({ type: 'caller-hung-up', callId: it.id });
        }
        break;
      case 'break': {
        if (it.at > end) break;
        const a = opts.agents[it.n]!;
        send({ type: 'agent-not-ready', agentId: a.id, reason: 'break' });
        heap.push({
          at: now + opts.breaks!.everyMs(rng),
          kind: 'break',
          n: it.n,
          ev: undefined,
          id: '',
          gen: 0,
        });
        break;
      }
    }
    if (now > end && state.calls.size === 0) break;
  }

  s.simulatedMs = now - start;
  s.serviceLevel = s.calls > 0 ? s.answeredWithinT / s.calls : 0;
  s.asaMs = s.answered > 0 ? waitSum / s.answered : 0;
  s.probWait = s.answered > 0 ? waited / s.answered : 0;
  const ab = (s.outcomes['abandoned-queued'] ?? 0) + (s.outcomes['abandoned-ringing'] ?? 0);
  s.abandonRate = s.calls > 0 ? ab / s.calls : 0;
  return s;
}
