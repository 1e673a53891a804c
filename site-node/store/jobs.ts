/**
 * Timed work on pg-boss 10, in the site's own database (schema `pgboss`): ticket escalations
 * (the seeds' timed reminders) and scheduled callbacks.
 *
 * Ordering, and why nothing is lost:
 *   1. the ticket row and its outbox events commit in one transaction (tickets-repo.ts);
 *   2. then the pg-boss job is sent, and its id recorded on the ticket.
 * If the process dies between 1 and 2 the ticket exists without a job. `sweep()` (run at
 * start by recovery.ts, and whenever the caller likes) finds every ticket that is not closed
 * and has a pending escalation or callback, and sends a job for each one whose recorded job
 * is missing, finished or failed; a job whose time has passed simply runs at once.
 *
 * Retries (docs/architecture.md §7.1): the site runs these through its durable writes, which
 * run a write again after a transient failure, also one that came after step 1 committed (the
 * store went away before step 2, or the commit's answer was lost). So step 1 is keyed: a
 * request that names itself (`idempotencyKey`: the IVR's ticket or callback id, a call's
 * fallback) finds the ticket it opened on a second try instead of opening another, and
 * step 2 (`arm`, the ensure* methods) sends a job only when the recorded one is not live.
 * A callback request without a key but with a call is keyed by its call: a call has at most
 * one open callback request of its own (the queue's key, a fallback: either ends the call),
 * and two would call twice. Keys are unique among tickets not closed, so a call whose request
 * was closed (served while it waited) may ask again.
 * `recordTicket` / `recordCallback` are step 1 alone, for a caller who must be told once the
 * ticket is committed and not wait for pg-boss; it then arms the jobs as a write of its own.
 *
 * Exactly once per level: an escalation job carries the level it escalates to. The handler
 * locks the ticket and escalates only if the ticket is at level - 1 (escalateTicketTx), so a
 * retried or duplicated job, or two sweeps racing, escalate once. After escalating it
 * schedules the next reminder (again: row first, then job; a crash in between is swept).
 *
 * Callbacks: the callback-request ticket is the durable record; the site keeps each open one
 * on its own clock (site-node/runtime/callback-flow.ts: a timer until it is due, then a place
 * in its queue) and closes it when the customer answers or the tries run out. Its pg-boss job
 * is only a second path to the same hand-over: the handler gives the due ticket to
 * `onCallbackDue`, which ignores a ticket the site already holds, and closes nothing itself.
 *
 * Time: pg-boss starts a job by the database server's clock, while due times come from
 * `ctx.clock`. In a sped-up simulation those differ, which is why the site's own timer, not
 * the job, decides when a callback is due.
 *
 * Lifecycle: start() / stop() are idempotent. stop() lets running handlers finish.
 */
import PgBoss from 'pg-boss';
import { DomainError } from '../../shared/errors.js';
import type { StoreContext } from './context.js';
import {
  callbacksAwaiting,
  escalateTicket,
  getTicket,
  openTicket,
  recordCallbackJob,
  recordEscalationJob,
  ticketsAwaitingEscalation,
  type EscalationOutcome,
  type EscalationPolicy,
  type NewTicket,
  type TicketRecord,
} from './tickets-repo.js';

export const ESCALATION_QUEUE = 'ticket-escalation';
export const CALLBACK_QUEUE = 'callback';

export interface EscalationJobData {
  ticketId: string;
  /** The level this job escalates the ticket to (1 = first escalation at SLA due). */
  level: number;
}

export interface CallbackJobData {
  ticketId: string;
}

/** What the site runtime gets to place a callback. */
export interface CallbackToPlace {
  ticketId: string;
  phone: string;
  callId: string | undefined;
  customerId: string | undefined;
  queueId: string | undefined;
  atMs: number;
  data: Record<string, unknown>;
}

export interface CallbackRequest {
  phone: string;
  atMs: number;
  callId?: string;
  customerId?: string;
  queueId?: string;
  data?: Record<string, unknown>;
  /** Names the request (see the header); default `callback:<callId>` when there is a call. */
  idempotencyKey?: string;
}

/** The callback-request ticket of a request (step 1 of the header's ordering). */
function callbackTicket(req: CallbackRequest): NewTicket {
  if (!req.phone) throw new DomainError('invalid-argument', 'phone: required', { field: 'phone' });
  const key = req.idempotencyKey ?? (req.callId !== undefined ? `callback:${req.callId}` : undefined);
  return {
    kind: 'callback-request',
    callbackAtMs: req.atMs,
    ...(req.callId !== undefined ? { callId: req.callId } : {}),
    ...(req.customerId !== undefined ? { customerId: req.customerId } : {}),
    ...(key !== undefined ? { idempotencyKey: key } : {}),
    data: { ...req.data, phone: req.phone, ...(req.queueId !== undefined ? { queueId: req.queueId } : {}) },
  };
}

