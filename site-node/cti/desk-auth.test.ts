/**
 * The agent desk's authentication through the gRPC service (tier 2: the in-memory desk, an
 * in-memory credential store, a manual clock for sessions and lockouts): nobody anonymous is
 * served, an agent acts only for itself, its stream slots are its own, failed sign-ins are
 * throttled, supervisors act on their teams (audited), and every refusal is one log line.
 * Before desk authentication every one of these calls went through for anybody.
 */
import { afterEach, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { AgentDeskClient, type DeskEvent as PbDeskEvent } from '../../proto/gen/agent.js';
import { ManualClock } from '../../shared/clock.js';
import type { DomainError } from '../../shared/errors.js';
import { call, clientCredentials } from '../../shared/grpc/client.js';
import { GrpcServer } from '../../shared/grpc/server.js';
import { createLogger } from '../../shared/log.js';
import { waitFor } from '../../test/support/wait.js';
import { createAgentService, type AgentServiceRegistration } from './agent-service.js';
import type { AuthCall, DeskAuth } from './desk-auth.js';
import { DeskCredentials, MemoryCredentialStore } from './desk-credentials.js';
import { GrpcAgentDesk } from './grpc-desk-client.js';
import { InMemoryAgentDesk } from './in-memory-desk.js';
import { TEST_SCRYPT, testDeskAuth, testPassword } from './testing.js';

const AGENTS = ['a01', 'a02', 'a03'];
let desk: InMemoryAgentDesk;
let auth: DeskAuth;
let store: HeldStore;
let clock: ManualClock;
let service: AgentServiceRegistration;
let server: GrpcServer;
let address: string;
let anon: AgentDeskClient;
let lines: string[];
const clients: GrpcAgentDesk[] = [];

beforeEach(async () => {
  clock = new ManualClock(1_000_000);
  lines = [];
  const log = createLogger({}, { level: 'info', write: (l) => lines.push(l) });
  desk = new InMemoryAgentDesk({ agents: AGENTS.map((agentId) => ({ agentId, skills: { retail: 3 } })) });
  store = new HeldStore();
  ({ auth } = await testDeskAuth({
    agents: AGENTS,
    supervisors: ['s01'],
    teams: [{ id: 'east', supervisors: ['s01'], agents: ['a01', 'a02'] }],
    config: {
      maxFailuresPerUser: 3,
      maxFailuresPerAddress: 6,
      lockoutMs: 30_000,
      sessionIdleMs: 60_000,
      sessionMaxAgeMs: 600_000,
    },
    clock,
    log,
    store,
    // The timer sweeps often here; the tests that need a sweep at one moment call sweep().
    sweepMs: 20,
  }));
  service = createAgentService({ desk, auth, log, reasonCodes: ['break', 'lunch'], maxStreamsPerAgent: 2 });
  server = new GrpcServer({ host: '127.0.0.1', port: 0, services: [service], shutdownTimeoutMs: 1000 });
  address = `127.0.0.1:${await server.start()}`;
  anon = new AgentDeskClient(address, clientCredentials());
});

afterEach(async () => {
  anon.close();
  for (const c of clients.splice(0)) c.close();
  await server.stop();
});

/**
 * The in-memory store, where a test can hold one user's password lookup until it says go: a
 * check then stays in flight while the test does something else (a reset, a forced logout).
 */
class HeldStore extends MemoryCredentialStore {
  private held = new Map<string, { reached: boolean; go: () => void; gate: Promise<void> }>();
  hold(userId: string): { reached: () => boolean; release: () => void } {
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    const h = { reached: false, go, gate };
    this.held.set(userId, h);
    return {
      reached: () => h.reached,
      release: () => {
        this.held.delete(userId);
        go();
      },
    };
  }
  override async passwordHash(userId: string): Promise<string | undefined> {
    const hash = await super.passwordHash(userId);
    const h = this.held.get(userId);
    if (h) {
      h.reached = true;
      await h.gate;
    }
    return hash;
  }
}

/** A server call as the auth layer sees it, from `address`, with no certificate. */
function callFrom(address: string): AuthCall {
  return { getPeer: () => `${address}:40000`, getAuthContext: () => ({}) };
}

/** A desk client that signs its agents in with their test passwords. */
function deskClient(): GrpcAgentDesk {
  const d = new GrpcAgentDesk({ address, deadlineMs: 3000, password: testPassword });
  clients.push(d);
  return d;
}

async function refused(p: Promise<unknown>): Promise<DomainError> {
  return p.then(
    () => assert.fail('must be refused'),
    (e: unknown) => e as DomainError,
  );
}

function logged(msg: string): Array<Record<string, unknown>> {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

function firstEventOrError(
  stream: ReturnType<AgentDeskClient['events']>,
): Promise<PbDeskEvent | ServiceError> {
  return new Promise((resolve) => {
    stream.on('data', (m: PbDeskEvent) => resolve(m));
    stream.on('error', (e: ServiceError) => resolve(e));
  });
}

describe('nobody anonymous', () => {
  test('every desk call without a session or certificate is UNAUTHENTICATED, and changes nothing', async () => {
    const calls: Array<Promise<unknown>> = [
      call(anon.login.bind(anon), { agentId: 'a01' }),
      call(anon.logout.bind(anon), { agentId: 'a01' }),
      call(anon.setReady.bind(anon), { agentId: 'a01' }),
      call(anon.setNotReady.bind(anon), { agentId: 'a01', reasonCode: 'break' }),
      call(anon.answer.bind(anon), { agentId: 'a01', callId: 'c1' }),
      call(anon.hangup.bind(anon), { agentId: 'a01', callId: 'c1' }),
      call(anon.transfer.bind(anon), { agentId: 'a01', callId: 'c1', queueId: 'q' }),
      call(anon.completeWrapup.bind(anon), { agentId: 'a01', callId: 'c1', wrapupCode: 'done' }),
      call(anon.getAgent.bind(anon), { agentId: 'a01' }),
      call(anon.heartbeat.bind(anon), { agentId: 'a01' }),
      call(anon.unlockPin.bind(anon), { agentId: 'a01', callId: 'c1', customerId: 'x', reason: 'r' }),
      call(anon.listTeam.bind(anon), {}),
      call(anon.forceLogout.bind(anon), { agentId: 'a01', reason: 'r', reasonCode: '' }),
      call(anon.setPassword.bind(anon), { userId: 'a01', newPassword: 'new password', oldPassword: '' }),
      // Malformed input is still refused as anonymous first: an anonymous caller learns nothing.
      call(anon.login.bind(anon), { agentId: '' }),
    ];
    for (const p of calls) assert.equal((await refused(p)).kind, 'unauthenticated');
    const ev = await firstEventOrError(anon.events({ agentId: 'a01' }));
    assert.equal((ev as ServiceError).code, Status.UNAUTHENTICATED);
    assert.deepEqual(desk.calls, [], 'the desk saw nothing');
    assert.equal(service.openStreams(), 0);
  });

  test('a token that is not a live session is UNAUTHENTICATED', async () => {
    const md = new Metadata();
    md.set('authorization', 'Bearer ' + 'x'.repeat(43));
    const e = await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }, { metadata: md }));
    assert.equal(e.kind, 'unauthenticated');
    md.set('authorization', 'Basic YTAxOnB3');
    assert.equal(
      (await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }, { metadata: md }))).kind,
      'unauthenticated',
    );
  });

  test('a session ends after an idle spell, and at sign-out', async () => {
    const d = deskClient();
    await d.signIn('a01', testPassword('a01'));
    await d.agent('a01');
    const idle = sessionOf(d, 'a01');
    clock.advance(60_000);
    assert.equal(
      (await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }, { metadata: idle }))).kind,
      'unauthenticated',
      'idle too long',
    );
    await d.signIn('a01', testPassword('a01'));
    const stream = d.client.events({ agentId: 'a01' }, sessionOf(d, 'a01'));
    assert.ok(!((await firstEventOrError(stream)) instanceof Error));
    const ended = firstErrorOrEnd(stream);
    const md = sessionOf(d, 'a01');
    await d.signOut('a01');
    await ended;
    assert.equal(
      (await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }, { metadata: md }))).kind,
      'unauthenticated',
    );
  });
});

