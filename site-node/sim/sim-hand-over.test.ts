/**
 * The simulated voice move between sites (MediaPort.handOver / onHandedOver, sim-hand-over.ts):
 * in one process the origin hears whether the target took the caller; across processes the
 * caller travels in the overflow request; either way the person who arrives is the one who
 * left, with the patience left and their talk time.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import type { CallLeg } from '../telephony/media-port.js';
import {
  carriedHandOver,
  simCallerAttached,
  simCallerFromRequest,
  SimVoiceNetwork,
  SIM_ATTACHED_KEYS,
} from './sim-hand-over.js';
import { SimMedia, type SimCaller } from './sim-media.js';

const caller = (over: Partial<SimCaller> = {}): SimCaller => ({
  ani: '13800000001',
  dnis: '95588',
  patienceMs: 60_000,
  thinkMs: 1_500,
  respond: () => 'timeout',
  ...over,
});

/** Two sites' simulated media on one virtual clock; each records its far-end hang-ups. */
function province(opts: { claim?: boolean; network?: boolean } = {}) {
  const scheduler = new VirtualScheduler(0);
  const wz = new SimMedia(scheduler);
  const cq = new SimMedia(scheduler);
  const hungUp = { wz: [] as string[], cq: [] as string[] };
  wz.onFarEndHangup((l) => hungUp.wz.push(l.callId));
  cq.onFarEndHangup((l) => hungUp.cq.push(l.callId));
  wz.onInbound((c) => (c.leg.callId = 'wz-call-1'));
  const arrived: Array<{ token: string; leg: CallLeg }> = [];
  cq.onHandedOver((token, leg) => {
    if (opts.claim === false) return false;
    leg.callId = 'cq-call-9';
    arrived.push({ token, leg });
    return true;
  });
  if (opts.network !== false) {
    const network = new SimVoiceNetwork();
    network.join('wz', wz);
    network.join('cq', cq);
    wz.useHandOverRoute(network);
    cq.useHandOverRoute(network);
  }
  return { scheduler, wz, cq, hungUp, arrived };
}

describe('simulated hand-over in one process', () => {
  test('the target takes the caller: it keeps the patience it had left, the origin hears no more of it', async () => {
    const p = province();
    const leg = p.wz.place(caller());
    await p.wz.hold(leg);
    await p.scheduler.advance(40_000);
    await p.wz.handOver(leg, { toSiteId: 'cq', token: 'tok-1' });
    assert.equal(p.arrived.length, 1);
    assert.equal(p.arrived[0]!.token, 'tok-1');
    assert.deepEqual(
      [p.wz.counters.handedOut, p.wz.liveCount(), p.cq.counters.handedIn, p.cq.liveCount()],
      [1, 0, 1, 1],
    );
    await p.wz.hangup(leg); // the origin's leg is gone: a no-op, the caller stays at cq
    assert.equal(p.cq.liveCount(), 1);

    const there = p.arrived[0]!.leg;
    await p.cq.hold(there);
    await p.scheduler.advance(19_999);
    assert.deepEqual(p.hungUp, { wz: [], cq: [] }, '40 s waited of 60 s: 20 s left');
    await p.scheduler.advance(1);
    assert.deepEqual(p.hungUp, { wz: [], cq: ['cq-call-9'] });
    assert.equal(p.cq.counters.abandonedOnHold, 1);
  });

  test('the target refuses the caller: the hand-over rejects and the caller is still here, patience running', async () => {
    const p = province({ claim: false });
    const leg = p.wz.place(caller());
    await p.wz.hold(leg);
    await p.scheduler.advance(40_000);
    await assert.rejects(p.wz.handOver(leg, { toSiteId: 'cq', token: 'tok-1' }), (e) =>
      isDomainError(e, 'unavailable'),
    );
    assert.deepEqual([p.wz.liveCount(), p.cq.liveCount(), p.wz.counters.handedOut], [1, 0, 0]);
    await p.scheduler.advance(19_999);
    assert.deepEqual(p.hungUp.wz, []);
    await p.scheduler.advance(1);
    assert.deepEqual(p.hungUp, { wz: ['wz-call-1'], cq: [] }, 'abandons at the origin after its own 60 s');
  });

  test('no route, an unknown site, a caller who left or one bridged: refused, nothing moves', async () => {
    const alone = province({ network: false });
    const l0 = alone.wz.place(caller());
    await assert.rejects(alone.wz.handOver(l0, { toSiteId: 'cq', token: 't' }), (e) =>
      isDomainError(e, 'unavailable'),
    );

    const p = province();
    const l1 = p.wz.place(caller());
    await assert.rejects(
      p.wz.handOver(l1, { toSiteId: 'fl', token: 't' }),
      (e) => isDomainError(e, 'unavailable') && /site fl/.test(e.message),
    );
    await p.wz.bridgeToAgent(l1, 'a1');
    await assert.rejects(
      p.wz.handOver(l1, { toSiteId: 'cq', token: 't' }),
      (e) => isDomainError(e, 'failed-precondition') && /bridged/.test(e.message),
    );
    const l2 = p.wz.place(caller());
    await p.wz.hangup(l2);
    await assert.rejects(
      p.wz.handOver(l2, { toSiteId: 'cq', token: 't' }),
      (e) => isDomainError(e, 'failed-precondition') && /has ended/.test(e.message),
    );
    assert.deepEqual([p.cq.liveCount(), p.cq.counters.handedIn], [0, 0]);
  });

  test('the talk time travels: answered at the target, the caller hangs up after it', async () => {
    const p = province();
    const leg = p.wz.place(caller({ talkMs: 90_000 }));
    await p.wz.hold(leg);
    await p.wz.handOver(leg, { toSiteId: 'cq', token: 'tok-2' });
    const there = p.arrived[0]!.leg;
    await p.cq.bridgeToAgent(there, 'a7');
    await p.scheduler.advance(89_999);
    assert.deepEqual(p.hungUp.cq, []);
    await p.scheduler.advance(1);
    assert.deepEqual(p.hungUp.cq, ['cq-call-9']);
  });

  test('a caller with no talk time stays on the line until the site releases it', async () => {
    const scheduler = new VirtualScheduler(0);
    const media = new SimMedia(scheduler);
    const hungUp: string[] = [];
    media.onFarEndHangup((l) => hungUp.push(l.legId));
    media.onInbound(() => undefined);
    const leg = media.place(caller());
    await media.hold(leg);
    await scheduler.advance(50_000);
    await media.bridgeToAgent(leg, 'a1');
    await scheduler.advance(3_600_000);
    assert.deepEqual([hungUp, media.liveCount()], [[], 1]);
  });
});

