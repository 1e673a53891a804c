/**
 * The seeded busy centre the ACD's scaling is measured on (docs/operations.md §8.5), shared by
 * the bench (test/bench/acd.ts) and the work-count test: `agents` agents with `skills` skills
 * each (proficiency 1-5), one queue and one skill per `queues` (mixed strategies, skill
 * expansion, VIP priorities, length and wait limits), offered `load` times the nominal capacity
 * (talk 180 s + wrap-up ~15 s per call; breaks, ring time and ring-no-answer eat the rest),
 * spread unevenly over the queues, with a realistic mix: lognormal talk times, ring delays, 3%
 * ring-no-answer, caller abandons, 5% transfers, breaks, early wrap-up completion.
 */
import { exponential, lognormal, seededRng, uniform, type SimOptions } from './simulate.js';

export interface ScaleSetup {
  agents: number;
  queues: number;
  /** Skills per agent. */
  skills: number;
  hours: number;
  seed: number;
  /** Offered load relative to nominal capacity. */
  load: number;
}

/** The simulation options of one size; the caller adds the `step`. */
export function scaleScenario(setup: ScaleSetup): Omit<SimOptions, 'step'> & { callsPerHour: number } {
  const { agents, queues, skills: perAgent, hours, seed, load } = setup;
  const rng = seededRng(seed ^ 0x5eed);
  const roster = Array.from({ length: agents }, (_, i) => {
    const skills: Record<string, number> = {};
    while (Object.keys(skills).length < perAgent) {
      skills[`s${Math.floor(rng() * queues)}`] = 1 + Math.floor(rng() * 5);
    }
    return { id: `agent-${i}`, skills };
  });
  const weights = Array.from({ length: queues }, () => 0.5 + rng());
  const wsum = weights.reduce((a, b) => a + b, 0);
  const callsPerHour = ((agents * 3600) / 195) * load;
  return {
    seed,
    config: scaleConfig(queues),
    agents: roster,
    arrivals: weights.map((w, i) => ({
      queueId: `q${i}`,
      perHour: (callsPerHour * w) / wsum,
      priority: i % 10 === 0 ? (r: () => number) => (r() < 0.3 ? 10 : 0) : undefined,
    })),
    durationMs: hours * 3_600_000,
    talkMs: lognormal(180_000, 120_000),
    answerDelayMs: uniform(1_000, 6_000),
    ringNoAnswer: 0.03,
    rnaRecoveryMs: exponential(30_000),
    patienceMs: lognormal(150_000, 120_000),
    breaks: { everyMs: exponential(2 * 3_600_000), lengthMs: exponential(600_000) },
    transfer: 0.05,
    wrapupDoneMs: exponential(12_000),
    callsPerHour,
  };
}

function scaleConfig(queues: number): unknown {
  const qs = Array.from({ length: queues }, (_, i) => ({
    id: `q${i}`,
    skill: `s${i}`,
    strategy: i % 2 === 0 ? 'longest-idle' : 'best-proficiency',
    minProficiency: i % 3 === 0 ? 3 : 1,
    expansion:
      i % 3 === 0
        ? [
            { afterMs: '20s', minProficiency: 1 },
            { afterMs: '60s', alsoSkills: [`s${(i + 1) % queues}`] },
          ]
        : [],
    maxQueueLength: 40,
    maxWaitMs: '5m',
    onMaxWait: 'callback-offer',
    onQueueFull: i % 5 === 0 ? `overflow-queue:q${(i + 1) % queues}` : 'announcement:busy',
  }));
  return { offerTimeoutMs: '15s', wrapUpMs: '20s', queues: qs };
}