/** The metadata `d` sends for `userId` (its private token), for calls made with the raw client. */
function sessionOf(d: GrpcAgentDesk, userId: string): Metadata {
  return (d as unknown as { metadata(u: string): Metadata }).metadata(userId);
}

function firstErrorOrEnd(stream: ReturnType<AgentDeskClient['events']>): Promise<void> {
  return new Promise((resolve) => {
    stream.on('error', () => resolve());
    stream.on('end', () => resolve());
  });
}

describe('an agent acts only for itself', () => {
  test('a signed-in agent naming another agent is PERMISSION_DENIED naming agent_id, and changes nothing', async () => {
    const d = deskClient();
    await d.login('a01');
    const before = desk.calls.length;
    const md = sessionOf(d, 'a01');
    for (const p of [
      call(d.client.login.bind(d.client), { agentId: 'a02' }, { metadata: md }),
      call(d.client.setReady.bind(d.client), { agentId: 'a02' }, { metadata: md }),
      call(d.client.hangup.bind(d.client), { agentId: 'a02', callId: 'c1' }, { metadata: md }),
      call(d.client.getAgent.bind(d.client), { agentId: 'a02' }, { metadata: md }),
    ]) {
      const e = await refused(p);
      assert.equal(e.kind, 'permission-denied');
      assert.equal(e.field, 'agent_id');
      assert.match(e.message, /"a01" cannot act for agent "a02"/);
    }
    assert.equal(desk.calls.length, before, 'the desk saw none of them');
    assert.equal((await desk.agent('a02')).state, 'logged-out');
  });

  test("another user cannot hold an agent's stream slots; the agent's own new stream always opens", async () => {
    const mallory = deskClient();
    await mallory.signIn('a03', testPassword('a03'));
    for (let i = 0; i < 5; i++) {
      const ev = await firstEventOrError(
        mallory.client.events({ agentId: 'a01' }, sessionOf(mallory, 'a03')),
      );
      assert.equal((ev as ServiceError).code, Status.PERMISSION_DENIED);
    }
    assert.equal(service.openStreams('a01'), 0, 'none of them holds a slot');

    const d = deskClient();
    await d.signIn('a01', testPassword('a01'));
    const first = d.client.events({ agentId: 'a01' }, sessionOf(d, 'a01'));
    const firstEnded = firstErrorOrEnd(first);
    await firstEventOrError(first);
    await firstEventOrError(d.client.events({ agentId: 'a01' }, sessionOf(d, 'a01')));
    // Over its two slots: the oldest makes room, the new one opens.
    const third = await firstEventOrError(d.client.events({ agentId: 'a01' }, sessionOf(d, 'a01')));
    assert.equal((third as PbDeskEvent).event?.$case, 'state');
    await firstEnded;
    assert.equal(service.openStreams('a01'), 2);
  });
});

