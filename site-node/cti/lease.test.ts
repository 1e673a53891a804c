import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { leaseStep, type Lease, type LeaseCommand, type LeaseEvent } from './lease.js';

const times = { leaseMs: 10_000, logoutAfterMs: 60_000 };

/** One agent's lease on a virtual clock: one timer, fired when time passes it. */
class Driver {
  lease: Lease | undefined;
  nowMs = 0;
  timerAt: number | undefined;
  /** What reached the ACD: lapses and logouts, with their times. */
  acted: string[] = [];

  send(event: LeaseEvent): LeaseCommand[] {
    const r = leaseStep(this.lease, 'a1', event, this.nowMs, times);
    this.lease = r.lease;
    for (const c of r.commands) {
      if (c.type === 'arm') this.timerAt = c.atMs;
      else if (c.type === 'disarm') this.timerAt = undefined;
      else if (c.type === 'lapse') this.acted.push(`${this.nowMs} not-ready ${c.reason} (${c.why})`);
      else this.acted.push(`${this.nowMs} logout ${c.reason}`);
    }
    return r.commands;
  }

  advance(ms: number): void {
    const until = this.nowMs + ms;
    while (this.timerAt !== undefined && this.timerAt <= until) {
      this.nowMs = this.timerAt;
      this.timerAt = undefined;
      this.send({ type: 'timer-fired' });
    }
    this.nowMs = until;
  }
}

function loggedInWithStream(): Driver {
  const d = new Driver();
  d.send({ type: 'login' });
  d.send({ type: 'stream-opened' });
  return d;
}

describe('agent lease', () => {
  test('the desk stream ends: not-ready at once, logged out after the grace', () => {
    const d = loggedInWithStream();
    d.advance(3000);
    d.send({ type: 'stream-closed' });
    assert.deepEqual(d.acted, ['3000 not-ready lease-lapsed (stream-ended)']);
    d.advance(59_999);
    assert.equal(d.acted.length, 1, 'no logout before the grace is over');
    d.advance(1);
    assert.deepEqual(d.acted, ['3000 not-ready lease-lapsed (stream-ended)', '63000 logout lease-expired']);
    assert.equal(d.lease, undefined);
    assert.equal(d.timerAt, undefined);
  });

  test('heartbeats keep the lease; missing past the lease: not-ready, then logged out', () => {
    const d = loggedInWithStream();
    for (let i = 0; i < 5; i++) {
      d.advance(9000);
      d.send({ type: 'heartbeat' });
    }
    assert.deepEqual(d.acted, []);
    // Silent from 45 s: the stream is still "open" (a half-open connection) but the lease lapses.
    d.advance(10_000);
    assert.deepEqual(d.acted, ['55000 not-ready lease-lapsed (silent)']);
    d.advance(60_000);
    assert.deepEqual(d.acted.at(-1), '115000 logout lease-expired');
  });

  test('a heartbeat within the grace stops the logout and restores nothing; the lease holds again', () => {
    const d = loggedInWithStream();
    d.send({ type: 'stream-closed' });
    d.advance(30_000);
    const cmds = d.send({ type: 'heartbeat' });
    assert.deepEqual(
      cmds,
      [{ type: 'arm', atMs: 40_000 }],
      'no command for the ACD: the agent stays not-ready',
    );
    assert.equal(d.lease?.phase, 'held');
    d.advance(8000);
    d.send({ type: 'heartbeat' });
    d.advance(8000);
    assert.deepEqual(d.acted, ['0 not-ready lease-lapsed (stream-ended)'], 'no logout');
    // Silent again: a second lapse, and a fresh grace from it.
    d.advance(10_000);
    assert.deepEqual(d.acted.at(-1), '48000 not-ready lease-lapsed (silent)');
  });

  test('a reconnected stream within the grace holds the lease again', () => {
    const d = loggedInWithStream();
    d.send({ type: 'stream-closed' });
    d.advance(20_000);
    d.send({ type: 'stream-opened' });
    d.advance(9000);
    d.send({ type: 'heartbeat' });
    d.advance(9000);
    assert.deepEqual(d.acted, ['0 not-ready lease-lapsed (stream-ended)']);
    assert.equal(d.lease?.streams, 1);
  });

  test('one of two streams ending does not lapse the lease; the last one does', () => {
    const d = loggedInWithStream();
    d.send({ type: 'stream-opened' });
    d.send({ type: 'stream-closed' });
    assert.deepEqual(d.acted, []);
    d.send({ type: 'stream-closed' });
    assert.deepEqual(d.acted, ['0 not-ready lease-lapsed (stream-ended)']);
  });

  test('streams left open across a logout still count after the next login', () => {
    const d = loggedInWithStream();
    d.send({ type: 'stream-opened' }); // a second stream of the same desk
    d.send({ type: 'released' }); // the agent logs out; the desk keeps both streams open
    assert.equal(d.timerAt, undefined, 'nothing to lapse while logged out');
    assert.equal(d.send({ type: 'heartbeat' }).length, 0, 'a heartbeat holds no lease while logged out');
    d.send({ type: 'login' });
    d.send({ type: 'stream-closed' });
    assert.deepEqual(d.acted, [], 'one of the two streams is still open');
    d.send({ type: 'stream-closed' });
    assert.deepEqual(d.acted, ['0 not-ready lease-lapsed (stream-ended)']);
  });

  test('a forced logout keeps the count of streams still open (a half-open one closes later)', () => {
    const d = loggedInWithStream();
    d.advance(10_000); // silent: lapses with its stream still counted
    d.advance(60_000);
    assert.deepEqual(d.acted.at(-1), '70000 logout lease-expired');
    d.send({ type: 'login' }); // back on a new connection, a new stream
    d.send({ type: 'stream-opened' });
    d.send({ type: 'stream-closed' }); // the old half-open stream finally ends
    assert.equal(d.acted.length, 2, 'the new stream holds the lease');
    assert.equal(d.lease?.phase, 'held');
  });

  test('a logout refused (the agent is on a call) is tried again a lease later', () => {
    const d = loggedInWithStream();
    d.send({ type: 'stream-closed' });
    d.advance(60_000);
    assert.deepEqual(d.acted.at(-1), '60000 logout lease-expired');
    d.send({ type: 'logout-refused' });
    d.advance(10_000);
    assert.deepEqual(d.acted.at(-1), '70000 logout lease-expired');
    assert.equal(d.acted.length, 3);
  });

  test('the agent logging out ends the lease; a heartbeat after it starts none', () => {
    const d = loggedInWithStream();
    d.send({ type: 'released' });
    assert.equal(d.timerAt, undefined);
    assert.deepEqual(d.send({ type: 'heartbeat' }), []);
    d.send({ type: 'stream-closed' });
    d.advance(1_000_000);
    assert.deepEqual(d.acted, []);
    assert.equal(d.lease, undefined);
  });

  test('a login without a stream holds the lease only as long as its heartbeats', () => {
    const d = new Driver();
    d.send({ type: 'login' });
    d.advance(9999);
    assert.deepEqual(d.acted, []);
    d.advance(1);
    assert.deepEqual(d.acted, ['10000 not-ready lease-lapsed (silent)']);
  });

  test('an early fire (the lease was renewed since the timer was armed) changes nothing', () => {
    const d = loggedInWithStream();
    d.advance(5000);
    d.send({ type: 'heartbeat' });
    const before = d.lease;
    assert.deepEqual(leaseStep(before, 'a1', { type: 'timer-fired' }, 10_000, times), {
      lease: before,
      commands: [],
    });
  });
});
