import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { DomainError } from '../../shared/errors.js';
import { Random } from '../../shared/random.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import { InMemoryAgentDesk } from './in-memory-desk.js';
import { compileSimAgentsConfig, sample, SimAgents } from './sim-agents.js';

const HOUR = 3_600_000;

function setup(n: number, ringTimeoutMs = 20_000) {
  const scheduler = new VirtualScheduler(1_700_000_000_000);
  const agentIds = Array.from({ length: n }, (_, i) => `agent-${i + 1}`);
  const desk = new InMemoryAgentDesk({
    agents: agentIds.map((agentId) => ({ agentId })),
    scheduler,
    ringTimeoutMs,
  });
  return { scheduler, desk, agentIds };
}

/** Offer `count` calls at exponential inter-arrival times with the given mean. */
function arrivals(
  scheduler: VirtualScheduler,
  desk: InMemoryAgentDesk,
  count: number,
  meanGapMs: number,
  seed = 99,
) {
  const rng = new Random(seed);
  let at = 0;
  for (let i = 0; i < count; i++) {
    at += rng.exponential(meanGapMs);
    const callId = `cq-${String(i).padStart(6, '0')}`;
    scheduler.after(at, () => desk.enqueueCall({ callId, queueId: 'retail' }));
  }
}

describe('simulated agents', () => {
  test('answer every offered call, with handle times near the configured mean', async () => {
    const { scheduler, desk, agentIds } = setup(8);
    const sim = new SimAgents(
      { desk, scheduler },
      {
        agentIds,
        seed: 42,
        ringDelay: { kind: 'uniform', minMs: 1000, maxMs: 3000 },
        handleTime: { kind: 'lognormal', meanMs: 120_000, sigma: 0.6 },
        wrapupTime: { kind: 'exponential', meanMs: 20_000 },
        wrapupCodes: ['resolved', 'follow-up'],
      },
    );
    await sim.start();
    // 400 calls, one every ~30 s: about 8 agents * 140 s per call / 30 s = 58% occupancy.
    arrivals(scheduler, desk, 400, 30_000);
    await scheduler.runUntil(scheduler.now() + 6 * HOUR);
    await sim.stop();

    const { total } = sim.stats();
    assert.equal(desk.counts.offered, 400, 'every call was offered');
    assert.equal(total.answered, 400);
    assert.equal(total.hangups, 400);
    assert.equal(total.wrapups, 400);
    assert.equal(desk.counts.completed, 400);
    assert.equal(desk.counts.ringNoAnswer, 0);
    assert.equal(total.errors, 0);
    // Lognormal mean 120 s, sigma 0.6: sd ~ 79 s, so the mean of 400 has sd ~ 4 s. 5 sd bound.
    assert.ok(Math.abs(total.meanHandleMs - 120_000) < 20_000, `mean handle ${total.meanHandleMs}`);
    for (const code of new Set(desk.completed.map((c) => c.wrapupCode))) {
      assert.ok(['resolved', 'follow-up'].includes(code));
    }
    // Everyone is logged out and unsubscribed after stop.
    for (const id of agentIds) {
      assert.equal((await desk.agent(id)).state, 'logged-out');
      assert.equal(desk.subscriberCount(id), 0);
    }
    assert.equal(scheduler.pending(), 0, 'no timers left behind');
  });

  test('the same seed gives the same run', async () => {
    const run = async () => {
      const { scheduler, desk, agentIds } = setup(3);
      const sim = new SimAgents(
        { desk, scheduler },
        { agentIds, seed: 7, handleTime: { kind: 'exponential', meanMs: 60_000 } },
      );
      await sim.start();
      arrivals(scheduler, desk, 50, 40_000);
      await scheduler.runUntil(scheduler.now() + 2 * HOUR);
      await sim.stop();
      return { stats: sim.stats(), completed: desk.completed };
    };
    assert.deepEqual(await run(), await run());
  });

  test('breaks happen at about the configured rate and agents come back ready', async () => {
    const { scheduler, desk, agentIds } = setup(5);
    const sim = new SimAgents(
      { desk, scheduler },
      {
        agentIds,
        seed: 3,
        handleTime: { kind: 'exponential', meanMs: 90_000 },
        breaks: { perHour: 1, duration: { kind: 'fixed', ms: 10 * 60_000 } },
      },
    );
    const breakStates: string[] = [];
    for (const id of agentIds) {
      desk.subscribe(id, (e) => {
        if (e.type === 'state' && e.agent.state === 'not-ready' && e.agent.reasonCode === 'break')
          breakStates.push(id);
      });
    }
    await sim.start();
    arrivals(scheduler, desk, 200, 60_000);
    await scheduler.runUntil(scheduler.now() + 8 * HOUR);
    const { total } = sim.stats();
    // 5 agents, ~1 break per (1 h + 10 min break) each, over 8 h: about 34. Loose bounds.
    assert.ok(total.breaks >= 15 && total.breaks <= 60, `breaks ${total.breaks}`);
    assert.equal(breakStates.length, total.breaks);
    assert.equal(total.answered, desk.counts.answered);
    assert.ok(desk.counts.completed >= 195, `completed ${desk.counts.completed}`);
    // Nobody is stuck on a break: at the end each agent is ready, on a call, or on a fresh break.
    await sim.stop();
    assert.equal(desk.waiting(), 0);
  });

  test('agents that let offers ring out exercise ring-no-answer, then recover', async () => {
    const { scheduler, desk, agentIds } = setup(4, 15_000);
    const sim = new SimAgents(
      { desk, scheduler },
      {
        agentIds,
        seed: 11,
        noAnswerProbability: 0.3,
        handleTime: { kind: 'fixed', ms: 60_000 },
        recoverDelay: { kind: 'fixed', ms: 5_000 },
      },
    );
    await sim.start();
    arrivals(scheduler, desk, 100, 60_000);
    await scheduler.runUntil(scheduler.now() + 4 * HOUR);
    await sim.stop();
    const { total } = sim.stats();
    assert.ok(desk.counts.ringNoAnswer > 10, `ring-no-answer ${desk.counts.ringNoAnswer}`);
    assert.equal(total.letRing, desk.counts.ringNoAnswer);
    assert.equal(total.withdrawn, desk.counts.ringNoAnswer);
    assert.equal(total.recoveries, desk.counts.ringNoAnswer);
    assert.equal(desk.counts.completed, 100, 'every call got served in the end');
    assert.equal(total.meanHandleMs, 60_000);
  });

  test('a caller hanging up mid-call sends the agent to wrap-up without a hangup', async () => {
    const { scheduler, desk, agentIds } = setup(1);
    const sim = new SimAgents(
      { desk, scheduler },
      {
        agentIds,
        seed: 5,
        ringDelay: { kind: 'fixed', ms: 1000 },
        handleTime: { kind: 'fixed', ms: 60_000 },
      },
    );
    await sim.start();
    desk.enqueueCall({ callId: 'cq-x' });
    await scheduler.advance(10_000);
    assert.equal((await desk.agent('agent-1')).state, 'on-call');
    desk.callerHangup('cq-x');
    await scheduler.advance(10 * 60_000);
    const { total } = sim.stats();
    assert.equal(total.endedByCaller, 1);
    assert.equal(total.hangups, 0);
    assert.equal(total.wrapups, 1);
    assert.equal((await desk.agent('agent-1')).state, 'ready');
    await sim.stop();
  });

  test('config is validated with errors naming the field; distributions sample sensibly', () => {
    assert.throws(
      () =>
        compileSimAgentsConfig({
          agentIds: ['a'],
          breaks: { perHour: -1, duration: { kind: 'fixed', ms: 1 } },
        }),
      (e: DomainError) => e.kind === 'invalid-argument' && e.field === 'simAgents.breaks.perHour',
    );
    assert.throws(
      () => compileSimAgentsConfig({ agentIds: [] }),
      (e: DomainError) => e.field === 'simAgents.agentIds',
    );
    const rng = new Random(1);
    let sum = 0;
    for (let i = 0; i < 20_000; i++) sum += sample(rng, { kind: 'exponential', meanMs: 1000 });
    assert.ok(Math.abs(sum / 20_000 - 1000) < 50);
  });
});

describe('simulated agents keep their leases', () => {
  test('a desk with leases is beaten at a third of the lease it returns, until stop', async () => {
    const { scheduler, desk, agentIds } = setup(2);
    const beats: { agentId: string; atMs: number }[] = [];
    const leased = Object.assign(Object.create(desk) as InMemoryAgentDesk, {
      heartbeat: async (agentId: string) => {
        beats.push({ agentId, atMs: scheduler.now() });
        return 9000;
      },
    });
    const sim = new SimAgents({ desk: leased, scheduler }, { agentIds, seed: 1 });
    await sim.start();
    await scheduler.runUntil(scheduler.now() + 60_000);
    await sim.stop();
    for (const id of agentIds) {
      const mine = beats.filter((b) => b.agentId === id).map((b) => b.atMs);
      assert.ok(mine.length >= 20, `${id} beat ${mine.length} times in a minute`);
      for (let i = 1; i < mine.length; i++)
        assert.ok(mine[i]! - mine[i - 1]! <= 3000, 'never silent past a third');
    }
    const after = beats.length;
    await scheduler.runUntil(scheduler.now() + 60_000);
    assert.equal(beats.length, after, 'no beats after stop');
  });
});
