import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import type { CoverRank } from '../../shared/topology/schema.js';
import type { RequestMessage } from './messages.js';
import {
  bookFromAdmitted,
  emptyBook,
  rankOf,
  reservationStep,
  type AdmittedRow,
  type LocalQueueState,
  type ReservationBook,
  type ReservationCommand,
  type ReservationEvent,
  type ReservationOptions,
} from './reservation.js';

const O: ReservationOptions = { holdMs: 3_000, retainMs: 10_000, retainAdmittedMs: 100_000 };
const T0 = 500_000;
const READY: LocalQueueState = {
  offersQueue: true,
  agentsReady: 1,
  agentsServing: 1,
  expectedWaitMs: null,
  expectedWaitBelowOwnMs: null,
  maxWaitMs: null,
};
const BUSY: LocalQueueState = { ...READY, agentsReady: 0, agentsServing: 2 };

const request = (n: number, extra: Partial<RequestMessage> = {}): RequestMessage => ({
  kind: 'request',
  requestId: `c${n}#1`,
  fromSiteId: 'wanzhou',
  toSiteId: 'chongqing',
  callId: `c${n}`,
  queueId: 'retail',
  priority: 5,
  waitedMs: 40_000,
  remainingPatienceMs: null,
  visitedSiteIds: ['wanzhou'],
  policyId: 'wanzhou-retail',
  coverEntryId: null,
  hops: 0,
  ani: '+861380000',
  dnis: '95588',
  customerId: 'cust-1',
  customerHomeSiteId: 'wanzhou',
  ivrPath: ['main'],
  attached: { intent: 'card' },
  callAgeMs: 42_000,
  ...extra,
});

