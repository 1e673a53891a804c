/**
 * The AgentDesk port over gRPC: a client of the agent service, so anything written against
 * the port (simulated agents, a CLI desk, tests) can drive a remote site. Failures come back
 * as DomainErrors (shared/grpc/status.ts `fromGrpcError`), so callers cannot tell the remote
 * desk from a local one except by latency.
 *
 * `subscribe` opens one Events stream per call; the returned function cancels it. A stream
 * that fails (server gone, drained) is reported to `onStreamError` and not reopened: the
 * caller decides whether to resubscribe.
 *
 * Signing in (docs/architecture.md §4.3 "Desk authentication"): with a `password` source,
 * `login(agentId)` first signs the agent in and keeps its session token, which then goes as
 * `authorization: Bearer <token>` on that agent's calls and Events streams; `logout` signs it
 * out again. A call refused UNAUTHENTICATED (the session ended: idle, too old, the site
 * restarted) signs in once more (one sign-in shared by every call that found it ended) and is
 * tried again, once. A wrong old password in `setPassword` is PERMISSION_DENIED, not a lost
 * session. With an agent certificate (`credentials`, where the site accepts them:
 * `cti.auth.agentCertificates`) no password is needed. Supervisors sign in with `signIn` and act through
 * `listTeam`, `forceNotReady`, `forceLogout` and `setPassword`.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import { Metadata, status as Status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  AgentDeskClient,
  DeskRole,
  type AgentResponse,
  type DeskEvent as PbDeskEvent,
} from '../../proto/gen/agent.js';
import { call, clientCredentials, clientOptions, type UnaryMethod } from '../../shared/grpc/client.js';
import { tlsTargetOptions } from '../../shared/grpc/tls.js';
import { fromGrpcError } from '../../shared/grpc/status.js';
import { isDomainError, type DomainError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import type { AgentDesk, AgentView, DeskEvent, DeskPinUnlock, DeskPinUnlockResult } from './agent-desk.js';
import { RETRY_AFTER_TRAILER } from './desk-auth.js';
import { agentFromProto, deskEventFromProto } from './proto-mapping.js';

export interface GrpcAgentDeskOptions {
  /** `host:port` of a site's agent service. */
  address: string;
  /** Per-call deadline. Default 5000. */
  deadlineMs?: number;
  log?: Logger;
  /** Called when an Events stream ends with an error other than our own cancel. */
  onStreamError?: (agentId: string, err: DomainError) => void;
  /**
   * TLS to the desk (`cti.tls`): `tlsClientCredentials(ca, { expectServer: { kind: 'site' } })`
   * for a desk that signs in, or `mtlsClientCredentials` with an agent's certificate
   * (`deploy/pki.sh <dir> node agent <agent id>`). Default: plaintext (`--insecure-loopback`).
   */
  credentials?: ChannelCredentials;
  /** A user's password, to sign in with at `login` (and again when a session has ended). */
  password?: (userId: string) => string | undefined;
}

/** A sign-in turned away for longer than this is not retried here. */
const MAX_SIGN_IN_WAIT_MS = 2_000;
const MAX_SIGN_IN_ATTEMPTS = 10;

/** How long the site said to wait before signing in again (desk-auth.ts RETRY_AFTER_TRAILER). */
function retryAfterMs(e: unknown): number | undefined {
  if (!isDomainError(e, 'resource-exhausted')) return undefined;
  const md = (e.cause as Partial<ServiceError> | undefined)?.metadata;
  const v = Number(md?.get(RETRY_AFTER_TRAILER)[0]);
  return Number.isFinite(v) && v >= 0 ? v : undefined;
}

export interface DeskSignIn {
  role: 'agent' | 'supervisor';
  /** Empty for a supervisor who is not an agent. */
  agentId: string;
  expiresAtMs: number;
}

export interface TeamMemberView {
  teamId: string;
  name: string;
  agent: AgentView;
}

