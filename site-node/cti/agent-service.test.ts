import { afterEach, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { Metadata, status as Status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  AgentDeskClient,
  AgentState,
  type AgentResponse,
  type DeskEvent as PbDeskEvent,
} from '../../proto/gen/agent.js';
import { Segment } from '../../proto/gen/common.js';
import { DomainError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { call, clientCredentials, type UnaryMethod } from '../../shared/grpc/client.js';
import { GrpcServer } from '../../shared/grpc/server.js';
import { ERROR_FIELD_KEY, INTERNAL_MESSAGE } from '../../shared/grpc/status.js';
import {
  createAgentService,
  type AgentServiceOptions,
  type AgentServiceRegistration,
} from './agent-service.js';
import { bearerByRequest, testDeskAuth, testPassword } from './testing.js';
import { InMemoryAgentDesk } from './in-memory-desk.js';
import type { LeaseKeeper } from './lease.js';
import { waitFor } from '../../test/support/wait.js';

const AGENTS = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
let desk: InMemoryAgentDesk;
let service: AgentServiceRegistration;
let server: GrpcServer;
let client: AgentDeskClient;

/**
 * A service over `d` behind a server of its own, and a client whose calls carry the session
 * of the agent each request names (a request naming nobody signed in goes as the first
 * agent): every agent of `agents` is signed in first (site-node/cti/testing.ts), since the
 * service serves nobody anonymous.
 */
async function serve(
  d: InMemoryAgentDesk,
  agents: readonly string[],
  extra: Omit<AgentServiceOptions, 'desk' | 'auth'> = {},
): Promise<{ service: AgentServiceRegistration; server: GrpcServer; client: AgentDeskClient; port: number }> {
  const { auth } = await testDeskAuth({ agents, ...(extra.log ? { log: extra.log } : {}) });
  const svc = createAgentService({ desk: d, auth, ...extra });
  const srv = new GrpcServer({ host: '127.0.0.1', port: 0, services: [svc], shutdownTimeoutMs: 2000 });
  const port = await srv.start();
  const tokens = new Map<string, string>();
  const c = new AgentDeskClient(`127.0.0.1:${port}`, clientCredentials(), {
    interceptors: [bearerByRequest((id) => tokens.get(id) ?? tokens.get(agents[0]!))],
  });
  for (const id of agents) {
    const r = await call(c.signIn.bind(c), { userId: id, password: testPassword(id) });
    tokens.set(id, r.sessionToken);
  }
  return { service: svc, server: srv, client: c, port };
}

// Each test gets a desk of its own (every agent logged out, no call) behind a server of its
// own, so that none depends on the agent states another test left behind.
beforeEach(async () => {
  desk = new InMemoryAgentDesk({ agents: AGENTS.map((agentId) => ({ agentId, skills: { retail: 3 } })) });
  const s = await serve(desk, AGENTS, {
    reasonCodes: ['break', 'lunch', 'training'],
    wrapupCodes: /^[a-z][a-z-]*$/,
  });
  service = s.service;
  server = s.server;
  client = s.client;
  assert.equal(await server.start(), s.port, 'start is idempotent');
});

afterEach(async () => {
  client.close();
  await server.stop();
  await server.stop(); // idempotent
});

/** Call a unary method, returning either the response or the raw ServiceError. */
function raw<Req>(method: UnaryMethod<Req, AgentResponse>, req: Req): Promise<ServiceError | AgentResponse> {
  return new Promise((resolve) => {
    method(req, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => resolve(err ?? res));
  });
}

function isError(r: ServiceError | AgentResponse): r is ServiceError {
  return r instanceof Error;
}

/** Collect stream messages; `next()` waits for the next one. */
function collect(stream: ClientReadableStream<PbDeskEvent>) {
  const got: PbDeskEvent[] = [];
  let error: ServiceError | undefined;
  stream.on('data', (m: PbDeskEvent) => got.push(m));
  stream.on('error', (e: ServiceError) => (error = e));
  let read = 0;
  return {
    got,
    get error() {
      return error;
    },
    async next(): Promise<PbDeskEvent> {
      await waitFor('a desk event', () => read < got.length || error !== undefined, 3000);
      if (read < got.length) return got[read++]!;
      throw error!;
    },
  };
}

describe('agent gRPC service', () => {
  test('login, ready, offer with the full screen pop, answer, hangup, wrap-up round trip', async () => {
    const stream = client.events({ agentId: 'a1' });
    const events = collect(stream);
    const first = await events.next();
    assert.equal(first.event?.$case, 'state');
    assert.equal(
      first.event?.$case === 'state' && first.event.value.state,
      AgentState.AGENT_STATE_LOGGED_OUT,
    );

    const login = await call(client.login.bind(client), { agentId: 'a1' });
    assert.equal(login.agent?.state, AgentState.AGENT_STATE_NOT_READY);
    assert.equal(login.agent?.reasonCode, 'login');
    assert.deepEqual(login.agent?.skills, { retail: 3 });
    const ready = await call(client.setReady.bind(client), { agentId: 'a1' });
    assert.equal(ready.agent?.state, AgentState.AGENT_STATE_READY);

    desk.enqueueCall({
      callId: 'cq-01CALL1',
      queueId: 'vip',
      ani: '+8613800000001',
      dnis: '95555',
      verified: true,
      ivrPath: ['main', 'cards', 'agent'],
      attached: { intent: 'card-loss', priority: '1' },
      customer: {
        customerId: 'c-1',
        name: 'Zhang San',
        phones: ['+8613800000001'],
        cards: ['6222000000000001'],
        homeSiteId: 'chongqing',
        segment: 'vip',
        language: 'zh',
        flags: { blacklisted: false, lostCard: true },
        accountIds: ['acc-1'],
        version: 7,
      },
      recentContacts: [
        { callId: 'cq-01OLD', atMs: 1000, channel: 'voice-agent', summary: 'asked about fees' },
      ],
    });

    // Skip state events up to the offer.
    let ev = await events.next();
    while (ev.event?.$case !== 'offer') ev = await events.next();
    const pop = ev.event.value.pop!;
    assert.equal(pop.callId, 'cq-01CALL1');
    assert.equal(pop.queueId, 'vip');
    assert.equal(pop.ani, '+8613800000001');
    assert.equal(pop.dnis, '95555');
    assert.equal(pop.verified, true);
    assert.deepEqual(pop.ivrPath, ['main', 'cards', 'agent']);
    assert.deepEqual(pop.attached, { intent: 'card-loss', priority: '1' });
    assert.ok(pop.answerByMs > pop.offeredAtMs, 'answer_by is after offered_at');
    assert.equal(pop.customer?.segment, Segment.SEGMENT_VIP);
    assert.equal(pop.customer?.flags?.lostCard, true);
    assert.equal(pop.customer?.version, 7);
    assert.equal(pop.recentContacts[0]?.summary, 'asked about fees');

    const answered = await call(client.answer.bind(client), { agentId: 'a1', callId: 'cq-01CALL1' });
    assert.equal(answered.agent?.state, AgentState.AGENT_STATE_ON_CALL);
    assert.equal(answered.agent?.callId, 'cq-01CALL1');
    const hung = await call(client.hangup.bind(client), { agentId: 'a1', callId: 'cq-01CALL1' });
    assert.equal(hung.agent?.state, AgentState.AGENT_STATE_WRAP_UP);
    const done = await call(client.completeWrapup.bind(client), {
      agentId: 'a1',
      callId: 'cq-01CALL1',
      wrapupCode: 'card-blocked',
    });
    assert.equal(done.agent?.state, AgentState.AGENT_STATE_READY);
    assert.deepEqual(desk.completed.at(-1), {
      callId: 'cq-01CALL1',
      agentId: 'a1',
      wrapupCode: 'card-blocked',
      atMs: desk.completed.at(-1)!.atMs,
    });

    // The stream saw the whole story, in order.
    await waitFor('the whole story on the stream', () => events.got.length >= 9, 3000);
    const kinds = events.got.map((e) =>
      e.event?.$case === 'state' ? `state:${AgentState[e.event.value.state]}` : e.event?.$case,
    );
    assert.deepEqual(kinds, [
      'state:AGENT_STATE_LOGGED_OUT',
      'state:AGENT_STATE_NOT_READY',
      'state:AGENT_STATE_READY',
      'state:AGENT_STATE_RESERVED',
      'offer',
      'state:AGENT_STATE_ON_CALL',
      'callEnded',
      'state:AGENT_STATE_WRAP_UP',
      'state:AGENT_STATE_READY',
    ]);
    stream.cancel();
    await waitFor('unsubscribed', () => desk.subscriberCount('a1') === 0, 3000);
  });

  test('transfer and not-ready reason codes go through; GetAgent reads state', async () => {
    // a1 is ready (as after a call of its own), then takes a break: only a2 takes calls.
    await call(client.login.bind(client), { agentId: 'a1' });
    await call(client.setReady.bind(client), { agentId: 'a1' });
    await call(client.setNotReady.bind(client), { agentId: 'a1', reasonCode: 'break' });
    await call(client.login.bind(client), { agentId: 'a2' });
    await call(client.setReady.bind(client), { agentId: 'a2' });
    desk.enqueueCall({ callId: 'cq-01CALL2' });
    await call(client.answer.bind(client), { agentId: 'a2', callId: 'cq-01CALL2' });
    const t = await call(client.transfer.bind(client), {
      agentId: 'a2',
      callId: 'cq-01CALL2',
      queueId: 'credit-card',
    });
    assert.equal(t.agent?.state, AgentState.AGENT_STATE_WRAP_UP);
    await call(client.completeWrapup.bind(client), {
      agentId: 'a2',
      callId: 'cq-01CALL2',
      wrapupCode: 'transferred',
    });
    // The transferred leg is now offered (to a2, the only ready agent).
    const got = await call(client.getAgent.bind(client), { agentId: 'a2' });
    assert.equal(got.agent?.state, AgentState.AGENT_STATE_RESERVED);
    assert.equal(got.agent?.callId, 'cq-01CALL2.t1');
    await call(client.answer.bind(client), { agentId: 'a2', callId: 'cq-01CALL2.t1' });
    await call(client.hangup.bind(client), { agentId: 'a2', callId: 'cq-01CALL2.t1' });
    await call(client.completeWrapup.bind(client), {
      agentId: 'a2',
      callId: 'cq-01CALL2.t1',
      wrapupCode: 'done',
    });
    const nr = await call(client.setNotReady.bind(client), { agentId: 'a2', reasonCode: 'lunch' });
    assert.equal(nr.agent?.state, AgentState.AGENT_STATE_NOT_READY);
    assert.equal(nr.agent?.reasonCode, 'lunch');
    const out = await call(client.logout.bind(client), { agentId: 'a2' });
    assert.equal(out.agent?.state, AgentState.AGENT_STATE_LOGGED_OUT);
  });

  describe('bad input is INVALID_ARGUMENT naming the field, and never reaches the port', () => {
    const cases: Array<[string, () => Promise<ServiceError | AgentResponse>, string]> = [
      ['empty agent id', () => raw(client.login.bind(client), { agentId: '' }), 'agent_id'],
      ['agent id with spaces', () => raw(client.setReady.bind(client), { agentId: 'a 1' }), 'agent_id'],
      ['empty call id', () => raw(client.answer.bind(client), { agentId: 'a1', callId: '' }), 'call_id'],
      [
        'bad queue id',
        () => raw(client.transfer.bind(client), { agentId: 'a1', callId: 'x', queueId: 'VIP Queue!' }),
        'queue_id',
      ],
      [
        'reason code not in the list',
        () => raw(client.setNotReady.bind(client), { agentId: 'a1', reasonCode: 'nap' }),
        'reason_code',
      ],
      [
        'wrap-up code not matching the pattern',
        () => raw(client.completeWrapup.bind(client), { agentId: 'a1', callId: 'x', wrapupCode: 'Done!' }),
        'wrapup_code',
      ],
    ];
    for (const [name, run, field] of cases) {
      test(name, async () => {
        const before = desk.calls.length;
        const r = await run();
        assert.ok(isError(r), 'expected an error');
        assert.equal(r.code, Status.INVALID_ARGUMENT);
        assert.match(r.details, new RegExp(`^${field}: `));
        assert.equal(r.metadata.get(ERROR_FIELD_KEY)[0], field);
        assert.equal(desk.calls.length, before, 'the port saw no call');
      });
    }

    test('an oversized request is RESOURCE_EXHAUSTED before any handler runs', async () => {
      const before = desk.calls.length;
      const r = await raw(client.setNotReady.bind(client), {
        agentId: 'a1',
        reasonCode: 'x'.repeat(2 * 1024 * 1024),
      });
      assert.ok(isError(r));
      assert.equal(r.code, Status.RESOURCE_EXHAUSTED);
      assert.equal(desk.calls.length, before, 'the port saw no call');
    });

    test('a bad agent id on the Events stream is INVALID_ARGUMENT', async () => {
      const events = collect(client.events({ agentId: '' }));
      await assert.rejects(events.next(), (e: ServiceError) => {
        assert.equal(e.code, Status.INVALID_ARGUMENT);
        assert.match(e.details, /^agent_id: /);
        return true;
      });
    });
  });

  describe('domain errors map to status codes; the client gets DomainErrors back', () => {
    test('another (here unknown) agent is PERMISSION_DENIED naming agent_id', async () => {
      await assert.rejects(call(client.login.bind(client), { agentId: 'nobody' }), (e: DomainError) => {
        assert.ok(e instanceof DomainError);
        assert.equal(e.kind, 'permission-denied');
        assert.equal(e.field, 'agent_id');
        return true;
      });
    });

    test('an illegal state move is FAILED_PRECONDITION', async () => {
      desk.enqueueCall({ callId: 'cq-01CALL1' }); // a call that exists, but is not offered to a3
      const r = await raw(client.answer.bind(client), { agentId: 'a3', callId: 'cq-01CALL1' });
      assert.ok(isError(r));
      assert.equal(r.code, Status.FAILED_PRECONDITION);
    });

    test('a conflict is ABORTED and comes back as kind conflict', async () => {
      desk.failNext(new DomainError('conflict', 'version 3 is stale'));
      const r = await raw(client.getAgent.bind(client), { agentId: 'a3' });
      assert.ok(isError(r));
      assert.equal(r.code, Status.ABORTED);
      desk.failNext(new DomainError('conflict', 'version 3 is stale'));
      await assert.rejects(call(client.getAgent.bind(client), { agentId: 'a3' }), { kind: 'conflict' });
    });

    test('an unexpected error is INTERNAL with a generic message and no stack', async () => {
      desk.failNext(new TypeError('cannot read properties of undefined (secret detail)'));
      const r = await raw(client.getAgent.bind(client), { agentId: 'a3' });
      assert.ok(isError(r));
      assert.equal(r.code, Status.INTERNAL);
      assert.equal(r.details, INTERNAL_MESSAGE);
      assert.doesNotMatch(JSON.stringify(r.metadata.toJSON()), /secret|at /);
    });
  });

  test('cancelling the Events stream unsubscribes from the port', async () => {
    await call(client.login.bind(client), { agentId: 'a4' });
    const stream = client.events({ agentId: 'a4' });
    const events = collect(stream);
    const first = await events.next();
    assert.equal(first.event?.$case === 'state' && first.event.value.state, AgentState.AGENT_STATE_NOT_READY);
    assert.equal(desk.subscriberCount('a4'), 1);
    assert.equal(service.openStreams('a4'), 1);
    stream.cancel();
    await waitFor(
      'unsubscribed',
      () => desk.subscriberCount('a4') === 0 && service.openStreams('a4') === 0,
      3000,
    );
  });

  test("one stream more than an agent's slots closes its oldest, and the new one opens", async () => {
    const streams = [1, 2, 3, 4].map(() => client.events({ agentId: 'a5' }));
    const cols = streams.map(collect);
    for (const c of cols) await c.next();
    const fifth = collect(client.events({ agentId: 'a5' }));
    assert.equal((await fifth.next()).event?.$case, 'state', 'the newest stream is served');
    await waitFor('the oldest closed', () => cols[0]!.error !== undefined, 3000);
    assert.equal(cols[0]!.error!.code, Status.RESOURCE_EXHAUSTED);
    assert.match(cols[0]!.error!.details, /replaced by a newer event stream/);
    assert.equal(service.openStreams('a5'), 4);
    assert.ok(
      cols.slice(1).every((c) => c.error === undefined),
      'only the oldest was closed',
    );
    streams.forEach((s) => s.cancel());
    await waitFor('unsubscribed', () => desk.subscriberCount('a5') === 1, 3000);
  });

  test('stop drains open streams so shutdown does not hang', async () => {
    const desk2 = new InMemoryAgentDesk({ agents: [{ agentId: 'z1' }] });
    const { server: srv2, client: c2 } = await serve(desk2, ['z1']);
    const stream = c2.events({ agentId: 'z1' });
    const ended = new Promise<void>((resolve) => stream.on('end', () => resolve()));
    const events = collect(stream);
    await events.next();
    const t0 = Date.now();
    await srv2.stop();
    await ended;
    assert.ok(Date.now() - t0 < 1500, 'graceful, not forced');
    assert.equal(desk2.subscriberCount('z1'), 0);
    c2.close();
  });
});

describe('agent gRPC service: lease reports', () => {
  test('login, the Events stream, Heartbeat and logout are reported to the lease keeper, in order', async () => {
    const reported: string[] = [];
    const keeper: LeaseKeeper = {
      loggedIn: (id) => void reported.push(`login ${id}`),
      loggedOut: (id) => void reported.push(`logout ${id}`),
      streamOpened: (id) => void reported.push(`open ${id}`),
      streamClosed: (id) => void reported.push(`close ${id}`),
      heartbeat: (id) => (reported.push(`beat ${id}`), 20_000),
    };
    const { server: s2, client: c2 } = await serve(desk, AGENTS, { leases: keeper });
    try {
      const opts = { deadlineMs: 5000 };
      await call(c2.login.bind(c2), { agentId: 'a1' }, opts);
      const stream = c2.events({ agentId: 'a1' });
      const events = collect(stream);
      await events.next();
      await waitFor('the stream reported open', () => reported.includes('open a1'));
      const beat = await call(c2.heartbeat.bind(c2), { agentId: 'a1' }, opts);
      assert.equal(Number(beat.leaseMs), 20_000);
      assert.equal(beat.agent?.state, AgentState.AGENT_STATE_NOT_READY);
      stream.cancel();
      await waitFor('the stream reported closed', () => reported.includes('close a1'));
      await call(c2.logout.bind(c2), { agentId: 'a1' }, opts);
      assert.deepEqual(reported, ['login a1', 'open a1', 'beat a1', 'close a1', 'logout a1']);
      // A heartbeat for another agent is refused before it reaches the keeper.
      await assert.rejects(call(c2.heartbeat.bind(c2), { agentId: 'nobody' }, opts));
      assert.equal(reported.length, 5);
    } finally {
      c2.close();
      await s2.stop();
    }
  });

  test('without a lease keeper Heartbeat answers lease_ms 0 with the agent', async () => {
    const beat = await call(client.heartbeat.bind(client), { agentId: 'a2' }, { deadlineMs: 5000 });
    assert.equal(Number(beat.leaseMs), 0);
    assert.equal(beat.agent?.state, AgentState.AGENT_STATE_LOGGED_OUT);
  });
});

describe('agent gRPC service: PIN unlock', () => {
  const customer = {
    customerId: 'c-7',
    name: 'Li Si',
    phones: ['+8613800000007'],
    cards: [],
    homeSiteId: 'chongqing',
    segment: 'retail' as const,
    language: 'zh' as const,
    flags: { blacklisted: false, lostCard: false },
    accountIds: [],
    version: 1,
  };

  test('the screen pop carries the PIN lock; a request without a verification method or with a bad call id is refused, a good one unlocks', async () => {
    const lines: string[] = [];
    const log = createLogger({}, { level: 'info', write: (l) => lines.push(l) });
    const { server: srv, client: c } = await serve(desk, AGENTS, { log });
    try {
      const events = collect(c.events({ agentId: 'a1' }));
      await call(c.login.bind(c), { agentId: 'a1' });
      await call(c.setReady.bind(c), { agentId: 'a1' });
      desk.pinLocked.add('c-7');
      desk.enqueueCall({ callId: 'cq-LOCKED', customer, pinLockedUntilMs: 5_000 });
      let ev = await events.next();
      while (ev.event?.$case !== 'offer') ev = await events.next();
      assert.equal(ev.event.value.pop!.pinLockedUntilMs, 5_000);
      await call(c.answer.bind(c), { agentId: 'a1', callId: 'cq-LOCKED' });

      const ask = { agentId: 'a1', callId: 'cq-LOCKED', customerId: 'c-7', reason: 'locked out' };
      await assert.rejects(call(c.unlockPin.bind(c), ask), (e: unknown) => {
        const err = e as DomainError;
        assert.equal(err.kind, 'invalid-argument');
        assert.equal(err.field, 'verification.method');
        return true;
      });
      // A malformed request is refused by the service before the desk sees it, and logged
      // here once (the desk logs the refusals its rule makes: site-node/runtime/pin-unlock.ts).
      await assert.rejects(
        call(c.unlockPin.bind(c), { ...ask, callId: 'has space' }),
        (e: unknown) => (e as DomainError).field === 'call_id',
      );
      assert.ok(desk.pinLocked.has('c-7'), 'the refusals changed nothing');
      assert.equal(desk.pinUnlocks.length, 0);
      const refusals = lines.filter((l) => l.includes('pin unlock refused'));
      assert.equal(refusals.length, 1, 'the service logs its own refusal once');
      assert.match(refusals[0]!, /"msg":"rpc refused"/);
      assert.match(refusals[0]!, /pin unlock refused: agent \\"a1\\"/);
      assert.match(refusals[0]!, /call_id/);

      const res = await call(c.unlockPin.bind(c), {
        ...ask,
        verification: { method: 'id-document', detail: 'ID card checked on video' },
      });
      assert.equal(res.customerId, 'c-7');
      assert.equal(res.wasLocked, true);
      assert.ok(res.eventId);
      assert.equal(desk.pinLocked.has('c-7'), false);
      assert.equal(desk.pinUnlocks[0]?.method, 'id-document');
    } finally {
      c.close();
      await srv.stop();
    }
  });
});
