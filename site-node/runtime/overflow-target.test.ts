/**
 * The target's adapter (overflow-target.ts) on the real ACD engine and a real site database,
 * against a scripted link (docs/architecture.md §5.9): offers judged on the ACD's state, the
 * admit stored with its reservation before the ack, messages from the wrong site dropped and
 * logged, a drained site refusing, an unknown token refused once, the site's trunk limit at the
 * offer and at the commit, a restarted target ending the calls an earlier process admitted and
 * refusing their resent commits, and each answer logged once (never as sent when it was not).
 */
import { afterAll, beforeAll, beforeEach, test } from 'vitest';
import assert from 'node:assert/strict';
import { createLogger } from '../../shared/log.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import type { CoverRank, Topology } from '../../shared/topology/schema.js';
import { validateTopology } from '../../shared/topology/validate.js';
import { compileAcdConfig } from '../acd/index.js';
import type { OverflowMessage, RequestMessage } from '../overflow/messages.js';
import { endCall } from '../store/index.js';
import { pgSkip, siteTestDb, type SiteTestDb } from '../store/testing.js';
import { waitFor } from '../../test/support/wait.js';
import type { CallLeg, MediaPort } from '../telephony/media-port.js';
import { AcdEngine } from './acd-engine.js';
import type { MovedInCall } from './call-flow.js';
import { DurableWrites } from './durable-writes.js';
import { OverflowTarget } from './overflow-target.js';

let db: SiteTestDb;
let clock: VirtualScheduler;
let engine: AcdEngine;
let sent: OverflowMessage[];
let adopted: MovedInCall[];
let lines: Array<{ msg: string; [k: string]: unknown }>;
let drained: boolean;
let topology: Topology | null;
let tokens: number;
/** The link carries messages (else `sendOverflow` answers false and nothing is sent). */
let linkUp: boolean;
/** The call flow's free trunks, read when asked (default: plenty, less the calls adopted). */
let trunksFree: () => number;
/** Why the call flow takes no moved-in call now (null: it does). */
let movedInRefusal: 'site-stopping' | 'store-backlog' | null;
let dropped: string[];
let handedOver: ((token: string, leg: CallLeg) => boolean) | undefined;

beforeAll(async () => {
  if (pgSkip) return;
  db = await siteTestDb('ovf_target', { siteId: 'chongqing' });
});

afterAll(async () => {
  await db?.close();
});

/** A fresh ACD, as a new process has (nothing of the calls admitted before). */
function newEngine(): AcdEngine {
  const config = compileAcdConfig({
    offerTimeoutMs: '10s',
    wrapUpMs: '5s',
    queues: [{ id: 'retail', skill: 'retail' }],
  });
  return new AcdEngine(config, clock, () => undefined, createLogger({}, { level: 'error' }));
}

beforeEach(() => {
  clock = new VirtualScheduler(Date.now());
  sent = [];
  adopted = [];
  lines = [];
  drained = false;
  topology = null;
  linkUp = true;
  trunksFree = () => 100 - adopted.length + dropped.length;
  movedInRefusal = null;
  dropped = [];
  handedOver = undefined;
  engine = newEngine();
});

function target(): OverflowTarget {
  const log = createLogger({}, { level: 'debug', write: (l) => lines.push(JSON.parse(l) as never) });
  return new OverflowTarget({
    siteId: 'chongqing',
    scheduler: clock,
    protocolClock: clock,
    engine,
    flow: {
      adoptMovedIn: (m) => void adopted.push(m),
      dropMovedIn: (callId) => void dropped.push(callId),
      attachLeg: () => true,
      callerLeftElsewhere: () => undefined,
      get trunksFree() {
        return trunksFree();
      },
      get movedInRefusal() {
        return movedInRefusal;
      },
    },
    link: {
      sendOverflow: (m) => {
        if (linkUp) sent.push(m);
        return linkUp;
      },
      get drained() {
        return drained;
      },
      get topology() {
        return topology;
      },
    },
    media: {
      onHandedOver: (h: (token: string, leg: CallLeg) => boolean) => void (handedOver = h),
    } as unknown as MediaPort,
    store: { ...db.ctx, clock },
    writes: new DurableWrites({ log, admission: { capacity: 100, closeWhileDownAt: 50 } }),
    admitWaitMs: 5_000,
    log,
    newToken: () => `tok-${++tokens}-${Math.random().toString(16).slice(2, 8)}`,
  });
}

