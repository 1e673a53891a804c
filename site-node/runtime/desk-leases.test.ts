import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { silentLogger } from '../../shared/log.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import { compileAcdConfig } from '../acd/config.js';
import type { AcdCommand } from '../acd/types.js';
import { AcdEngine } from './acd-engine.js';
import { DeskLeases } from './desk-leases.js';

/** A real ACD engine and the lease adapter on one virtual scheduler; the states the ACD reports. */
function setup() {
  const scheduler = new VirtualScheduler(1_000_000);
  const moves: string[] = [];
  const engine = new AcdEngine(
    compileAcdConfig({ offerTimeoutMs: '60s', wrapUpMs: '5s', queues: [{ id: 'q', skill: 's' }] }),
    scheduler,
    (c: Exclude<AcdCommand, { type: 'start-timer' | 'cancel-timer' }>) => {
      if (c.type === 'agent-state-changed')
        moves.push(`${c.agentId} ${c.to}${c.reason ? ` ${c.reason}` : ''}`);
    },
    silentLogger,
  );
  const leases = new DeskLeases(engine, scheduler, { leaseMs: 10_000, logoutAfterMs: 30_000 }, silentLogger);
  const login = (id: string) => {
    engine.dispatch({ type: 'agent-login', agentId: id, skills: { s: 3 }, ready: true });
    leases.loggedIn(id);
    leases.streamOpened(id);
  };
  return { scheduler, engine, leases, moves, login };
}

describe('desk leases on the ACD engine', () => {
  test('an agent on a call when its lease expires is logged out once the call and wrap-up are over', async () => {
    const { scheduler, engine, leases, moves, login } = setup();
    login('a');
    engine.dispatch({ type: 'call-arrived', callId: 'c', queueId: 'q' });
    engine.dispatch({ type: 'agent-answered', agentId: 'a', callId: 'c' });
    leases.streamClosed('a');
    assert.equal(engine.agent('a')?.state, 'on-call', 'the voice path outlives the desk');
    await scheduler.advance(30_000); // the grace is over; the logout is refused and deferred
    assert.equal(engine.agent('a')?.state, 'on-call');
    assert.equal(leases.lease('a')?.phase, 'lapsed');
    engine.dispatch({ type: 'caller-hung-up', callId: 'c' });
    await scheduler.advance(5000); // wrap-up ends: the pending lease-lapsed applies
    assert.equal(engine.agent('a')?.reasonCode, 'lease-lapsed');
    await scheduler.advance(10_000); // the deferred logout, a lease later
    assert.equal(engine.agent('a')?.state, 'logged-out');
    assert.deepEqual(moves.slice(-3), [
      'a wrap-up',
      'a not-ready lease-lapsed',
      'a logged-out lease-expired',
    ]);
    assert.equal(leases.lease('a'), undefined);
    assert.equal(scheduler.pending(), 0, 'no lease timer left behind');
  });

  test('a heartbeat in the grace keeps the agent logged in, not-ready; stop cancels every timer', async () => {
    const { scheduler, engine, leases, login } = setup();
    login('a');
    leases.streamClosed('a');
    await scheduler.advance(20_000);
    assert.equal(leases.heartbeat('a'), 10_000);
    await scheduler.advance(9000);
    assert.equal(engine.agent('a')?.state, 'not-ready');
    assert.equal(engine.agent('a')?.reasonCode, 'lease-lapsed');
    leases.stop();
    await scheduler.advance(1_000_000);
    assert.equal(engine.agent('a')?.state, 'not-ready', 'a stopped adapter forces nothing');
  });

  test('an agent that logged out some other way: its lapse does nothing and ends the lease', async () => {
    const { scheduler, engine, leases, moves, login } = setup();
    login('a');
    engine.dispatch({ type: 'agent-logout', agentId: 'a' });
    await scheduler.advance(10_000);
    assert.deepEqual(moves, ['a ready', 'a logged-out']);
    assert.equal(leases.lease('a')?.phase, 'idle', 'only its open stream is remembered');
    assert.equal(scheduler.pending(), 0, 'no logout timer armed for a lease that ended');
    assert.equal(leases.heartbeat('a'), 0);
  });
});
