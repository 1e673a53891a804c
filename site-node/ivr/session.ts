/**
 * The thin async driver of one IVR call: it feeds events to the pure runner (runner.ts) and
 * carries out the commands it returns, in order, against ports: the caller's channel, the
 * bank host, the customer directory, and the ticket and callback sinks. It ends with the
 * call's outcome: handed to a queue (with attached data), or ended.
 *
 * Timers (bank-request timeouts) run on the injected Scheduler, like every other timer of the
 * site: a sped-up simulation times the host out after its own simulated seconds, and a test
 * with a VirtualScheduler fires the timeout by advancing it, never by waiting. The timeout
 * itself comes from the flow's `settings.bankTimeoutMs`, overridable here.
 * Secret digits (PIN entry) are never logged; the PIN reaches the host only through
 * `Secret.reveal()` at the single call site below.
 */
import type { BankHost, PinVerification } from '../../shared/bank-host/port.js';
import type { CustomerDirectory, ReadPurpose } from '../../shared/domain/customer.js';
import { isDomainError } from '../../shared/errors.js';
import { type Logger, silentLogger } from '../../shared/log.js';
import { type Cancel, RealScheduler, type Scheduler } from '../../shared/scheduler.js';
import type { Flow } from './flow.js';
import { ivrStep, newIvrState } from './runner.js';
import type {
  AttachedData,
  IvrCommand,
  IvrEvent,
  IvrState,
  PromptVars,
  TicketData,
  TicketKind,
} from './types.js';

export interface CollectOptions {
  minDigits: number;
  maxDigits: number;
  timeoutMs: number;
  terminator?: '#';
  /** PIN entry: do not log, record or echo. */
  secret?: boolean;
}

/** The caller's side of the call: prompts out, keypresses in. */
export interface CallerChannel {
  /** Resolves when the prompt has been played (or skipped by barge-in). */
  play(promptId: string, vars?: PromptVars): Promise<void>;
  /** The keys pressed (terminator not included), `'timeout'`, or `'hung-up'` if the caller left. */
  collectDigits(opts: CollectOptions): Promise<string | 'timeout' | 'hung-up'>;
  hangup(reason: string): Promise<void>;
  /**
   * Record the call from now to its end (a node flagged `record`). Never rejects: a recording
   * that cannot start is the adapter's to log and note; the caller's IVR goes on.
   */
  startRecording?(reason: string): Promise<void>;
}

export interface TicketRequest {
  ticketId: string;
  sessionId: string;
  kind: TicketKind;
  /** The persistence layer schedules the escalation at createdAtMs + slaMinutes. */
  slaMinutes: number;
  createdAtMs: number;
  data: TicketData;
  /**
   * The caller is told about it once this resolves: resolve only once it is recorded, and
   * within a bound (reject when it could not be). Absent: nobody waits; keep it until written.
   */
  awaited?: true;
}
export interface TicketSink {
  createTicket(t: TicketRequest): Promise<void>;
}

export interface CallbackRequest {
  callbackId: string;
  sessionId: string;
  phone: string;
  /** Absent: the site's default callback queue. */
  queueId?: string;
  slaMinutes: number;
  requestedAtMs: number;
  data: TicketData;
  /** As TicketRequest's. */
  awaited?: true;
}
export interface CallbackSink {
  scheduleCallback(c: CallbackRequest): Promise<void>;
}

export type IvrOutcome =
  | { type: 'transfer'; queueId: string; priority: number; attached: AttachedData }
  | { type: 'ended'; reason: string };

export interface IvrSessionOptions {
  flow: Flow;
  sessionId: string;
  /** The call this session serves (defaults to `sessionId`); audit records of customer reads name it. */
  callId?: string;
  ani: string;
  dnis: string;
  host: BankHost;
  channel: CallerChannel;
  tickets: TicketSink;
  callbacks: CallbackSink;
  /** Recognises the caller by ANI at the start and by card number at identify nodes. */
  directory?: CustomerDirectory;
  /** The session's time and timers; defaults to the wall clock (a RealScheduler at speed 1). */
  scheduler?: Scheduler;
  /** Overrides the flow's `settings.bankTimeoutMs`. */
  bankTimeoutMs?: number;
  logger?: Logger;
  /** Observer for tests and tracing: every step's event, commands and resulting state. */
  onStep?: (step: { event: IvrEvent; commands: IvrCommand[]; state: IvrState }) => void;
}