export interface JobSchedulerOptions {
  ctx: StoreContext;
  /** Connection URL of the site database (pg-boss keeps its own small pool). */
  url: string;
  escalation: EscalationPolicy;
  /** Hands a due callback to the site (idempotent); throw to have pg-boss retry. Without one, callback jobs fail. */
  onCallbackDue?: (cb: CallbackToPlace) => Promise<void>;
  /** pg-boss schema; default `pgboss`. */
  schema?: string;
  /** How often workers poll; default 2 s (pg-boss minimum 0.5 s). */
  pollingIntervalSeconds?: number;
  /** Retries of a failing job; default 5, with backoff from retryDelaySeconds (default 5). */
  retryLimit?: number;
  retryDelaySeconds?: number;
  /** A job still active after this long is considered lost and retried; default 120 s. */
  expireInSeconds?: number;
}

export type ScheduleOutcome = 'present' | 'scheduled' | 'none';

const LIVE = new Set(['created', 'retry', 'active']);

export class JobScheduler {
  private readonly boss: PgBoss;
  private readonly ctx: StoreContext;
  private started = false;
  private starting: Promise<void> | undefined;

  constructor(private readonly opts: JobSchedulerOptions) {
    this.ctx = opts.ctx;
    if (!(opts.escalation.reminderIntervalMs > 0) || !(opts.escalation.maxLevel >= 1)) {
      throw new DomainError(
        'invalid-argument',
        'escalation: reminderIntervalMs must be > 0 and maxLevel >= 1',
        {
          field: 'escalation',
        },
      );
    }
    this.boss = new PgBoss({
      connectionString: opts.url,
      schema: opts.schema ?? 'pgboss',
      application_name: `site-${opts.ctx.siteId}/jobs`,
      max: 4,
      schedule: false, // no cron schedules here; every job is sent with startAfter
    });
    this.boss.on('error', (err) => this.ctx.log.error('pg-boss error', { err }));
  }

  get isStarted(): boolean {
    return this.started;
  }

