/**
 * The agent (CTI) gRPC service: a THIN adapter over the AgentDesk port.
 *
 * Every request is parsed with zod first; bad input is INVALID_ARGUMENT whose message (and
 * `pcc-error-field` trailer) names the proto field, e.g. `agent_id: must not be empty`, and
 * the port is not called. DomainErrors from the port are translated in one place
 * (shared/grpc/status.ts). Messages are mapped in ./proto-mapping.ts.
 *
 * Events: the stream subscribes on the port, sends the agent's current state first, then every
 * desk event until the client cancels (which unsubscribes) or the server drains. A client that
 * stops reading is cut off with RESOURCE_EXHAUSTED instead of buffering without bound.
 *
 * Authentication (docs/architecture.md §4.3 "Desk authentication"): every call but SignIn
 * needs a caller (./desk-auth.ts: a session token or a verified agent certificate), found
 * BEFORE the request is parsed, so an anonymous call learns nothing and changes nothing. The
 * agent RPCs then act only for the caller's own agent, the supervisor RPCs only on the
 * caller's teams (./desk-access.ts, the one rule). Refusals are logged by ./desk-auth.ts.
 *
 * Stream slots belong to their agent: only the agent itself opens its Events streams, and
 * when it opens one more than `maxStreamsPerAgent`, its OLDEST stream is closed
 * (RESOURCE_EXHAUSTED, "replaced by a newer stream"), so a desk that reconnects always gets
 * in. A stream opened with a session ends when that session does (sign-out, forced logout,
 * expiry: the auth layer sweeps), and while it is open its session is not idle.
 *
 * Leases: with a `leases` keeper (the site's DeskLeases) every login, logout, Events stream
 * opened (once its first state is sent) and ended, and Heartbeat is reported to it, so a desk
 * that vanishes loses its agent's lease (./lease.ts). Heartbeat answers with the agent and the
 * lease's length.
 *
 *   const svc = createAgentService({ desk });
 *   const server = new GrpcServer({ host: '127.0.0.1', port: 0, services: [svc] });
 *   const port = await server.start();
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { z } from 'zod';
import {
  AgentDeskService,
  DeskRole,
  type AgentDeskServer,
  type AgentResponse,
  type DeskEvent as PbDeskEvent,
  type EventsRequest,
} from '../../proto/gen/agent.js';
import { DomainError } from '../../shared/errors.js';
import type { ServiceRegistration } from '../../shared/grpc/server.js';
import { failStream, serverStream, unary } from '../../shared/grpc/status.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { throwInvalid } from '../../shared/validate.js';
import {
  actFor,
  setPassword as setPasswordRule,
  supervise,
  teamOf,
  type DeskPrincipal,
} from './desk-access.js';
import type { AuthCall, DeskAuth } from './desk-auth.js';
import type { AgentDesk, AgentView, DeskEvent } from './agent-desk.js';
import type { LeaseKeeper } from './lease.js';
import { agentToProto, deskEventToProto } from './proto-mapping.js';

/** Codes allowed for a field: a fixed list or a pattern. */
export type CodeRule = readonly string[] | RegExp;

export interface AgentServiceOptions {
  desk: AgentDesk;
  log?: Logger;
  /** Default: letters, digits, `.`, `_`, `-`, 1-64 characters, starting with a letter or digit. */
  agentIdPattern?: RegExp;
  /** Default: lower-case letters, digits, `_`, `-`, 1-64 characters, starting with a letter. */
  queueIdPattern?: RegExp;
  /** Allowed not-ready reason codes. Default: the pattern /^[a-z][a-z0-9-]{0,31}$/. */
  reasonCodes?: CodeRule;
  /** Allowed wrap-up codes. Default: the pattern /^[a-z][a-z0-9-]{0,31}$/. */
  wrapupCodes?: CodeRule;
  /** Open Events streams kept per agent; one more closes the agent's oldest. Default 4. */
  maxStreamsPerAgent?: number;
  /** Events buffered for a client that is not reading before it is cut off. Default 1000. */
  maxBufferedEvents?: number;
  /** Who is calling and what it may do (./desk-auth.ts); there is no desk without it. */
  auth: DeskAuth;
  /**
   * Told of each desk's signs of life (login, logout, Events streams, Heartbeat) so a desk
   * that vanishes loses its agent's lease (./lease.ts). Absent: no leases (Heartbeat answers
   * `lease_ms` 0).
   */
  leases?: LeaseKeeper;
}

