/**
 * The hub's side of overflow, end to end on the real hub (its own Postgres, mTLS gRPC): sites
 * are raw links that say hello, heartbeat, send snapshots and overflow envelopes, and read
 * what the hub sends back (docs/architecture.md §5.8, §5.9). The example province's policy
 * `wanzhou-busy` overflows Wanzhou's retail to Chongqing, then Fuling. Overflow envelopes are
 * handled on arrival, ahead of an event batch the hub's database is still storing.
 */
import { afterEach, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  FederationClient,
  type HubMessage,
  type OverflowEnvelope,
  type QueueSnapshot,
  type SiteMessage,
} from '../../proto/gen/federation.js';
import { clientOptions } from '../../shared/grpc/client.js';
import { mtlsClientCredentials } from '../../shared/grpc/tls.js';
import { pgSkip } from '../../hub/store/testing.js';
import { makeEvent } from '../../shared/events/envelope.js';
import type { OverflowDecisionRow } from '../../hub/ports.js';
import { refusalsBy, startTestProvince, type TestProvince } from '../support/federation.js';
import { waitFor } from '../support/wait.js';

let p: TestProvince;
const open: RawSite[] = [];

beforeEach(async () => {
  if (pgSkip) return;
  p = await startTestProvince({ label: 'overflow_hub' });
});

afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await p?.close();
});

/** A site as a bare link: hello, heartbeats every 100 ms, and whatever the test sends. */
class RawSite {
  readonly received: HubMessage[] = [];
  private readonly stream: ClientDuplexStream<SiteMessage, HubMessage>;
  private readonly heartbeat: NodeJS.Timeout;
  private seq = 0;

  constructor(
    readonly siteId: string,
    opts: { contractVersion?: number; capabilities?: string[] } = {},
  ) {
    p.pki.issue('site', siteId);
    const client = new FederationClient(
      p.address,
      mtlsClientCredentials(p.pki.material('site', siteId), { expectServer: { kind: 'hub' } }),
      clientOptions(),
    );
    this.stream = client.link(new Metadata(), {});
    this.stream.on('data', (m: HubMessage) => this.received.push(m));
    this.stream.on('error', () => {});
    this.send({
      body: {
        $case: 'hello',
        value: {
          siteId,
          softwareVersion: 'test',
          contractVersion: opts.contractVersion ?? 2,
          capabilities: opts.capabilities ?? ['snapshots', 'overflow'],
          topologyVersion: 1,
          customerCursor: 0,
          sentAtMs: Date.now(),
        },
      },
    });
    // The peer's own clock, as a real site's: keeps the link up (the hub's silence limit is 600 ms).
    this.heartbeat = setInterval(
      () =>
        this.send({
          body: { $case: 'heartbeat', value: { seq: ++this.seq, sentAtMs: Date.now(), outboxBacklog: 0 } },
        }),
      100,
    );
    open.push(this);
  }

  send(m: SiteMessage): void {
    this.stream.write(m);
  }

  snapshot(queues: Partial<QueueSnapshot>[]): void {
    this.send({
      body: {
        $case: 'snapshot',
        value: {
          atMs: Date.now(),
          agents: [],
          liveCalls: 0,
          ivrSessions: 0,
          queues: queues.map((q) => ({
            queueId: 'retail',
            callsWaiting: 0,
            oldestWaitMs: 0,
            agentsReady: 0,
            agentsServing: 0,
            serviceLevel: -1,
            averageSpeedOfAnswerMs: -1,
            abandonRate: -1,
            ...q,
          })),
        },
      },
    });
  }

  overflow(env: Partial<OverflowEnvelope> & Pick<OverflowEnvelope, 'requestId' | 'body'>): void {
    this.send({ body: { $case: 'overflow', value: { fromSiteId: '', toSiteId: '', ...env } } });
  }