const request = (callId: string, over: Partial<RequestMessage> = {}): RequestMessage => ({
  kind: 'request',
  requestId: `${callId}#1`,
  fromSiteId: 'wanzhou',
  toSiteId: 'chongqing',
  callId,
  queueId: 'retail',
  priority: 5,
  waitedMs: 30_000,
  remainingPatienceMs: null,
  visitedSiteIds: ['wanzhou'],
  policyId: 'wanzhou-busy',
  coverEntryId: null,
  hops: 0,
  ani: '13900000001',
  dnis: '95599',
  customerId: '',
  customerHomeSiteId: '',
  ivrPath: ['main.menu'],
  attached: { intent: 'balance', 'sim.thinkMs': '20' },
  callAgeMs: 40_000,
  ...over,
});

const commit = (callId: string, token: string, fromSiteId = 'wanzhou'): OverflowMessage => ({
  kind: 'commit',
  requestId: `${callId}#1`,
  fromSiteId,
  toSiteId: 'chongqing',
  token,
});

const refusedLines = () => lines.filter((l) => l.msg === 'overflow message refused');

test.skipIf(pgSkip)(
  'accepted on a ready agent; the commit stores and admits the call, then acks; a repeat is acked, admitted once',
  async () => {
    tokens = 0;
    const t = target();
    await t.start();
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
    t.message(request('wanzhou-01A'));
    const accept = sent.find((m) => m.kind === 'accept');
    assert.ok(accept && accept.kind === 'accept', 'accepted');
    assert.equal(accept.toSiteId, 'wanzhou');
    t.message(commit('wanzhou-01A', accept.token));
    const ack = await waitForAck(accept.token);
    assert.equal(ack.toSiteId, 'wanzhou');
    const rows = await db.pool.query<{ id: string; state: string; overflow_in: Record<string, unknown> }>(
      `SELECT id, state, overflow_in FROM calls WHERE overflow_in ->> 'originCallId' = 'wanzhou-01A'`,
    );
    assert.equal(rows.rows.length, 1);
    assert.equal(rows.rows[0]!.overflow_in.token, accept.token);
    assert.equal(adopted.length, 1);
    assert.equal(adopted[0]!.callId, rows.rows[0]!.id);
    assert.equal(adopted[0]!.attached.overflowFromSite, 'wanzhou');
    assert.equal(adopted[0]!.attached['sim.thinkMs'], undefined, 'no sim keys on the screen');
    assert.equal(engine.call(rows.rows[0]!.id)?.state, 'offered', 'offered to the ready agent');
    assert.equal(engine.call(rows.rows[0]!.id)?.fromSiteId, 'wanzhou');
    t.message(commit('wanzhou-01A', accept.token));
    assert.equal(sent.filter((m) => m.kind === 'commit-ack').length, 2, 'a repeat is acked again');
    const again = await db.pool.query(
      `SELECT 1 FROM calls WHERE overflow_in ->> 'originCallId' = 'wanzhou-01A'`,
    );
    assert.equal(again.rows.length, 1, 'admitted once');

    t.stop();
  },
);

test.skipIf(pgSkip)(
  'a message from a site that is not the party is dropped unanswered and logged; an unknown token is refused once',
  async () => {
    tokens = 100;
    const t = target();
    await t.start();
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
    // A request whose sender is not its origin.
    t.message(request('wanzhou-02B', { fromSiteId: 'fuling' }));
    assert.equal(sent.length, 0, 'no answer to it');
    assert.match(String(refusedLines()[0]?.why), /origin is wanzhou, but fuling sent it/);
    // A commit of wanzhou's reservation sent by fuling.
    t.message(request('wanzhou-02C'));
    const accept = sent.find((m) => m.kind === 'accept')!;
    assert.ok(accept.kind === 'accept');
    t.message(commit('wanzhou-02C', accept.token, 'fuling'));
    assert.deepEqual(
      sent.map((m) => m.kind),
      ['accept'],
      'nothing answered to fuling',
    );
    assert.equal(refusedLines().length, 2);
    assert.equal(refusedLines()[1]!.fromSiteId, 'fuling');
    // A commit naming a token never issued here: refused, one line.
    t.message(commit('wanzhou-02D', 'never-issued'));
    const refusal = sent.at(-1)!;
    assert.ok(refusal.kind === 'refuse');
    assert.equal(refusal.token, 'never-issued');
    assert.equal(refusal.reason, 'unknown token');
    assert.equal(
      lines.filter((l) => l.msg === 'overflow refused' && l.requestId === 'wanzhou-02D#1').length,
      1,
    );
    assert.equal(refusedLines().length, 2, 'no second line for it');
    t.stop();
  },
);

