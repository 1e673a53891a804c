/**
 * A tiny in-memory driver for the core, for tests (docs/architecture.md §3.8 tier 1): it keeps a
 * manual clock and the armed timers, and fires due timers in time order, the way the
 * site runtime's adapter does. Timers due at the same instant fire in the order armed.
 */
import { compileAcdConfig } from './config.js';
import { acdStep } from './core.js';
import { createAcdState, type AcdState } from './state.js';
import type { AcdCommand, AcdEvent } from './types.js';

export class AcdHarness {
  readonly state: AcdState;
  now: number;
  /** id -> [atMs, order armed] */
  readonly timers = new Map<string, [number, number]>();
  readonly log: AcdCommand[] = [];
  private armed = 0;

  constructor(config: unknown, startMs = 0) {
    this.state = createAcdState(compileAcdConfig(config), startMs);
    this.now = startMs;
  }

  /** Step one event at the current time, then fire timers already due. */
  send(event: AcdEvent): AcdCommand[] {
    const out = this.step(event, this.now);
    out.push(...this.fireDue(this.now));
    return out;
  }

  /** Move time forward, firing every timer due on the way, each at its own time. */
  advance(ms: number): AcdCommand[] {
    const target = this.now + ms;
    const out = this.fireDue(target);
    this.now = target;
    return out;
  }

  private step(event: AcdEvent, at: number): AcdCommand[] {
    const { commands } = acdStep(this.state, event, at);
    for (const c of commands) {
      if (c.type === 'start-timer') this.timers.set(c.id, [c.atMs, this.armed++]);
      else if (c.type === 'cancel-timer') this.timers.delete(c.id);
    }
    this.log.push(...commands);
    return [...commands];
  }

  /** The next armed timer due at or before `limit`, if any. */
  nextDue(limit: number): [string, number] | undefined {
    let best: [string, number, number] | undefined;
    for (const [id, [at, order]] of this.timers) {
      if (at <= limit && (!best || at < best[1] || (at === best[1] && order < best[2])))
        best = [id, at, order];
    }
    return best && [best[0], best[1]];
  }

  private fireDue(limit: number): AcdCommand[] {
    const out: AcdCommand[] = [];
    for (let next = this.nextDue(limit); next; next = this.nextDue(limit)) {
      const [id, at] = next;
      this.timers.delete(id);
      this.now = Math.max(this.now, at);
      out.push(...this.step({ type: 'timer-fired', id }, this.now));
    }
    return out;
  }
}

// ---- a one-queue site for the tests of calls that keep their place (callbacks, moves) ----

/** The commands of one type in a step's output. */
export const commandsOf = <T extends AcdCommand['type']>(
  cmds: AcdCommand[],
  type: T,
): Extract<AcdCommand, { type: T }>[] =>
  cmds.filter((c): c is Extract<AcdCommand, { type: T }> => c.type === type);

/** A site with one `retail` queue (expanding to `vip` after 30 s, callbacks tried twice). */
export function retailHarness(
  queue: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): AcdHarness {
  return new AcdHarness({
    ...extra,
    offerTimeoutMs: '10s',
    wrapUpMs: '5s',
    queues: [
      {
        id: 'retail',
        skill: 'retail',
        expansion: [{ afterMs: '30s', alsoSkills: ['vip'] }],
        callback: { maxTries: 2, retryDelayMs: '1m' },
        ...queue,
      },
    ],
  });
}

/** A caller arriving in `retail`. */
export const arriveInRetail = (h: AcdHarness, callId: string, priority = 5): AcdCommand[] =>
  h.send({ type: 'call-arrived', callId, queueId: 'retail', priority });

/** An agent logging in ready. */
export const loginReady = (
  h: AcdHarness,
  agentId: string,
  skills: Record<string, number> = { retail: 3 },
): AcdCommand[] => h.send({ type: 'agent-login', agentId, skills, ready: true });
