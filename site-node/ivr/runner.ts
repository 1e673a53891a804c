/**
 * The IVR flow runner: a PURE function `ivrStep(flow, state, event, nowMs) -> {state, commands}`
 * (docs/architecture.md §3.1). No I/O, no timers, no clock: adapters carry out the commands in order and
 * feed the results back as events. The same inputs always give the same outputs, which is why
 * ids (requests, tickets, idempotency keys) are derived from the session id and a counter.
 *
 *            call-started                 transfer node / fallback
 *   idle ─────────────────▶ running ─────────────────────────────▶ transferred
 *                              │  hangup node / caller-hung-up
 *                              └─────────────────────────────────▶ ended
 *
 * Inside `running` the current node waits on one thing (`state.waiting`): caller digits,
 * a bank result (with a timeout timer), a customer lookup, or nothing (it passes through).
 * Events that do not match what is awaited (a late bank result, a stray timer) are ignored,
 * so a slow adapter can never drive the flow somewhere it was not.
 *
 * PINs: the digits entered at a verify-pin node arrive in a `digits` event, go straight into a
 * `Secret` on the verifyPin bank-request, and are never written into the returned state, the
 * ivr path, attached data, tickets or any other command field.
 *
 * Every call ends: invalid input and timeouts use up retries, and after `settings.maxEvents`
 * events the call goes to `settings.fallbackQueue`.
 */
import { Secret } from '../../shared/bank-host/pin.js';
import type {
  AccountBalance,
  CardLossResult,
  PinVerification,
  PostingResult,
  Rates,
  TransactionLine,
} from '../../shared/bank-host/port.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import { type Flow, type FlowNode, type NodeOf, defaultRequiresVerified, menuTarget } from './flow.js';
import type {
  Ask,
  AttachedData,
  BankErrorInfo,
  BankRequest,
  IvrCommand,
  IvrEvent,
  IvrState,
  PromptVars,
  StepResult,
  TicketData,
} from './types.js';

const MAX_HOPS_PER_STEP = 100;

export function newIvrState(sessionId: string): IvrState {
  return {
    sessionId,
    status: 'idle',
    node: '',
    waiting: { on: 'nothing' },
    attempts: 0,
    work: {},
    path: [],
    intent: 'unknown',
    ani: '',
    dnis: '',
    verified: false,
    pinFailures: 0,
    locked: false,
    vars: {},
    seq: 0,
    events: 0,
  };
}

type BankOutcome = { ok: true; value: unknown } | { ok: false; error: BankErrorInfo };

class Step {
  readonly cmds: IvrCommand[] = [];
  private hops = 0;
  constructor(
    readonly flow: Flow,
    readonly s: IvrState,
    readonly now: number,
  ) {}

  get node(): FlowNode {
    return this.flow.nodes[this.s.node]!;
  }
  private id(prefix: string): string {
    return `${this.s.sessionId}:${prefix}${++this.s.seq}`;
  }
  play(promptId: string, vars?: PromptVars): void {
    this.cmds.push(vars ? { type: 'play', promptId, vars } : { type: 'play', promptId });
  }

  goto(nodeId: string): void {
    if (++this.hops > MAX_HOPS_PER_STEP) return this.fallback('loop-guard');
    const node = this.flow.nodes[nodeId];
    if (!node) return this.fallback('unknown-node'); // cannot happen with a validated flow
    const s = this.s;
    s.node = nodeId;
    s.path.push(nodeId);
    s.waiting = { on: 'nothing' };
    s.attempts = 0;
    s.work = {};
    delete s.lastAsk;
    if (node.intent) s.intent = node.intent;
    // Before the node's own commands: what the caller says at this node is on the recording.
    if (node.record === true && s.recording === undefined) {
      s.recording = `node:${nodeId}`;
      this.cmds.push({ type: 'record-call', reason: s.recording });
    }
    enter(this, node);
  }

  ask(
    purpose: string,
    prompts: Ask['prompts'],
    opts: { min: number; max: number; terminator?: boolean; secret?: boolean; timeoutMs?: number },
  ): void {
    const collect: Ask['collect'] = {
      type: 'collect-digits',
      minDigits: opts.min,
      maxDigits: opts.max,
      timeoutMs: opts.timeoutMs ?? this.flow.settings.timeoutMs,
      ...(opts.terminator ? { terminator: '#' as const } : {}),
      ...(opts.secret ? { secret: true } : {}),
    };
    this.s.lastAsk = { prompts, collect };
    this.s.waiting = { on: 'digits', purpose };
    for (const p of prompts) this.play(p.promptId, p.vars);
    this.cmds.push(collect);
  }