test.skipIf(pgSkip)(
  'restarted after crash recovery ended an admitted call: a resent commit is refused naming the token, not acked',
  async () => {
    tokens = 400;
    const t = target();
    await t.start();
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
    t.message(request('wanzhou-05A'));
    const accept = sent.find((m) => m.kind === 'accept')!;
    assert.ok(accept.kind === 'accept');
    t.message(commit('wanzhou-05A', accept.token));
    await waitForAck(accept.token); // the ack the origin never heard
    t.stop();
    // The site crashed; its recovery ends every open call (store/recovery.ts).
    await endCall(
      { ...db.ctx, clock },
      { callId: adopted[0]!.callId, state: 'failed', reason: 'site-restart' },
    );
    sent = [];
    const restarted = target();
    await restarted.start();
    restarted.message(commit('wanzhou-05A', accept.token));
    const answer = sent.at(-1);
    assert.ok(answer?.kind === 'refuse', `refused, not ${answer?.kind}`);
    assert.equal(answer.token, accept.token);
    restarted.stop();
  },
);

test.skipIf(pgSkip)('a moved-in call that ends is no longer followed (no leak per call)', async () => {
  tokens = 300;
  const t = target();
  await t.start();
  const before = t.followedCount; // the calls earlier tests admitted, rebuilt from their rows
  engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
  t.message(request('wanzhou-04A'));
  const accept = sent.find((m) => m.kind === 'accept')!;
  assert.ok(accept.kind === 'accept');
  t.message(commit('wanzhou-04A', accept.token));
  await waitForAck(accept.token);
  assert.equal(t.followedCount, before + 2, 'admitted, its leg awaited');
  t.callEnded(adopted[0]!.callId); // the caller hung up before the voice arrived
  assert.equal(t.followedCount, before);
  t.stop();
});

test.skipIf(pgSkip)('a drained site refuses an offer that reaches it, naming why', async () => {
  tokens = 200;
  const t = target();
  await t.start();
  engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
  drained = true;
  t.message(request('wanzhou-03A'));
  assert.equal(sent.length, 1);
  const r = sent[0]!;
  assert.ok(r.kind === 'refuse');
  assert.equal(r.reason, 'site chongqing is drained');
  t.stop();
});

const waitForAck = (token: string): Promise<Extract<OverflowMessage, { kind: 'commit-ack' }>> =>
  waitFor(`the commit-ack of ${token}`, () =>
    sent.find(
      (m): m is Extract<OverflowMessage, { kind: 'commit-ack' }> =>
        m.kind === 'commit-ack' && m.token === token,
    ),
  );

/** A province where chongqing's agents cover wanzhou's retail under entry `night`, ranked `rank`. */
const coverTopology = (rank: CoverRank): Topology => {
  const site = (id: string, n: number) => ({
    id,
    kind: 'full',
    city: id,
    endpoints: { cti: `${id}.bank.internal:7443`, sip: `10.0.0.${n}:5060` },
    capacity: { trunks: 10, agents: 10, ivrPorts: 10 },
    queues: ['retail'],
  });
  return validateTopology({
    province: 'test',
    hubSite: 'chongqing',
    sites: [site('chongqing', 1), site('wanzhou', 2)],
    cover: [
      {
        id: 'night',
        agentsOf: 'chongqing',
        serves: { site: 'wanzhou', queues: ['retail'] },
        when: 'on-demand',
        rank,
      },
    ],
  });
};

