/**
 * Property-based tests: random event sequences (arrivals, agent actions, abandons,
 * transfers, time advances firing timers) against the core, checking after every single
 * core step:
 * - no agent holds two calls; no call is offered to two agents at once;
 * - every call ends exactly once, and an ended call never appears in a command again;
 * - FIFO within one queue, one priority and one rank: when a call is offered, no older call of
 *   the same queue, priority and rank (own, or below own) is still waiting;
 * - below own: a call admitted `belowOwn` is offered to an agent only while no own caller of
 *   its queue that agent may take is waiting, whatever the priorities;
 * - no ready agent idles while a call it may take waits (checked whenever no timer is due);
 * - a rejected event changes nothing;
 * - the internal indexes agree with each other (invariants.ts);
 * - callbacks (virtual calls): one place each, never dialled for two agents at once, never
 *   turned away by a fallback, and each ends exactly once like any call;
 * - moves between sites (take, return, moved, admit): only a caller waiting in the line is
 *   taken, with its place; a taken call is never offered or dialled until it is returned, and
 *   comes back to the very place it had (same queue, priority, enqueue time and order).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isDomainError } from '../../shared/errors.js';
import { compileAcdConfig } from './config.js';
import { acdStep } from './core.js';
import { checkAcdInvariants } from './invariants.js';
import { isEligible, levelFor } from './routing.js';
import { createAcdState, type AcdState } from './state.js';
import type { AcdCommand, AcdEvent } from './types.js';
import { agentView, callView } from './views.js';

const CONFIG = {
  offerTimeoutMs: 3000,
  wrapUpMs: 2000,
  queues: [
    {
      id: 'A',
      skill: 'a',
      minProficiency: 2,
      expansion: [
        { afterMs: 5000, minProficiency: 1 },
        { afterMs: 10000, alsoSkills: ['b'] },
      ],
      maxQueueLength: 4,
      maxWaitMs: 30000,
      onMaxWait: 'overflow-queue:C',
    },
    {
      id: 'B',
      skill: 'b',
      strategy: 'best-proficiency',
      expansion: [{ afterMs: 8000, alsoSkills: ['c', 'a'] }],
      maxQueueLength: 3,
      onQueueFull: 'leave-message',
      maxWaitMs: 20000,
      callback: { maxTries: 2, retryDelayMs: 4000 },
    },
    { id: 'C', skill: 'c', wrapUpMs: 0 },
  ],
};
const QUEUES = ['A', 'B', 'C'];
const AGENTS = 5;

type Action =
  | { k: 'arrive'; q: number; p: number }
  | { k: 'login'; a: number; skills: Record<string, number>; ready: boolean }
  | { k: 'logout' | 'ready' | 'wrapdone'; a: number }
  | { k: 'notready'; a: number; r: string }
  | { k: 'lapse'; a: number }
  | { k: 'answer' | 'agenthangup'; a: number; own: boolean; c: number }
  | { k: 'callerhangup'; c: number }
  | { k: 'transfer'; c: number; q: number }
  | { k: 'cbrequest'; c: number }
  | { k: 'cbarrive'; q: number; p: number; back: number; tries: number }
  | { k: 'dialled'; c: number; answered: boolean }
  | { k: 'take' | 'return' | 'moved'; c: number }
  | { k: 'admit'; q: number; p: number; back: number; belowOwn: boolean }
  | { k: 'advance'; ms: number };

const agentIx = fc.nat({ max: AGENTS - 1 });
const skills = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 1, max: 5 }), {
  minKeys: 1,
  maxKeys: 3,
});
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ k: fc.constant('arrive' as const), q: fc.nat({ max: 2 }), p: fc.nat({ max: 2 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('login' as const),
      a: agentIx,
      skills,
      ready: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('ready' as const), a: agentIx }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('lapse' as const), a: agentIx }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constantFrom('logout' as const, 'wrapdone' as const), a: agentIx }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('notready' as const),
      a: agentIx,
      r: fc.constantFrom('break', 'lunch'),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      k: fc.constantFrom('answer' as const, 'agenthangup' as const),
      a: agentIx,
      own: fc.nat({ max: 9 }).map((n) => n < 8),
      c: fc.nat({ max: 40 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('callerhangup' as const), c: fc.nat({ max: 40 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('transfer' as const),
      c: fc.nat({ max: 40 }),
      q: fc.nat({ max: 2 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('cbrequest' as const), c: fc.nat({ max: 40 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('cbarrive' as const),
      q: fc.nat({ max: 2 }),
      p: fc.nat({ max: 2 }),
      back: fc.integer({ min: 0, max: 40000 }),
      tries: fc.nat({ max: 2 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('dialled' as const),
      c: fc.nat({ max: 40 }),
      answered: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('take' as const), c: fc.nat({ max: 40 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constantFrom('return' as const, 'moved' as const), c: fc.nat({ max: 40 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('admit' as const),
      q: fc.nat({ max: 2 }),
      p: fc.nat({ max: 2 }),
      back: fc.integer({ min: 0, max: 40000 }),
      belowOwn: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 2500 }), fc.integer({ min: 0, max: 40000 })),
    }),
  },
);

/** A call's place in its queue, as a comparable string. */
function place(c: { queueId: string; priority: number; enqueueMs: number; seq: number }): string {
  return `${c.queueId}/${c.priority}/${c.enqueueMs}/${c.seq}`;
}