export class GrpcAgentDesk implements AgentDesk {
  readonly client: AgentDeskClient;
  private readonly streams = new Set<ClientReadableStream<PbDeskEvent>>();
  private readonly log: Logger;
  /** Session tokens by user id. */
  private readonly tokens = new Map<string, string>();
  /** Sign-ins under way, so a stream and a login opened together share one session. */
  private readonly signingIn = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: GrpcAgentDeskOptions) {
    this.client = new AgentDeskClient(
      opts.address,
      opts.credentials ?? clientCredentials(),
      clientOptions(opts.credentials ? tlsTargetOptions(opts.address) : {}),
    );
    this.log = opts.log ?? silentLogger;
  }

  private get deadlineMs(): number {
    return this.opts.deadlineMs ?? 5000;
  }

  /** The metadata of `userId`'s calls: its session token, when it has one. */
  private metadata(userId: string): Metadata {
    const md = new Metadata();
    const token = this.tokens.get(userId);
    if (token !== undefined) md.set('authorization', `Bearer ${token}`);
    return md;
  }

  /**
   * A call as `userId`; an ended session is signed in again (with a password source), once.
   * Calls that find the same session ended share one sign-in (`ensureSession`): each signing
   * in on its own would leave all but the last session orphaned on the site.
   */
  private async as<Req, Res>(userId: string, method: UnaryMethod<Req, Res>, request: Req): Promise<Res> {
    const token = this.tokens.get(userId);
    try {
      return await call(method, request, { deadlineMs: this.deadlineMs, metadata: this.metadata(userId) });
    } catch (e) {
      const password = this.opts.password?.(userId);
      if (!isDomainError(e, 'unauthenticated') || password === undefined || token === undefined) throw e;
      // Another call may have signed in again already: only the token that failed is dropped.
      if (this.tokens.get(userId) === token) this.tokens.delete(userId);
      await this.ensureSession(userId);
      return call(method, request, { deadlineMs: this.deadlineMs, metadata: this.metadata(userId) });
    }
  }

  private async unary<Req>(
    agentId: string,
    method: UnaryMethod<Req, AgentResponse>,
    request: Req,
  ): Promise<AgentView> {
    const res = await this.as(agentId, method, request);
    return agentFromProto(res.agent);
  }

  /** With a password source and no session yet: sign `userId` in (once, however many ask). */
  private async ensureSession(userId: string): Promise<void> {
    if (this.tokens.has(userId)) return;
    const pending = this.signingIn.get(userId);
    if (pending) {
      await pending;
      return;
    }
    const password = this.opts.password?.(userId);
    if (password === undefined) return;
    const p = this.signIn(userId, password).finally(() => this.signingIn.delete(userId));
    this.signingIn.set(userId, p);
    await p;
  }

  /**
   * Sign `userId` in; its token is kept for its later calls. A sign-in the site turned away
   * for a moment (its checks busy, too many from this address at once: a room of desks
   * behind one address at the start of a shift) is tried again when the site says, a few
   * times; a lockout (seconds or more) is the caller's to see.
   */
  async signIn(userId: string, password: string): Promise<DeskSignIn> {
    let res;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await call(
          this.client.signIn.bind(this.client),
          { userId, password },
          { deadlineMs: this.deadlineMs },
        );
        break;
      } catch (e) {
        const waitMs = retryAfterMs(e);
        if (waitMs === undefined || waitMs > MAX_SIGN_IN_WAIT_MS || attempt >= MAX_SIGN_IN_ATTEMPTS) throw e;
        // Spread out, so the desks turned away together do not all come back together.
        await new Promise((r) => setTimeout(r, waitMs * (0.5 + Math.random())));
      }
    }
    this.tokens.set(userId, res.sessionToken);
    return {
      role: res.role === DeskRole.DESK_ROLE_SUPERVISOR ? 'supervisor' : 'agent',
      agentId: res.agentId,
      expiresAtMs: res.expiresAtMs,
    };
  }

  /** End `userId`'s session (nothing to do without one). */
  async signOut(userId: string): Promise<void> {
    if (!this.tokens.has(userId)) return;
    const md = this.metadata(userId);
    this.tokens.delete(userId);
    await call(this.client.signOut.bind(this.client), {}, { deadlineMs: this.deadlineMs, metadata: md });
  }

  /** Whether `userId` holds a session here. */
  signedIn(userId: string): boolean {
    return this.tokens.has(userId);
  }

  async login(agentId: string): Promise<AgentView> {
    await this.ensureSession(agentId);
    return this.unary(agentId, this.client.login.bind(this.client), { agentId });
  }
  async logout(agentId: string): Promise<AgentView> {
    const view = await this.unary(agentId, this.client.logout.bind(this.client), { agentId });
    // A session this desk opened with a password ends with the ACD login.
    if (this.opts.password?.(agentId) !== undefined) {
      await this.signOut(agentId).catch((e: unknown) =>
        this.log.warn('desk sign-out failed', { agentId, err: e }),
      );
    }
    return view;
  }
  setReady(agentId: string): Promise<AgentView> {
    return this.unary(agentId, this.client.setReady.bind(this.client), { agentId });
  }
  setNotReady(agentId: string, reasonCode: string): Promise<AgentView> {
    return this.unary(agentId, this.client.setNotReady.bind(this.client), { agentId, reasonCode });
  }
  answer(agentId: string, callId: string): Promise<AgentView> {
    return this.unary(agentId, this.client.answer.bind(this.client), { agentId, callId });
  }
  hangup(agentId: string, callId: string): Promise<AgentView> {
    return this.unary(agentId, this.client.hangup.bind(this.client), { agentId, callId });
  }
  transfer(agentId: string, callId: string, queueId: string): Promise<AgentView> {
    return this.unary(agentId, this.client.transfer.bind(this.client), { agentId, callId, queueId });
  }
  completeWrapup(agentId: string, callId: string, wrapupCode: string): Promise<AgentView> {
    return this.unary(agentId, this.client.completeWrapup.bind(this.client), { agentId, callId, wrapupCode });
  }
  agent(agentId: string): Promise<AgentView> {
    return this.unary(agentId, this.client.getAgent.bind(this.client), { agentId });
  }

  /** A supervisor (`asUser`, signed in): the agents of its teams. */
  async listTeam(asUser: string): Promise<TeamMemberView[]> {
    const res = await this.as(asUser, this.client.listTeam.bind(this.client), {});
    return res.members.map((m) => ({ teamId: m.teamId, name: m.name, agent: agentFromProto(m.agent) }));
  }
  forceNotReady(asUser: string, agentId: string, reasonCode: string, reason: string): Promise<AgentView> {
    return this.unary(asUser, this.client.forceNotReady.bind(this.client), { agentId, reasonCode, reason });
  }
  forceLogout(asUser: string, agentId: string, reason: string): Promise<AgentView> {
    return this.unary(asUser, this.client.forceLogout.bind(this.client), { agentId, reason, reasonCode: '' });
  }
  /** Set `userId`'s password as `asUser`: a supervisor of its team, or itself with `oldPassword`. */
  async setPassword(asUser: string, userId: string, newPassword: string, oldPassword = ''): Promise<void> {
    await this.as(asUser, this.client.setPassword.bind(this.client), { userId, newPassword, oldPassword });
  }

  async unlockPin(agentId: string, req: DeskPinUnlock): Promise<DeskPinUnlockResult> {
    const res = await this.as(agentId, this.client.unlockPin.bind(this.client), { agentId, ...req });
    return { customerId: res.customerId, wasLocked: res.wasLocked, eventId: res.eventId };
  }

  async heartbeat(agentId: string): Promise<number> {
    const res = await this.as(agentId, this.client.heartbeat.bind(this.client), { agentId });
    return Number(res.leaseMs);
  }

  subscribe(agentId: string, listener: (e: DeskEvent) => void): () => void {
    let cancelled = false;
    let stream: ClientReadableStream<PbDeskEvent> | undefined;
    const open = (): void => {
      if (cancelled) return;
      const s = this.client.events({ agentId }, this.metadata(agentId));
      stream = s;
      this.streams.add(s);
      s.on('data', (msg: PbDeskEvent) => {
        let e: DeskEvent | undefined;
        try {
          e = deskEventFromProto(msg);
        } catch (err) {
          this.log.warn('undecodable desk event dropped', { agentId, err });
          return;
        }
        if (e) listener(e);
      });
      s.on('error', (err: ServiceError) => {
        this.streams.delete(s);
        if (cancelled && err.code === Status.CANCELLED) return;
        this.log.warn('desk event stream failed', { agentId, err });
        this.opts.onStreamError?.(agentId, fromGrpcError(err));
      });
      s.on('end', () => this.streams.delete(s));
    };
    // A stream needs the agent's session: sign in first when this desk can and has none yet.
    if (this.tokens.has(agentId) || this.opts.password?.(agentId) === undefined) open();
    else {
      this.ensureSession(agentId).then(open, (err: unknown) => {
        if (cancelled) return;
        this.log.warn('desk sign-in for the event stream failed', { agentId, err });
        this.opts.onStreamError?.(agentId, fromGrpcError(err));
      });
    }
    return () => {
      cancelled = true;
      if (stream) {
        this.streams.delete(stream);
        stream.cancel();
      }
    };
  }

  /** Cancel every open stream and close the channel. */
  close(): void {
    for (const s of this.streams) s.cancel();
    this.streams.clear();
    this.tokens.clear();
    this.client.close();
  }
}