describe('sign-in', () => {
  test('a wrong password and an unknown user get the same answer; the log says which', async () => {
    const d = deskClient();
    const wrong = await refused(d.signIn('a01', 'not the password'));
    const unknown = await refused(d.signIn('zz9', 'not the password'));
    assert.equal(wrong.kind, 'unauthenticated');
    assert.equal(wrong.message, unknown.message);
    const reasons = logged('rpc refused').map((l) => String(l.reason));
    assert.ok(
      reasons.some((r) => /wrong password for user "a01"/.test(r)),
      reasons.join('\n'),
    );
    const res = await d.signIn('a01', testPassword('a01'));
    assert.deepEqual({ ...res, expiresAtMs: 0 }, { role: 'agent', agentId: 'a01', expiresAtMs: 0 });
    assert.ok(!lines.join('\n').includes(testPassword('a01')), 'no password in the log');
  });

  test('failed sign-ins lock the user for a while, whatever the address, even with the right password', async () => {
    const d = deskClient();
    for (let i = 0; i < 3; i++) await refused(d.signIn('a02', `guess ${i}`));
    const locked = await refused(d.signIn('a02', testPassword('a02')));
    assert.equal(locked.kind, 'resource-exhausted');
    assert.match(locked.message, /retry in 30s/);
    assert.equal((await d.signIn('a01', testPassword('a01'))).agentId, 'a01', 'another user still signs in');
    clock.advance(30_000);
    assert.equal((await d.signIn('a02', testPassword('a02'))).agentId, 'a02', 'after the lockout');
  });

  test('failed sign-ins for many users from one address lock the address', async () => {
    const d = deskClient();
    for (const u of ['a01', 'a02', 'a03', 's01', 'x1', 'x2']) await refused(d.signIn(u, 'wrong password'));
    // a03 failed once only: what locks it out is its address.
    const e = await refused(d.signIn('a03', testPassword('a03')));
    assert.equal(e.kind, 'resource-exhausted');
    assert.match(e.message, /retry in 30s/);
  });
});