function snapshot(s: AcdState): string {
  return JSON.stringify({
    now: s.nowMs,
    seq: s.seq,
    agents: [...s.agents.keys()].map((id) => agentView(s, id)),
    calls: [...s.calls.keys()].map((id) => callView(s, id)),
    timers: [...s.timers].map(([id, t]) => [id, t.atMs]),
    waiting: s.queues.map((q) => q.waiting),
  });
}

class Checker {
  ended = new Map<string, number>();
  offeredTo = new Map<string, string>();
  connected = new Map<string, string>();
  holds = new Map<string, string>();
  dialing = new Map<string, string>();
  callbacks = new Set<string>();
  /** Taken for a move: call id -> its place when taken (queue, priority, enqueue time, order). */
  taken = new Map<string, string>();
  timers = new Map<string, number>();
  arrived: string[] = [];

  constructor(readonly state: AcdState) {}

  private release(callId: string): void {
    const a = this.offeredTo.get(callId) ?? this.connected.get(callId) ?? this.dialing.get(callId);
    if (a !== undefined) this.holds.delete(a);
    this.offeredTo.delete(callId);
    this.connected.delete(callId);
    this.dialing.delete(callId);
  }

  commands(cmds: AcdCommand[]): void {
    for (const c of cmds) {
      // The one exception: the answer to a take asked about a call that has ended.
      const answer = c.type === 'call-not-waiting' && c.reason === 'unknown';
      if ('callId' in c && c.callId !== undefined && this.ended.has(c.callId) && !answer) {
        assert.fail(`ended call ${c.callId} got ${JSON.stringify(c)}`);
      }
      switch (c.type) {
        case 'dial-callback':
        case 'offer-call': {
          const dialled = this.dialing.get(c.callId);
          if (c.type === 'offer-call' && dialled !== undefined) {
            // The customer answered: the offer goes to the agent reserved for the dial.
            assert.equal(
              dialled,
              c.agentId,
              `callback ${c.callId} dialled for ${dialled}, offered to ${c.agentId}`,
            );
            this.dialing.delete(c.callId);
            this.offeredTo.set(c.callId, c.agentId);
            break;
          }
          assert.ok(!this.taken.has(c.callId), `taken call ${c.callId} given to ${c.agentId}`);
          assert.ok(dialled === undefined, `callback ${c.callId} dialled for two agents`);
          assert.ok(!this.offeredTo.has(c.callId), `call ${c.callId} offered twice`);
          assert.ok(!this.connected.has(c.callId), `connected call ${c.callId} offered`);
          assert.ok(
            !this.holds.has(c.agentId),
            `agent ${c.agentId} offered ${c.callId} while holding ${this.holds.get(c.agentId)}`,
          );
          (c.type === 'dial-callback' ? this.dialing : this.offeredTo).set(c.callId, c.agentId);
          this.holds.set(c.agentId, c.callId);
          // FIFO within queue and priority
          const v = callView(this.state, c.callId)!;
          for (const other of this.state.calls.values()) {
            if (
              other.state === 'queued' &&
              other.queue.cfg.id === v.queueId &&
              other.priority === v.priority &&
              other.belowOwn === v.belowOwn
            ) {
              // Older = entered the queue earlier (a ring-no-answer re-queue keeps its entry time).
              const older =
                other.enqueueMs < v.enqueueMs || (other.enqueueMs === v.enqueueMs && other.seq < v.seq);
              assert.ok(
                !older,
                `offered ${c.callId} (seq ${v.seq}) before older ${other.id} (seq ${other.seq})`,
              );
            }
          }
          if (v.belowOwn) {
            // Below every own caller: none of its queue that this agent may take still waits.
            const agent = this.state.agents.get(c.agentId)!;
            for (const other of this.state.calls.values()) {
              if (other.state !== 'queued' || other.belowOwn || other.queue.cfg.id !== v.queueId) continue;
              const level = levelFor(other.queue.cfg, this.state.nowMs - other.enqueueMs);
              assert.ok(
                !isEligible(agent, other.queue.cfg, level),
                `below-own ${c.callId} given to ${c.agentId} while own ${other.id} waits for it`,
              );
            }
          }
          break;
        }
        case 'withdraw-offer':
          assert.equal(this.offeredTo.get(c.callId), c.agentId);
          this.release(c.callId);
          break;
        case 'callback-retry':
          assert.ok(this.dialing.has(c.callId), `callback ${c.callId} retried without a dial`);
          this.release(c.callId);
          break;
        case 'call-fallback':
          assert.ok(!this.callbacks.has(c.callId), `callback ${c.callId} turned away (${c.reason})`);
          break;
        case 'call-connected':
          assert.equal(this.offeredTo.get(c.callId), c.agentId);
          this.offeredTo.delete(c.callId);
          // Served: from here (a transfer, say) it is an ordinary call.
          this.callbacks.delete(c.callId);
          this.connected.set(c.callId, c.agentId);
          break;
        case 'call-transferred':
          assert.equal(this.connected.get(c.callId), c.agentId);
          this.release(c.callId);
          break;
        case 'call-ended':
          this.ended.set(c.callId, (this.ended.get(c.callId) ?? 0) + 1);
          this.release(c.callId);
          this.taken.delete(c.callId);
          break;
        case 'call-taken':
          assert.ok(!this.taken.has(c.callId), `call ${c.callId} taken twice`);
          this.taken.set(c.callId, place(c));
          break;
        case 'start-timer':
          this.timers.set(c.id, c.atMs);
          break;
        case 'cancel-timer':
          this.timers.delete(c.id);
          break;
      }
    }
  }

