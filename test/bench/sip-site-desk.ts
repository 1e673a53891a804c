/**
 * The sip-site bench's agents at their desks (docs/operations.md §8.7): every agent of the
 * roster signs in over the site's gRPC desk, logs in and goes ready; each offer is answered at
 * the desk (the site then rings the agent's phone), and each wrap-up is completed at once with
 * `resolved`, so the agent is ready for the next call. Each desk keeps its agent's lease with
 * a Heartbeat every third of the lease. What the desks saw is counted; an agent
 * sent not-ready by the site (its phone failed, the offer lapsed) is counted by reason and put
 * back to ready, as an agent would, so one failure does not shrink the roster for the rest of
 * the run. Nothing here decides whether a call succeeded: the bench reads that from the CDRs.
 *
 * The agents are spread over several desk clients (gRPC channels), a room of desks rather than
 * one connection carrying every agent's Events stream.
 */
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import type { DeskEvent } from '../../site-node/cti/agent-desk.js';

export interface DeskCounts {
  offers: number;
  answered: number;
  answerRefused: number;
  offersWithdrawn: number;
  wrapupsCompleted: number;
  wrapupRefused: number;
  heartbeatRefused: number;
  heartbeats: number;
  /** The lease the site last said a heartbeat holds (0: none held). */
  lastLeaseMs: number | null;
  /** Times the site sent an agent not-ready, by reason (`phone-no-answer`...). */
  notReady: Record<string, number>;
}

const AGENTS_PER_CLIENT = 100;

export class BenchDesks {
  readonly counts: DeskCounts = {
    offers: 0,
    answered: 0,
    answerRefused: 0,
    offersWithdrawn: 0,
    wrapupsCompleted: 0,
    wrapupRefused: 0,
    heartbeatRefused: 0,
    heartbeats: 0,
    lastLeaseMs: null,
    notReady: {},
  };
  private readonly clients: GrpcAgentDesk[] = [];
  private readonly unsubscribe: Array<() => void> = [];
  private readonly beats = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Agents that went ready once: a not-ready before that is the login's, not the site's doing. */
  private readonly armed = new Set<string>();
  /** The last error of each kind, to say why when a count is not zero. */
  readonly lastErrors: Record<string, string> = {};

  constructor(
    private readonly address: string,
    private readonly password: string,
  ) {}

  private clientFor(i: number): GrpcAgentDesk {
    const k = Math.floor(i / AGENTS_PER_CLIENT);
    this.clients[k] ??= new GrpcAgentDesk({ address: this.address, password: () => this.password });
    return this.clients[k];
  }

  /**
   * Every agent signed in, listening and ready. Sign-ins go `parallel` at a time: each is a
   * scrypt check at the site, which runs two at once and turns a crowd away (docs/operations.md
   * §3.2); the client retries what it is told to.
   */
  async signInAll(
    agentIds: readonly string[],
    parallel: number,
    progress: (n: number) => void,
  ): Promise<void> {
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < agentIds.length) {
        const i = next++;
        const id = agentIds[i]!;
        const desk = this.clientFor(i);
        this.unsubscribe.push(desk.subscribe(id, (e) => this.onEvent(desk, id, e)));
        const view = await desk.login(id);
        if (view.phone !== 'registered')
          throw new Error(`${id} signed in with its phone ${String(view.phone)}`);
        this.beat(desk, id);
        await desk.setReady(id);
        this.armed.add(id);
        if (++done % 100 === 0) progress(done);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }

  /**
   * Keep the agent's lease as a real desk does (site-node/cti/lease.ts): an Events stream alone
   * does not, a Heartbeat within the lease does; every third of the lease, as the simulated
   * agents beat (site-node/cti/sim-agents.ts).
   */
  private beat(desk: GrpcAgentDesk, agentId: string): void {
    if (this.closed) return;
    const next = (ms: number): void => {
      if (this.closed) return;
      const t = setTimeout(() => {
        this.beats.delete(t);
        this.beat(desk, agentId);
      }, ms);
      this.beats.add(t);
    };
    desk.heartbeat(agentId).then(
      (leaseMs) => {
        this.counts.heartbeats++;
        this.counts.lastLeaseMs = leaseMs;
        next(leaseMs > 0 ? leaseMs / 3 : 10_000);
      },
      (err: unknown) => {
        this.counts.heartbeatRefused++;
        this.lastErrors['heartbeatRefused'] = err instanceof Error ? err.message : String(err);
        next(1000);
      },
    );
  }

  private onEvent(desk: GrpcAgentDesk, agentId: string, e: DeskEvent): void {
    const c = this.counts;
    if (e.type === 'offer') {
      c.offers++;
      desk.answer(agentId, e.pop.callId).then(
        () => void c.answered++,
        (err: unknown) => this.refused('answerRefused', err),
      );
    } else if (e.type === 'offer-withdrawn') {
      c.offersWithdrawn++;
    } else if (e.type === 'state') {
      const a = e.agent;
      if (a.state === 'wrap-up' && a.callId) {
        desk.completeWrapup(agentId, a.callId, 'resolved').then(
          () => void c.wrapupsCompleted++,
          (err: unknown) => this.refused('wrapupRefused', err),
        );
      } else if (a.state === 'not-ready' && this.armed.has(agentId)) {
        const why = a.reasonCode ?? 'unknown';
        c.notReady[why] = (c.notReady[why] ?? 0) + 1;
        desk.setReady(agentId).catch((err: unknown) => this.refused('answerRefused', err));
      }
    }
  }

  private refused(kind: 'answerRefused' | 'wrapupRefused', err: unknown): void {
    this.counts[kind]++;
    this.lastErrors[kind] = err instanceof Error ? err.message : String(err);
  }

  close(): void {
    this.closed = true;
    for (const t of this.beats) clearTimeout(t);
    this.beats.clear();
    for (const u of this.unsubscribe.splice(0)) u();
    for (const c of this.clients) c.close();
  }
}
