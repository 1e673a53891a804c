import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import type { RequestMessage } from './messages.js';
import {
  emptyBook,
  reservationStep,
  type LocalQueueState,
  type ReservationBook,
  type ReservationCommand,
  type ReservationEvent,
  type ReservationOptions,
} from './reservation.js';

const O: ReservationOptions = { holdMs: 3_000, retainMs: 10_000, retainAdmittedMs: 100_000 };
const T0 = 500_000;
const READY: LocalQueueState = { offersQueue: true, readyAgents: 1, expectedWaitMs: null };

const request = (n: number, extra: Partial<RequestMessage> = {}): RequestMessage => ({
  kind: 'request',
  requestId: `c${n}#1`,
  callId: `c${n}`,
  origin: 'wanzhou',
  queueId: 'retail',
  priority: 5,
  waitedMs: 40_000,
  patienceMs: null,
  targets: ['chongqing'],
  attached: { customerId: 'cust-1' },
  ...extra,
});

class Drive {
  book: ReservationBook = emptyBook('chongqing');
  out: ReservationCommand[] = [];
  step(e: ReservationEvent, nowMs: number): this {
    this.out = reservationStep(this.book, e, nowMs, O).commands;
    return this;
  }
  offer(n: number, nowMs: number, local: LocalQueueState = READY, extra: Partial<RequestMessage> = {}): this {
    return this.step({ type: 'offer', request: request(n, extra), token: `tok-${n}`, local }, nowMs);
  }
  commit(n: number, nowMs: number, token = `tok-${n}`): this {
    return this.step(
      { type: 'message', message: { kind: 'commit', requestId: `c${n}#1`, target: 'chongqing', token } },
      nowMs,
    );
  }
  /** `send:accept`, `send:refuse(reason)`, `admit-call`, ... */
  did(): string[] {
    return this.out.map((c) =>
      c.type !== 'send'
        ? c.type
        : c.message.kind === 'refuse'
          ? `send:refuse(${c.message.reason})`
          : `send:${c.message.kind}`,
    );
  }
}

test('a ready agent: accepted, held until the deadline; the commit admits at the original enqueue time', () => {
  const d = new Drive().offer(1, T0);
  assert.deepEqual(d.did(), ['send:accept', 'start-timer']);
  const accept = d.out[0]!;
  assert.ok(accept.type === 'send' && accept.message.kind === 'accept');
  assert.deepEqual([accept.message.token, accept.message.holdMs], ['tok-1', 3_000]);
  assert.deepEqual(d.out[1], { type: 'start-timer', id: 'reservation:tok-1', atMs: T0 + 3_000 });

  d.commit(1, T0 + 2_999);
  assert.deepEqual(d.did(), ['cancel-timer', 'admit-call', 'send:commit-ack']);
  const admit = d.out.find((c) => c.type === 'admit-call');
  assert.ok(admit?.type === 'admit-call');
  assert.equal(admit.enqueueMs, T0 - 40_000); // ranks as if it joined when it joined at home
  assert.deepEqual([admit.origin, admit.callId, admit.attached.customerId], ['wanzhou', 'c1', 'cust-1']);
});

test('a repeated commit is acked again and never admits twice; a reused or wrong token is refused', () => {
  const d = new Drive().offer(1, T0).commit(1, T0 + 10);
  d.commit(1, T0 + 20);
  assert.deepEqual(d.did(), ['send:commit-ack']);
  d.commit(1, T0 + 30, 'tok-x');
  assert.deepEqual(d.did(), ['send:refuse(unknown token)']);
  // Request 2's token used for request 1, or the other way round: refused.
  d.offer(2, T0 + 40).commit(1, T0 + 50, 'tok-2');
  assert.deepEqual(d.did(), ['send:refuse(unknown token)']);
  assert.equal(d.book.byToken.get('tok-2')!.status, 'held');
});

test('a commit at or after the deadline is refused even before the timer fires; the timer releases', () => {
  const d = new Drive().offer(1, T0).commit(1, T0 + 3_000);
  assert.deepEqual(d.did(), ['cancel-timer', 'send:refuse(reservation expired)']);
  const refusal = d.out[1]!;
  assert.ok(
    refusal.type === 'send' && refusal.message.kind === 'refuse' && refusal.message.token === 'tok-1',
  );

  const t = new Drive().offer(2, T0).step({ type: 'timer-fired', id: 'reservation:tok-2' }, T0 + 3_000);
  assert.equal(t.book.byToken.get('tok-2')!.status, 'released');
  t.commit(2, T0 + 3_001);
  assert.deepEqual(t.did(), ['send:refuse(reservation released)']);
});