  /** The overflow envelopes the hub sent this site. */
  get envelopes(): OverflowEnvelope[] {
    return this.received.flatMap((m) => (m.body?.$case === 'overflow' ? [m.body.value] : []));
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.stream.cancel();
  }
}

const READY = [{ agentsReady: 2, agentsServing: 2, expectedWaitMs: 0 }];
const BUSY = [{ agentsReady: 0, agentsServing: 0 }];

/** Sites up with these snapshots, each received by the hub. */
async function sites(
  spec: Record<
    string,
    { queues: Partial<QueueSnapshot>[]; contractVersion?: number; capabilities?: string[] }
  >,
): Promise<Record<string, RawSite>> {
  const out: Record<string, RawSite> = {};
  for (const [id, s] of Object.entries(spec)) out[id] = new RawSite(id, s);
  await waitFor('links up', () =>
    Object.keys(spec).every((id) => p.hub.registry.get(id)?.link.state === 'up'),
  );
  for (const [id, s] of Object.entries(spec)) out[id]!.snapshot(s.queues);
  await waitFor('snapshots received', () =>
    Object.keys(spec).every((id) => p.hub.registry.get(id)?.snapshot !== null),
  );
  return out;
}

function request(callId: string, patch: Partial<OverflowEnvelope> = {}): Parameters<RawSite['overflow']>[0] {
  return {
    requestId: `${callId}#1`,
    body: {
      $case: 'request',
      value: {
        callId,
        queueId: 'retail',
        priority: 0,
        waitedMs: 65_000,
        remainingPatienceMs: 60_000,
        visitedSiteIds: ['wanzhou'],
        policyId: 'wanzhou-busy',
        coverEntryId: '',
        hops: 0,
        ani: '13800000001',
        dnis: '95588',
        customerId: 'wz-0001',
        customerHomeSiteId: 'wanzhou',
        ivrPath: ['welcome', 'retail'],
        attached: { intent: 'balance' },
        callAgeMs: 70_000,
      },
    },
    ...patch,
  };
}

const bodyOf = (e: OverflowEnvelope | undefined) => e?.body;

async function decisionRows(): Promise<OverflowDecisionRow[]> {
  await p.hub.state.decisions!.idle();
  return p.hub.state.d.decisions!.recent({ limit: 100 });
}

const logLines = (msg: string) =>
  p.hubLog.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);

