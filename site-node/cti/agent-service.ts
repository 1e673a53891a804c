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
  type AgentDeskServer,
  type AgentResponse,
  type DeskEvent as PbDeskEvent,
  type EventsRequest,
} from '../../proto/gen/agent.js';
import { DomainError, errorMessage } from '../../shared/errors.js';
import type { ServiceRegistration } from '../../shared/grpc/server.js';
import { failStream, serverStream, unary } from '../../shared/grpc/status.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { throwInvalid } from '../../shared/validate.js';
import { peerIdentity, requireKind, type CallWithAuthContext } from '../../shared/grpc/identity.js';
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
  /** Open Events streams allowed per agent; more get RESOURCE_EXHAUSTED. Default 4. */
  maxStreamsPerAgent?: number;
  /** Events buffered for a client that is not reading before it is cut off. Default 1000. */
  maxBufferedEvents?: number;
  /**
   * Who may act for an agent. With mTLS (the site config's `cti.tls`), `agentsActForThemselves`:
   * the caller's certificate must be that agent's (`spiffe://province/agent/<agent id>`), so
   * nobody can log another agent in, answer their calls or read their screen pops. Default:
   * anyone who can reach the port (a plaintext port on a trusted segment, tests).
   */
  authorize?: (call: CallWithAuthContext, agentId: string) => void;
  /**
   * Told of each desk's signs of life (login, logout, Events streams, Heartbeat) so a desk
   * that vanishes loses its agent's lease (./lease.ts). Absent: no leases (Heartbeat answers
   * `lease_ms` 0).
   */
  leases?: LeaseKeeper;
}

/** The mTLS rule: an agent certificate acts only for its own agent id. */
export function agentsActForThemselves(call: CallWithAuthContext, agentId: string): void {
  const who = requireKind(peerIdentity(call), 'agent');
  if (who.id !== agentId) {
    throw new DomainError(
      'permission-denied',
      `agent ${JSON.stringify(who.id)} cannot act for agent ${JSON.stringify(agentId)}: an agent can only act for itself`,
      { field: 'agent_id' },
    );
  }
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
  close(): void;
}

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

  const reply = (view: AgentView): AgentResponse => ({ agent: agentToProto(view) });
  const authorize = opts.authorize ?? (() => undefined);
  /** Parse, then check the caller may act for the request's agent. */
  const req = <S extends z.ZodType<{ agentId: string }>>(
    schema: S,
    request: unknown,
    call: CallWithAuthContext,
  ) => {
    const r = parse(schema, request);
    authorize(call, r.agentId);
    return r;
  };
  const m = (name: string) => ({ log, method: `AgentDesk.${name}` });

  const streams = new Set<OpenStream>();
  const leases = opts.leases;

  const implementation: AgentDeskServer = {
    login: unary(async (r, c) => {
      const id = req(agentOnly, r, c).agentId;
      const view = await desk.login(id);
      leases?.loggedIn(id);
      return reply(view);
    }, m('Login')),
    logout: unary(async (r, c) => {
      const id = req(agentOnly, r, c).agentId;
      const view = await desk.logout(id);
      leases?.loggedOut(id);
      return reply(view);
    }, m('Logout')),
    setReady: unary(async (r, c) => reply(await desk.setReady(req(agentOnly, r, c).agentId)), m('SetReady')),
    setNotReady: unary(async (q, c) => {
      const r = req(notReady, q, c);
      return reply(await desk.setNotReady(r.agentId, r.reasonCode));
    }, m('SetNotReady')),
    answer: unary(async (q, c) => {
      const r = req(withCall, q, c);
      return reply(await desk.answer(r.agentId, r.callId));
    }, m('Answer')),
    hangup: unary(async (q, c) => {
      const r = req(withCall, q, c);
      return reply(await desk.hangup(r.agentId, r.callId));
    }, m('Hangup')),
    transfer: unary(async (q, c) => {
      const r = req(transfer, q, c);
      return reply(await desk.transfer(r.agentId, r.callId, r.queueId));
    }, m('Transfer')),
    completeWrapup: unary(async (q, c) => {
      const r = req(wrapup, q, c);
      return reply(await desk.completeWrapup(r.agentId, r.callId, r.wrapupCode));
    }, m('CompleteWrapup')),
    getAgent: unary(async (r, c) => reply(await desk.agent(req(agentOnly, r, c).agentId)), m('GetAgent')),
    heartbeat: unary(async (r, c) => {
      const id = req(agentOnly, r, c).agentId;
      const view = await desk.agent(id); // an unknown agent is NOT_FOUND before any lease
      const leaseMs = leases?.heartbeat(id) ?? 0;
      return { agent: agentToProto(view), leaseMs };
    }, m('Heartbeat')),
    unlockPin: unary(async (q, c) => {
      let r: z.infer<typeof unlock>;
      try {
        r = req(unlock, q, c);
      } catch (e) {
        // Refused before the desk saw it; the desk logs the refusals it makes itself.
        log.warn('pin unlock refused', {
          agentId: String(q.agentId).slice(0, 64),
          callId: String(q.callId).slice(0, 128),
          customerId: String(q.customerId).slice(0, 128),
          why: errorMessage(e),
        });
        throw e;
      }
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

  async function openEvents(call: ServerWritableStream<EventsRequest, PbDeskEvent>): Promise<void> {
    const id = req(agentOnly, call.request, call).agentId;
    if (countStreams(id) >= maxStreams) {
      throw new DomainError(
        'resource-exhausted',
        `agent_id: ${id} already has ${maxStreams} open event streams`,
        {
          field: 'agent_id',
        },
      );
    }

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
      close: () => {
        cleanup();
        if (!call.writableEnded && !call.cancelled) call.end();
      },
    };
    function cleanup(): void {
      if (closed) return;
      closed = true;
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
    },
    openStreams: countStreams,
  };
}