export interface IvrSessionResult {
  outcome: IvrOutcome;
  state: IvrState;
}

export async function runIvrSession(o: IvrSessionOptions): Promise<IvrSessionResult> {
  const scheduler = o.scheduler ?? new RealScheduler();
  const log = (o.logger ?? silentLogger).child({ sessionId: o.sessionId, flow: o.flow.id });
  const flow: Flow =
    o.bankTimeoutMs === undefined
      ? o.flow
      : { ...o.flow, settings: { ...o.flow.settings, bankTimeoutMs: o.bankTimeoutMs } };

  // Why this session reads customers: the audit trail of roaming reads records it.
  const purpose = (reason: 'ivr-ani' | 'ivr-card'): ReadPurpose => ({
    reason,
    callId: o.callId ?? o.sessionId,
    ivrSessionId: o.sessionId,
  });

  let state = newIvrState(o.sessionId);
  let outcome: IvrOutcome | undefined;
  const inbox: IvrEvent[] = [];
  let wake: (() => void) | undefined;
  const timers = new Map<string, Cancel>();
  const push = (e: IvrEvent) => {
    inbox.push(e);
    const w = wake;
    wake = undefined;
    w?.();
  };

  const callHost = (cmd: Extract<IvrCommand, { type: 'bank-request' }>): Promise<unknown> => {
    const h = o.host;
    switch (cmd.op) {
      case 'verifyPin':
        return h.verifyPin(cmd.args.subject, cmd.args.pin.reveal());
      case 'balances':
        return h.balances(cmd.args.customerId);
      case 'recentTransactions':
        return h.recentTransactions(cmd.args.accountId, cmd.args.limit);
      case 'transfer':
        return h.transfer(cmd.args);
      case 'reverse':
        return h.reverse(cmd.args);
      case 'reportCardLoss':
        return h.reportCardLoss(cmd.args.cardNumber);
      case 'payBill':
        return h.payBill(cmd.args);
      case 'rates':
        return h.rates();
    }
  };

  /** Runs one command; returns false when the rest of the batch must be dropped. */
  const run = async (cmd: IvrCommand): Promise<boolean> => {
    switch (cmd.type) {
      case 'play':
        try {
          await o.channel.play(cmd.promptId, cmd.vars);
        } catch (e) {
          log.info('caller gone during play', { err: e });
          push({ type: 'caller-hung-up' });
          return false;
        }
        return true;
      case 'collect-digits': {
        const { type: _t, ...opts } = cmd;
        let r: string | 'timeout' | 'hung-up';
        try {
          r = await o.channel.collectDigits(opts);
        } catch {
          r = 'hung-up';
        }
        if (r === 'hung-up') push({ type: 'caller-hung-up' });
        else if (r === 'timeout') push({ type: 'digits-timeout' });
        else push({ type: 'digits', digits: r });
        return true;
      }
      case 'bank-request': {
        const { requestId, op } = cmd;
        log.debug('bank request', { requestId, op });
        callHost(cmd).then(
          (value) => {
            // The one line for a refusal by PIN lock (the runner only routes): who, and until when.
            if (cmd.op === 'verifyPin' && (value as PinVerification).locked === true) {
              const v = value as Extract<PinVerification, { locked: true }>;
              log.info('PIN refused: customer locked at the bank host', {
                requestId,
                subject: cmd.args.subject,
                lockedUntil: new Date(v.lockedUntilMs).toISOString(),
                lockedNow: v.lockedNow,
              });
            }
            push({ type: 'bank-result', requestId, ok: true, value });
          },
          (e: unknown) =>
            push({
              type: 'bank-result',
              requestId,
              ok: false,
              error: isDomainError(e)
                ? { kind: e.kind, message: e.message }
                : { kind: 'internal', message: 'bank host failed' },
            }),
        );
        return true;
      }
      case 'lookup-customer': {
        const { requestId, value } = cmd;
        const lookup = o.directory
          ? o.directory.byCard(value, purpose('ivr-card'))
          : Promise.resolve(undefined);
        lookup.then(
          (customer) => push({ type: 'lookup-result', requestId, ...(customer ? { customer } : {}) }),
          (e: unknown) => {
            log.warn('customer lookup failed', { err: e });
            push({ type: 'lookup-result', requestId });
          },
        );
        return true;
      }
      case 'create-ticket': {
        // Not awaited here: the runner waits (on 'record') when the caller is to be told, and a
        // caller hanging up meanwhile is still heard. The sink bounds its own wait.
        const { ticketId, kind } = cmd;
        o.tickets
          .createTicket({
            ticketId,
            sessionId: o.sessionId,
            kind,
            slaMinutes: cmd.slaMinutes,
            createdAtMs: scheduler.now(),
            data: cmd.data,
            ...(cmd.awaited ? { awaited: true as const } : {}),
          })
          .then(
            () => push({ type: 'record-result', recordId: ticketId, ok: true }),
            (e: unknown) => {
              log.error('ticket not recorded', { ticketId, kind, told: cmd.awaited === true, err: e });
              push({ type: 'record-result', recordId: ticketId, ok: false });
            },
          );
        return true;
      }
      case 'schedule-callback': {
        const { callbackId } = cmd;
        o.callbacks
          .scheduleCallback({
            callbackId,
            sessionId: o.sessionId,
            phone: cmd.phone,
            queueId: cmd.queueId,
            slaMinutes: cmd.slaMinutes,
            requestedAtMs: scheduler.now(),
            data: cmd.data,
            ...(cmd.awaited ? { awaited: true as const } : {}),
          })
          .then(
            () => push({ type: 'record-result', recordId: callbackId, ok: true }),
            (e: unknown) => {
              log.error('callback not recorded', { callbackId, told: cmd.awaited === true, err: e });
              push({ type: 'record-result', recordId: callbackId, ok: false });
            },
          );
        return true;
      }
      case 'transfer-to-queue':
        outcome = { type: 'transfer', queueId: cmd.queueId, priority: cmd.priority, attached: cmd.attached };
        return true;
      case 'hangup':
        outcome = { type: 'ended', reason: cmd.reason };
        await o.channel.hangup(cmd.reason).catch(() => {});
        return true;
      case 'record-call':
        await o.channel.startRecording?.(cmd.reason).catch((e: unknown) => {
          log.error('call recording not started', { reason: cmd.reason, err: e });
        });
        return true;
      case 'start-timer': {
        const cancel = scheduler.after(Math.max(0, cmd.atMs - scheduler.now()), () => {
          timers.delete(cmd.timerId);
          push({ type: 'timer-fired', timerId: cmd.timerId });
        });
        timers.set(cmd.timerId, cancel);
        return true;
      }
      case 'cancel-timer':
        timers.get(cmd.timerId)?.();
        timers.delete(cmd.timerId);
        return true;
    }
  };

  const feed = async (event: IvrEvent) => {
    const r = ivrStep(flow, state, event, scheduler.now());
    state = r.state;
    o.onStep?.({ event, commands: r.commands, state });
    if (event.type !== 'digits') log.debug('ivr event', { event: event.type, node: state.node });
    for (const cmd of r.commands) if (!(await run(cmd))) break;
  };

  try {
    let customer;
    try {
      customer = o.ani && o.directory ? await o.directory.byPhone(o.ani, purpose('ivr-ani')) : undefined;
    } catch (e) {
      log.warn('ANI lookup failed; continuing unidentified', { err: e });
    }
    await feed({ type: 'call-started', ani: o.ani, dnis: o.dnis, ...(customer ? { customer } : {}) });
    while (state.status === 'running') {
      if (inbox.length === 0 && state.waiting.on === 'nothing') {
        // Nothing can arrive: a runner bug. End the call rather than hold the line forever.
        log.error('ivr stalled', { node: state.node });
        outcome = { type: 'ended', reason: 'ivr-stalled' };
        await o.channel.hangup('ivr-stalled').catch(() => {});
        break;
      }
      if (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      await feed(inbox.shift()!);
    }
  } finally {
    for (const cancel of timers.values()) cancel();
  }
  return { outcome: outcome ?? { type: 'ended', reason: state.endReason ?? 'ended' }, state };
}