  async start(): Promise<void> {
    if (this.started) return;
    if (this.starting) return this.starting;
    this.starting = (async () => {
      await this.boss.start();
      const queueOpts = {
        retryLimit: this.opts.retryLimit ?? 5,
        retryDelay: this.opts.retryDelaySeconds ?? 5,
        retryBackoff: true,
        expireInSeconds: this.opts.expireInSeconds ?? 120,
      };
      await this.boss.createQueue(ESCALATION_QUEUE, { name: ESCALATION_QUEUE, ...queueOpts });
      await this.boss.createQueue(CALLBACK_QUEUE, { name: CALLBACK_QUEUE, ...queueOpts });
      const work = { pollingIntervalSeconds: this.opts.pollingIntervalSeconds ?? 2, batchSize: 1 };
      await this.boss.work<EscalationJobData>(ESCALATION_QUEUE, work, async (jobs) => {
        for (const j of jobs) await this.handleEscalation(j.data);
      });
      await this.boss.work<CallbackJobData>(CALLBACK_QUEUE, work, async (jobs) => {
        for (const j of jobs) await this.handleCallback(j.data);
      });
      this.started = true;
    })();
    try {
      await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => {});
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: true, wait: true, close: true, timeout: 10_000 });
  }

  private requireStarted(): void {
    if (!this.started) throw new DomainError('failed-precondition', 'JobScheduler is not started');
  }

  /**
   * Open a ticket (row + events), then schedule its SLA escalation (see ordering above). Safe
   * to run again with the same `idempotencyKey`: the same ticket, at most one live job.
   */
  async openTicket(t: NewTicket): Promise<TicketRecord> {
    const ticket = await this.recordTicket(t);
    await this.arm(ticket.ticketId);
    return (await getTicket(this.ctx.pool, ticket.ticketId)) ?? ticket;
  }

  /** Step 1 alone: the ticket row and its events, committed; no job yet (call `arm`). */
  recordTicket(t: NewTicket): Promise<TicketRecord> {
    return openTicket(this.ctx, t);
  }

  /** Step 1 alone for a callback request: its ticket, committed; no job yet (call `arm`). */
  recordCallback(req: CallbackRequest): Promise<TicketRecord> {
    return openTicket(this.ctx, callbackTicket(req));
  }

  /** Step 2: make sure the ticket's escalation and callback jobs are live. Idempotent. */
  async arm(ticketId: string): Promise<void> {
    await this.ensureEscalationScheduled(ticketId);
    await this.ensureCallbackScheduled(ticketId);
  }

  /**
   * Make sure the ticket's next escalation has a live job: does nothing for closed tickets or
   * those with no pending escalation, or when the recorded job is still waiting or running.
   */
  async ensureEscalationScheduled(ticketId: string): Promise<ScheduleOutcome> {
    this.requireStarted();
    const t = await getTicket(this.ctx.pool, ticketId);
    if (!t || t.status === 'closed' || t.nextEscalationAtMs === undefined) return 'none';
    const level = t.escalationLevel + 1;
    if (t.escalationJobId) {
      const job = await this.boss.getJobById<EscalationJobData>(ESCALATION_QUEUE, t.escalationJobId);
      if (job && LIVE.has(job.state) && job.data.level === level) return 'present';
    }
    const data: EscalationJobData = { ticketId, level };
    const jobId = await this.boss.send(ESCALATION_QUEUE, data, {
      startAfter: new Date(t.nextEscalationAtMs),
    });
    if (!jobId) throw new DomainError('internal', `pg-boss refused the escalation job for ${ticketId}`);
    await recordEscalationJob(this.ctx.pool, ticketId, t.escalationLevel, jobId);
    this.ctx.log.debug('escalation scheduled', { ticketId, level, atMs: t.nextEscalationAtMs });
    return 'scheduled';
  }

  /**
   * Open a callback-request ticket (with callback.scheduled), then its callback job. Safe to
   * run again for the same request (its key, or its call): the same ticket, one live job.
   */
  async scheduleCallback(req: CallbackRequest): Promise<TicketRecord> {
    const t = await this.recordCallback(req);
    await this.arm(t.ticketId);
    return (await getTicket(this.ctx.pool, t.ticketId)) ?? t;
  }

  async ensureCallbackScheduled(ticketId: string): Promise<ScheduleOutcome> {
    this.requireStarted();
    const t = await getTicket(this.ctx.pool, ticketId);
    if (!t || t.status === 'closed' || t.kind !== 'callback-request' || t.callbackAtMs === undefined)
      return 'none';
    if (t.callbackJobId) {
      const job = await this.boss.getJobById<CallbackJobData>(CALLBACK_QUEUE, t.callbackJobId);
      if (job && LIVE.has(job.state)) return 'present';
    }
    const jobId = await this.boss.send(CALLBACK_QUEUE, { ticketId } satisfies CallbackJobData, {
      startAfter: new Date(t.callbackAtMs),
    });
    if (!jobId) throw new DomainError('internal', `pg-boss refused the callback job for ${ticketId}`);
    await recordCallbackJob(this.ctx.pool, ticketId, jobId);
    return 'scheduled';
  }

  /**
   * Re-schedule every pending escalation and callback whose job is missing, finished or
   * failed (including overdue ones: they run at once). Idempotent.
   */
  async sweep(): Promise<{ escalations: number; callbacks: number }> {
    this.requireStarted();
    let escalations = 0;
    let callbacks = 0;
    for (const t of await ticketsAwaitingEscalation(this.ctx.pool)) {
      if ((await this.ensureEscalationScheduled(t.ticketId)) === 'scheduled') escalations++;
    }
    for (const t of await callbacksAwaiting(this.ctx.pool)) {
      if ((await this.ensureCallbackScheduled(t.ticketId)) === 'scheduled') callbacks++;
    }
    if (escalations || callbacks) this.ctx.log.info('job sweep re-scheduled', { escalations, callbacks });
    return { escalations, callbacks };
  }

  /** The escalation job handler (public so tests can run it twice). Idempotent per level. */
  async handleEscalation(data: EscalationJobData): Promise<EscalationOutcome> {
    if (typeof data?.ticketId !== 'string' || !Number.isInteger(data.level) || data.level < 1) {
      throw new DomainError('invalid-argument', `bad escalation job data ${JSON.stringify(data)}`);
    }
    const { outcome } = await escalateTicket(this.ctx, data.ticketId, data.level, this.opts.escalation);
    this.ctx.log.info('ticket escalation', { ticketId: data.ticketId, level: data.level, outcome });
    // Also after 'already-escalated': a previous run may have died before scheduling the next.
    if ((outcome === 'escalated' || outcome === 'already-escalated') && this.started) {
      await this.ensureEscalationScheduled(data.ticketId);
    }
    return outcome;
  }

  /** The callback job handler: hand an open request to the site, which closes it when done. */
  async handleCallback(data: CallbackJobData): Promise<'handed-over' | 'skipped'> {
    const t = await getTicket(this.ctx.pool, data.ticketId);
    if (!t || t.status === 'closed') return 'skipped';
    if (!this.opts.onCallbackDue) throw new DomainError('failed-precondition', 'no onCallbackDue configured');
    const cb: CallbackToPlace = {
      ticketId: t.ticketId,
      phone: String(t.data.phone ?? ''),
      callId: t.callId,
      customerId: t.customerId,
      queueId: typeof t.data.queueId === 'string' ? t.data.queueId : undefined,
      atMs: t.callbackAtMs ?? t.openedAtMs,
      data: t.data,
    };
    await this.opts.onCallbackDue(cb);
    return 'handed-over';
  }
}