describe.skipIf(pgSkip)('the hub routes overflow and relays the protocol', () => {
  test('routed to the site with a ready agent, fromSiteId stamped; accept, commit, commit-ack and cancel relayed both ways; the decision stored', async () => {
    const s = await sites({
      wanzhou: { queues: BUSY },
      chongqing: { queues: BUSY },
      fuling: { queues: READY },
    });
    // What a site writes in fromSiteId is ignored: the hub stamps its certificate's id.
    s.wanzhou!.overflow({ ...request('wz-call-1'), fromSiteId: 'chongqing' });
    await waitFor('fuling got the request', () => s.fuling!.envelopes.length === 1);
    const offer = s.fuling!.envelopes[0]!;
    assert.equal(offer.fromSiteId, 'wanzhou');
    assert.equal(offer.toSiteId, 'fuling');
    assert.equal(offer.requestId, 'wz-call-1#1');
    const req = bodyOf(offer);
    assert.equal(req?.$case, 'request');
    assert.deepEqual(
      req?.$case === 'request' && req.value.attached,
      { intent: 'balance' },
      'data before voice',
    );
    assert.equal(s.chongqing!.envelopes.length, 0);

    // Target -> origin, origin -> target, by toSiteId, each stamped with its sender.
    s.fuling!.overflow({
      requestId: 'wz-call-1#1',
      toSiteId: 'wanzhou',
      body: { $case: 'accept', value: { token: 'tok-1', holdMs: 3000 } },
    });
    await waitFor('wanzhou got the accept', () => s.wanzhou!.envelopes.length === 1);
    assert.deepEqual(
      [s.wanzhou!.envelopes[0]!.fromSiteId, bodyOf(s.wanzhou!.envelopes[0])?.$case],
      ['fuling', 'accept'],
    );
    s.wanzhou!.overflow({
      requestId: 'wz-call-1#1',
      toSiteId: 'fuling',
      body: { $case: 'commit', value: { token: 'tok-1' } },
    });
    await waitFor('fuling got the commit', () => s.fuling!.envelopes.length === 2);
    assert.deepEqual(
      [s.fuling!.envelopes[1]!.fromSiteId, bodyOf(s.fuling!.envelopes[1])?.$case],
      ['wanzhou', 'commit'],
    );
    s.fuling!.overflow({
      requestId: 'wz-call-1#1',
      toSiteId: 'wanzhou',
      body: { $case: 'commitAck', value: { token: 'tok-1' } },
    });
    await waitFor('wanzhou got the commit-ack', () => s.wanzhou!.envelopes.length === 2);
    assert.equal(bodyOf(s.wanzhou!.envelopes[1])?.$case, 'commitAck');

    // A second attempt, cancelled before any answer: no toSiteId, so it goes where the request went.
    s.wanzhou!.overflow(request('wz-call-2'));
    await waitFor('fuling got the second request', () => s.fuling!.envelopes.length === 3);
    s.wanzhou!.overflow({ requestId: 'wz-call-2#1', body: { $case: 'cancel', value: { token: '' } } });
    await waitFor('fuling got the cancel', () => s.fuling!.envelopes.length === 4);
    assert.deepEqual(
      [
        s.fuling!.envelopes[3]!.fromSiteId,
        s.fuling!.envelopes[3]!.requestId,
        bodyOf(s.fuling!.envelopes[3])?.$case,
      ],
      ['wanzhou', 'wz-call-2#1', 'cancel'],
    );

    const rows = await decisionRows();
    const row = rows.find((r) => r.requestId === 'wz-call-1#1')!;
    assert.equal(row.targetSiteId, 'fuling');
    assert.equal(row.reason, null);
    assert.equal(row.kind, 'overflow');
    assert.equal(row.ruleId, 'wanzhou-busy');
    assert.equal(row.originSiteId, 'wanzhou');
    assert.deepEqual(row.request.visitedSiteIds, ['wanzhou']);
    assert.deepEqual(
      row.candidates.map((c) => [c.siteId, c.reason ?? c.outcome]),
      [
        ['chongqing', 'no-capacity'],
        ['fuling', 'taken'],
      ],
    );
    assert.ok(
      row.targetAgeMs !== null && row.targetAgeMs >= 0 && row.targetAgeMs <= 1000,
      String(row.targetAgeMs),
    );
    // fedctl routes shows it to the admin, filtered by site.
    const routes = await p.fedctl('routes', '--site', 'fuling');
    assert.equal(routes.code, 0, routes.err);
    assert.match(
      routes.out,
      /wz-call-1#1\s+overflow wanzhou-busy\s+wanzhou\/retail\s+fuling\s+chongqing no-capacity \d+ms, fuling taken \d+ms/,
    );
    assert.equal((await p.fedctl('routes', '--site', 'yubei')).out.trim(), 'no routing decision matches');
    const line = logLines('overflow routed').find((l) => l.requestId === 'wz-call-1#1');
    assert.equal(line?.target, 'fuling');
    assert.equal(
      (line?.candidates as { verdict: string }[]).map((c) => c.verdict).join(','),
      'no-capacity,taken',
    );
  });

  test('no eligible site: the origin gets a refuse by the hub, and the decision is stored with why', async () => {
    const s = await sites({
      wanzhou: { queues: BUSY },
      chongqing: { queues: BUSY },
      fuling: { queues: BUSY },
    });
    s.wanzhou!.overflow(request('wz-call-3'));
    await waitFor('wanzhou got an answer', () => s.wanzhou!.envelopes.length === 1);
    const answer = s.wanzhou!.envelopes[0]!;
    assert.equal(answer.requestId, 'wz-call-3#1');
    assert.deepEqual(bodyOf(answer), {
      $case: 'refuse',
      value: { reason: 'no-eligible-site', token: '', byHub: true },
    });
    assert.equal(s.chongqing!.envelopes.length + s.fuling!.envelopes.length, 0);
    const [row] = await decisionRows();
    assert.equal(row!.targetSiteId, null);
    assert.equal(row!.reason, 'no-eligible-site');
    assert.equal(logLines('overflow not routed').length, 1);
  });

  test('a drained site and a stale snapshot are skipped; the verdicts carry the ages', async () => {
    const s = await sites({
      wanzhou: { queues: BUSY },
      chongqing: { queues: READY },
      fuling: { queues: READY },
    });
    const d = await p.fedctl('drain', 'chongqing', '--comment', 'maintenance');
    assert.equal(d.code, 0, d.err);
    // Fuling sends no snapshot after its first: wait until that one is past the bound (1 s).
    const fulingAt = p.hub.registry.get('fuling')!.snapshotReceivedAtMs!;
    await waitFor('fuling snapshot past the bound', () => Date.now() - fulingAt > 1100, 5000);
    s.chongqing!.snapshot(READY); // fresh, but drained
    await waitFor(
      'fresh chongqing snapshot',
      () => p.hub.registry.get('chongqing')!.snapshotReceivedAtMs! > fulingAt + 1000,
    );
    s.wanzhou!.overflow(request('wz-call-4'));
    await waitFor('wanzhou got an answer', () => s.wanzhou!.envelopes.length === 1);
    assert.equal(bodyOf(s.wanzhou!.envelopes[0])?.$case, 'refuse');
    assert.equal(s.chongqing!.envelopes.length + s.fuling!.envelopes.length, 0);
    const [row] = await decisionRows();
    const [cq, fl] = row!.candidates;
    // Drained is judged before the snapshot's age (site-view.ts), so chongqing's verdict holds
    // however long the machine took between its snapshot and the route; its age is only
    // carried. No bound on a wall-clock age is asserted (docs/architecture.md §3.8): fuling's
    // age above the bound is what its `stale-state` verdict says, and can only grow.
    assert.deepEqual([cq!.siteId, cq!.reason, cq!.state.drained], ['chongqing', 'drained', true]);
    assert.notEqual(cq!.state.ageMs, null, 'the age of the snapshot it was judged on is recorded');
    assert.deepEqual([fl!.siteId, fl!.reason], ['fuling', 'stale-state']);
    assert.ok(fl!.state.ageMs !== null && fl!.state.ageMs > 1000, `fuling age ${fl!.state.ageMs}`);
    assert.match(fl!.why, /ms old \(bound 1000 ms\)/);
  });

  test('a site drained while it holds a reservation: that move finishes, and no new request is routed to it', async () => {
    const s = await sites({
      wanzhou: { queues: BUSY },
      chongqing: { queues: BUSY },
      fuling: { queues: READY },
    });
    s.wanzhou!.overflow(request('wz-call-7'));
    await waitFor('fuling got the request', () => s.fuling!.envelopes.length === 1);
    s.fuling!.overflow({
      requestId: 'wz-call-7#1',
      toSiteId: 'wanzhou',
      body: { $case: 'accept', value: { token: 'tok-7', holdMs: 3000 } },
    });
    await waitFor('wanzhou got the accept', () => s.wanzhou!.envelopes.length === 1);

    const d = await p.fedctl('drain', 'fuling', '--comment', 'maintenance');
    assert.equal(d.code, 0, d.err);
    await waitFor('the hub holds fuling drained', () => p.hub.state.drained.has('fuling'));

    // The held reservation is a promise already made: its commit and ack are still relayed.
    s.wanzhou!.overflow({
      requestId: 'wz-call-7#1',
      toSiteId: 'fuling',
      body: { $case: 'commit', value: { token: 'tok-7' } },
    });
    await waitFor('fuling got the commit', () => s.fuling!.envelopes.length === 2);
    assert.equal(bodyOf(s.fuling!.envelopes[1])?.$case, 'commit');
    s.fuling!.overflow({
      requestId: 'wz-call-7#1',
      toSiteId: 'wanzhou',
      body: { $case: 'commitAck', value: { token: 'tok-7' } },
    });
    await waitFor('wanzhou got the commit-ack', () => s.wanzhou!.envelopes.length === 2);
    assert.equal(bodyOf(s.wanzhou!.envelopes[1])?.$case, 'commitAck');

    // A new request: fuling still shows a ready agent, but it is drained now.
    s.fuling!.snapshot(READY);
    s.wanzhou!.overflow(request('wz-call-8'));
    await waitFor('wanzhou got the answer to the new request', () => s.wanzhou!.envelopes.length === 3);
    assert.deepEqual(bodyOf(s.wanzhou!.envelopes[2]), {
      $case: 'refuse',
      value: { reason: 'no-eligible-site', token: '', byHub: true },
    });
    assert.equal(s.fuling!.envelopes.length, 2, 'nothing new reached fuling');
    const row = (await decisionRows()).find((r) => r.requestId === 'wz-call-8#1')!;
    assert.deepEqual(
      row.candidates.map((c) => [c.siteId, c.reason]),
      [
        ['chongqing', 'no-capacity'],
        ['fuling', 'drained'],
      ],
    );
  });

  test("a third site's commit for someone else's request is refused and logged once, and never relayed", async () => {
    const s = await sites({
      wanzhou: { queues: BUSY },
      chongqing: { queues: BUSY },
      fuling: { queues: READY },
    });
    s.wanzhou!.overflow(request('wz-call-5'));
    await waitFor('fuling got the request', () => s.fuling!.envelopes.length === 1);
    s.chongqing!.overflow({
      requestId: 'wz-call-5#1',
      toSiteId: 'fuling',
      body: { $case: 'commit', value: { token: 'guessed' } },
    });
    await waitFor('the refusal logged', () => refusalsBy(p.hubLog, 'site chongqing').total === 1);
    const [line] = refusalsBy(p.hubLog, 'site chongqing').lines;
    assert.equal(line!.method, 'Federation.Link/overflow');
    assert.match(line!.reason!, /chongqing is not a party of it \(it is between wanzhou and fuling\)/);
    // The real commit comes after; the hub's stream to fuling is ordered, so had chongqing's
    // been relayed it would have arrived first.
    s.wanzhou!.overflow({
      requestId: 'wz-call-5#1',
      toSiteId: 'fuling',
      body: { $case: 'commit', value: { token: 'tok-5' } },
    });
    await waitFor('fuling got the commit', () => s.fuling!.envelopes.length === 2);
    assert.deepEqual(
      s.fuling!.envelopes.map((e) => [e.fromSiteId, bodyOf(e)?.$case]),
      [
        ['wanzhou', 'request'],
        ['wanzhou', 'commit'],
      ],
    );
    assert.equal(refusalsBy(p.hubLog, 'site chongqing').total, 1);
  });

  test('a contract-1 site (no overflow capability) is never chosen, never sent an envelope, and may not send one', async () => {
    const s = await sites({
      wanzhou: { queues: BUSY },
      chongqing: { queues: READY, contractVersion: 1, capabilities: ['snapshots'] },
      fuling: { queues: BUSY },
    });
    s.wanzhou!.overflow(request('wz-call-6'));
    await waitFor('wanzhou got an answer', () => s.wanzhou!.envelopes.length === 1);
    assert.equal(bodyOf(s.wanzhou!.envelopes[0])?.$case, 'refuse');
    const [row] = await decisionRows();
    assert.deepEqual(
      row!.candidates.map((c) => [c.siteId, c.reason]),
      [
        ['chongqing', 'no-overflow-capability'],
        ['fuling', 'no-capacity'],
      ],
    );
    s.chongqing!.overflow({
      requestId: 'x#1',
      toSiteId: 'wanzhou',
      body: { $case: 'cancel', value: { token: '' } },
    });
    await waitFor('the refusal logged', () => refusalsBy(p.hubLog, 'site chongqing').total === 1);
    assert.match(
      refusalsBy(p.hubLog, 'site chongqing').lines[0]!.reason!,
      /without announcing the overflow capability/,
    );
    assert.equal(s.chongqing!.envelopes.length, 0);
    assert.equal(s.wanzhou!.envelopes.length, 1);
  });

  test("a malformed request, or one under another site's policy, is refused to its origin and logged; a good one after it is routed", async () => {
    const s = await sites({ wanzhou: { queues: BUSY }, chongqing: { queues: READY } });
    s.wanzhou!.overflow(request('wz-call-7', { requestId: 'another-call#1' }));
    await waitFor('wanzhou got an answer', () => s.wanzhou!.envelopes.length === 1);
    const b = bodyOf(s.wanzhou!.envelopes[0]);
    assert.equal(b?.$case, 'refuse');
    assert.match(b?.$case === 'refuse' ? b.value.reason : '', /^invalid-argument: .*call id "wz-call-7"/);
    // A policy of another site: the routing core's own check, answered the same way; a good
    // request after it is routed as usual.
    const wrongPolicy = request('wz-call-8');
    if (wrongPolicy.body?.$case === 'request') wrongPolicy.body.value.policyId = 'fuling-busy';
    s.wanzhou!.overflow(wrongPolicy);
    s.wanzhou!.overflow(request('wz-call-9'));
    await waitFor('the good one routed', () => s.chongqing!.envelopes.length === 1);
    await waitFor('the bad one answered', () => s.wanzhou!.envelopes.length === 2);
    const eight = s.wanzhou!.envelopes[1]!;
    assert.equal(eight.requestId, 'wz-call-8#1');
    const b8 = bodyOf(eight);
    assert.match(
      b8?.$case === 'refuse' ? b8.value.reason : '',
      /^invalid-argument: .*overflows from "fuling"/,
    );
    assert.equal(s.chongqing!.envelopes[0]!.requestId, 'wz-call-9#1');
    await waitFor('both refusals counted', () => refusalsBy(p.hubLog, 'site wanzhou').total === 2);
  });

  test('an overflow request is routed on arrival, not held behind an event batch the database is still storing', async () => {
    const s = await sites({ wanzhou: { queues: BUSY }, chongqing: { queues: READY } });
    // The hub's event table locked: wanzhou's batch cannot be stored until the lock goes.
    const locker = await p.hubDb.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE ingested_events IN ACCESS EXCLUSIVE MODE');
      const e = makeEvent({
        type: 'ticket.opened',
        siteId: 'wanzhou',
        aggregateId: 't-1',
        occurredAtMs: Date.now(),
        payload: {},
      });
      const pb = { ...e, payloadJson: Buffer.from(JSON.stringify(e.payload)) };
      s.wanzhou!.send({ body: { $case: 'events', value: { batchId: 'b1', events: [pb] } } });
      s.wanzhou!.overflow(request('wz-call-10'));
      s.wanzhou!.overflow({
        requestId: 'wz-call-10#1',
        body: { $case: 'cancel', value: { token: '' } },
      });
      await waitFor('chongqing got the request, then its cancel', () => s.chongqing!.envelopes.length === 2);
      assert.deepEqual(
        s.chongqing!.envelopes.map((x) => x.body?.$case),
        ['request', 'cancel'],
        'in the order wanzhou sent them',
      );
      const acks = () => s.wanzhou!.received.filter((m) => m.body?.$case === 'eventsAck');
      assert.equal(acks().length, 0, 'the batch is still being stored');
      await locker.query('ROLLBACK');
      await waitFor('the batch stored and acknowledged after all', () => acks().length === 1);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      locker.release();
    }
  });
});