describe('supervisors', () => {
  test('see their team, force a member not-ready and out (audited and logged); outside the team is refused', async () => {
    const agent = deskClient();
    await agent.login('a01');
    await agent.setReady('a01');
    const sup = deskClient();
    assert.equal((await sup.signIn('s01', testPassword('s01'))).role, 'supervisor');
    const team = await sup.listTeam('s01');
    assert.deepEqual(
      team.map((m) => [m.teamId, m.agent.agentId, m.agent.state]),
      [
        ['east', 'a01', 'ready'],
        ['east', 'a02', 'logged-out'],
      ],
    );
    const nr = await sup.forceNotReady('s01', 'a01', 'lunch', 'queue too long for a break? no: lunch');
    assert.equal(nr.state, 'not-ready');
    assert.equal(nr.reasonCode, 'lunch');
    const agentSession = sessionOf(agent, 'a01');
    const out = await sup.forceLogout('s01', 'a01', 'left the desk without logging out');
    assert.equal(out.state, 'logged-out');
    assert.equal(
      (await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }, { metadata: agentSession }))).kind,
      'unauthenticated',
      "the agent's session ended",
    );
    assert.deepEqual(
      store.entries
        .filter((e) => e.action !== 'set-password')
        .map((e) => [e.actor, e.action, e.target, e.detail.reason]),
      [
        ['s01', 'force-not-ready', 'a01', 'queue too long for a break? no: lunch'],
        ['s01', 'force-logout', 'a01', 'left the desk without logging out'],
      ],
    );
    assert.equal(logged('desk supervisor action').length, 2);

    const outside = await refused(sup.forceNotReady('s01', 'a03', 'lunch', 'not mine'));
    assert.equal(outside.kind, 'permission-denied');
    assert.equal(outside.field, 'agent_id');
    const byAgent = deskClient();
    await byAgent.signIn('a02', testPassword('a02'));
    assert.equal((await refused(byAgent.forceLogout('a02', 'a01', 'x'))).kind, 'permission-denied');
    assert.equal((await refused(byAgent.listTeam('a02'))).kind, 'permission-denied');
    assert.equal(
      store.entries.filter((e) => e.action !== 'set-password').length,
      2,
      'refusals are not audited as actions',
    );
  });

  test('set and reset passwords: oneself with the old one, a supervisor for its team, nobody else', async () => {
    const d = deskClient();
    await d.signIn('a01', testPassword('a01'));
    const wrongOld = await refused(d.setPassword('a01', 'a01', 'a brand new one', 'not the old one'));
    // Not UNAUTHENTICATED: the caller is signed in, and its client must not sign in again.
    assert.equal(wrongOld.kind, 'permission-denied');
    assert.equal(wrongOld.field, 'old_password');
    assert.equal(logged('desk signed in').length, 1, 'the client did not sign in again');
    await d.setPassword('a01', 'a01', 'a brand new one', testPassword('a01'));
    assert.equal((await d.agent('a01')).agentId, 'a01', 'the session that changed it goes on');
    await refused(d.signIn('a01', testPassword('a01')));
    await d.signIn('a01', 'a brand new one');

    const other = await refused(d.setPassword('a01', 'a02', 'taken over!!'));
    assert.equal(other.kind, 'permission-denied');
    assert.equal(other.field, 'user_id');
    const tooShort = await refused(d.setPassword('a01', 'a01', 'short', 'a brand new one'));
    assert.equal(tooShort.field, 'new_password');

    const sup = deskClient();
    await sup.signIn('s01', testPassword('s01'));
    await sup.setPassword('s01', 'a01', 'reset by the supervisor');
    assert.equal((await refused(d.agent('a01'))).kind, 'unauthenticated', "a reset ends the user's sessions");
    await d.signIn('a01', 'reset by the supervisor');
    assert.equal((await refused(sup.setPassword('s01', 'a03', 'not in my team'))).kind, 'permission-denied');
    assert.deepEqual(
      store.entries.filter((e) => e.actor !== 'test').map((e) => [e.actor, e.action, e.target, e.detail.as]),
      [
        ['a01', 'set-password', 'a01', 'self'],
        ['s01', 'set-password', 'a01', 'supervisor'],
      ],
    );
  });
});