  nextDue(limit: number): [string, number] | undefined {
    let best: [string, number] | undefined;
    for (const [id, at] of this.timers) if (at <= limit && (!best || at < best[1])) best = [id, at];
    return best;
  }

  /** One core step with all checks. Returns false if the event was rejected. */
  step(ev: AcdEvent, at: number): boolean {
    const before = snapshot(this.state);
    const named =
      'callId' in ev && typeof ev.callId === 'string' ? callView(this.state, ev.callId) : undefined;
    let cmds: AcdCommand[];
    try {
      cmds = acdStep(this.state, ev, at).commands;
    } catch (e) {
      assert.ok(isDomainError(e, 'failed-precondition') || isDomainError(e, 'invalid-argument'), String(e));
      assert.equal(snapshot(this.state), before, `rejected ${JSON.stringify(ev)} changed the state`);
      return false;
    }
    if (ev.type === 'call-arrived') this.arrived.push(ev.callId);
    if (ev.type === 'callback-arrived' || ev.type === 'callback-requested') {
      const id = ev.type === 'callback-arrived' ? ev.callId : ev.callbackId;
      this.arrived.push(id);
      this.callbacks.add(id);
    }
    if (ev.type === 'admit-overflow') this.arrived.push(ev.callId);
    if (ev.type === 'take-call') {
      // Taken exactly when a caller waits in the line, with the place it had there.
      const waiting = named !== undefined && named.state === 'queued' && !named.virtual;
      const answer = cmds.find((c) => c.type === 'call-taken' || c.type === 'call-not-waiting');
      assert.equal(answer?.type, waiting ? 'call-taken' : 'call-not-waiting', `take of ${ev.callId}`);
      if (waiting && answer?.type === 'call-taken') assert.equal(place(answer), place(named));
    }
    const wasTaken = ev.type === 'return-call' ? this.taken.get(ev.callId) : undefined;
    // Returned, it may be offered in this very step.
    if (ev.type === 'return-call') this.taken.delete(ev.callId);
    this.commands(cmds);
    if (ev.type === 'return-call') {
      assert.ok(wasTaken !== undefined, `${ev.callId} returned without being taken`);
      const back = callView(this.state, ev.callId);
      // Back in its very place, unless it was served at once or its max wait had run out (its
      // fallback may be another queue of the site).
      const turnedAway = cmds.some((c) => c.type === 'call-fallback' && c.callId === ev.callId);
      if (back?.state === 'queued' && !turnedAway) assert.equal(place(back), wasTaken);
    }
    for (const id of this.taken.keys()) assert.equal(callView(this.state, id)?.state, 'taken');
    assert.deepEqual(checkAcdInvariants(this.state), []);
    return true;
  }

