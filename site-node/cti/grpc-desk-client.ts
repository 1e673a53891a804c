/**
 * The AgentDesk port over gRPC: a client of the agent service, so anything written against
 * the port (simulated agents, a CLI desk, tests) can drive a remote site. Failures come back
 * as DomainErrors (shared/grpc/status.ts `fromGrpcError`), so callers cannot tell the remote
 * desk from a local one except by latency.
 *
 * `subscribe` opens one Events stream per call; the returned function cancels it. A stream
 * that fails (server gone, drained) is reported to `onStreamError` and not reopened: the
 * caller decides whether to resubscribe.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import { status as Status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { AgentDeskClient, type AgentResponse, type DeskEvent as PbDeskEvent } from '../../proto/gen/agent.js';
import { call, clientCredentials, clientOptions, type UnaryMethod } from '../../shared/grpc/client.js';
import { tlsTargetOptions } from '../../shared/grpc/tls.js';
import { fromGrpcError } from '../../shared/grpc/status.js';
import type { DomainError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import type { AgentDesk, AgentView, DeskEvent, DeskPinUnlock, DeskPinUnlockResult } from './agent-desk.js';
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
   * For a site whose agent desk requires mTLS (`cti.tls`): this agent's certificate, from
   * `deploy/pki.sh <dir> node agent <agent id>`. Default: plaintext.
   */
  credentials?: ChannelCredentials;
}

export class GrpcAgentDesk implements AgentDesk {
  readonly client: AgentDeskClient;
  private readonly streams = new Set<ClientReadableStream<PbDeskEvent>>();
  private readonly log: Logger;

  constructor(private readonly opts: GrpcAgentDeskOptions) {
    this.client = new AgentDeskClient(
      opts.address,
      opts.credentials ?? clientCredentials(),
      clientOptions(opts.credentials ? tlsTargetOptions(opts.address) : {}),
    );
    this.log = opts.log ?? silentLogger;
  }

  private async unary<Req>(method: UnaryMethod<Req, AgentResponse>, request: Req): Promise<AgentView> {
    const res = await call(method, request, { deadlineMs: this.opts.deadlineMs ?? 5000 });
    return agentFromProto(res.agent);
  }

  login(agentId: string): Promise<AgentView> {
    return this.unary(this.client.login.bind(this.client), { agentId });
  }
  logout(agentId: string): Promise<AgentView> {
    return this.unary(this.client.logout.bind(this.client), { agentId });
  }
  setReady(agentId: string): Promise<AgentView> {
    return this.unary(this.client.setReady.bind(this.client), { agentId });
  }
  setNotReady(agentId: string, reasonCode: string): Promise<AgentView> {
    return this.unary(this.client.setNotReady.bind(this.client), { agentId, reasonCode });
  }
  answer(agentId: string, callId: string): Promise<AgentView> {
    return this.unary(this.client.answer.bind(this.client), { agentId, callId });
  }
  hangup(agentId: string, callId: string): Promise<AgentView> {
    return this.unary(this.client.hangup.bind(this.client), { agentId, callId });
  }
  transfer(agentId: string, callId: string, queueId: string): Promise<AgentView> {
    return this.unary(this.client.transfer.bind(this.client), { agentId, callId, queueId });
  }
  completeWrapup(agentId: string, callId: string, wrapupCode: string): Promise<AgentView> {
    return this.unary(this.client.completeWrapup.bind(this.client), { agentId, callId, wrapupCode });
  }
  agent(agentId: string): Promise<AgentView> {
    return this.unary(this.client.getAgent.bind(this.client), { agentId });
  }

  async unlockPin(agentId: string, req: DeskPinUnlock): Promise<DeskPinUnlockResult> {
    const res = await call(
      this.client.unlockPin.bind(this.client),
      { agentId, ...req },
      { deadlineMs: this.opts.deadlineMs ?? 5000 },
    );
    return { customerId: res.customerId, wasLocked: res.wasLocked, eventId: res.eventId };
  }

  async heartbeat(agentId: string): Promise<number> {
    const res = await call(
      this.client.heartbeat.bind(this.client),
      { agentId },
      {
        deadlineMs: this.opts.deadlineMs ?? 5000,
      },
    );
    return Number(res.leaseMs);
  }

  subscribe(agentId: string, listener: (e: DeskEvent) => void): () => void {
    const stream = this.client.events({ agentId });
    this.streams.add(stream);
    let cancelled = false;
    stream.on('data', (msg: PbDeskEvent) => {
      let e: DeskEvent | undefined;
      try {
        e = deskEventFromProto(msg);
      } catch (err) {
        this.log.warn('undecodable desk event dropped', { agentId, err });
        return;
      }
      if (e) listener(e);
    });
    stream.on('error', (err: ServiceError) => {
      this.streams.delete(stream);
      if (cancelled && err.code === Status.CANCELLED) return;
      this.log.warn('desk event stream failed', { agentId, err });
      this.opts.onStreamError?.(agentId, fromGrpcError(err));
    });
    stream.on('end', () => this.streams.delete(stream));
    return () => {
      cancelled = true;
      this.streams.delete(stream);
      stream.cancel();
    };
  }

  /** Cancel every open stream and close the channel. */
  close(): void {
    for (const s of this.streams) s.cancel();
    this.streams.clear();
    this.client.close();
  }
}
