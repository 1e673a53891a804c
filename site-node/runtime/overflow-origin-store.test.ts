/**
 * The origin's moves on the site's real store (docs/architecture.md §5.9, §7.1): the adapter
 * (overflow-origin.ts) on the real ACD engine, the durable writes and PostgreSQL, against a
 * scripted hub link. A commit goes only once the move is committed at home; a restarted
 * origin takes over the moves crash recovery left open and ends each as the target says.
 */
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { silentLogger } from '../../shared/log.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import type { Topology } from '../../shared/topology/schema.js';
import { waitFor } from '../../test/support/wait.js';
import { compileAcdConfig } from '../acd/index.js';
import type { CoverView } from '../link/hub-link.js';
import type { OverflowMessage } from '../overflow/messages.js';
import { createCall, endCall, getCall, getCdr } from '../store/calls-repo.js';
import { recordOverflowCommit } from '../store/overflow-commits.js';
import { recoverAfterRestart } from '../store/recovery.js';
import { pgSkip, siteTestDb, type SiteTestDb } from '../store/testing.js';
import type { CallLeg, MediaPort } from '../telephony/media-port.js';
import { AcdEngine } from './acd-engine.js';
import { DurableWrites } from './durable-writes.js';
import { OverflowOrigin } from './overflow-origin.js';
import { storedMoves } from './overflow-wiring.js';

const TOPOLOGY = {
  overflow: [
    {
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
      excludePriorities: [],
      maxHops: 1,
    },
  ],
  cover: [],
} as unknown as Topology;