  fireDue(limit: number): void {
    for (let n = this.nextDue(limit); n; n = this.nextDue(limit)) {
      this.timers.delete(n[0]);
      this.step({ type: 'timer-fired', id: n[0] }, Math.max(this.state.nowMs, n[1]));
    }
  }

  quiescentCheck(): void {
    if (this.nextDue(this.state.nowMs)) return;
    assert.deepEqual(checkAcdInvariants(this.state, { noIdleWhileWaiting: true }), []);
  }
}

function toEvent(a: Action, s: AcdState, nextCall: () => string): AcdEvent | undefined {
  const callId = (i: number): string => `c${i}`;
  const agentId = (i: number): string => `ag${i}`;
  // Mostly a live call (connected ones first for transfers), sometimes a stale or unknown id.
  const live = (i: number): string => {
    const ids = [...s.calls.keys()];
    return ids.length > 0 && i % 8 !== 0 ? ids[i % ids.length]! : callId(i);
  };
  switch (a.k) {
    case 'arrive':
      return {
        type: 'call-arrived',
        callId: nextCall(),
        queueId: QUEUES[a.q]!,
        priority: a.p,
        attached: { n: String(a.p) },
      };
    case 'login':
      return { type: 'agent-login', agentId: agentId(a.a), skills: a.skills, ready: a.ready };
    case 'logout':
      return { type: 'agent-logout', agentId: agentId(a.a) };
    case 'ready':
      return { type: 'agent-ready', agentId: agentId(a.a) };
    case 'wrapdone':
      return { type: 'wrapup-done', agentId: agentId(a.a) };
    case 'notready':
      return { type: 'agent-not-ready', agentId: agentId(a.a), reason: a.r };
    case 'lapse': {
      // Mostly a desk lost while its agent is being offered a call (the interesting case).
      const ringing = [...s.agents.values()].filter((x) => x.state === 'reserved');
      const ag = ringing.length > 0 && a.a % 2 === 0 ? ringing[a.a % ringing.length]!.id : agentId(a.a);
      return { type: 'agent-lease-lapsed', agentId: ag, reason: 'lease-lapsed' };
    }
    case 'answer':
    case 'agenthangup': {
      // Mostly an agent that can do it (reserved / on-call) with its own call; else anything.
      const want = a.k === 'answer' ? 'reserved' : 'on-call';
      const able = [...s.agents.values()].filter((x) => x.state === want);
      const ag = a.own && able.length > 0 ? able[a.a % able.length]! : s.agents.get(agentId(a.a));
      return {
        type: a.k === 'answer' ? 'agent-answered' : 'agent-hung-up',
        agentId: ag?.id ?? agentId(a.a),
        callId: a.own && ag?.callId ? ag.callId : callId(a.c),
      };
    }
    case 'callerhangup':
      return { type: 'caller-hung-up', callId: live(a.c) };
    case 'transfer':
      return { type: 'transfer', callId: live(a.c), toQueueId: QUEUES[a.q]! };
    case 'cbrequest': {
      const queued = [...s.calls.values()].filter((c) => c.state === 'queued');
      const id = queued.length > 0 && a.c % 8 !== 0 ? queued[a.c % queued.length]!.id : live(a.c);
      return { type: 'callback-requested', callId: id, callbackId: nextCall() };
    }
    case 'cbarrive':
      return {
        type: 'callback-arrived',
        callId: nextCall(),
        queueId: QUEUES[a.q]!,
        priority: a.p,
        enqueueMs: Math.max(0, s.nowMs - a.back),
        tries: a.tries,
      };
    case 'dialled': {
      const dialing = [...s.calls.values()].filter((c) => c.state === 'dialing');
      const id = dialing.length > 0 && a.c % 8 !== 0 ? dialing[a.c % dialing.length]!.id : live(a.c);
      return { type: 'callback-dialled', callId: id, answered: a.answered };
    }
    case 'take': {
      // Mostly a caller waiting in the line; sometimes one offered, connected, taken or gone.
      const queued = [...s.calls.values()].filter((c) => c.state === 'queued');
      const id = queued.length > 0 && a.c % 4 !== 0 ? queued[a.c % queued.length]!.id : live(a.c);
      return { type: 'take-call', callId: id, requestId: `${id}#1` };
    }
    case 'return':
    case 'moved': {
      const taken = [...s.calls.values()].filter((c) => c.state === 'taken');
      const id = taken.length > 0 && a.c % 8 !== 0 ? taken[a.c % taken.length]!.id : live(a.c);
      return a.k === 'return'
        ? { type: 'return-call', callId: id }
        : { type: 'call-moved', callId: id, toSiteId: 'other-site', token: `tok-${id}` };
    }
    case 'admit':
      return {
        type: 'admit-overflow',
        callId: nextCall(),
        queueId: QUEUES[a.q]!,
        priority: a.p,
        enqueueMs: Math.max(0, s.nowMs - a.back),
        attached: { from: 'other-site' },
        fromSiteId: 'other-site',
        token: 'tok',
        hops: 1,
        visitedSiteIds: ['other-site'],
        belowOwn: a.belowOwn,
      };
    case 'advance':
      return undefined;
  }
}