describe('refusal log', () => {
  test('each refusal is one line with who, peer, method and why; a flood from one peer is counted in one summary', async () => {
    const d = deskClient();
    await d.signIn('a03', testPassword('a03'));
    await refused(
      d.client.getAgent.bind(d.client) &&
        call(d.client.getAgent.bind(d.client), { agentId: 'a01' }, { metadata: sessionOf(d, 'a03') }),
    );
    const first = logged('rpc refused');
    assert.equal(first.length, 1);
    assert.deepEqual(
      { ...first[0], time: undefined, level: undefined },
      {
        time: undefined,
        level: undefined,
        msg: 'rpc refused',
        method: 'AgentDesk.GetAgent',
        who: 'user a03',
        peer: '127.0.0.1',
        kind: 'permission-denied',
        reason: 'agent "a03" cannot act for agent "a01": an agent can only act for itself',
        field: 'agent_id',
      },
    );
    // A flood from one peer (who and address: here anonymous callers from 127.0.0.1): its
    // first refusal is a line, the rest are only counted.
    for (let i = 0; i < 40; i++) await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }));
    assert.equal(logged('rpc refused').length, 2, 'the flood adds one line within the window');
    assert.equal(logged('rpc refused')[1]!.who, 'anonymous');
    // The window over, the next refusal brings the summary of all that were only counted.
    clock.advance(10_000);
    await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }));
    const summary = logged('more rpc refusals');
    assert.equal(summary.length, 1);
    assert.equal(summary[0]!.who, 'anonymous');
    assert.equal(summary[0]!.peer, '127.0.0.1');
    assert.equal(summary[0]!.count, 40);
    assert.deepEqual(summary[0]!.kinds, { unauthenticated: 40 });
    assert.equal(logged('rpc refused').length, 2);
    // A quiet peer is forgotten: after another window its next refusal is a line again.
    clock.advance(20_000);
    auth.stop();
    await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }));
    await waitFor('logged afresh', () => logged('rpc refused').length === 3);
    assert.equal(logged('rpc refused')[2]!.who, 'anonymous');
  });
});