export const DEFAULT_AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const DEFAULT_QUEUE_ID = /^[a-z][a-z0-9_-]{0,63}$/;
export const DEFAULT_CODE = /^[a-z][a-z0-9-]{0,31}$/;
const CALL_ID = /^[\x21-\x7e]{1,128}$/; // printable ASCII, no spaces

function idField(pattern: RegExp) {
  return z.string().min(1, 'must not be empty').regex(pattern, `must match ${pattern}`);
}

function codeField(rule: CodeRule) {
  const s = z.string().min(1, 'must not be empty');
  if (rule instanceof RegExp) return s.regex(rule, `must match ${rule}`);
  const allowed = new Set(rule);
  return s.refine((v) => allowed.has(v), `must be one of: ${[...rule].join(', ')}`);
}

const snake = (k: PropertyKey): string =>
  typeof k === 'number' ? `[${k}]` : String(k).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map(snake).join('.').replace(/\.\[/g, '[') || '(request)';
}

/** Parse a request; on failure throw one invalid-argument naming each bad proto field. */
function parse<S extends z.ZodType>(schema: S, request: unknown): z.infer<S> {
  const r = schema.safeParse(request);
  if (r.success) return r.data;
  // One problem per field (the first): `agent_id: must not be empty`, not also its pattern.
  const byField = new Map<string, string>();
  for (const i of r.error.issues) {
    const f = fieldPath(i.path);
    if (!byField.has(f)) byField.set(f, `${f}: ${i.message}`);
  }
  return throwInvalid([...byField.values()], byField.keys().next().value ?? '(request)');
}

interface OpenStream {
  agentId: string;
  /** The session it was opened with (absent: a certificate). */
  token: string | undefined;
  openedAt: number;
  close(err?: DomainError): void;
}

const ROLE_TO_PROTO = { agent: DeskRole.DESK_ROLE_AGENT, supervisor: DeskRole.DESK_ROLE_SUPERVISOR } as const;

export interface AgentServiceRegistration extends ServiceRegistration {
  definition: typeof AgentDeskService;
  implementation: AgentDeskServer;
  /** Open Events streams (all agents, or one). */
  openStreams(agentId?: string): number;
}