test.skipIf(pgSkip)(
  "a covered call is admitted at its entry's rank in the topology the site runs (below-own when it has none)",
  async () => {
    tokens = 600;
    const t = target();
    await t.start();
    // An agent serves the queue but none is ready; an own caller waits.
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: false });
    engine.dispatch({ type: 'call-arrived', callId: 'own-1', queueId: 'retail', priority: 0 });
    const admitUnder = async (callId: string): Promise<string> => {
      t.message(request(callId, { policyId: null, coverEntryId: 'night', waitedMs: 600_000 }));
      const accept = sent.find(
        (m): m is Extract<OverflowMessage, { kind: 'accept' }> =>
          m.kind === 'accept' && m.requestId === `${callId}#1`,
      );
      assert.ok(accept, `${callId} accepted`);
      t.message(commit(callId, accept.token));
      await waitForAck(accept.token);
      const rows = await db.pool.query<{ id: string }>(
        `SELECT id FROM calls WHERE overflow_in ->> 'originCallId' = $1`,
        [callId],
      );
      return rows.rows[0]!.id;
    };
    topology = coverTopology('below-own');
    const below = await admitUnder('wanzhou-06A');
    topology = coverTopology('by-wait');
    const byWait = await admitUnder('wanzhou-06B');
    topology = null; // a site that has adopted no topology yet: the default
    const unknown = await admitUnder('wanzhou-06C');
    assert.deepEqual(
      [below, byWait, unknown].map((id) => engine.call(id)?.belowOwn),
      [true, false, true],
    );
    // The by-wait call waited 10 min at home: ahead of the own caller; the below-own ones after it.
    assert.deepEqual(
      engine.movableCalls('retail').map((c) => c.callId),
      [byWait, 'own-1', below, unknown],
    );
    assert.equal(lines.find((l) => l.msg === 'overflow admitted' && l.callId === below)?.rank, 'below-own');
    t.stop();
  },
);

const acceptOf = (callId: string): Extract<OverflowMessage, { kind: 'accept' }> => {
  const a = sent.find(
    (m): m is Extract<OverflowMessage, { kind: 'accept' }> =>
      m.kind === 'accept' && m.requestId === `${callId}#1`,
  );
  assert.ok(a, `${callId} accepted`);
  return a;
};

const storedCall = async (originCallId: string) =>
  (
    await db.pool.query<{ id: string; state: string; end_reason: string | null }>(
      `SELECT id, state, end_reason FROM calls WHERE overflow_in ->> 'originCallId' = $1`,
      [originCallId],
    )
  ).rows;

test.skipIf(pgSkip)(
  'trunks full counting held reservations: an offer is refused `no-trunk`; a commit finding no trunk free is refused naming the token, nothing stored',
  async () => {
    tokens = 800;
    let inUse = 0; // calls holding this site's 2 trunks, the adopted ones included
    trunksFree = () => 2 - inUse - adopted.length;
    const t = target();
    await t.start();
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: false });
    inUse = 1;
    t.message(request('wanzhou-08A'));
    const accept = acceptOf('wanzhou-08A'); // the last trunk, promised to it
    t.message(request('wanzhou-08B'));
    const refusal = sent.at(-1)!;
    assert.ok(refusal.kind === 'refuse' && refusal.requestId === 'wanzhou-08B#1');
    assert.match(refusal.reason, /^no-trunk: site chongqing has no trunk free \(1 free, 1 promised\)/);
    // A caller dialled in meanwhile and took that trunk: the commit cannot be admitted.
    inUse = 2;
    t.message(commit('wanzhou-08A', accept.token));
    const answer = await waitFor('the answer to the commit', () =>
      sent.find((m) => m.kind !== 'accept' && m.requestId === 'wanzhou-08A#1'),
    );
    assert.ok(answer.kind === 'refuse', `refused, not ${answer.kind}`);
    assert.equal(answer.token, accept.token);
    assert.match(answer.reason, /^not admitted: no-trunk: /);
    assert.deepEqual(await storedCall('wanzhou-08A'), [], 'nothing stored');
    assert.equal(adopted.length, 0);
    t.stop();
  },
);