test('a cancel releases a held reservation (its later commit is refused) and never an admitted call', () => {
  const d = new Drive().offer(1, T0);
  d.step(
    { type: 'message', message: { kind: 'cancel', requestId: 'c1#1', target: null, token: null } },
    T0 + 1,
  );
  assert.deepEqual(d.did(), ['cancel-timer']);
  d.commit(1, T0 + 2);
  assert.deepEqual(d.did(), ['send:refuse(reservation released)']);

  d.offer(2, T0).commit(2, T0 + 1);
  d.step(
    { type: 'message', message: { kind: 'cancel', requestId: 'c2#1', target: 'chongqing', token: 'tok-2' } },
    T0 + 2,
  );
  assert.deepEqual(d.did(), []);
  assert.equal(d.book.byToken.get('tok-2')!.status, 'admitted');
  // A cancel naming a token of another request releases nothing.
  d.offer(3, T0 + 3);
  d.step(
    { type: 'message', message: { kind: 'cancel', requestId: 'c9#1', target: null, token: 'tok-3' } },
    T0 + 4,
  );
  assert.equal(d.book.byToken.get('tok-3')!.status, 'held');
});

test('accept or refuse on the site own state; held reservations count against ready agents', () => {
  const d = new Drive().offer(1, T0, { offersQueue: true, readyAgents: 1, expectedWaitMs: null });
  assert.equal(d.did()[0], 'send:accept');
  // The one ready agent is promised to c1: c2 is refused, unless its caller can wait long enough.
  d.offer(2, T0 + 1, { offersQueue: true, readyAgents: 1, expectedWaitMs: 20_000 }, { patienceMs: 10_000 });
  assert.deepEqual(d.did(), ['send:refuse(no agent ready and the expected wait is beyond the caller)']);
  d.offer(3, T0 + 2, { offersQueue: true, readyAgents: 1, expectedWaitMs: 20_000 }, { patienceMs: 20_000 });
  assert.equal(d.did()[0], 'send:accept');
  d.offer(4, T0 + 3, { offersQueue: false, readyAgents: 5, expectedWaitMs: 0 });
  assert.deepEqual(d.did(), ['send:refuse(site chongqing does not offer queue retail)']);
});

test('a duplicate offer gets the same answer, never a second reservation', () => {
  const d = new Drive().offer(1, T0);
  d.step({ type: 'offer', request: request(1), token: 'tok-other', local: READY }, T0 + 1_000);
  const again = d.out[0]!;
  assert.ok(again.type === 'send' && again.message.kind === 'accept');
  assert.deepEqual([again.message.token, again.message.holdMs], ['tok-1', 2_000]); // what is left
  assert.equal(d.book.byToken.size, 1);
  const no = new Drive().offer(1, T0, { offersQueue: true, readyAgents: 0, expectedWaitMs: null });
  no.offer(1, T0 + 1); // now an agent is ready, but the request was answered
  assert.deepEqual(no.did(), ['send:refuse(no agent ready and the expected wait is beyond the caller)']);
});

test('the sweep forgets released reservations and refusals, and keeps admitted ones much longer', () => {
  const d = new Drive().offer(1, T0).commit(1, T0 + 1);
  d.offer(2, T0).step({ type: 'timer-fired', id: 'reservation:tok-2' }, T0 + 3_000);
  d.offer(3, T0, { offersQueue: true, readyAgents: 0, expectedWaitMs: null });
  d.step({ type: 'sweep' }, T0 + 3_000 + O.retainMs);
  assert.deepEqual([...d.book.byToken.keys()], ['tok-1']);
  assert.deepEqual([...d.book.byRequest.keys()], ['c1#1']);
  // A forgotten released token is refused as unknown: still the truth, it was not admitted.
  d.commit(2, T0 + 20_000);
  assert.deepEqual(d.did(), ['send:refuse(unknown token)']);
  d.commit(1, T0 + 20_000);
  assert.deepEqual(d.did(), ['send:commit-ack']);
  d.step({ type: 'sweep' }, T0 + 1 + O.retainAdmittedMs);
  assert.equal(d.book.byToken.size, 0);
});

test('a token issued twice is the adapter bug: refused, nothing changes', () => {
  const d = new Drive().offer(1, T0);
  assert.throws(
    () => d.step({ type: 'offer', request: request(2), token: 'tok-1', local: READY }, T0 + 1),
    (e) => isDomainError(e, 'internal'),
  );
  assert.equal(d.book.byToken.size, 1);
  assert.equal(d.book.byRequest.has('c2#1'), false);
});