  /** A wrong or missing entry: replay the question, or give up after the node's retries. */
  retry(why: 'invalid' | 'timeout', onExhausted: () => void, prompt?: string): void {
    const n = this.node as { retries?: number; invalidPrompt?: string; timeoutPrompt?: string };
    this.s.attempts++;
    if (this.s.attempts >= (n.retries ?? this.flow.settings.retries)) return onExhausted();
    this.play(
      prompt ??
        (why === 'invalid'
          ? (n.invalidPrompt ?? this.flow.settings.invalidPrompt)
          : (n.timeoutPrompt ?? this.flow.settings.timeoutPrompt)),
    );
    const ask = this.s.lastAsk!;
    this.s.waiting = { on: 'digits', purpose: (this.s.waiting as { purpose?: string }).purpose ?? '' };
    for (const p of ask.prompts) this.play(p.promptId, p.vars);
    this.cmds.push(ask.collect);
  }

  bank(req: BankRequest, purpose: string): void {
    const requestId = this.id('req');
    const timerId = `${requestId}:timeout`;
    this.cmds.push({ type: 'bank-request', requestId, ...req } as IvrCommand);
    this.cmds.push({ type: 'start-timer', timerId, atMs: this.now + this.flow.settings.bankTimeoutMs });
    this.s.waiting = { on: 'bank', requestId, op: req.op, purpose, timerId };
  }

  /** `awaited`: the node waits for the ticket's record-result before saying anything of it. */
  ticket(
    kind: Extract<IvrCommand, { type: 'create-ticket' }>['kind'],
    slaMinutes: number,
    data: TicketData,
    awaited = false,
  ): string {
    const ticketId = this.id('tkt');
    this.cmds.push({
      type: 'create-ticket',
      ticketId,
      kind,
      slaMinutes,
      data: { ...this.baseData(), ...data },
      ...(awaited ? { awaited: true as const } : {}),
    });
    if (awaited) this.s.waiting = { on: 'record', recordId: ticketId, purpose: 'ticket' };
    return ticketId;
  }

  baseData(): TicketData {
    const s = this.s;
    return {
      ...(s.customer ? { customerId: s.customer.customerId } : {}),
      ani: s.ani,
      verified: s.verified,
      ivrPath: [...s.path],
      intent: s.intent,
      ...(s.cardNumber ? { cardLast4: s.cardNumber.slice(-4) } : {}),
    };
  }

  attached(priority: number): AttachedData {
    const s = this.s;
    return {
      ...(s.customer
        ? { customerId: s.customer.customerId, segment: s.customer.segment, language: s.customer.language }
        : {}),
      verified: s.verified,
      ivrPath: [...s.path],
      intent: s.intent,
      priority,
      ani: s.ani,
      dnis: s.dnis,
      ...(s.cardNumber ? { cardLast4: s.cardNumber.slice(-4) } : {}),
    };
  }

  toQueue(queueId: string, priority: number): void {
    this.cancelPendingTimer();
    this.cmds.push({ type: 'transfer-to-queue', queueId, priority, attached: this.attached(priority) });
    this.s.status = 'transferred';
    this.s.waiting = { on: 'nothing' };
    this.s.endReason = `transferred:${queueId}`;
  }

  hangup(reason: string): void {
    this.cancelPendingTimer();
    this.cmds.push({ type: 'hangup', reason });
    this.s.status = 'ended';
    this.s.waiting = { on: 'nothing' };
    this.s.endReason = reason;
  }

  fallback(reason: string): void {
    this.s.endReason = reason;
    this.toQueue(this.flow.settings.fallbackQueue, 5);
    this.s.endReason = `fallback:${reason}`;
  }

  cancelPendingTimer(): void {
    if (this.s.waiting.on === 'bank')
      this.cmds.push({ type: 'cancel-timer', timerId: this.s.waiting.timerId });
  }
}