describe('attacks (issue 10 review)', () => {
  test('a concurrent burst of guesses is checked no further than the limit; a right password inside it is refused', async () => {
    // Every guess from an address of its own: what stops them is the user's count alone.
    const before = store.lookups;
    const burst = Array.from({ length: 60 }, (_, i) =>
      auth.signIn(callFrom(`10.0.${i >> 8}.${i & 255}`), 'AgentDesk.SignIn', 'a02', `guess ${i}`),
    );
    burst.push(auth.signIn(callFrom('10.9.9.9'), 'AgentDesk.SignIn', 'a02', testPassword('a02')));
    const results = await Promise.allSettled(burst);
    assert.ok(store.lookups - before <= 3, `${store.lookups - before} passwords checked, at most 3`);
    const last = results.at(-1)!;
    assert.equal(last.status, 'rejected', 'the right password inside the burst did not sign in');
    assert.equal(((last as PromiseRejectedResult).reason as DomainError).kind, 'resource-exhausted');
  });

  test("one address's flood of sign-ins is refused for that address only, logged; a supervisor elsewhere signs in", async () => {
    const flood = Array.from({ length: 200 }, (_, i) =>
      auth.signIn(callFrom('10.6.6.6'), 'AgentDesk.SignIn', `made-up-${i}`, 'not a password'),
    );
    const sup = auth.signIn(callFrom('10.1.1.1'), 'AgentDesk.SignIn', 's01', testPassword('s01'));
    const [floodResults, supResult] = await Promise.all([Promise.allSettled(flood), sup]);
    assert.equal(supResult.userId, 's01');
    const kinds = floodResults.map((r) => (r.status === 'rejected' ? (r.reason as DomainError).kind : 'ok'));
    assert.ok(kinds.filter((k) => k === 'resource-exhausted').length >= 190, kinds.join());
    auth.stop();
    const fromFlood = [...logged('rpc refused'), ...logged('more rpc refusals')].filter(
      (l) => l.peer === '10.6.6.6',
    );
    assert.equal(logged('rpc refused').filter((l) => l.peer === '10.6.6.6').length, 1, 'one line');
    const counted = fromFlood.reduce((n, l) => n + (l.msg === 'rpc refused' ? 1 : Number(l.count)), 0);
    assert.equal(counted, 200, 'and every refusal counted');
  });

  test('a sign-in whose check began before a forced logout or a reset gets no session', async () => {
    for (const interrupt of [
      () => auth.endUser('a01'),
      () =>
        auth.setPassword(
          callFrom('10.1.1.1'),
          'AgentDesk.SetPassword',
          { userId: 's01', role: 'supervisor', via: 'session' },
          'a01',
          'reset by the supervisor',
          '',
          'supervisor',
        ),
    ]) {
      await auth.credentials.setPassword('a01', testPassword('a01'), 'test');
      const held = store.hold('a01');
      const signIn = auth.signIn(callFrom('10.2.2.2'), 'AgentDesk.SignIn', 'a01', testPassword('a01'));
      await waitFor('the check is under way', () => held.reached());
      await interrupt();
      held.release();
      const e = await refused(signIn);
      assert.equal(e.kind, 'unauthenticated');
      assert.match(e.message, /while signing in: sign in again/);
    }
  });

  test("a change of one's own password racing a supervisor's reset does not overwrite it", async () => {
    const d = deskClient();
    await d.signIn('a01', testPassword('a01'));
    const held = store.hold('a01');
    const change = d.setPassword('a01', 'a01', 'my own new password', testPassword('a01'));
    await waitFor('the old password is being checked', () => held.reached());
    const sup = deskClient();
    await sup.signIn('s01', testPassword('s01'));
    await sup.setPassword('s01', 'a01', 'reset by the supervisor');
    held.release();
    const e = await refused(change);
    assert.equal(e.kind, 'conflict');
    assert.equal(e.field, 'old_password');
    await refused(deskClient().signIn('a01', 'my own new password'));
    assert.equal((await deskClient().signIn('a01', 'reset by the supervisor')).agentId, 'a01');
  });

  test("a password set elsewhere (the operator's CLI) ends the user's sessions and streams", async () => {
    const d = deskClient();
    await d.signIn('a01', testPassword('a01'));
    const md = sessionOf(d, 'a01');
    const stream = d.client.events({ agentId: 'a01' }, md);
    assert.ok(!((await firstEventOrError(stream)) instanceof Error));
    const ended = firstErrorOrEnd(stream);
    const other = deskClient();
    await other.signIn('a02', testPassword('a02'));
    // The CLI: another process over the same table, not this DeskAuth.
    await new DeskCredentials(store, auth.roster, clock, TEST_SCRYPT).setPassword(
      'a01',
      'set by the operator',
      'operator:root',
    );
    await ended;
    const e = await refused(call(anon.getAgent.bind(anon), { agentId: 'a01' }, { metadata: md }));
    assert.equal(e.kind, 'unauthenticated');
    assert.equal((await other.agent('a02')).agentId, 'a02', "another user's session goes on");
  });

  test('an expired session closes its stream; an open stream keeps it from idling, not past its maximum age', async () => {
    const d = deskClient();
    await d.signIn('a01', testPassword('a01'));
    const stream = d.client.events({ agentId: 'a01' }, sessionOf(d, 'a01'));
    assert.ok(!((await firstEventOrError(stream)) instanceof Error));
    const ended = firstErrorOrEnd(stream);
    clock.advance(180_000); // three idle spells without a call
    await auth.sweep();
    assert.equal(service.openStreams('a01'), 1, 'a desk with its stream open is not idle');
    assert.equal((await d.agent('a01')).agentId, 'a01', 'and its session still answers');
    clock.advance(600_000); // past the maximum age
    await ended; // the timer's sweep, no call needed
    assert.equal(service.openStreams('a01'), 0);
    assert.ok(logged('desk sessions ended').some((l) => l.why === 'expired'));
  });

  test('desks behind one address signing in at once all get in: the ones turned away try again when told', async () => {
    const d = deskClient();
    const many = ['a01', 'a02', 'a03', 's01'].flatMap((u) => [u, u]);
    const res = await Promise.all(many.map((u) => d.signIn(u, testPassword(u))));
    assert.equal(res.length, many.length);
    const busy = logged('rpc refused').filter((l) => String(l.reason).includes('at once'));
    assert.ok(busy.length >= 1, 'some were turned away (at most 4 from one address at once)');
  });

  test('calls that find their session ended share one sign-in', async () => {
    const d = deskClient();
    await d.login('a01');
    assert.equal(logged('desk signed in').length, 1);
    clock.advance(60_000); // idle: the session has ended
    const views = await Promise.all([d.agent('a01'), d.agent('a01'), d.heartbeat('a01'), d.agent('a01')]);
    assert.equal(views.length, 4);
    assert.equal(logged('desk signed in').length, 2, 'one sign-in for all four, no orphaned sessions');
  });

  test('a desk looping on a malformed UnlockPin costs one log line a window', async () => {
    const d = deskClient();
    await d.login('a01');
    for (let i = 0; i < 30; i++) {
      await refused(
        d.unlockPin('a01', {
          callId: 'has space',
          customerId: 'c-1',
          verification: { method: 'id-document', detail: 'x' },
          reason: 'r',
        }),
      );
    }
    assert.equal(lines.filter((l) => l.includes('pin unlock refused')).length, 1);
  });
});