describe.skipIf(pgSkip)('the origin on its store', () => {
  let t: SiteTestDb;
  let clock: VirtualScheduler;
  let engine: AcdEngine;
  let writes: DurableWrites;
  let origin: OverflowOrigin;
  let sent: OverflowMessage[];
  /** For each commit sent: was its move committed in the store by then (the adapter's answer)? */
  let recordedWhenSent: boolean[];
  let written: Set<string>;

  beforeAll(async () => {
    t = await siteTestDb('overflow-origin-store', { siteId: 'wanzhou' });
  });
  afterAll(async () => {
    await origin?.stop();
    await t?.close();
  });

  /** A fresh origin process on the same database (a restart is a new one). */
  beforeEach(async () => {
    await origin?.stop();
    clock = new VirtualScheduler(Date.now());
    sent = [];
    recordedWhenSent = [];
    written = new Set();
    writes = new DurableWrites({ log: silentLogger, admission: { capacity: 100, closeWhileDownAt: 50 } });
    engine = new AcdEngine(
      compileAcdConfig({
        offerTimeoutMs: '10s',
        wrapUpMs: '5s',
        queues: [{ id: 'retail', skill: 'retail' }],
      }),
      clock,
      (cmd) => {
        if (cmd.type === 'call-taken' || cmd.type === 'call-not-waiting') origin.acdAnswer(cmd);
        if (cmd.type === 'call-ended') origin.callEnded(cmd.callId);
      },
      silentLogger,
    );
    const real = storedMoves(t.ctx, writes);
    const leg = (callId: string): CallLeg => ({
      legId: `leg-${callId}`,
      callId,
      role: 'caller',
      endpoint: { transport: 'sim', id: callId },
    });
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
              customerId: undefined,
              ivrPath: [],
              attached: {},
              createdAtMs: clock.now(),
              callerGone: false,
              callbackPending: false,
            }
          : undefined,
      link: {
        overflowReady: true,
        sendOverflow: (m) => {
          if (m.kind === 'commit') recordedWhenSent.push(written.has(m.requestId));
          sent.push(m);
          return true;
        },
        topology: TOPOLOGY,
        cover: { activeEntryIds: [], stale: true } as CoverView,
      },
      moves: {
        ...real,
        record: async (m, waitMs) => {
          const o = await real.record(m, waitMs);
          if (o === 'written') written.add(m.requestId);
          return o;
        },
      },
      media: { handOver: () => Promise.resolve(), hangup: () => Promise.resolve() } as unknown as MediaPort,
      homeOf: () => Promise.resolve(undefined),
      log: silentLogger,
      // The next test's origin is a restart, not a clean stop: nothing waits for a target here.
      settleAtStopMs: 0,
    });
    origin.start();
  });

  const reply = (m: Record<string, unknown> & { kind: OverflowMessage['kind'] }): void =>
    origin.message({ fromSiteId: 'chongqing', toSiteId: 'wanzhou', ...m } as unknown as OverflowMessage);

  /** A call queued here (stored, and in the ACD), asked for by the next tick and accepted. */
  async function acceptedCall(beforeAccept?: (callId: string) => Promise<unknown>): Promise<string> {
    const { callId } = await createCall(t.ctx, {
      ani: '1',
      dnis: '95599',
      state: 'queued',
      queueId: 'retail',
    });
    engine.dispatch({ type: 'call-arrived', callId, queueId: 'retail', priority: 5 });
    await clock.advance(250);
    assert.ok(
      sent.some((m) => m.kind === 'request' && m.callId === callId),
      'asked',
    );
    await beforeAccept?.(callId);
    reply({ kind: 'accept', requestId: `${callId}#1`, token: `T-${callId}`, holdMs: 3_000 });
    return callId;
  }

  const moveRows = async (
    callId: string,
  ): Promise<Array<{ request_id: string; to_site_id: string; token: string }>> =>
    (
      await t.pool.query(`SELECT request_id, to_site_id, token FROM overflow_commits WHERE call_id = $1`, [
        callId,
      ])
    ).rows;

  test('the move is committed in the store before the commit is sent', async () => {
    const callId = await acceptedCall();
    const commit = await waitFor('the commit', () => sent.find((m) => m.kind === 'commit'));
    assert.deepEqual(recordedWhenSent, [true], 'recorded before it went');
    assert.equal(commit.requestId, `${callId}#1`);
    assert.deepEqual(await moveRows(callId), [
      { request_id: `${callId}#1`, to_site_id: 'chongqing', token: `T-${callId}` },
    ]);
  });

  test('a move the store does not take: no commit, the call back in its place, the reservation let go', async () => {
    // The record reaches a store that has ended the call meanwhile (a refusal, not retried).
    const callId = await acceptedCall((id) =>
      endCall(t.ctx, { callId: id, state: 'failed', reason: 'test' }),
    );
    const cancel = await waitFor('the cancel', () => sent.find((m) => m.kind === 'cancel'));
    assert.deepEqual(cancel, {
      kind: 'cancel',
      requestId: `${callId}#1`,
      fromSiteId: 'wanzhou',
      toSiteId: 'chongqing',
      token: `T-${callId}`,
    });
    assert.ok(!sent.some((m) => m.kind === 'commit'), 'no commit was sent');
    assert.equal(engine.call(callId)?.state, 'queued');
    assert.deepEqual(await moveRows(callId), []);
  });

  test('after a crash: recovery leaves the moving calls open; the commit goes again; the ack ends one overflowed, the refusal the other failed', async () => {
    // The crashed run's store: two queued calls whose moves were recorded (their commits went).
    const acked = (await createCall(t.ctx, { ani: '2', dnis: '95599', state: 'queued', queueId: 'retail' }))
      .callId;
    const refused = (await createCall(t.ctx, { ani: '3', dnis: '95599', state: 'queued', queueId: 'retail' }))
      .callId;
    await recordOverflowCommit(t.ctx, {
      callId: acked,
      requestId: `${acked}#1`,
      toSiteId: 'chongqing',
      token: 'TA',
    });
    await recordOverflowCommit(t.ctx, {
      callId: refused,
      requestId: `${refused}#2`,
      toSiteId: 'chongqing',
      token: 'TR',
    });

    const r = await recoverAfterRestart(t.ctx, { keepPendingMoves: true });
    const pending = r.pendingMoves.filter((m) => m.callId === acked || m.callId === refused);
    assert.equal(pending.length, 2, 'both left open');
    assert.ok(!r.callsFailed.includes(acked) && !r.callsFailed.includes(refused));
    origin.resume(pending);
    assert.deepEqual(
      sent.map((m) => [m.kind, m.requestId, m.toSiteId, 'token' in m ? m.token : null]),
      [
        ['commit', `${acked}#1`, 'chongqing', 'TA'],
        ['commit', `${refused}#2`, 'chongqing', 'TR'],
      ],
    );
    reply({ kind: 'commit-ack', requestId: `${acked}#1`, token: 'TA' });
    reply({ kind: 'refuse', requestId: `${refused}#2`, token: 'TR', reason: 'unknown token', byHub: false });
    await writes.drain();
    const a = (await getCall(t.pool, acked))!;
    assert.equal(a.state, 'overflowed');
    assert.deepEqual((await getCdr(t.pool, acked))!.overflowOut, { toSiteId: 'chongqing', token: 'TA' });
    const f = (await getCall(t.pool, refused))!;
    assert.deepEqual([f.state, f.endReason], ['failed', 'site-restart']);
  });
});