export function ivrStep(flow: Flow, state: IvrState, event: IvrEvent, nowMs: number): StepResult {
  if (state.status === 'transferred' || state.status === 'ended') return { state, commands: [] };
  if (state.status === 'idle' && event.type !== 'call-started') return { state, commands: [] };
  const s = structuredClone(state);
  const st = new Step(flow, s, nowMs);
  s.events++;

  if (event.type === 'call-started') {
    if (state.status !== 'idle') return { state, commands: [] };
    s.status = 'running';
    s.ani = event.ani;
    s.dnis = event.dnis;
    if (event.customer) s.customer = toIvrCustomer(event.customer);
    st.goto(flow.start);
    return { state: s, commands: st.cmds };
  }
  if (event.type === 'caller-hung-up') {
    st.cancelPendingTimer();
    s.status = 'ended';
    s.waiting = { on: 'nothing' };
    s.endReason = 'caller-hung-up';
    return { state: s, commands: st.cmds };
  }
  if (event.type === 'prompt-done') return { state, commands: [] };
  if (s.events > flow.settings.maxEvents) {
    st.fallback('max-events');
    return { state: s, commands: st.cmds };
  }

  const w = s.waiting;
  switch (event.type) {
    case 'digits':
    case 'digits-timeout': {
      if (w.on !== 'digits') return { state, commands: [] };
      const digits = event.type === 'digits' ? event.digits : null;
      onDigits(st, st.node, w.purpose, digits);
      break;
    }
    case 'bank-result': {
      if (w.on !== 'bank' || w.requestId !== event.requestId) return { state, commands: [] };
      st.cmds.push({ type: 'cancel-timer', timerId: w.timerId });
      s.waiting = { on: 'nothing' };
      onBank(
        st,
        st.node,
        w.purpose,
        event.ok ? { ok: true, value: event.value } : { ok: false, error: event.error },
      );
      break;
    }
    case 'timer-fired': {
      if (w.on !== 'bank' || w.timerId !== event.timerId) return { state, commands: [] };
      s.waiting = { on: 'nothing' };
      onBank(st, st.node, w.purpose, {
        ok: false,
        error: { kind: 'deadline-exceeded', message: `bank host did not answer ${w.op} in time` },
      });
      break;
    }
    case 'lookup-result': {
      if (w.on !== 'lookup' || w.requestId !== event.requestId) return { state, commands: [] };
      s.waiting = { on: 'nothing' };
      onLookup(st, st.node as NodeOf<'identify'>, event.customer);
      break;
    }
    case 'record-result': {
      // Results of tickets nobody waits for (a security lock, a card-loss follow-up) end here.
      if (w.on !== 'record' || w.recordId !== event.recordId) return { state, commands: [] };
      s.waiting = { on: 'nothing' };
      onRecord(st, st.node, w.purpose, w.recordId, event.ok);
      break;
    }
  }
  return { state: s, commands: st.cmds };
}

function toIvrCustomer(c: CustomerProfile): NonNullable<IvrState['customer']> {
  return { customerId: c.customerId, segment: c.segment, language: c.language, cards: [...c.cards] };
}

// ---------------------------------------------------------------------------------------
// Entering nodes

function enter(st: Step, node: FlowNode): void {
  const s = st.s;
  switch (node.kind) {
    case 'menu':
      return st.ask('menu', [{ promptId: node.prompt }], { min: 1, max: 1, timeoutMs: node.timeoutMs });
    case 'collect':
      return st.ask('collect', [{ promptId: node.prompt }], {
        min: node.minLength,
        max: node.maxLength,
        terminator: true,
        timeoutMs: node.timeoutMs,
      });
    case 'play': {
      const vars = node.vars
        ? Object.fromEntries(Object.entries(node.vars).map(([k, v]) => [k, s.vars[v] ?? '']))
        : undefined;
      st.play(node.prompt, vars);
      return st.goto(node.next);
    }
    case 'identify':
      if (s.customer && (node.method !== 'card' || s.cardNumber)) return st.goto(node.next);
      if (node.method === 'ani') return st.goto(node.onUnknown);
      return askCard(st, node);
    case 'verify-pin':
      if (s.verified) return st.goto(node.next);
      if (s.locked) {
        st.play(s.lockedAtHost ? 'pin.locked_host' : 'pin.locked');
        return st.goto(node.onLocked);
      }
      if (!s.customer && !s.cardNumber) return st.goto(node.onUnidentified);
      return st.ask('pin', [{ promptId: node.prompt }], {
        min: node.pinLength,
        max: node.pinLength,
        terminator: true,
        secret: true,
        timeoutMs: node.timeoutMs,
      });
    case 'bank':
      return enterBank(st, node);
    case 'ticket': {
      // The confirmation waits for the record-result (onRecord): the caller hears "recorded"
      // only once it is.
      const data: TicketData = {};
      for (const v of node.dataVars) if (s.vars[v] !== undefined) data[v] = s.vars[v];
      st.ticket(node.ticketKind, node.slaMinutes, data, true);
      return;
    }
    case 'callback': {
      if (!s.ani) {
        st.play('common.error');
        return st.goto(node.next);
      }
      const callbackId = `${s.sessionId}:cb${++s.seq}`;
      st.cmds.push({
        type: 'schedule-callback',
        callbackId,
        awaited: true,
        phone: s.ani,
        queueId: node.queue,
        slaMinutes: node.slaMinutes,
        data: st.baseData(),
      });
      s.waiting = { on: 'record', recordId: callbackId, purpose: 'callback' };
      return;
    }
    case 'transfer': {
      const rule = node.rules.find(
        (r) =>
          (r.when.segment === undefined || r.when.segment === s.customer?.segment) &&
          (r.when.intent === undefined || r.when.intent === s.intent) &&
          (r.when.verified === undefined || r.when.verified === s.verified),
      );
      st.play(node.prompt ?? 'transfer.connecting');
      return st.toQueue(rule?.queue ?? node.queue, rule?.priority ?? node.priority);
    }
    case 'hangup':
      if (node.prompt) st.play(node.prompt);
      return st.hangup(node.reason);
  }
}