test.skipIf(pgSkip)(
  'a stopping site refuses new offers, and a commit for a reservation held before the stop, nothing stored; a store down likewise',
  async () => {
    tokens = 850;
    const t = target();
    await t.start();
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
    t.message(request('wanzhou-085A'));
    const accept = acceptOf('wanzhou-085A'); // held before the stop began
    movedInRefusal = 'site-stopping';
    t.message(request('wanzhou-085B'));
    const refusal = sent.at(-1)!;
    assert.ok(refusal.kind === 'refuse' && refusal.requestId === 'wanzhou-085B#1');
    assert.equal(refusal.reason, 'site chongqing is stopping');
    t.message(commit('wanzhou-085A', accept.token));
    const answer = await waitFor('the answer to the commit', () =>
      sent.find((m) => m.kind !== 'accept' && m.requestId === 'wanzhou-085A#1'),
    );
    assert.ok(answer.kind === 'refuse', `refused, not ${answer.kind}`);
    assert.equal(answer.token, accept.token);
    assert.match(answer.reason, /^not admitted: site chongqing is stopping/);
    assert.deepEqual(await storedCall('wanzhou-085A'), [], 'nothing stored');
    assert.equal(adopted.length, 0);

    movedInRefusal = 'store-backlog';
    t.message(request('wanzhou-085C'));
    const down = sent.at(-1)!;
    assert.ok(down.kind === 'refuse' && down.requestId === 'wanzhou-085C#1');
    assert.match(down.reason, /^site chongqing cannot record calls now/);
    t.stop();
  },
);

test.skipIf(pgSkip)(
  'a trunk taken while the admit was being written: the stored call is ended, nothing adopted, the commit refused',
  async () => {
    tokens = 900;
    let reads = 0; // free when the admit starts; taken by the time the row is written
    const t = target();
    await t.start();
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: false });
    t.message(request('wanzhou-09A'));
    const accept = acceptOf('wanzhou-09A');
    trunksFree = () => (reads++ === 0 ? 1 : 0);
    t.message(commit('wanzhou-09A', accept.token));
    const answer = await waitFor('the answer to the commit', () =>
      sent.find((m) => m.kind !== 'accept' && m.requestId === 'wanzhou-09A#1'),
    );
    assert.ok(answer.kind === 'refuse' && answer.token === accept.token, `refused, not ${answer.kind}`);
    assert.match(answer.reason, /^not admitted: no-trunk: /);
    assert.equal(adopted.length, 0, 'never a live call here');
    assert.equal(engine.call((await storedCall('wanzhou-09A'))[0]!.id), undefined, 'not in the ACD');
    await waitFor('the stored call ended', async () => {
      const [row] = await storedCall('wanzhou-09A');
      return row?.state === 'failed' && row.end_reason === 'overflow-not-admitted';
    });
    t.stop();
  },
);

test.skipIf(pgSkip)(
  'restarted with an admitted call still open: it is ended at start (its leg can never reach the new process); a resent commit and a hand-over under its token are refused',
  async () => {
    tokens = 1000;
    const t = target();
    await t.start();
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: false });
    t.message(request('wanzhou-10A'));
    const accept = acceptOf('wanzhou-10A');
    t.message(commit('wanzhou-10A', accept.token));
    await waitForAck(accept.token); // the ack the origin never heard; the leg not yet arrived
    t.stop();
    // A new process: its ACD and call flow hold nothing of the call, and no recovery ran.
    engine = newEngine();
    sent = [];
    lines = [];
    const restarted = target();
    await restarted.start();
    const [row] = await storedCall('wanzhou-10A');
    assert.deepEqual([row?.state, row?.end_reason], ['failed', 'site-restart']);
    assert.ok(
      lines.some(
        (l) =>
          l.msg.startsWith('overflow: a call admitted before the restart is ended') &&
          l.originCallId === 'wanzhou-10A' &&
          l.callId === row?.id,
      ),
      'logged, naming the call',
    );
    assert.equal(restarted.followedCount, 0);
    restarted.message(commit('wanzhou-10A', accept.token));
    const answer = sent.at(-1);
    assert.ok(answer?.kind === 'refuse', `refused, not ${answer?.kind}`);
    assert.equal(answer.token, accept.token);
    const leg: CallLeg = {
      legId: 'sip-1',
      callId: '',
      role: 'caller',
      endpoint: { transport: 'sim', id: 'sip-1' },
    };
    assert.equal(handedOver?.(accept.token, leg), false, 'the hand-over is refused');
    restarted.stop();
  },
);

