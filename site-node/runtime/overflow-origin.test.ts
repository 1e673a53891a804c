/**
 * The origin's adapter (overflow-origin.ts) on the real ACD engine, in virtual time, against a
 * scripted hub link and media (docs/architecture.md §3.8, tier 2): what it sends, what it asks
 * the ACD, when the voice goes, and that every ending leaves the call exactly once somewhere.
 */
import { beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { createLogger } from '../../shared/log.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import type { Topology } from '../../shared/topology/schema.js';
import { compileAcdConfig, type AcdCommand } from '../acd/index.js';
import type { CoverView } from '../link/hub-link.js';
import type { OverflowMessage } from '../overflow/messages.js';
import type { CallLeg, HandOverTo, MediaPort } from '../telephony/media-port.js';
import { AcdEngine } from './acd-engine.js';
import type { WriteOutcome } from './durable-writes.js';
import { OverflowOrigin } from './overflow-origin.js';

const POLICY = {
  id: 'wanzhou-busy',
  from: 'wanzhou',
  queues: ['retail'],
  to: ['chongqing'],
  when: {
    waitingOver: 0,
    oldestWaitOverMs: null,
    serviceLevelBelow: null,
    noAgentsLoggedIn: false,
    afterHours: false,
  },
  excludePriorities: [10],
  maxHops: 1 as const,
};
const TOPOLOGY = { overflow: [POLICY], cover: [] } as unknown as Topology;

let clock: VirtualScheduler;
let engine: AcdEngine;
let origin: OverflowOrigin;
let sent: OverflowMessage[];
let ended: Array<Extract<AcdCommand, { type: 'call-ended' }>>;
let handedOver: Array<{ leg: CallLeg; to: HandOverTo }>;
let lines: Array<{ msg: string; [k: string]: unknown }>;
/** The moves the adapter recorded (with the bound it gave), and how the fake store answers. */
let recorded: Array<{ requestId: string; toSiteId: string; token: string; waitMs: number }>;
let recordAnswer: () => Promise<WriteOutcome>;
/** Ends of resumed moves the adapter asked the store for. */
let storeEnds: string[];
/** Calls whose callback key press is being committed. */
let keyPressed: Set<string>;
const link = {
  overflowReady: true,
  topology: TOPOLOGY,
  cover: { activeEntryIds: [], stale: true } as CoverView,
};

const leg = (callId: string): CallLeg => ({
  legId: `leg-${callId}`,
  callId,
  role: 'caller',
  endpoint: { transport: 'sim', id: callId },
});

beforeEach(() => {
  clock = new VirtualScheduler(1_000_000);
  sent = [];
  ended = [];
  handedOver = [];
  lines = [];
  recorded = [];
  recordAnswer = () => Promise.resolve('written');
  storeEnds = [];
  keyPressed = new Set();
  link.overflowReady = true;
  link.topology = TOPOLOGY;
  link.cover = { activeEntryIds: [], stale: true };
  const log = createLogger({}, { level: 'info', write: (l) => lines.push(JSON.parse(l) as never) });
  const config = compileAcdConfig({
    offerTimeoutMs: '10s',
    wrapUpMs: '5s',
    queues: [
      { id: 'retail', skill: 'retail' },
      { id: 'credit-card', skill: 'card' },
    ],
  });
  engine = new AcdEngine(
    config,
    clock,
    (cmd) => {
      if (cmd.type === 'call-taken' || cmd.type === 'call-not-waiting') origin.acdAnswer(cmd);
      if (cmd.type === 'call-ended') {
        ended.push(cmd);
        origin.callEnded(cmd.callId);
      }
    },
    log,
  );
  const media = {
    handOver: (l: CallLeg, to: HandOverTo) => {
      handedOver.push({ leg: l, to });
      return Promise.resolve();
    },
    hangup: () => Promise.resolve(),
  } as unknown as MediaPort;
  origin = new OverflowOrigin({
    siteId: 'wanzhou',
    scheduler: clock,
    protocolClock: clock,
    engine,
    callOf: (callId) =>
      engine.call(callId)
        ? {
            callId,
            ani: '13900000001',
            dnis: '95599',
            leg: leg(callId),
            customerId: 'c-1',
            ivrPath: ['main.menu'],
            attached: { intent: 'balance' },
            createdAtMs: 1_000_000,
            callerGone: false,
            callbackPending: keyPressed.has(callId),
          }
        : undefined,
    link: {
      get overflowReady() {
        return link.overflowReady;
      },
      sendOverflow: (m) => {
        if (!link.overflowReady) return false;
        sent.push(m);
        return true;
      },
      get topology() {
        return link.topology;
      },
      get cover() {
        return link.cover;
      },
    },
    moves: {
      record: (m, waitMs) => {
        recorded.push({ requestId: m.requestId, toSiteId: m.toSiteId, token: m.token, waitMs });
        return recordAnswer();
      },
      endMoved: (callId, toSiteId, token) => storeEnds.push(`overflowed ${callId} ${toSiteId} ${token}`),
      endRefused: (callId) => storeEnds.push(`failed ${callId}`),
    },
    media,
    homeOf: () => Promise.resolve('wanzhou'),
    log,
    tickMs: 250,
  });
  origin.start();
});

const kinds = (): string[] => sent.map((m) => m.kind);
/** Lets the store's answer (a resolved promise) reach the machine. */
const settled = (): Promise<void> => new Promise((r) => setImmediate(r));
const last = <K extends OverflowMessage['kind']>(kind: K): Extract<OverflowMessage, { kind: K }> =>
  sent.filter((m) => m.kind === kind).at(-1) as Extract<OverflowMessage, { kind: K }>;

/** c1 waits in retail and the tick asks for it. */
async function asked(): Promise<Extract<OverflowMessage, { kind: 'request' }>> {
  engine.dispatch({ type: 'call-arrived', callId: 'c1', queueId: 'retail', priority: 5 });
  await clock.advance(250); // the next tick
  const r = last('request');
  assert.ok(r, 'a request was sent');
  return r;
}

/** A message relayed from chongqing (unless `fromSiteId` says otherwise). */
const reply = (m: Record<string, unknown> & { kind: OverflowMessage['kind'] }): void =>
  origin.message({ fromSiteId: 'chongqing', toSiteId: 'wanzhou', ...m } as unknown as OverflowMessage);

describe('OverflowOrigin', () => {
  test('asked, accepted, taken, committed, acked: the voice goes, then the ACD ends the call overflowed', async () => {
    const req = await asked();
    assert.equal(req.requestId, 'c1#1');
    assert.equal(req.policyId, 'wanzhou-busy');
    assert.equal(req.customerHomeSiteId, 'wanzhou');
    assert.equal(req.waitedMs, 250, 'the wait so far, on the site clock');
    assert.deepEqual(req.visitedSiteIds, ['wanzhou']);
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    assert.equal(engine.call('c1')?.state, 'taken');
    await settled();
    assert.equal(last('commit').token, 'T');
    reply({ kind: 'commit-ack', requestId: 'c1#1', token: 'T' });
    await clock.advance(0);
    assert.deepEqual(
      handedOver.map((h) => h.to),
      [{ toSiteId: 'chongqing', token: 'T' }],
    );
    assert.deepEqual(
      ended.map((e) => [e.callId, e.outcome, e.toSiteId, e.token]),
      [['c1', 'overflowed', 'chongqing', 'T']],
    );
    assert.equal(origin.inFlightCount, 0);
  });

  test('a commit-ack from a site that did not issue the token is refused and logged; the right one moves the call', async () => {
    await asked();
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    await settled();
    reply({ kind: 'commit-ack', requestId: 'c1#1', token: 'T', fromSiteId: 'fuling' });
    assert.equal(engine.call('c1')?.state, 'taken', 'still in transit');
    assert.deepEqual(
      lines.filter((l) => l.msg === 'overflow message refused').map((l) => l.fromSiteId),
      ['fuling'],
    );
    reply({ kind: 'commit-ack', requestId: 'c1#1', token: 'T' });
    await clock.advance(0);
    assert.deepEqual(
      ended.map((e) => e.outcome),
      ['overflowed'],
    );
  });

  test('a refusal leaves the call in its place; it is asked again 5 s later, not before', async () => {
    await asked();
    const enqueue = engine.call('c1')!.enqueueMs;
    reply({ kind: 'refuse', requestId: 'c1#1', token: null, reason: 'no capacity', byHub: false });
    assert.equal(engine.call('c1')?.state, 'queued');
    assert.equal(engine.call('c1')?.enqueueMs, enqueue);
    const home = lines.find((l) => l.msg === 'overflow: call stays home')!;
    assert.equal(home.reason, 'refused');
    assert.equal(home.why, 'no capacity');
    await clock.advance(4_500);
    assert.equal(kinds().filter((k) => k === 'request').length, 1);
    await clock.advance(1_000);
    assert.equal(last('request').requestId, 'c1#2');
  });

  test('the link drops while asked: the call stays home; nothing is asked while the link cannot carry it', async () => {
    await asked();
    link.overflowReady = false;
    origin.linkDown();
    assert.equal(engine.call('c1')?.state, 'queued');
    assert.equal(lines.find((l) => l.msg === 'overflow: call stays home')?.reason, 'link-down');
    await clock.advance(10_000);
    assert.equal(kinds().filter((k) => k === 'request').length, 1);
  });

  test('the caller hangs up in transit: caller-left replaces the commit; the refusal naming the token ends the call abandoned, once', async () => {
    await asked();
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    await settled();
    engine.dispatch({ type: 'caller-hung-up', callId: 'c1' });
    origin.callerLeft('c1');
    assert.equal(last('caller-left').token, 'T');
    assert.equal(engine.call('c1')?.state, 'taken', 'kept until the target says');
    reply({ kind: 'refuse', requestId: 'c1#1', token: 'T', reason: 'the caller left', byHub: false });
    assert.deepEqual(
      ended.map((e) => e.outcome),
      ['abandoned-queued'],
    );
    assert.deepEqual(handedOver, []);
  });

  test('a silent target: the commit is resent, one alarm after 30 s, the call stays out of the line', async () => {
    await asked();
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    await settled();
    await clock.advance(31_000);
    assert.ok(kinds().filter((k) => k === 'commit').length >= 30, 'resent every second');
    await clock.advance(60_000);
    assert.equal(lines.filter((l) => l.msg === 'overflow: target silent with a call in transit').length, 1);
    assert.equal(engine.call('c1')?.state, 'taken');
  });

  test('a call whose callback key press is being committed is not asked for; once it is settled, it is', async () => {
    engine.dispatch({ type: 'call-arrived', callId: 'c1', queueId: 'retail', priority: 5 });
    keyPressed.add('c1');
    await clock.advance(1_000);
    assert.deepEqual(sent, [], 'no request while the key press is committed');
    keyPressed.delete('c1'); // not recorded: the caller keeps waiting
    await clock.advance(250);
    assert.equal(last('request').requestId, 'c1#1');
  });

  test('the key pressed while asked: the accept does not take the call, the reservation is cancelled', async () => {
    await asked();
    keyPressed.add('c1');
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    assert.equal(engine.call('c1')?.state, 'queued', 'still in its place, for the callback request');
    assert.deepEqual(kinds(), ['request', 'cancel']);
    assert.equal(last('cancel').token, 'T');
  });

  test('an accept for a call no longer asking is answered with a cancel of its token', async () => {
    reply({ kind: 'accept', requestId: 'gone#1', token: 'X', holdMs: 3_000 });
    assert.deepEqual(sent, [
      { kind: 'cancel', requestId: 'gone#1', fromSiteId: 'wanzhou', toSiteId: 'chongqing', token: 'X' },
    ]);
  });

  test('the move is recorded before the commit is sent, bounded by the time the reservation allows', async () => {
    let answer!: (o: WriteOutcome) => void;
    recordAnswer = () => new Promise((r) => (answer = r));
    await asked();
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    assert.deepEqual(recorded, [{ requestId: 'c1#1', toSiteId: 'chongqing', token: 'T', waitMs: 2_500 }]);
    await settled();
    assert.ok(!kinds().includes('commit'), 'no commit before the record committed');
    assert.equal(engine.call('c1')?.state, 'taken');
    answer('written');
    await settled();
    assert.equal(last('commit').token, 'T');
  });

  for (const outcome of ['withdrawn', 'failed'] as const) {
    test(`a record ${outcome}: no commit is sent, the call goes back to its place, the reservation is let go`, async () => {
      recordAnswer = () => Promise.resolve(outcome);
      await asked();
      const enqueue = engine.call('c1')!.enqueueMs;
      reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
      await settled();
      assert.ok(!kinds().includes('commit'));
      assert.deepEqual(last('cancel'), {
        kind: 'cancel',
        requestId: 'c1#1',
        fromSiteId: 'wanzhou',
        toSiteId: 'chongqing',
        token: 'T',
      });
      assert.equal(engine.call('c1')?.state, 'queued');
      assert.equal(engine.call('c1')?.enqueueMs, enqueue);
      // One line says it, with why: the call stays home because the record did not land.
      const home = lines.filter((l) => l.msg === 'overflow: call stays home');
      assert.deepEqual(
        home.map((l) => [l.reason, l.outcome]),
        [['not-recorded', outcome]],
      );
      assert.deepEqual(
        lines.filter((l) => l.level === 'warn').map((l) => l.msg),
        [],
        'no second line for the same failure',
      );
      assert.deepEqual(ended, []);
    });
  }

  test('a resumed move: the commit goes again, through a link drop, until the ack ends the stored call overflowed', async () => {
    link.overflowReady = false;
    origin.resume([
      { callId: 'r1', queueId: 'retail', requestId: 'r1#2', toSiteId: 'chongqing', token: 'T' },
    ]);
    assert.deepEqual(sent, [], 'the link is not up yet');
    link.overflowReady = true;
    await clock.advance(1_000);
    assert.deepEqual(last('commit'), {
      kind: 'commit',
      requestId: 'r1#2',
      fromSiteId: 'wanzhou',
      toSiteId: 'chongqing',
      token: 'T',
    });
    reply({ kind: 'commit-ack', requestId: 'r1#2', token: 'T', fromSiteId: 'fuling' });
    assert.deepEqual(storeEnds, [], 'only the target that issued the token speaks for it');
    reply({ kind: 'commit-ack', requestId: 'r1#2', token: 'T' });
    assert.deepEqual(storeEnds, ['overflowed r1 chongqing T']);
    assert.deepEqual(handedOver, [], 'no voice here to hand over: it died with the crash');
    const commits = kinds().filter((k) => k === 'commit').length;
    await clock.advance(5_000);
    assert.equal(kinds().filter((k) => k === 'commit').length, commits, 'settled: no more resends');
  });

  test('a resumed move the target refuses ends the stored call as recovery ends calls; a silent one raises the alarm', async () => {
    origin.resume([
      { callId: 'r1', queueId: 'retail', requestId: 'r1#1', toSiteId: 'chongqing', token: 'T1' },
      { callId: 'r2', queueId: 'retail', requestId: 'r2#1', toSiteId: 'chongqing', token: 'T2' },
    ]);
    reply({ kind: 'refuse', requestId: 'r1#1', token: 'T1', reason: 'unknown token', byHub: false });
    assert.deepEqual(storeEnds, ['failed r1']);
    await clock.advance(31_000);
    assert.equal(lines.filter((l) => l.msg === 'overflow: target silent with a call in transit').length, 1);
    assert.deepEqual(storeEnds, ['failed r1'], 'r2 waits for its word');
  });

  test('an accept from a site the policy does not name: refused once, not taken, nothing cancelled; the named target moves the call', async () => {
    await asked(); // wanzhou-busy sends to chongqing only
    reply({ kind: 'accept', requestId: 'c1#1', token: 'F', holdMs: 3_000, fromSiteId: 'fuling' });
    assert.equal(engine.call('c1')?.state, 'queued', 'not taken');
    assert.deepEqual(
      kinds(),
      ['request'],
      'not answered: a cancel would go to a site the request never went to',
    );
    assert.deepEqual(
      lines.filter((l) => l.msg === 'overflow message refused').map((l) => [l.fromSiteId, l.kind]),
      [['fuling', 'accept']],
    );
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    await settled();
    assert.deepEqual([last('commit').toSiteId, last('commit').token], ['chongqing', 'T']);
    assert.deepEqual(kinds(), ['request', 'commit'], "the real target's reservation is not cancelled");
  });

  test('a cover ask names the covering site alone: another site accepting is refused', async () => {
    link.topology = {
      overflow: [],
      cover: [
        {
          id: 'night',
          agentsOf: 'fuling',
          serves: { site: 'wanzhou', queues: ['retail'] },
          when: { kind: 'on-demand' },
          rank: 'by-wait',
        },
      ],
    } as unknown as Topology;
    link.cover = { activeEntryIds: ['night'], stale: false };
    const req = await asked();
    assert.equal(req.coverEntryId, 'night');
    reply({ kind: 'accept', requestId: 'c1#1', token: 'C', holdMs: 3_000 }); // chongqing
    assert.equal(engine.call('c1')?.state, 'queued');
    assert.deepEqual(
      lines.filter((l) => l.msg === 'overflow message refused').map((l) => l.fromSiteId),
      ['chongqing'],
    );
    reply({ kind: 'accept', requestId: 'c1#1', token: 'F', holdMs: 3_000, fromSiteId: 'fuling' });
    assert.equal(engine.call('c1')?.state, 'taken');
  });

  for (const toQueueId of ['credit-card', 'retail'] as const) {
    test(`a call answered and transferred to ${toQueueId} while asked: the accept does not move it; it stays in its new place, the reservation cancelled`, async () => {
      await asked();
      // An agent answers the call meanwhile, then transfers it.
      engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
      engine.dispatch({ type: 'agent-answered', agentId: 'a1', callId: 'c1' });
      assert.equal(engine.call('c1')?.state, 'connected');
      engine.dispatch({ type: 'transfer', callId: 'c1', toQueueId });
      const place = engine.call('c1')!;
      assert.deepEqual([place.state, place.queueId], ['queued', toQueueId]);

      reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
      await settled();
      const now = engine.call('c1')!;
      assert.deepEqual(
        [now.state, now.queueId, now.enqueueMs, now.seq],
        ['queued', toQueueId, place.enqueueMs, place.seq],
        'in its new place',
      );
      assert.deepEqual(recorded, [], 'no move recorded');
      assert.deepEqual(kinds(), ['request', 'cancel']);
      assert.deepEqual(last('cancel'), {
        kind: 'cancel',
        requestId: 'c1#1',
        fromSiteId: 'wanzhou',
        toSiteId: 'chongqing',
        token: 'T',
      });
      assert.equal(lines.find((l) => l.msg === 'overflow: call stays home')?.reason, 'requeued');
    });
  }

  test("late duplicates of a settled call's answers are honest: no refusal logged", async () => {
    await asked();
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    await settled();
    reply({ kind: 'commit-ack', requestId: 'c1#1', token: 'T' });
    await clock.advance(0);
    assert.deepEqual(
      ended.map((e) => e.outcome),
      ['overflowed'],
    );
    // The target answered a resent commit twice: the second ack comes after the call left.
    reply({ kind: 'commit-ack', requestId: 'c1#1', token: 'T' });
    // c2's ask timed out and its caller hung up; the target's refusal crossed the timeout.
    engine.dispatch({ type: 'call-arrived', callId: 'c2', queueId: 'retail', priority: 5 });
    await clock.advance(250);
    assert.equal(last('request').requestId, 'c2#1');
    await clock.advance(2_000);
    engine.dispatch({ type: 'caller-hung-up', callId: 'c2' });
    reply({ kind: 'refuse', requestId: 'c2#1', token: null, reason: 'no capacity', byHub: false });
    // Its late accept is still let go at once.
    reply({ kind: 'accept', requestId: 'c2#1', token: 'T2', holdMs: 3_000 });
    assert.equal(last('cancel').token, 'T2');
    assert.deepEqual(
      lines.filter((l) => l.level === 'warn').map((l) => l.msg),
      [],
    );
    // A message for a request this site never made is still a refusal, said once.
    reply({ kind: 'commit-ack', requestId: 'zz#1', token: 'Z' });
    assert.deepEqual(
      lines.filter((l) => l.msg === 'overflow message refused').map((l) => l.requestId),
      ['zz#1'],
    );
  });

  test('a cancel that could not be sent is not logged as sent: the line says it could not go', async () => {
    link.overflowReady = false;
    reply({ kind: 'accept', requestId: 'gone#1', token: 'X', holdMs: 3_000 });
    assert.deepEqual(sent, []);
    const line = lines.find((l) => l.msg === 'overflow message refused')!;
    assert.match(String(line.why), /cancel could not be sent/);
    assert.doesNotMatch(String(line.why), /reservation cancelled/);
    // A machine's own cancel (a stray accept of a call asked before) that cannot go says so too.
    link.overflowReady = true;
    await asked();
    await clock.advance(2_000); // timed out: home
    link.overflowReady = false;
    reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
    assert.deepEqual(
      lines.filter((l) => l.msg === 'overflow: cancel not sent').map((l) => [l.requestId, l.toSiteId]),
      [['c1#1', 'chongqing']],
    );
    // The link dropping while c2 is asked: its cancel cannot go either; its one line says so.
    link.overflowReady = true;
    engine.dispatch({ type: 'call-arrived', callId: 'c2', queueId: 'retail', priority: 5 });
    await clock.advance(250);
    assert.equal(last('request').requestId, 'c2#1');
    link.overflowReady = false;
    origin.linkDown();
    const home = lines.filter((l) => l.msg === 'overflow: call stays home' && l.callId === 'c2');
    assert.deepEqual(
      home.map((l) => [l.reason, l.cancel]),
      [['link-down', 'not sent (link down): the reservation lapses at its deadline']],
    );
    assert.notEqual(last('cancel').requestId, 'c2#1', 'no cancel of c2 went');
  });

  describe('a clean stop', () => {
    /** c1 in transit: its commit went, the target has not answered yet. */
    async function inTransit(): Promise<void> {
      await asked();
      reply({ kind: 'accept', requestId: 'c1#1', token: 'T', holdMs: 3_000 });
      await settled();
      assert.equal(last('commit').token, 'T');
    }

    test('the target answers within the window: the call ends moved, nothing is left open, nothing new is asked', async () => {
      await inTransit();
      const stopped = origin.stop();
      engine.dispatch({ type: 'call-arrived', callId: 'c2', queueId: 'retail', priority: 5 });
      await clock.advance(1_000); // the commit is resent once meanwhile
      assert.ok(
        !sent.some((m) => m.kind === 'request' && m.callId === 'c2'),
        'no new request while stopping',
      );
      reply({ kind: 'commit-ack', requestId: 'c1#1', token: 'T' });
      assert.deepEqual(await stopped, []);
      assert.deepEqual(
        ended.map((e) => [e.callId, e.outcome, e.toSiteId]),
        [['c1', 'overflowed', 'chongqing']],
      );
      assert.equal(handedOver.length, 1);
    });

    test('a refusal within the window brings the call home; the stop leaves nothing open', async () => {
      await inTransit();
      const stopped = origin.stop();
      reply({ kind: 'refuse', requestId: 'c1#1', token: 'T', reason: 'reservation expired', byHub: false });
      assert.deepEqual(await stopped, []);
      assert.equal(engine.call('c1')?.state, 'queued', 'back in its place, for the site to release');
    });

    test('a silent target: the stop waits 2 s, no more, and leaves the call in transit', async () => {
      await inTransit();
      let result: string[] | undefined;
      void origin.stop().then((r) => (result = r));
      await clock.advance(1_999);
      assert.equal(result, undefined, 'still waiting for the word');
      await clock.advance(1);
      await settled();
      assert.deepEqual(result, ['c1']);
      assert.equal(engine.call('c1')?.state, 'taken');
      assert.deepEqual(ended, []);
      const commits = kinds().filter((k) => k === 'commit').length;
      await clock.advance(5_000);
      assert.equal(kinds().filter((k) => k === 'commit').length, commits, 'stopped: no more resends');
    });

    test('nothing in transit: the stop does not wait', async () => {
      await asked();
      assert.deepEqual(await origin.stop(), []);
    });
  });
});
