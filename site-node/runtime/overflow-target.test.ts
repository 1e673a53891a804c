/**
 * The target's adapter (overflow-target.ts) on the real ACD engine and a real site database,
 * against a scripted link (docs/architecture.md §5.9): offers judged on the ACD's state, the
 * admit stored with its reservation before the ack, messages from the wrong site dropped and
 * logged, a drained site refusing, an unknown token refused once, and a restarted target acking
 * a resent commit for a call it admitted.
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
import type { MediaPort } from '../telephony/media-port.js';
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

beforeAll(async () => {
  if (pgSkip) return;
  db = await siteTestDb('ovf_target', { siteId: 'chongqing' });
});

afterAll(async () => {
  await db?.close();
});

beforeEach(() => {
  clock = new VirtualScheduler(Date.now());
  sent = [];
  adopted = [];
  lines = [];
  drained = false;
  topology = null;
  const config = compileAcdConfig({
    offerTimeoutMs: '10s',
    wrapUpMs: '5s',
    queues: [{ id: 'retail', skill: 'retail' }],
  });
  engine = new AcdEngine(config, clock, () => undefined, createLogger({}, { level: 'error' }));
});

function target(): OverflowTarget {
  const log = createLogger({}, { level: 'info', write: (l) => lines.push(JSON.parse(l) as never) });
  return new OverflowTarget({
    siteId: 'chongqing',
    scheduler: clock,
    protocolClock: clock,
    engine,
    flow: {
      adoptMovedIn: (m) => void adopted.push(m),
      dropMovedIn: () => undefined,
      attachLeg: () => true,
      callerLeftElsewhere: () => undefined,
    },
    link: {
      sendOverflow: (m) => {
        sent.push(m);
        return true;
      },
      get drained() {
        return drained;
      },
      get topology() {
        return topology;
      },
    },
    media: { onHandedOver: () => undefined } as unknown as MediaPort,
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

    // Restarted: the book comes back from the admitted rows; a resent commit is acked.
    sent = [];
    const restarted = target();
    await restarted.start();
    restarted.message(commit('wanzhou-01A', accept.token));
    assert.deepEqual(
      sent.map((m) => m.kind),
      ['commit-ack'],
    );
    t.stop();
    restarted.stop();
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