test.skipIf(pgSkip)(
  'an answer repeated to a repeated request or commit is logged once (the repeat at debug)',
  async () => {
    tokens = 1100;
    const t = target();
    await t.start();
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
    const linesOf = (msg: string, requestId: string) =>
      lines.filter((l) => l.msg === msg && l.requestId === requestId);
    // An accept, the request delivered twice.
    t.message(request('wanzhou-11A'));
    t.message(request('wanzhou-11A'));
    assert.equal(sent.filter((m) => m.kind === 'accept').length, 2, 'answered twice');
    assert.equal(linesOf('overflow accepted', 'wanzhou-11A#1').length, 1);
    // A refusal (no agent serves the queue), the request delivered three times.
    engine.dispatch({ type: 'agent-logout', agentId: 'a1' });
    for (let i = 0; i < 3; i++) t.message(request('wanzhou-11B'));
    assert.equal(sent.filter((m) => m.requestId === 'wanzhou-11B#1').length, 3);
    assert.equal(linesOf('overflow refused', 'wanzhou-11B#1').length, 1);
    assert.equal(
      lines.filter(
        (l) => l.msg === 'overflow answer repeated' && l.requestId === 'wanzhou-11B#1' && l.level === 'debug',
      ).length,
      2,
    );
    // A commit under an unknown token, resent.
    t.message(commit('wanzhou-11C', 'never-issued'));
    t.message(commit('wanzhou-11C', 'never-issued'));
    assert.equal(linesOf('overflow refused', 'wanzhou-11C#1').length, 1);
    // The reservation's refusal at its commit after the deadline, and on a repeat of it.
    const accept = acceptOf('wanzhou-11A');
    await clock.advance(3_000); // the deadline: released
    t.message(commit('wanzhou-11A', accept.token));
    t.message(commit('wanzhou-11A', accept.token));
    const refusals = linesOf('overflow refused', 'wanzhou-11A#1');
    assert.deepEqual(
      refusals.map((l) => l.reason),
      ['reservation released'],
    );
    // A commit from a site that is not the party, delivered twice: one line.
    t.message(request('wanzhou-11D'));
    engine.dispatch({ type: 'agent-login', agentId: 'a2', skills: { retail: 3 }, ready: true });
    t.message(request('wanzhou-11E'));
    const e = acceptOf('wanzhou-11E');
    t.message(commit('wanzhou-11E', e.token, 'fuling'));
    t.message(commit('wanzhou-11E', e.token, 'fuling'));
    assert.equal(linesOf('overflow message refused', 'wanzhou-11E#1').length, 1);
    t.stop();
  },
);

test.skipIf(pgSkip)(
  'an answer the link could not carry is logged as not sent, never as refused or accepted; sent later, it is logged then',
  async () => {
    tokens = 1200;
    const t = target();
    await t.start();
    linkUp = false;
    t.message(request('wanzhou-12A')); // no agent: refused
    const about = (requestId: string) => lines.filter((l) => l.requestId === requestId);
    assert.deepEqual(
      about('wanzhou-12A#1').map((l) => [l.msg, l.kind, l.reason]),
      [
        [
          'overflow answer not sent: the link cannot carry it',
          'refuse',
          'no agent serves queue retail at site chongqing',
        ],
      ],
    );
    engine.dispatch({ type: 'agent-login', agentId: 'a1', skills: { retail: 3 }, ready: true });
    t.message(request('wanzhou-12B'));
    assert.deepEqual(
      about('wanzhou-12B#1').map((l) => [l.msg, l.kind]),
      [['overflow answer not sent: the link cannot carry it', 'accept']],
    );
    // The link is back and the origin asks again: the same answers, logged now as sent.
    linkUp = true;
    t.message(request('wanzhou-12A'));
    t.message(request('wanzhou-12B'));
    assert.deepEqual(
      [...about('wanzhou-12A#1'), ...about('wanzhou-12B#1')]
        .map((l) => l.msg)
        .filter((m) => !m.includes('not sent')),
      ['overflow refused', 'overflow accepted'],
    );
    t.stop();
  },
);
