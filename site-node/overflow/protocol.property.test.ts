/**
 * The overflow protocol as a whole (docs/architecture.md §5.9), on its pure parts: the trigger
 * and the origin machine of one site, a trivial hub relay, and the reservation books of two
 * targets, over a simulated network that loses, delays, duplicates and (by the random delays)
 * reorders every message, with the origin's hub link dropping now and then and callers
 * answered or hanging up at home at random. Each site runs on its own clock (a random offset).
 * A seeded generator (shared/random.ts) drives each run, so a failing seed replays exactly.
 *
 * Checked after every event: no call is offered at two places (the home queue and a target's
 * admitted calls never both hold it; no target admits it twice, no two targets admit it), no
 * call is admitted at or after its reservation's deadline (timers fire late, as they do), no
 * reservation is held past its deadline longer than its timer is late, excluded priorities are never asked, a call that
 * moved is never asked again (at the target the trigger never asks it: no ping-pong).
 * Checked at the end, once the network has healed and everything in flight has landed: every
 * call moved (admitted exactly once, at one target, ranked by its original wait) or is at home
 * (queued in its place, or answered or abandoned there); nothing is left in transit and no
 * reservation is left held.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Random } from '../../shared/random.js';
import type { OverflowPolicy } from '../../shared/topology/schema.js';
import type { OverflowMessage } from './messages.js';
import {
  inFlight,
  initialOrigin,
  originStep,
  type OriginCommand,
  type OriginEvent,
  type OriginMachine,
  type OriginOptions,
} from './origin.js';
import {
  emptyBook,
  reservationStep,
  type ReservationBook,
  type ReservationCommand,
  type ReservationEvent,
  type ReservationOptions,
} from './reservation.js';
import { overflowAsks, type QueueView } from './trigger.js';

const ORIGIN = 'wanzhou';
const TARGETS = ['chongqing', 'fuling'] as const;
const VIP = 10;

const policy = (from: string, to: string[]): OverflowPolicy => ({
  id: `${from}-busy`,
  from,
  queues: ['retail'],
  to,
  when: {
    waitingOver: 0,
    oldestWaitOverMs: null,
    serviceLevelBelow: null,
    noAgentsLoggedIn: false,
    afterHours: false,
  },
  excludePriorities: [VIP],
  maxHops: 1,
});

type Place = 'queued' | 'taken' | 'ended' | 'moved';
interface HomeCall {
  id: string;
  priority: number;
  enqueueMs: number; // origin clock
  place: Place;
  hungUp: boolean;
  lastAskEndedMs: number | null;
}

type Site = typeof ORIGIN | (typeof TARGETS)[number];
type Item =
  | { kind: 'deliver'; to: Site | 'hub'; from: Site | 'hub'; msg: OverflowMessage; epoch: number }
  | { kind: 'timer'; site: Site; id: string; atMs: number }
  | { kind: 'take'; callId: string; requestId: string }
  | { kind: 'tick' }
  | { kind: 'caller'; callId: string; what: 'answered' | 'abandoned' }
  | { kind: 'link'; up: boolean }
  | { kind: 'sweep'; site: Site };

interface Stats {
  moved: number;
  home: number;
  ended: number;
  requests: number;
}

function runOnce(seed: number, stats: Stats): void {
  const rnd = new Random(seed);
  const chaos = { loss: rnd.uniform(0, 0.3), dup: rnd.uniform(0, 0.3), maxDelayMs: rnd.int(1, 800) };
  const originOpts: OriginOptions = {
    askTimeoutMs: rnd.int(200, 2_500),
    commitMarginMs: rnd.int(0, 600),
    commitResendMs: rnd.int(100, 1_000),
  };
  const resOpts: ReservationOptions = {
    holdMs: rnd.int(100, 3_000),
    retainMs: rnd.int(1_000, 20_000),
    retainAdmittedMs: 86_400_000,
  };
  const offset: Record<Site, number> = { wanzhou: 0, chongqing: 0, fuling: 0 };
  for (const s of [ORIGIN, ...TARGETS] as Site[]) offset[s] = rnd.int(-50_000, 50_000);
  const chaosEndMs = rnd.int(2_000, 15_000);
  // Timers fire late (a busy event loop): a commit may come in after a deadline whose timer has
  // not fired yet, and must be refused all the same.
  const timerLateMs = rnd.int(0, 300);

  // --- the world -----------------------------------------------------------------------------
  let g = 0; // global time; a site's clock is g + offset
  const clock = (s: Site): number => g + offset[s];
  const queue: { at: number; seq: number; item: Item }[] = [];
  let seq = 0;
  const at = (atG: number, item: Item): void => {
    const e = { at: atG, seq: seq++, item };
    let i = queue.length;
    while (i > 0 && (queue[i - 1]!.at > e.at || (queue[i - 1]!.at === e.at && queue[i - 1]!.seq > e.seq)))
      i--;
    queue.splice(i, 0, e);
  };
  const calm = (): boolean => g >= chaosEndMs;

  let linkUp = true;
  let epoch = 0; // bumped when the origin's link drops: what was on it is lost
  const send = (from: Site | 'hub', to: Site | 'hub', msg: OverflowMessage): void => {
    const onOriginLink = from === ORIGIN || to === ORIGIN;
    if (onOriginLink && !linkUp) return;
    const copies = calm() ? 1 : rnd.chance(chaos.loss) ? 0 : rnd.chance(chaos.dup) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = calm() ? 1 + rnd.int(0, 20) : rnd.int(0, chaos.maxDelayMs);
      at(g + delay, { kind: 'deliver', from, to, msg, epoch: onOriginLink ? epoch : -1 });
    }
  };

  const calls = new Map<string, HomeCall>();
  const n = rnd.int(1, 5);
  for (let i = 0; i < n; i++) {
    const id = `c${i}`;
    calls.set(id, {
      id,
      priority: rnd.chance(0.2) ? VIP : 5,
      enqueueMs: clock(ORIGIN) - rnd.int(0, 60_000),
      place: 'queued',
      hungUp: false,
      lastAskEndedMs: null,
    });
    if (rnd.chance(0.4)) {
      at(rnd.int(0, chaosEndMs), {
        kind: 'caller',
        callId: id,
        what: rnd.chance(0.5) ? 'answered' : 'abandoned',
      });
    }
  }
  const machines = new Map<string, OriginMachine>();
  const armed = new Map<string, number>(); // `${site}/${id}` -> global time it fires
  const books = new Map<Site, ReservationBook>(TARGETS.map((t) => [t, emptyBook(t)]));
  const admitted = new Map<string, { site: Site; enqueueMs: number; times: number }[]>();
  const forwarded = new Map<string, Set<Site>>(); // the hub's memory: request -> targets
  let tokens = 0;
  const askedPriorities: number[] = [];

  // --- the origin ----------------------------------------------------------------------------
  const originDo = (callId: string, e: OriginEvent): void => {
    const before = machines.get(callId)!;
    const { machine, commands } = originStep(before, e, clock(ORIGIN), originOpts);
    machines.set(callId, machine);
    const call = calls.get(callId)!;
    if (inFlight(before) && !inFlight(machine) && machine.state === 'home')
      call.lastAskEndedMs = clock(ORIGIN);
    for (const c of commands) originCommand(call, c);
  };
  const originCommand = (call: HomeCall, c: OriginCommand): void => {
    switch (c.type) {
      case 'send':
        if (c.message.kind === 'request') askedPriorities.push(c.message.priority);
        send(ORIGIN, 'hub', c.message);
        return;
      case 'take-call':
        // The home ACD answers a moment later, so answers and hang-ups can slip in between.
        at(g + rnd.int(0, 3), { kind: 'take', callId: c.callId, requestId: c.requestId });
        return;
      case 'return-call':
        assert.equal(call.place, 'taken', `${call.id}: returned while ${call.place}`);
        call.place = 'queued'; // same priority and enqueue time: its place
        return;
      case 'call-moved': {
        assert.equal(call.place, 'taken', `${call.id}: moved while ${call.place}`);
        const where = admitted.get(call.id) ?? [];
        assert.ok(
          where.some((a) => a.site === c.target),
          `${call.id}: moved to ${c.target} which did not admit it`,
        );
        call.place = 'moved';
        return;
      }
      case 'start-timer':
        armed.set(`${ORIGIN}/${c.id}`, c.atMs - offset[ORIGIN]);
        at(c.atMs - offset[ORIGIN] + rnd.int(0, timerLateMs), {
          kind: 'timer',
          site: ORIGIN,
          id: c.id,
          atMs: c.atMs - offset[ORIGIN],
        });
        return;
      case 'cancel-timer':
        armed.delete(`${ORIGIN}/${c.id}`);
        return;
    }
  };

  // --- the targets ---------------------------------------------------------------------------
  const targetDo = (site: Site, e: ReservationEvent): void => {
    const { commands } = reservationStep(books.get(site)!, e, clock(site), resOpts);
    for (const c of commands) targetCommand(site, c);
  };
  const targetCommand = (site: Site, c: ReservationCommand): void => {
    switch (c.type) {
      case 'send':
        send(site, 'hub', c.message);
        return;
      case 'admit-call': {
        const r = books.get(site)!.byToken.get(c.token)!;
        assert.ok(
          clock(site) < r.deadlineMs,
          `${site}: ${c.callId} admitted at or after its reservation's deadline`,
        );
        const list = admitted.get(c.callId) ?? [];
        const here = list.find((a) => a.site === site);
        if (here) here.times++;
        else list.push({ site, enqueueMs: c.enqueueMs - offset[site], times: 1 });
        admitted.set(c.callId, list);
        return;
      }
      case 'start-timer':
        armed.set(`${site}/${c.id}`, c.atMs - offset[site]);
        at(c.atMs - offset[site] + rnd.int(0, timerLateMs), {
          kind: 'timer',
          site,
          id: c.id,
          atMs: c.atMs - offset[site],
        });
        return;
      case 'cancel-timer':
        armed.delete(`${site}/${c.id}`);
        return;
    }
  };

  // --- the hub: a relay that picks a target at random ----------------------------------------
  const hub = (from: Site, msg: OverflowMessage): void => {
    switch (msg.kind) {
      case 'request': {
        if (msg.targets.length === 0 || rnd.chance(0.1)) {
          send('hub', ORIGIN, {
            kind: 'refuse',
            requestId: msg.requestId,
            target: null,
            token: null,
            reason: 'no site',
          });
          return;
        }
        const t = rnd.pick(msg.targets) as Site;
        const sent = forwarded.get(msg.requestId) ?? new Set<Site>();
        sent.add(t);
        forwarded.set(msg.requestId, sent);
        send('hub', t, msg);
        return;
      }
      case 'commit':
        send('hub', msg.target as Site, msg);
        return;
      case 'cancel':
        for (const t of msg.target !== null
          ? [msg.target as Site]
          : [...(forwarded.get(msg.requestId) ?? [])])
          send('hub', t, msg);
        return;
      case 'accept':
      case 'refuse':
      case 'commit-ack':
        assert.notEqual(from, ORIGIN);
        send('hub', ORIGIN, msg);
        return;
    }
  };

  const deliver = (item: Extract<Item, { kind: 'deliver' }>): void => {
    if (item.epoch >= 0 && item.epoch !== epoch) return; // it was on a link that dropped
    const { to, msg } = item;
    if (to === 'hub') return hub(item.from as Site, msg);
    if (to === ORIGIN) {
      const callId = msg.requestId.slice(0, msg.requestId.indexOf('#'));
      if (machines.has(callId)) originDo(callId, { type: 'message', message: msg });
      return;
    }
    if (msg.kind === 'request') {
      const ready = rnd.int(0, 2);
      targetDo(to, {
        type: 'offer',
        request: msg,
        token: `${to}-t${tokens++}`,
        local: {
          offersQueue: true,
          readyAgents: ready,
          expectedWaitMs: rnd.chance(0.5) ? rnd.int(0, 60_000) : null,
        },
      });
    } else targetDo(to, { type: 'message', message: msg });
  };

  const tick = (): void => {
    const view: QueueView = {
      queueId: 'retail',
      waiting: [...calls.values()]
        .filter((c) => c.place === 'queued')
        .sort((a, b) => b.priority - a.priority || a.enqueueMs - b.enqueueMs)
        .map((c) => ({
          callId: c.id,
          priority: c.priority,
          enqueueMs: c.enqueueMs,
          visited: [ORIGIN],
          hops: 0,
          inFlight: inFlight(machines.get(c.id)!),
          lastAskEndedMs: c.lastAskEndedMs,
        })),
      agentsLoggedIn: 1,
      serviceLevel: null,
      inHours: true,
    };
    const now = clock(ORIGIN);
    for (const ask of overflowAsks(ORIGIN, [policy(ORIGIN, [...TARGETS])], [view], now, rnd.int(0, 1_000))) {
      const c = calls.get(ask.callId)!;
      originDo(c.id, {
        type: 'ask',
        priority: c.priority,
        waitedMs: now - c.enqueueMs,
        patienceMs: rnd.chance(0.5) ? rnd.int(0, 60_000) : null,
        targets: ask.targets,
        attached: { customerId: `cust-${c.id}` },
      });
    }
  };

  // --- invariants after every event ----------------------------------------------------------
  const check = (): void => {
    for (const c of calls.values()) {
      const where = admitted.get(c.id) ?? [];
      assert.ok(where.length <= 1, `${c.id}: admitted at ${where.map((a) => a.site).join(' and ')}`);
      assert.ok(
        where.every((a) => a.times === 1),
        `${c.id}: admitted twice at ${where[0]?.site}`,
      );
      assert.ok(
        !(c.place === 'queued' && where.length > 0),
        `${c.id}: queued at home and admitted at ${where[0]?.site}`,
      );
      if (c.place === 'moved') assert.equal(machines.get(c.id)!.state, 'moved');
    }
    for (const [site, book] of books) {
      for (const r of book.byToken.values()) {
        // Held past the deadline only until its (late) timer fires; nothing is admitted then.
        const over = clock(site) - r.deadlineMs;
        assert.ok(
          !(r.status === 'held' && over > timerLateMs),
          `${site}: reservation held ${over} ms past its deadline`,
        );
      }
      // No ping-pong: the target's own trigger (a policy back to the origin) never asks an admitted call.
      const waiting = [...admitted.entries()]
        .filter(([, w]) => w.some((a) => a.site === site))
        .map(([callId, w]) => ({
          callId,
          priority: 5,
          enqueueMs: w[0]!.enqueueMs + offset[site],
          visited: [ORIGIN, site],
          hops: 1,
          inFlight: false,
          lastAskEndedMs: null,
        }));
      const back = policy(site, [ORIGIN, ...TARGETS.filter((t) => t !== site)]);
      const view = { queueId: 'retail', waiting, agentsLoggedIn: 0, serviceLevel: 0, inHours: false };
      assert.deepEqual(overflowAsks(site, [back], [view], clock(site)), []);
    }
  };

  // --- run -----------------------------------------------------------------------------------
  for (const c of calls.values()) machines.set(c.id, initialOrigin(ORIGIN, c.id, 'retail', clock(ORIGIN)));
  for (let t = 0; t < chaosEndMs; t += rnd.int(50, 400)) at(t, { kind: 'tick' });
  for (let t = rnd.int(0, 3_000); t < chaosEndMs; t += rnd.int(500, 5_000)) {
    at(t, { kind: 'link', up: false });
    at(Math.min(t + rnd.int(0, 3_000), chaosEndMs), { kind: 'link', up: true });
  }
  for (let t = rnd.int(0, 5_000); t < chaosEndMs * 2; t += rnd.int(1_000, 8_000))
    for (const s of TARGETS) at(t, { kind: 'sweep', site: s });

  let steps = 0;
  while (queue.length > 0) {
    const { at: when, item } = queue.shift()!;
    g = when;
    assert.ok(++steps < 200_000, `seed ${seed}: the run did not settle`);
    switch (item.kind) {
      case 'deliver':
        deliver(item);
        break;
      case 'timer':
        if (armed.get(`${item.site}/${item.id}`) !== item.atMs) break; // cancelled or re-armed
        armed.delete(`${item.site}/${item.id}`);
        if (item.site === ORIGIN) {
          const callId = item.id.slice(0, item.id.indexOf('#'));
          originDo(callId, { type: 'timer-fired', id: item.id });
        } else targetDo(item.site, { type: 'timer-fired', id: item.id });
        break;
      case 'take': {
        const c = calls.get(item.callId)!;
        const ok = c.place === 'queued' && !rnd.chance(0.1); // 10 %: being offered to an agent here
        if (ok) c.place = 'taken';
        originDo(c.id, { type: ok ? 'call-taken' : 'call-not-waiting', requestId: item.requestId });
        break;
      }
      case 'tick':
        tick();
        break;
      case 'caller': {
        const c = calls.get(item.callId)!;
        if (c.place === 'queued') {
          c.place = 'ended';
          originDo(c.id, { type: 'call-left' });
        } else if (c.place === 'taken' && item.what === 'abandoned') {
          c.hungUp = true; // in transit: the move decides where the hang-up lands
          originDo(c.id, { type: 'call-left' });
        }
        break;
      }
      case 'link':
        if (item.up) linkUp = true;
        else if (linkUp) {
          linkUp = false;
          epoch++;
          for (const c of calls.values()) originDo(c.id, { type: 'link-down' });
        }
        break;
      case 'sweep':
        targetDo(item.site, { type: 'sweep' });
        break;
    }
    check();
  }

  // --- the end: everything settled -----------------------------------------------------------
  for (const c of calls.values()) {
    const m = machines.get(c.id)!;
    const where = admitted.get(c.id) ?? [];
    assert.ok(!inFlight(m), `seed ${seed}: ${c.id} still ${m.state}`);
    if (c.priority === VIP) assert.equal(m.attempts, 0, `seed ${seed}: a VIP call was asked to overflow`);
    if (m.state === 'moved') {
      assert.equal(c.place, 'moved');
      assert.equal(where.length, 1);
      // Ranked by its original wait (shifted only by the request's time in flight).
      const shift = where[0]!.enqueueMs - (c.enqueueMs - offset[ORIGIN]); // both in global time
      assert.ok(
        shift >= 0 && shift <= 2 * chaos.maxDelayMs + 60,
        `seed ${seed}: rank shifted by ${shift} ms`,
      );
      stats.moved++;
    } else {
      assert.equal(
        where.length,
        0,
        `seed ${seed}: ${c.id} ${m.state} at home but admitted at ${where[0]?.site}`,
      );
      if (c.place === 'taken') assert.ok(c.hungUp, `seed ${seed}: ${c.id} lost in transit`);
      else assert.ok(c.place === 'queued' || c.place === 'ended', `seed ${seed}: ${c.id} ${c.place}`);
      if (c.place === 'queued') stats.home++;
      else stats.ended++;
    }
  }
  for (const [site, book] of books)
    for (const r of book.byToken.values())
      assert.notEqual(r.status, 'held', `seed ${seed}: ${site} still holds ${r.token}`);
  assert.ok(!askedPriorities.includes(VIP), `seed ${seed}: a VIP call was asked to overflow`);
  stats.requests += askedPriorities.length;
}

test('property: over a lossy, duplicating, reordering network no call is offered twice, lost, or moved back', () => {
  const stats: Stats = { moved: 0, home: 0, ended: 0, requests: 0 };
  const runs = 3_000;
  for (let seed = 1; seed <= runs; seed++) {
    try {
      runOnce(seed, stats);
    } catch (e) {
      throw new Error(`seed ${seed}: ${(e as Error).message}`, { cause: e });
    }
  }
  // The runs must exercise every ending, or they prove little.
  assert.ok(stats.moved > runs / 10, `only ${stats.moved} calls moved`);
  assert.ok(stats.home > runs / 10, `only ${stats.home} calls stayed home`);
  assert.ok(stats.ended > runs / 10, `only ${stats.ended} calls ended at home`);
});