function askCard(st: Step, node: NodeOf<'identify'>): void {
  st.ask('card', [{ promptId: node.cardPrompt }], {
    min: 0, // '#' alone skips
    max: node.cardMaxLength,
    terminator: true,
    timeoutMs: node.timeoutMs,
  });
}

function enterBank(st: Step, node: NodeOf<'bank'>): void {
  const s = st.s;
  if ((node.requiresVerified ?? defaultRequiresVerified(node.action)) && !s.verified) {
    st.play('bank.not_verified');
    return st.goto(node.onUnverified ?? node.onError);
  }
  switch (node.action) {
    case 'rates':
      return st.bank({ op: 'rates', args: {} }, 'rates');
    case 'card-loss': {
      if (s.cardNumber) {
        s.work.cardNumber = s.cardNumber;
        return askCardLossConfirm(st);
      }
      const cards = s.customer?.cards ?? [];
      if (cards.length === 1) {
        s.work.cardNumber = cards[0]!;
        return askCardLossConfirm(st);
      }
      if (cards.length > 1) {
        s.work.choices = cards.slice(0, 9);
        return st.ask(
          'choose-card',
          s.work.choices.map((c, i) => ({
            promptId: 'cardloss.choose_card',
            vars: { key: String(i + 1), last4: c.slice(-4) },
          })),
          { min: 1, max: 1, timeoutMs: node.timeoutMs },
        );
      }
      return st.ask('card-entry', [{ promptId: 'cardloss.enter_card' }], {
        min: 12,
        max: 19,
        terminator: true,
        timeoutMs: node.timeoutMs,
      });
    }
    default:
      if (!s.customer) {
        st.play('bank.not_verified');
        return st.goto(node.onUnverified ?? node.onError);
      }
      return st.bank({ op: 'balances', args: { customerId: s.customer.customerId } }, 'accounts');
  }
}

// ---------------------------------------------------------------------------------------
// Caller input

function onDigits(st: Step, node: FlowNode, purpose: string, digits: string | null): void {
  const s = st.s;
  switch (node.kind) {
    case 'menu': {
      if (digits === null) return st.retry('timeout', () => st.goto(node.onMaxRetries));
      const opt = node.options[digits];
      if (!opt || digits.length !== 1) return st.retry('invalid', () => st.goto(node.onMaxRetries));
      const t = menuTarget(opt);
      if (t.intent) s.intent = t.intent;
      return st.goto(t.next);
    }
    case 'collect': {
      if (digits === null) return st.retry('timeout', () => st.goto(node.onMaxRetries));
      if (!/^[0-9*]+$/.test(digits) || digits.length < node.minLength || digits.length > node.maxLength) {
        return st.retry('invalid', () => st.goto(node.onMaxRetries));
      }
      s.vars[node.into] = digits;
      return st.goto(node.next);
    }
    case 'identify': {
      if (digits === null) return st.retry('timeout', () => st.goto(node.onUnknown));
      if (digits === '') return st.goto(node.onUnknown); // '#' alone: the caller skips identification
      if (!/^\d+$/.test(digits) || digits.length < node.cardMinLength || digits.length > node.cardMaxLength) {
        return st.retry('invalid', () => st.goto(node.onUnknown));
      }
      const requestId = `${s.sessionId}:lookup${++s.seq}`;
      s.work.cardNumber = digits;
      s.waiting = { on: 'lookup', requestId };
      st.cmds.push({ type: 'lookup-customer', requestId, by: 'card', value: digits });
      return;
    }
    case 'verify-pin': {
      if (digits === null) return st.retry('timeout', () => st.goto(node.onUnidentified));
      if (!new RegExp(`^\\d{${node.pinLength}}$`).test(digits)) return pinRefused(st, node);
      const subject = s.cardNumber ? { cardNumber: s.cardNumber } : { customerId: s.customer!.customerId };
      // The digits go into a Secret on the command and nowhere else.
      return st.bank({ op: 'verifyPin', args: { subject, pin: new Secret(digits) } }, 'verify');
    }
    case 'bank':
      return onBankDigits(st, node, purpose, digits);
    default:
      return;
  }
}