describe('simulated hand-over across processes', () => {
  test('the caller rides in the overflow request and arrives at the target the same person', async () => {
    // The origin's process: the caller waited 15 s of 60 s; its state goes into the request.
    const origin = new VirtualScheduler(0);
    const wz = new SimMedia(origin);
    wz.onInbound((c) => (c.leg.callId = 'wz-call-1'));
    wz.useHandOverRoute(carriedHandOver);
    const leg = wz.place(caller({ talkMs: 30_000 }));
    await wz.hold(leg);
    await origin.advance(15_000);
    const state = wz.callerState(leg)!;
    const request = {
      ani: state.ani,
      dnis: state.dnis,
      remainingPatienceMs: state.remainingPatienceMs,
      attached: { intent: 'balance', ...simCallerAttached(state) },
    };
    assert.deepEqual(request.attached, {
      intent: 'balance',
      [SIM_ATTACHED_KEYS.thinkMs]: '1500',
      'sim.talkMs': '30000',
    });

    // The target's process: its adapter admits the call 500 ms after the request arrived and
    // hands the caller to its media before acking the commit.
    const target = new VirtualScheduler(7_000_000);
    const cq = new SimMedia(target);
    const hungUp: string[] = [];
    cq.onFarEndHangup((l) => hungUp.push(l.callId));
    let arrived: CallLeg | undefined;
    cq.onHandedOver((token, l) => {
      assert.equal(token, 'tok-3');
      l.callId = 'cq-call-3';
      arrived = l;
      return true;
    });
    await cq.receiveHandOver('tok-3', simCallerFromRequest(request, 500));
    // The ack came: the origin hands over and lets go of the leg.
    await wz.handOver(leg, { toSiteId: 'cq', token: 'tok-3' });
    assert.deepEqual([wz.liveCount(), wz.counters.handedOut], [0, 1]);

    await cq.hold(arrived!);
    await target.advance(44_499);
    assert.deepEqual(hungUp, [], '60 s - 15 s waited - 0.5 s in transit = 44.5 s left');
    await target.advance(1);
    assert.deepEqual(hungUp, ['cq-call-3']);
  });

  test('a request without the patience, or with keys that are not milliseconds, makes no simulated caller', () => {
    const base = { ani: '1', dnis: '2', remainingPatienceMs: 1_000, attached: {} };
    assert.throws(
      () => simCallerFromRequest({ ...base, remainingPatienceMs: null }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'remainingPatienceMs',
    );
    assert.throws(
      () => simCallerFromRequest({ ...base, attached: { 'sim.talkMs': '12s' } }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'attached.sim.talkMs',
    );
    assert.deepEqual(simCallerFromRequest(base, 5_000), {
      ani: '1',
      dnis: '2',
      remainingPatienceMs: 0,
      talkMs: null,
      thinkMs: 2_000,
    });
  });
});