export function createAgentService(opts: AgentServiceOptions): AgentServiceRegistration {
  const desk = opts.desk;
  const log = opts.log ?? silentLogger;
  const maxStreams = opts.maxStreamsPerAgent ?? 4;
  const maxBuffered = opts.maxBufferedEvents ?? 1000;

  const agentId = idField(opts.agentIdPattern ?? DEFAULT_AGENT_ID);
  const callId = z
    .string()
    .min(1, 'must not be empty')
    .regex(CALL_ID, 'must be 1-128 printable characters, no spaces');
  const queueId = idField(opts.queueIdPattern ?? DEFAULT_QUEUE_ID);
  const reasonCode = codeField(opts.reasonCodes ?? DEFAULT_CODE);
  const wrapupCode = codeField(opts.wrapupCodes ?? DEFAULT_CODE);

  const agentOnly = z.object({ agentId });
  const withCall = z.object({ agentId, callId });
  const notReady = z.object({ agentId, reasonCode });
  const transfer = z.object({ agentId, callId, queueId });
  const wrapup = z.object({ agentId, callId, wrapupCode });
  // Shape only: which methods count, and the lengths, are the rule's (./pin-unlock-rule.ts),
  // the one place that decides for this service and for desks in the site's process alike.
  const unlock = z.object({
    agentId,
    callId,
    customerId: z.string().max(128, 'must be at most 128 characters'),
    // Absent reads as empty, which the rule refuses naming verification.method.
    verification: z
      .object({ method: z.string(), detail: z.string() })
      .optional()
      .transform((v) => v ?? { method: '', detail: '' }),
    reason: z.string(),
  });

  const userId = z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters');
  const signIn = z.object({ userId, password: z.string().max(1024, 'must be at most 1024 characters') });
  const force = z.object({
    agentId,
    reason: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  });
  const forceNotReady = force.extend({ reasonCode });
  const newPassword = z.object({
    userId,
    newPassword: z.string().max(1024, 'must be at most 1024 characters'),
    oldPassword: z.string().max(1024, 'must be at most 1024 characters'),
  });

  const reply = (view: AgentView): AgentResponse => ({ agent: agentToProto(view) });
  const auth = opts.auth;
  /** Who calls (refused before anything else), then the request parsed. */
  const caller = <S extends z.ZodType>(schema: S, request: unknown, call: AuthCall, method: string) => {
    const who = auth.principal(call, `AgentDesk.${method}`);
    return { who, r: parse(schema, request) as z.infer<S> };
  };
  /** An agent RPC: the caller, then the request, then the agent must be the caller's own. */
  const req = <S extends z.ZodType<{ agentId: string }>>(
    schema: S,
    request: unknown,
    call: AuthCall,
    method: string,
  ) => {
    const { who, r } = caller(schema, request, call, method);
    auth.check(call, `AgentDesk.${method}`, who, () => actFor(who, r.agentId));
    return r;
  };
  /** A supervisor's action on `agent_id`, audited (after it took effect) and logged. */
  const supervised = async <S extends z.ZodType<{ agentId: string; reason: string }>>(
    schema: S,
    request: unknown,
    call: AuthCall,
    method: 'ForceNotReady' | 'ForceLogout',
    act: (r: z.infer<S>, who: DeskPrincipal) => Promise<AgentView>,
  ): Promise<AgentResponse> => {
    const { who, r } = caller(schema, request, call, method);
    auth.check(call, `AgentDesk.${method}`, who, () => supervise(auth.roster, who, r.agentId));
    const view = await act(r, who);
    const action = method === 'ForceNotReady' ? 'force-not-ready' : 'force-logout';
    const detail = { reason: r.reason, ...('reasonCode' in r ? { reasonCode: r.reasonCode } : {}) };
    await auth.credentials.audit({ actor: who.userId, action, target: r.agentId, detail });
    log.info('desk supervisor action', { by: who.userId, action, agentId: r.agentId, ...detail });
    return reply(view);
  };
  const m = (name: string) => ({ log, method: `AgentDesk.${name}` });

  const streams = new Set<OpenStream>();
  let opened = 0;
  const leases = opts.leases;

  const implementation: AgentDeskServer = {
    signIn: unary(async (q, c) => {
      // Refused before the password is looked at: bad input is named, nothing is counted.
      const r = parse(signIn, q);
      const s = await auth.signIn(c, 'AgentDesk.SignIn', r.userId, r.password);
      return {
        sessionToken: s.token,
        role: ROLE_TO_PROTO[s.role],
        agentId: s.agentId ?? '',
        expiresAtMs: s.expiresAtMs,
      };
    }, m('SignIn')),
    signOut: unary((q, c) => {
      const who = auth.principal(c, 'AgentDesk.SignOut');
      if (who.token !== undefined) auth.signOut(who.token);
      return Promise.resolve({});
    }, m('SignOut')),
    listTeam: unary(async (q, c) => {
      const who = auth.principal(c, 'AgentDesk.ListTeam');
      const teams = auth.check(c, 'AgentDesk.ListTeam', who, () => teamOf(auth.roster, who));
      const members = [];
      for (const t of teams) {
        for (const id of t.agents) {
          members.push({
            teamId: t.id,
            agent: agentToProto(await desk.agent(id)),
            name: auth.roster.user(id)?.name ?? id,
          });
        }
      }
      return { members };
    }, m('ListTeam')),
    forceNotReady: unary(
      (q, c) =>
        supervised(forceNotReady, q, c, 'ForceNotReady', (r) => desk.setNotReady(r.agentId, r.reasonCode)),
      m('ForceNotReady'),
    ),
    forceLogout: unary(
      (q, c) =>
        supervised(force, q, c, 'ForceLogout', async (r) => {
          const view = await desk.logout(r.agentId);
          leases?.loggedOut(r.agentId);
          // Its sessions end too (their streams with them); a certificate's streams are closed here.
          auth.endUser(r.agentId);
          for (const st of [...streams]) if (st.agentId === r.agentId) st.close();
          return view;
        }),
      m('ForceLogout'),
    ),
    setPassword: unary(async (q, c) => {
      const { who, r } = caller(newPassword, q, c, 'SetPassword');
      const as = auth.check(c, 'AgentDesk.SetPassword', who, () =>
        setPasswordRule(auth.roster, who, r.userId),
      );
      // One's own needs the old one (checked and throttled like a sign-in); the old password's
      // other sessions end: a reset locks out whoever else had it.
      const ended = await auth.setPassword(
        c,
        'AgentDesk.SetPassword',
        who,
        r.userId,
        r.newPassword,
        r.oldPassword,
        as,
      );
      log.info('desk password set', { by: who.userId, userId: r.userId, as, sessionsEnded: ended });
      return {};
    }, m('SetPassword')),
    login: unary(async (r, c) => {
      const id = req(agentOnly, r, c, 'Login').agentId;
      const view = await desk.login(id);
      leases?.loggedIn(id);
      return reply(view);
    }, m('Login')),
    logout: unary(async (r, c) => {
      const id = req(agentOnly, r, c, 'Logout').agentId;
      const view = await desk.logout(id);
      leases?.loggedOut(id);
      return reply(view);
    }, m('Logout')),
    setReady: unary(
      async (r, c) => reply(await desk.setReady(req(agentOnly, r, c, 'SetReady').agentId)),
      m('SetReady'),
    ),
    setNotReady: unary(async (q, c) => {
      const r = req(notReady, q, c, 'SetNotReady');
      return reply(await desk.setNotReady(r.agentId, r.reasonCode));
    }, m('SetNotReady')),
    answer: unary(async (q, c) => {
      const r = req(withCall, q, c, 'Answer');
      return reply(await desk.answer(r.agentId, r.callId));
    }, m('Answer')),
    hangup: unary(async (q, c) => {
      const r = req(withCall, q, c, 'Hangup');
      return reply(await desk.hangup(r.agentId, r.callId));
    }, m('Hangup')),
    transfer: unary(async (q, c) => {
      const r = req(transfer, q, c, 'Transfer');
      return reply(await desk.transfer(r.agentId, r.callId, r.queueId));
    }, m('Transfer')),
    completeWrapup: unary(async (q, c) => {
      const r = req(wrapup, q, c, 'CompleteWrapup');
      return reply(await desk.completeWrapup(r.agentId, r.callId, r.wrapupCode));
    }, m('CompleteWrapup')),
    getAgent: unary(
      async (r, c) => reply(await desk.agent(req(agentOnly, r, c, 'GetAgent').agentId)),
      m('GetAgent'),
    ),
    heartbeat: unary(async (r, c) => {
      const id = req(agentOnly, r, c, 'Heartbeat').agentId;
      const view = await desk.agent(id); // an unknown agent is NOT_FOUND before any lease
      const leaseMs = leases?.heartbeat(id) ?? 0;
      return { agent: agentToProto(view), leaseMs };
    }, m('Heartbeat')),
    unlockPin: unary(async (q, c) => {
      // Who calls first: its refusals are logged by the auth layer, once.
      const who = auth.principal(c, 'AgentDesk.UnlockPin');
      let r: z.infer<typeof unlock>;
      try {
        r = parse(unlock, q);
      } catch (e) {
        // Refused before the desk saw it (the desk logs the refusals it makes itself), through
        // the per-peer refusal log: a desk looping on a bad request costs one line a window.
        if (!(e instanceof DomainError)) throw e;
        throw auth.refuse(
          c,
          'AgentDesk.UnlockPin',
          who,
          e,
          `pin unlock refused: agent ${JSON.stringify(String(q.agentId).slice(0, 64))}, call ${JSON.stringify(
            String(q.callId).slice(0, 128),
          )}, customer ${JSON.stringify(String(q.customerId).slice(0, 128))}`,
        );
      }
      auth.check(c, 'AgentDesk.UnlockPin', who, () => actFor(who, r.agentId));
      const res = await desk.unlockPin(r.agentId, {
        callId: r.callId,
        customerId: r.customerId,
        verification: r.verification,
        reason: r.reason,
      });
      return { customerId: res.customerId, wasLocked: res.wasLocked, eventId: res.eventId };
    }, m('UnlockPin')),
    events: serverStream((call) => openEvents(call), m('Events')),
  };

  // A session that ends takes the streams opened with it.
  auth.onSessionsEnded((ended) => {
    const tokens = new Set(ended.map((e) => e.token));
    for (const st of [...streams]) if (st.token !== undefined && tokens.has(st.token)) st.close();
  });

  async function openEvents(call: ServerWritableStream<EventsRequest, PbDeskEvent>): Promise<void> {
    const who = auth.principal(call, 'AgentDesk.Events');
    const id = parse(agentOnly, call.request).agentId;
    auth.check(call, 'AgentDesk.Events', who, () => actFor(who, id));

    let live = false; // false until the current state has been sent
    let closed = false;
    let leased = false; // the stream counts for the agent's lease once its state is sent
    const early: DeskEvent[] = [];
    const send = (e: DeskEvent): void => {
      if (closed) return;
      if (call.writableLength >= maxBuffered) {
        cleanup();
        failStream(
          call,
          new DomainError(
            'resource-exhausted',
            `agent_id: client is not reading its events (${maxBuffered} buffered)`,
            {
              field: 'agent_id',
            },
          ),
          log,
          'AgentDesk.Events',
        );
        return;
      }
      call.write(deskEventToProto(e));
    };

    // Subscribe BEFORE reading the state, holding back what arrives meanwhile, so no event
    // between the snapshot and the subscription is lost. Those held-back events are sent
    // after the snapshot; being in order, the last state event a client sees is the latest.
    const unsubscribe = desk.subscribe(id, (e) => (live ? send(e) : early.push(e)));
    const entry: OpenStream = {
      agentId: id,
      token: who.token,
      openedAt: ++opened,
      close: (err?: DomainError) => {
        cleanup();
        if (err) failStream(call, err, log, 'AgentDesk.Events');
        else if (!call.writableEnded && !call.cancelled) call.end();
      },
    };
    // While it is open the session is at work, not idle (never past its maximum age).
    const release = who.token === undefined ? () => undefined : auth.holdStream(who.token);
    function cleanup(): void {
      if (closed) return;
      closed = true;
      release();
      unsubscribe();
      streams.delete(entry);
      if (leased) leases?.streamClosed(id);
    }
    streams.add(entry);
    call.on('cancelled', cleanup);
    call.on('close', cleanup);
    call.on('error', cleanup);
    call.on('finish', cleanup);

    let view: AgentView;
    try {
      view = await desk.agent(id);
    } catch (e) {
      cleanup();
      throw e;
    }
    send({ type: 'state', agent: view });
    live = true;
    if (!closed) {
      leased = true;
      leases?.streamOpened(id);
    }
    for (const e of early.splice(0)) send(e);
    // Over the agent's slots: its oldest stream makes room (after this one holds the lease,
    // so the agent's lease never sees zero streams).
    const mine = [...streams].filter((st) => st.agentId === id).sort((a, b) => a.openedAt - b.openedAt);
    for (const old of mine.slice(0, Math.max(0, mine.length - maxStreams))) {
      old.close(
        new DomainError(
          'resource-exhausted',
          `agent_id: replaced by a newer event stream of agent ${id} (at most ${maxStreams})`,
          {
            field: 'agent_id',
          },
        ),
      );
    }
  }

  function countStreams(agentId?: string): number {
    let n = 0;
    for (const s of streams) if (agentId === undefined || s.agentId === agentId) n++;
    return n;
  }

  return {
    definition: AgentDeskService,
    implementation,
    /** End every open Events stream (OK status) so clients reconnect; called by GrpcServer.stop. */
    drain: () => {
      for (const s of [...streams]) s.close();
      auth.stop();
    },
    openStreams: countStreams,
  };
}