/**
 * The host refused because the customer is locked (wrong PINs counted across calls): asking
 * again is pointless, even the right PIN is refused, so the caller hears that the PIN is locked
 * and that an agent can unlock it after checking who they are, and leaves through onLocked.
 * The ticket is opened only by the call whose wrong PIN started the lock, so each lock is
 * recorded once here (and once at the host); a call that finds the lock already there adds none.
 */
function pinLockedAtHost(
  st: Step,
  node: NodeOf<'verify-pin'>,
  lockedUntilMs: number,
  lockedNow: boolean,
): void {
  const s = st.s;
  s.locked = true;
  s.lockedAtHost = true;
  if (lockedNow) {
    s.pinFailures++;
    st.ticket('security-lock', node.lockSlaMinutes, {
      reason: 'pin-locked-at-host',
      attempts: s.pinFailures,
      lockedUntilMs,
    });
  }
  st.play('pin.locked_host');
  return st.goto(node.onLocked);
}

function pinRefused(st: Step, node: NodeOf<'verify-pin'>): void {
  const s = st.s;
  s.pinFailures++;
  if (s.pinFailures >= node.maxAttempts) {
    s.locked = true;
    st.ticket('security-lock', node.lockSlaMinutes, {
      reason: 'too-many-wrong-pins',
      attempts: s.pinFailures,
    });
    st.play('pin.locked');
    return st.goto(node.onLocked);
  }
  st.play(node.wrongPrompt);
  const ask = s.lastAsk!;
  s.waiting = { on: 'digits', purpose: 'pin' };
  for (const p of ask.prompts) st.play(p.promptId, p.vars);
  st.cmds.push(ask.collect);
}

/**
 * A ticket or callback the caller is about to be told about was recorded (`ok`), or the store
 * could not take it in time. Recorded: the confirmation, then on. Not recorded: an apology and
 * the node's onError, or an agent (the flow's fallback queue) when it has none; a caller whose
 * transfer is in doubt hears that it is unconfirmed and goes where an unreachable caller goes.
 */
function onRecord(
  st: Step,
  node: FlowNode,
  purpose: 'ticket' | 'callback' | 'transfer-callback',
  recordId: string,
  ok: boolean,
): void {
  const s = st.s;
  if (purpose === 'transfer-callback' && node.kind === 'bank') {
    if (ok) st.play('transfer.uncertain');
    else {
      s.intent = 'transfer-outcome-unknown';
      st.play('transfer.unconfirmed');
    }
    return st.goto(node.onError);
  }
  if (node.kind !== 'ticket' && node.kind !== 'callback') return; // cannot happen: the node waits
  if (ok) {
    if (node.kind === 'ticket') st.play(node.prompt ?? 'ticket.created', { ref: recordId });
    else st.play(node.prompt ?? 'callback.scheduled', { minutes: String(node.slaMinutes) });
    return st.goto(node.next);
  }
  st.play(node.kind === 'ticket' ? 'ticket.not_recorded' : 'callback.not_scheduled');
  if (node.onError) return st.goto(node.onError);
  return st.fallback(`${purpose}-not-recorded`);
}

function parseAmount(digits: string): number | undefined {
  const m = /^(\d{1,9})(?:\*(\d{1,2}))?$/.exec(digits);
  if (!m) return undefined;
  const minor = Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
  return minor > 0 ? minor : undefined;
}