test('random event sequences keep every ACD invariant', () => {
  fc.assert(
    fc.property(
      fc.array(skills, { minLength: 1, maxLength: AGENTS, size: 'max' }),
      fc.array(action, { minLength: 1, maxLength: 120, size: 'max' }),
      (staff, actions) => {
        const state = createAcdState(compileAcdConfig(CONFIG), 0);
        const ck = new Checker(state);
        let calls = 0;
        let now = 0;
        staff.forEach((sk, i) =>
          ck.step({ type: 'agent-login', agentId: `ag${i}`, skills: sk, ready: true }, 0),
        );
        for (const a of actions) {
          if (a.k === 'advance') {
            ck.fireDue(now + a.ms);
            now += a.ms;
            ck.quiescentCheck();
            continue;
          }
          const ev = toEvent(a, state, () => `c${calls++}`)!;
          ck.step(ev, now);
          ck.fireDue(now);
          ck.quiescentCheck();
        }
        // Drain: every caller still in the ACD hangs up, and every callback is dialled in vain
        // (an agent able to take any queue logs in for them) until it fails; then every call
        // has ended exactly once.
        ck.step({ type: 'agent-login', agentId: 'drain', skills: { a: 5, b: 5, c: 5 }, ready: true }, now);
        for (let round = 0; round < 200 && state.calls.size > 0; round++) {
          for (const c of [...state.calls.values()]) {
            if (!state.calls.has(c.id)) continue;
            // A taken call whose caller left is ended by its move's outcome: here, returned.
            if (c.state === 'taken' && c.callerLeft) ck.step({ type: 'return-call', callId: c.id }, now);
            else if (!c.virtual) ck.step({ type: 'caller-hung-up', callId: c.id }, now);
            else if (c.state === 'dialing')
              ck.step({ type: 'callback-dialled', callId: c.id, answered: false }, now);
          }
          ck.fireDue((now += 60_000));
        }
        assert.equal(state.calls.size, 0);
        for (const id of ck.arrived)
          assert.equal(ck.ended.get(id), 1, `call ${id} ended ${ck.ended.get(id)} times`);
        assert.equal(ck.ended.size, ck.arrived.length);
      },
    ),
    { numRuns: 300, seed: 20261123 },
  );
});

test('random sequences are deterministic (same events, same commands)', () => {
  fc.assert(
    fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), (actions) => {
      const run = (): string => {
        const state = createAcdState(compileAcdConfig(CONFIG), 0);
        const out: AcdCommand[] = [];
        let calls = 0;
        let now = 0;
        for (const a of actions) {
          if (a.k === 'advance') {
            now += a.ms;
            continue;
          }
          try {
            out.push(
              ...acdStep(
                state,
                toEvent(a, state, () => `c${calls++}`)!,
                now,
              ).commands,
            );
          } catch {
            out.push({ type: 'cancel-timer', id: 'rejected' });
          }
        }
        return JSON.stringify(out);
      };
      assert.equal(run(), run());
    }),
    { numRuns: 100, seed: 7 },
  );
});