const addr = (n: number) => ({ requestId: `c${n}#1`, fromSiteId: 'wanzhou', toSiteId: 'chongqing' });

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
    return this.step({ type: 'message', message: { kind: 'commit', ...addr(n), token } }, nowMs);
  }
  callerLeft(n: number, nowMs: number, token = `tok-${n}`): this {
    return this.step({ type: 'message', message: { kind: 'caller-left', ...addr(n), token } }, nowMs);
  }
  done(n: number, nowMs: number): this {
    return this.step({ type: 'admit-done', token: `tok-${n}` }, nowMs);
  }
  /** Commit and the ACD's admit, as the adapter does. */
  admit(n: number, nowMs: number): this {
    return this.commit(n, nowMs).done(n, nowMs);
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

describe('commit', () => {
  test('accepted, held until the deadline; the commit asks the ACD to admit at the original time, acked only once admitted', () => {
    const d = new Drive().offer(1, T0);
    assert.deepEqual(d.did(), ['send:accept', 'start-timer']);
    const accept = d.out[0]!;
    assert.ok(accept.type === 'send' && accept.message.kind === 'accept');
    assert.deepEqual(
      [accept.message.token, accept.message.holdMs, accept.message.fromSiteId, accept.message.toSiteId],
      ['tok-1', 3_000, 'chongqing', 'wanzhou'],
    );
    assert.deepEqual(d.out[1], { type: 'start-timer', id: 'reservation:tok-1', atMs: T0 + 3_000 });

    d.commit(1, T0 + 2_999);
    assert.deepEqual(d.did(), ['cancel-timer', 'admit-call'], 'no ack before the ACD admitted it');
    const admit = d.out.find((c) => c.type === 'admit-call');
    assert.ok(admit?.type === 'admit-call');
    assert.equal(admit.enqueueMs, T0 - 40_000); // ranks as if it joined when it joined at home
    assert.equal(admit.rank, 'by-wait', 'an overflow call ranks by its wait');
    assert.deepEqual(
      [admit.fromSiteId, admit.token, admit.callId, admit.hops, admit.visitedSiteIds],
      ['wanzhou', 'tok-1', 'c1', 1, ['wanzhou']],
    );
    assert.deepEqual(
      [admit.data.customerId, admit.data.ani, admit.data.ivrPath],
      ['cust-1', '+861380000', ['main']],
    );
    assert.deepEqual(admit.row, {
      token: 'tok-1',
      requestId: 'c1#1',
      callId: 'c1',
      fromSiteId: 'wanzhou',
      queueId: 'retail',
      admittedAtMs: T0 + 2_999,
    });
    // A commit repeated while the ACD admits gets no answer; neither the deadline nor a cancel
    // lets it go.
    d.commit(1, T0 + 3_000);
    assert.deepEqual(d.did(), []);
    d.step({ type: 'timer-fired', id: 'reservation:tok-1' }, T0 + 3_000);
    d.step({ type: 'message', message: { kind: 'cancel', ...addr(1), token: 'tok-1' } }, T0 + 3_001);
    assert.equal(d.book.byToken.get('tok-1')!.status, 'admitting');
    d.done(1, T0 + 3_010);
    assert.deepEqual(d.did(), ['send:commit-ack']);
    assert.equal(d.book.byToken.get('tok-1')!.status, 'admitted');
  });

  test('admit-failed: the token is dead, the commit and its repeats are refused naming it', () => {
    const d = new Drive().offer(1, T0).commit(1, T0 + 10);
    d.step({ type: 'admit-failed', token: 'tok-1', reason: 'queue retail is gone' }, T0 + 20);
    assert.deepEqual(d.did(), ['send:refuse(not admitted: queue retail is gone)']);
    const r = d.out[0]!;
    assert.ok(r.type === 'send' && r.message.kind === 'refuse' && r.message.token === 'tok-1');
    d.commit(1, T0 + 30);
    assert.deepEqual(d.did(), ['send:refuse(reservation released)']);
    // An adapter answer for no admit in progress is its bug: refused, nothing changes.
    assert.throws(
      () => d.step({ type: 'admit-done', token: 'tok-1' }, T0 + 40),
      (e) => isDomainError(e, 'failed-precondition') && /tok-1/.test((e as Error).message),
    );
    assert.equal(d.book.byToken.get('tok-1')!.status, 'released');
  });

  test('a repeated commit is acked again and never admits twice; a reused or wrong token is refused', () => {
    const d = new Drive().offer(1, T0).admit(1, T0 + 10);
    d.commit(1, T0 + 20);
    assert.deepEqual(d.did(), ['send:commit-ack']);
    d.commit(1, T0 + 30, 'tok-x');
    assert.deepEqual(d.did(), ['send:refuse(unknown token)']);
    d.offer(2, T0 + 40).commit(1, T0 + 50, 'tok-2');
    assert.deepEqual(d.did(), ['send:refuse(unknown token)']);
    assert.equal(d.book.byToken.get('tok-2')!.status, 'held');
  });

  test('a commit at or after the deadline is refused even before the timer fires; the timer releases', () => {
    const d = new Drive().offer(1, T0).commit(1, T0 + 3_000);
    assert.deepEqual(d.did(), ['cancel-timer', 'send:refuse(reservation expired)']);
    const t = new Drive().offer(2, T0).step({ type: 'timer-fired', id: 'reservation:tok-2' }, T0 + 3_000);
    assert.equal(t.book.byToken.get('tok-2')!.status, 'released');
    t.commit(2, T0 + 3_001);
    assert.deepEqual(t.did(), ['send:refuse(reservation released)']);
  });
});

describe('caller-left', () => {
  test('held: released and refused naming the token, never admitted (a late commit is refused too)', () => {
    const d = new Drive().offer(1, T0).callerLeft(1, T0 + 5);
    assert.deepEqual(d.did(), ['cancel-timer', 'send:refuse(the caller left)']);
    d.commit(1, T0 + 6);
    assert.deepEqual(d.did(), ['send:refuse(reservation released)']);
    d.callerLeft(1, T0 + 7);
    assert.deepEqual(d.did(), ['send:refuse(reservation released)']);
  });

  test('admitted: ended once (end-admitted) and acked every time', () => {
    const d = new Drive()
      .offer(1, T0)
      .admit(1, T0 + 5)
      .callerLeft(1, T0 + 6);
    assert.deepEqual(d.did(), ['end-admitted', 'send:commit-ack']);
    assert.deepEqual(d.out[0], { type: 'end-admitted', callId: 'c1', fromSiteId: 'wanzhou', token: 'tok-1' });
    d.callerLeft(1, T0 + 7);
    assert.deepEqual(d.did(), ['send:commit-ack'], 'ended once');
  });

  test('while admitting: no answer yet; admit-done ends it and acks, admit-failed refuses', () => {
    const d = new Drive()
      .offer(1, T0)
      .commit(1, T0 + 1)
      .callerLeft(1, T0 + 2);
    assert.deepEqual(d.did(), []);
    d.done(1, T0 + 3);
    assert.deepEqual(d.did(), ['end-admitted', 'send:commit-ack']);
    const f = new Drive()
      .offer(2, T0)
      .commit(2, T0 + 1)
      .callerLeft(2, T0 + 2);
    f.step({ type: 'admit-failed', token: 'tok-2', reason: 'no' }, T0 + 3);
    assert.deepEqual(f.did(), ['send:refuse(not admitted: no)']);
  });

  test('unknown: refused naming the token, so the origin stops resending', () => {
    const d = new Drive().callerLeft(9, T0);
    assert.deepEqual(d.did(), ['send:refuse(unknown token)']);
    const r = d.out[0]!;
    assert.ok(r.type === 'send' && r.message.kind === 'refuse' && r.message.token === 'tok-9');
  });
});

describe('durable book', () => {
  test('a restarted target rebuilt from the admitted rows acks a resent commit; a lost held one is refused', () => {
    const d = new Drive().offer(1, T0).commit(1, T0 + 1);
    const row = (d.out.find((c) => c.type === 'admit-call') as { row: AdmittedRow }).row;
    d.done(1, T0 + 1).offer(2, T0 + 2);
    // Restart: only the admitted row was stored.
    const r = new Drive();
    r.book = bookFromAdmitted('chongqing', [row], T0 + 5_000);
    r.commit(1, T0 + 5_001);
    assert.deepEqual(r.did(), ['send:commit-ack']);
    r.commit(2, T0 + 5_002);
    assert.deepEqual(r.did(), ['send:refuse(unknown token)']);
    r.offer(1, T0 + 5_003);
    assert.deepEqual(r.did(), [], 'a duplicate offer of an admitted request gets no second reservation');
    // Kept as long as an admitted token always is.
    r.step({ type: 'sweep' }, T0 + 1 + O.retainAdmittedMs - 1);
    assert.equal(r.book.byToken.size, 1);
    r.step({ type: 'sweep' }, T0 + 1 + O.retainAdmittedMs);
    assert.equal(r.book.byToken.size, 0);
  });

  test('a bad row is refused naming it', () => {
    assert.throws(
      () =>
        bookFromAdmitted(
          'chongqing',
          [{ token: '', requestId: 'r', callId: 'c', fromSiteId: 'w', queueId: 'q', admittedAtMs: 1 }],
          0,
        ),
      (e) => isDomainError(e, 'invalid-argument') && /rows\[0\]\.token/.test((e as Error).message),
    );
  });
});

describe('offer', () => {
  test('accept or refuse by the hub rule: ready and unpromised, else serving with the patience fitting', () => {
    const d = new Drive().offer(1, T0);
    assert.equal(d.did()[0], 'send:accept');
    // The one ready agent is promised to c1: c2 is refused, unless its caller can wait long enough.
    const busy = { ...READY, expectedWaitMs: 20_000 };
    d.offer(2, T0 + 1, busy, { remainingPatienceMs: 10_000 });
    assert.deepEqual(d.did(), [
      "send:refuse(no agent ready and the expected wait of 20000 ms is beyond the caller's 10000 ms)",
    ]);
    d.offer(3, T0 + 2, busy, { remainingPatienceMs: 20_000 });
    assert.equal(d.did()[0], 'send:accept');
    d.offer(4, T0 + 3, { ...READY, offersQueue: false, agentsReady: 5 });
    assert.deepEqual(d.did(), ['send:refuse(site chongqing does not offer queue retail)']);
  });

  test('unknown values judged as the hub does: unknown patience fits agents serving; unknown wait fits only unknown patience', () => {
    const d = new Drive().offer(1, T0, BUSY);
    assert.equal(d.did()[0], 'send:accept', 'patience unknown, agents serving');
    d.offer(2, T0, BUSY, { remainingPatienceMs: 60_000 });
    assert.deepEqual(d.did(), ['send:refuse(no agent ready and the expected wait is unknown)']);
    d.offer(3, T0, { ...BUSY, agentsServing: 0 });
    assert.deepEqual(d.did(), ['send:refuse(no agent serves queue retail at site chongqing)']);
  });

  test("a covered call's rank is its entry's here, below-own when this site does not know the entry", () => {
    const cover = { policyId: null, coverEntryId: 'night-wanzhou-retail' };
    assert.equal(rankOf({ coverEntryId: null }, 'below-own'), 'by-wait', 'overflow: by wait');
    assert.equal(rankOf(cover, 'by-wait'), 'by-wait');
    assert.equal(rankOf(cover, 'below-own'), 'below-own');
    assert.equal(rankOf(cover, null), 'below-own', "an entry unknown here: the topology's default");
    assert.equal(rankOf(cover, undefined), 'below-own');
    const rankAdmitted = (coverRank: CoverRank | null): CoverRank => {
      const d = new Drive().step(
        { type: 'offer', request: request(1, cover), token: 'tok-1', local: READY, coverRank },
        T0,
      );
      assert.equal(d.did()[0], 'send:accept');
      const admit = d.commit(1, T0 + 1).out.find((c) => c.type === 'admit-call');
      assert.ok(admit?.type === 'admit-call');
      return admit.rank;
    };
    assert.equal(rankAdmitted('below-own'), 'below-own');
    assert.equal(rankAdmitted('by-wait'), 'by-wait');
    assert.equal(rankAdmitted(null), 'below-own');
  });

  test('a below-own call is judged on the expected wait below own callers; by-wait on its own', () => {
    const cover = { policyId: null, coverEntryId: 'night', remainingPatienceMs: 30_000 };
    const local = { ...BUSY, expectedWaitMs: 20_000, expectedWaitBelowOwnMs: 50_000 };
    const offer = (n: number, coverRank: CoverRank | null, extra: Partial<RequestMessage> = cover) =>
      new Drive().step(
        { type: 'offer', request: request(n, extra), token: `tok-${n}`, local, coverRank },
        T0,
      );
    assert.deepEqual(offer(1, 'below-own').did(), [
      "send:refuse(no agent ready and the expected wait (ranked below own callers) of 50000 ms is beyond the caller's 30000 ms)",
    ]);
    assert.equal(offer(2, 'by-wait').did()[0], 'send:accept', '20 s at its own rank fits 30 s');
    assert.equal(
      offer(3, 'below-own', { ...cover, policyId: 'p', coverEntryId: null }).did()[0],
      'send:accept',
      'an overflow request is by-wait whatever the caller passes',
    );
    assert.deepEqual(offer(4, null, { ...cover, remainingPatienceMs: 60_000 }).did()[0], 'send:accept');
    assert.deepEqual(
      new Drive()
        .step(
          {
            type: 'offer',
            request: request(5, cover),
            token: 'tok-5',
            local: { ...local, expectedWaitBelowOwnMs: null },
            coverRank: 'below-own',
          },
          T0,
        )
        .did(),
      ['send:refuse(no agent ready and the expected wait (ranked below own callers) is unknown)'],
    );
  });

  test("a caller who has waited the target queue's max wait is refused (it would fall back at once)", () => {
    const d = new Drive().offer(1, T0, { ...READY, maxWaitMs: 40_000 });
    assert.deepEqual(d.did(), [
      "send:refuse(the caller has waited 40000 ms, at or past queue retail's max wait of 40000 ms)",
    ]);
    d.offer(2, T0, { ...READY, maxWaitMs: 40_001 });
    assert.equal(d.did()[0], 'send:accept');
  });

  test('no trunk free here, counting the trunks held reservations and admits in progress promise: refused `no-trunk`', () => {
    const trunks = (n: number): LocalQueueState => ({ ...READY, agentsReady: 5, trunksFree: n });
    const d = new Drive().offer(1, T0, trunks(0));
    assert.deepEqual(d.did(), [
      'send:refuse(no-trunk: site chongqing has no trunk free (0 free, 0 promised))',
    ]);
    assert.equal(d.book.byToken.size, 0);
    // One trunk free: c2 holds it; c3 finds it promised (whatever its queue).
    d.offer(2, T0, trunks(1));
    assert.equal(d.did()[0], 'send:accept');
    d.offer(3, T0 + 1, trunks(1), { queueId: 'loans' });
    assert.deepEqual(d.did(), [
      'send:refuse(no-trunk: site chongqing has no trunk free (1 free, 1 promised))',
    ]);
    // Being admitted, c2 still holds its trunk (the adapter adopts the call only once stored).
    d.commit(2, T0 + 2);
    d.offer(4, T0 + 3, trunks(1));
    assert.match(d.did()[0]!, /^send:refuse\(no-trunk: /);
    // Admitted, it is one of the site's calls: the adapter's trunksFree counts it.
    d.done(2, T0 + 4);
    d.offer(5, T0 + 5, trunks(1));
    assert.equal(d.did()[0], 'send:accept');
    // A reservation past its deadline promises nothing, even before its timer fires.
    d.offer(6, T0 + 3_005, trunks(1));
    assert.equal(d.did()[0], 'send:accept');
    // No trunk figure (a simulation without trunks): not limited.
    d.offer(7, T0 + 3_006, { ...READY, agentsReady: 5 });
    assert.equal(d.did()[0], 'send:accept');
  });

  test('a request with a number out of range is refused naming the field, and nothing is held', () => {
    const bad: Array<[Partial<RequestMessage>, RegExp]> = [
      [{ waitedMs: -1 }, /^request\.waitedMs: /],
      [{ waitedMs: Number.NaN }, /^request\.waitedMs: /],
      [{ remainingPatienceMs: -5 }, /^request\.remainingPatienceMs: /],
      [{ priority: 1.5 }, /^request\.priority: /],
      [{ hops: -1 }, /^request\.hops: /],
      [{ callAgeMs: -1 }, /^request\.callAgeMs: /],
    ];
    for (const [patch, why] of bad) {
      const d = new Drive().offer(1, T0, READY, patch);
      assert.equal(d.out.length, 1);
      const r = d.out[0]!;
      assert.ok(r.type === 'send' && r.message.kind === 'refuse' && r.message.token === null);
      assert.match(r.message.reason, why);
      assert.equal(d.book.byToken.size, 0);
    }
  });

  test('a duplicate offer gets the same answer, never a second reservation', () => {
    const d = new Drive().offer(1, T0);
    d.step({ type: 'offer', request: request(1), token: 'tok-other', local: READY }, T0 + 1_000);
    const again = d.out[0]!;
    assert.ok(again.type === 'send' && again.message.kind === 'accept');
    assert.deepEqual([again.message.token, again.message.holdMs], ['tok-1', 2_000]); // what is left
    assert.equal(d.book.byToken.size, 1);
    const no = new Drive().offer(1, T0, { ...BUSY, agentsServing: 0 });
    no.offer(1, T0 + 1); // now an agent is ready, but the request was answered
    assert.deepEqual(no.did(), ['send:refuse(no agent serves queue retail at site chongqing)']);
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
});

test('a cancel releases a held reservation (its later commit is refused) and never an admitted call', () => {
  const d = new Drive().offer(1, T0);
  d.step({ type: 'message', message: { kind: 'cancel', ...addr(1), toSiteId: null, token: null } }, T0 + 1);
  assert.deepEqual(d.did(), ['cancel-timer']);
  d.commit(1, T0 + 2);
  assert.deepEqual(d.did(), ['send:refuse(reservation released)']);
  d.offer(2, T0).admit(2, T0 + 1);
  d.step({ type: 'message', message: { kind: 'cancel', ...addr(2), token: 'tok-2' } }, T0 + 2);
  assert.deepEqual(d.did(), []);
  assert.equal(d.book.byToken.get('tok-2')!.status, 'admitted');
  d.offer(3, T0 + 3);
  d.step({ type: 'message', message: { kind: 'cancel', ...addr(9), token: 'tok-3' } }, T0 + 4);
  assert.equal(d.book.byToken.get('tok-3')!.status, 'held');
});

test('the sweep forgets released reservations and refusals, and keeps admitted ones much longer', () => {
  const d = new Drive().offer(1, T0).admit(1, T0 + 1);
  d.offer(2, T0).step({ type: 'timer-fired', id: 'reservation:tok-2' }, T0 + 3_000);
  d.offer(3, T0, { ...BUSY, agentsServing: 0 });
  d.step({ type: 'sweep' }, T0 + 3_000 + O.retainMs);
  assert.deepEqual([...d.book.byToken.keys()], ['tok-1']);
  assert.deepEqual([...d.book.byRequest.keys()], ['c1#1']);
  d.commit(2, T0 + 20_000);
  assert.deepEqual(d.did(), ['send:refuse(unknown token)']);
  d.commit(1, T0 + 20_000);
  assert.deepEqual(d.did(), ['send:commit-ack']);
  d.step({ type: 'sweep' }, T0 + 1 + O.retainAdmittedMs);
  assert.equal(d.book.byToken.size, 0);
});

describe('past the deadline, before the timer fires (a late timer)', () => {
  const PATIENT = { remainingPatienceMs: 10_000 }; // a known patience: an unknown wait does not fit it

  test('a repeated offer is answered as released, never with an accept of no time left', () => {
    const d = new Drive().offer(1, T0);
    d.offer(1, T0 + 3_500);
    assert.deepEqual(d.did(), ['cancel-timer', 'send:refuse(reservation expired)']);
    assert.equal(d.book.byToken.get('tok-1')!.status, 'released');
    d.commit(1, T0 + 3_501);
    assert.deepEqual(d.did(), ['send:refuse(reservation released)']);
  });

  test('it promises no agent: the one ready agent may be offered to the next call', () => {
    const d = new Drive().offer(1, T0, READY, PATIENT);
    d.offer(2, T0 + 2_999, READY, PATIENT);
    assert.deepEqual(d.did(), ['send:refuse(no agent ready and the expected wait is unknown)']);
    d.offer(3, T0 + 3_000, READY, PATIENT);
    assert.deepEqual(d.did(), ['send:accept', 'start-timer']);
  });
});

describe('only the origin speaks for its reservation', () => {
  const from = (n: number, site: string) => ({ ...addr(n), fromSiteId: site });

  test('a commit, cancel or caller-left from another site is reported and changes nothing', () => {
    const d = new Drive().offer(1, T0);
    for (const message of [
      { kind: 'commit' as const, ...from(1, 'fuling'), token: 'tok-1' },
      { kind: 'cancel' as const, ...from(1, 'fuling'), token: 'tok-1' },
      { kind: 'cancel' as const, ...from(1, 'fuling'), toSiteId: null, token: null },
      { kind: 'caller-left' as const, ...from(1, 'fuling'), token: 'tok-1' },
    ]) {
      d.step({ type: 'message', message }, T0 + 1);
      assert.deepEqual(d.did(), ['wrong-sender'], `${message.kind} from fuling`);
      const report = d.out[0]!;
      assert.ok(report.type === 'wrong-sender');
      assert.deepEqual([report.kind, report.fromSiteId], [message.kind, 'fuling']);
      assert.match(report.reason, /from site fuling, but the reservation is wanzhou's/);
      assert.equal(d.book.byToken.get('tok-1')!.status, 'held');
    }
    // The origin's own commit still admits it.
    d.commit(1, T0 + 2);
    assert.deepEqual(d.did(), ['cancel-timer', 'admit-call']);
    d.done(1, T0 + 3);
    d.step(
      { type: 'message', message: { kind: 'caller-left', ...from(1, 'fuling'), token: 'tok-1' } },
      T0 + 4,
    );
    assert.deepEqual(d.did(), ['wrong-sender'], 'an admitted call is not ended at a stranger’s word');
  });

  test("a repeated offer from another site is reported, never answered with the origin's token", () => {
    const d = new Drive().offer(1, T0);
    d.step(
      { type: 'offer', request: request(1, { fromSiteId: 'fuling' }), token: 'tok-x', local: READY },
      T0 + 1,
    );
    assert.deepEqual(d.did(), ['wrong-sender']);
  });
});