export function formatMinor(minor: number): string {
  const sign = minor < 0 ? '-' : '';
  const a = Math.abs(minor);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

function accountVars(
  a: { accountId: string; type: string; currency: string; balanceMinor: number },
  key?: number,
): PromptVars {
  return {
    ...(key !== undefined ? { key: String(key) } : {}),
    type: a.type,
    last4: a.accountId.slice(-4),
    balance: formatMinor(a.balanceMinor),
    currency: a.currency,
  };
}

function offerAccounts(st: Step, purpose: string, header: string, ids: string[]): void {
  const node = st.node as NodeOf<'bank'>;
  st.s.work.choices = ids.slice(0, 9);
  const accts = st.s.work.accounts ?? [];
  st.ask(
    purpose,
    [
      { promptId: header },
      ...st.s.work.choices.map((id, i) => ({
        promptId: 'bank.choose_account_item',
        vars: accountVars(
          accts.find((a) => a.accountId === id)!,
          i + 1,
        ),
      })),
    ],
    { min: 1, max: 1, timeoutMs: node.timeoutMs },
  );
}

function choice(st: Step, digits: string): string | undefined {
  const i = Number(digits);
  return /^[1-9]$/.test(digits) ? st.s.work.choices?.[i - 1] : undefined;
}

function giveUp(st: Step, node: NodeOf<'bank'>): () => void {
  return () => {
    st.play('bank.cancelled');
    st.goto(node.onError);
  };
}

function onBankDigits(st: Step, node: NodeOf<'bank'>, purpose: string, digits: string | null): void {
  const s = st.s;
  const w = s.work;
  if (digits === null) return st.retry('timeout', giveUp(st, node));
  const bad = (prompt?: string) => st.retry('invalid', giveUp(st, node), prompt);
  const acct = (id: string | undefined) => w.accounts?.find((a) => a.accountId === id);
  switch (purpose) {
    case 'from': {
      const id = choice(st, digits);
      if (!id) return bad();
      w.fromAccountId = id;
      s.attempts = 0;
      if (node.action === 'bill-payment') return askConfirm(st, node);
      const from = acct(id)!;
      const targets = (w.accounts ?? [])
        .filter((a) => a.accountId !== id && a.currency === from.currency)
        .map((a) => a.accountId);
      if (targets.length === 0) return bad('transfer.need_two_accounts');
      if (targets.length === 1) {
        w.toAccountId = targets[0]!;
        return askAmount(st, node);
      }
      return offerAccounts(st, 'to', 'transfer.choose_to', targets);
    }
    case 'to': {
      const id = choice(st, digits);
      if (!id) return bad();
      w.toAccountId = id;
      s.attempts = 0;
      return askAmount(st, node);
    }
    case 'payee': {
      const p = choice(st, digits);
      if (!p) return bad();
      w.payee = p;
      s.attempts = 0;
      return st.ask('bill-ref', [{ promptId: 'bill.enter_ref' }], {
        min: 4,
        max: 20,
        terminator: true,
        timeoutMs: node.timeoutMs,
      });
    }
    case 'bill-ref': {
      if (!/^\d{4,20}$/.test(digits)) return bad();
      w.billRef = digits;
      s.attempts = 0;
      return askAmount(st, node);
    }
    case 'amount': {
      const minor = parseAmount(digits);
      if (minor === undefined) return bad();
      if (minor > node.maxAmountMinor) return bad('transfer.amount_too_large');
      w.amountMinor = minor;
      s.attempts = 0;
      if (node.action === 'bill-payment') {
        const payFrom = (w.accounts ?? [])
          .filter((a) => a.type === 'current' && a.currency === 'CNY')
          .map((a) => a.accountId);
        if (payFrom.length === 1) {
          w.fromAccountId = payFrom[0]!;
          return askConfirm(st, node);
        }
        return offerAccounts(st, 'from', 'bill.choose_from', payFrom);
      }
      return askConfirm(st, node);
    }
    case 'confirm': {
      if (digits === '2') {
        st.play('bank.cancelled');
        return st.goto(node.next);
      }
      if (digits !== '1') return bad();
      // Deterministic from the session and this step: a replayed step reuses the same key.
      w.idempotencyKey = `ivr:${s.sessionId}:${s.node}:${s.seq + 1}`;
      if (node.action === 'transfer-own-accounts') {
        const from = acct(w.fromAccountId)!;
        return st.bank(
          {
            op: 'transfer',
            args: {
              idempotencyKey: w.idempotencyKey,
              fromAccountId: w.fromAccountId!,
              toAccountId: w.toAccountId!,
              amountMinor: w.amountMinor!,
              currency: from.currency,
              memo: 'IVR own-account transfer',
            },
          },
          'move',
        );
      }
      return st.bank(
        {
          op: 'payBill',
          args: {
            idempotencyKey: w.idempotencyKey,
            fromAccountId: w.fromAccountId!,
            payee: w.payee as never,
            billRef: w.billRef!,
            amountMinor: w.amountMinor!,
          },
        },
        'move',
      );
    }
    case 'choose-card': {
      const c = choice(st, digits);
      if (!c) return bad();
      w.cardNumber = c;
      s.attempts = 0;
      return askCardLossConfirm(st);
    }
    case 'card-entry': {
      if (!/^\d{12,19}$/.test(digits)) return bad();
      w.cardNumber = digits;
      s.cardNumber ??= digits;
      s.attempts = 0;
      return askCardLossConfirm(st);
    }
    case 'card-confirm': {
      if (digits === '2') {
        st.play('bank.cancelled');
        return st.goto(node.next);
      }
      if (digits !== '1') return bad();
      return st.bank({ op: 'reportCardLoss', args: { cardNumber: w.cardNumber! } }, 'card-loss');
    }
  }
}

function askAmount(st: Step, node: NodeOf<'bank'>): void {
  const currency =
    st.s.work.accounts?.find((a) => a.accountId === st.s.work.fromAccountId)?.currency ?? 'CNY';
  st.ask(
    'amount',
    [
      {
        promptId: node.action === 'bill-payment' ? 'bill.enter_amount' : 'transfer.enter_amount',
        vars: { currency },
      },
    ],
    {
      min: 1,
      max: 12,
      terminator: true,
      timeoutMs: node.timeoutMs,
    },
  );
}

function askConfirm(st: Step, node: NodeOf<'bank'>): void {
  const w = st.s.work;
  const from = w.accounts?.find((a) => a.accountId === w.fromAccountId);
  const vars: PromptVars = {
    amount: formatMinor(w.amountMinor!),
    currency: from?.currency ?? 'CNY',
    from: (w.fromAccountId ?? '').slice(-4),
    ...(node.action === 'bill-payment'
      ? { payee: w.payee!, ref: w.billRef! }
      : { to: (w.toAccountId ?? '').slice(-4) }),
  };
  st.ask(
    'confirm',
    [{ promptId: node.action === 'bill-payment' ? 'bill.confirm' : 'transfer.confirm', vars }],
    {
      min: 1,
      max: 1,
      timeoutMs: node.timeoutMs,
    },
  );
}

function askCardLossConfirm(st: Step): void {
  const node = st.node as NodeOf<'bank'>;
  st.ask(
    'card-confirm',
    [{ promptId: 'cardloss.confirm', vars: { last4: st.s.work.cardNumber!.slice(-4) } }],
    {
      min: 1,
      max: 1,
      timeoutMs: node.timeoutMs,
    },
  );
}

// ---------------------------------------------------------------------------------------
// Customer lookup (identify by card)

function onLookup(st: Step, node: NodeOf<'identify'>, customer: CustomerProfile | undefined): void {
  const s = st.s;
  const card = s.work.cardNumber!;
  delete s.work.cardNumber;
  if (customer) {
    s.customer = toIvrCustomer(customer);
    s.cardNumber = card;
    return st.goto(node.next);
  }
  st.retry('invalid', () => st.goto(node.onUnknown), 'identify.unknown_card');
}

// ---------------------------------------------------------------------------------------
// Bank results

const isTimeout = (e: BankErrorInfo) => e.kind === 'deadline-exceeded' || e.kind === 'unavailable';

function onBank(st: Step, node: FlowNode, purpose: string, r: BankOutcome): void {
  const s = st.s;
  if (node.kind === 'verify-pin') {
    if (!r.ok) {
      st.play('bank.host_error');
      return st.goto(node.onError ?? node.onUnidentified);
    }
    const v = r.value as PinVerification | undefined;
    if (v?.verified === true) {
      s.verified = true;
      s.pinFailures = 0;
      return st.goto(node.next);
    }
    if (v?.locked === true) return pinLockedAtHost(st, node, v.lockedUntilMs, v.lockedNow);
    return pinRefused(st, node);
  }
  if (node.kind !== 'bank') return;
  const hostError = () => {
    st.play('bank.host_error');
    st.goto(node.onError);
  };
  const w = s.work;

  switch (purpose) {
    case 'rates': {
      if (!r.ok) return hostError();
      const rates = r.value as Rates;
      for (const d of rates.deposit ?? [])
        st.play('rates.deposit_item', { months: String(d.termMonths), rate: d.annualPercent.toFixed(2) });
      for (const f of rates.fx ?? [])
        st.play('rates.fx_item', { currency: f.currency, buy: f.buy.toFixed(2), sell: f.sell.toFixed(2) });
      return st.goto(node.next);
    }
    case 'accounts': {
      if (!r.ok || !Array.isArray(r.value)) return hostError();
      w.accounts = (r.value as AccountBalance[])
        .filter((a) => a.status === undefined || a.status === 'active')
        .map(({ accountId, type, currency, balanceMinor }) => ({ accountId, type, currency, balanceMinor }));
      const accts = w.accounts;
      switch (node.action) {
        case 'balance':
          if (accts.length === 0) st.play('bank.no_accounts');
          accts.forEach((a, i) => st.play('bank.balance_item', accountVars(a, i + 1)));
          return st.goto(node.next);
        case 'recent-transactions': {
          const a = accts.find((x) => x.type === 'current') ?? accts[0];
          if (!a) {
            st.play('bank.no_accounts');
            return st.goto(node.next);
          }
          w.fromAccountId = a.accountId;
          return st.bank(
            { op: 'recentTransactions', args: { accountId: a.accountId, limit: node.limit } },
            'txns',
          );
        }
        case 'transfer-own-accounts': {
          const sources = accts.filter((a) => accts.some((b) => b !== a && b.currency === a.currency));
          if (sources.length === 0) {
            st.play('transfer.need_two_accounts');
            return st.goto(node.next);
          }
          return offerAccounts(
            st,
            'from',
            'transfer.choose_from',
            sources.map((a) => a.accountId),
          );
        }
        case 'bill-payment': {
          if (!accts.some((a) => a.type === 'current' && a.currency === 'CNY')) {
            st.play('bank.no_accounts');
            return st.goto(node.next);
          }
          w.choices = node.payees;
          return st.ask(
            'payee',
            [
              { promptId: 'bill.choose_payee' },
              ...node.payees.map((p, i) => ({
                promptId: 'bill.payee_item',
                vars: { key: String(i + 1), payee: p },
              })),
            ],
            { min: 1, max: 1, timeoutMs: node.timeoutMs },
          );
        }
        default:
          return hostError();
      }
    }
    case 'txns': {
      if (!r.ok || !Array.isArray(r.value)) return hostError();
      const lines = r.value as TransactionLine[];
      if (lines.length === 0) st.play('bank.txn_none');
      for (const t of lines) {
        st.play('bank.txn_item', {
          date: new Date(t.atMs).toISOString().slice(0, 10),
          amount: formatMinor(t.amountMinor),
          currency: t.currency,
          kind: t.kind,
        });
      }
      return st.goto(node.next);
    }
    case 'move': {
      const done = node.action === 'bill-payment' ? 'bill.done' : 'transfer.done';
      if (r.ok) {
        const p = r.value as PostingResult;
        st.play(done, { amount: formatMinor(w.amountMinor!), ref: String(p.postingId ?? '').slice(-8) });
        return st.goto(node.next);
      }
      if (isTimeout(r.error)) {
        // We cannot know whether the host posted it: reverse under the same key (it voids
        // the key if nothing was posted) and tell the caller the transfer was not made.
        return st.bank(
          {
            op: 'reverse',
            args: { idempotencyKey: w.idempotencyKey!, reason: 'ivr: no answer from host in time' },
          },
          'reverse',
        );
      }
      if (r.error.kind === 'failed-precondition') {
        st.play('transfer.insufficient');
        return st.goto(node.next);
      }
      return hostError();
    }
    case 'reverse': {
      if (r.ok) {
        st.play('transfer.not_made');
        return st.goto(node.next);
      }
      // Neither the posting nor its reversal is confirmed: a person must check and call back.
      // The callback (a request with the caller's number and a time, which the site can store
      // and place) is scheduled before the caller hears the promise. A caller without a
      // number cannot be called: no promise, and the agent they go to sees why.
      if (!s.ani) {
        s.intent = 'transfer-outcome-unknown';
        st.play('transfer.unconfirmed');
        return st.goto(node.onError);
      }
      const callbackId = `${s.sessionId}:cb${++s.seq}`;
      st.cmds.push({
        type: 'schedule-callback',
        callbackId,
        awaited: true,
        phone: s.ani,
        ...(node.callbackQueue ? { queueId: node.callbackQueue } : {}),
        slaMinutes: node.slaMinutes,
        data: {
          ...st.baseData(),
          reason: 'transfer-outcome-unknown',
          idempotencyKey: w.idempotencyKey!,
          amountMinor: w.amountMinor!,
        },
      });
      // "We will call you back" (transfer.uncertain) once the callback is recorded: onRecord.
      s.waiting = { on: 'record', recordId: callbackId, purpose: 'transfer-callback' };
      return;
    }
    case 'card-loss': {
      if (r.ok) {
        const c = r.value as CardLossResult;
        st.play('cardloss.stopped', { last4: c.cardLast4 ?? w.cardNumber!.slice(-4) });
        st.ticket('card-loss', node.slaMinutes, {
          cardLast4: w.cardNumber!.slice(-4),
          stopConfirmed: true,
          stoppedAtMs: c.stoppedAtMs ?? 0,
          alreadyStopped: c.alreadyStopped ?? false,
          ...(c.customerId ? { customerId: c.customerId } : {}),
        });
        return st.goto(node.next);
      }
      if (r.error.kind === 'not-found') {
        st.play('cardloss.unknown_card');
        return st.goto(node.onError);
      }
      // The stop is not confirmed: the branch must act on the ticket at once.
      st.play('bank.host_error');
      st.ticket('card-loss', node.slaMinutes, { cardLast4: w.cardNumber!.slice(-4), stopConfirmed: false });
      return st.goto(node.onError);
    }
  }
}
