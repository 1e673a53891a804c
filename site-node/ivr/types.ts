/**
 * The IVR runner's vocabulary: commands it asks adapters to carry out, events adapters feed
 * back, and the state it threads between steps (docs/architecture.md §3.1, §3.2). Plain data, except
 * a PIN on its way to the host, which travels as a `Secret` that serialises as `[redacted]`.
 */
import type {
  PayBillRequest,
  PinSubject,
  ReverseRequest,
  TransferRequest,
  AccountBalance,
} from '../../shared/bank-host/port.js';
import type { Secret } from '../../shared/bank-host/pin.js';
import type { CustomerProfile, Segment } from '../../shared/domain/customer.js';

export type TicketKind = 'complaint' | 'suggestion' | 'card-loss' | 'callback-request' | 'security-lock';

/** What goes with a call to the queue and on to the agent's screen pop (docs/architecture.md §4). */
export interface AttachedData {
  customerId?: string;
  segment?: Segment;
  language?: string;
  verified: boolean;
  /** Node ids the caller went through, in order. */
  ivrPath: string[];
  /** The last thing the caller was doing, e.g. 'balance', 'transfer', 'complaint', 'agent'. */
  intent: string;
  priority: number;
  ani: string;
  dnis: string;
  /** Last four digits of a card the caller keyed in, never the whole number. */
  cardLast4?: string;
}

export type BankRequest =
  | { op: 'verifyPin'; args: { subject: PinSubject; pin: Secret } }
  | { op: 'balances'; args: { customerId: string } }
  | { op: 'recentTransactions'; args: { accountId: string; limit: number } }
  | { op: 'transfer'; args: TransferRequest }
  | { op: 'reverse'; args: ReverseRequest }
  | { op: 'reportCardLoss'; args: { cardNumber: string } }
  | { op: 'payBill'; args: PayBillRequest }
  | { op: 'rates'; args: Record<string, never> };

export type BankOp = BankRequest['op'];

export type PromptVars = Record<string, string>;

export type IvrCommand =
  | { type: 'play'; promptId: string; vars?: PromptVars }
  | {
      type: 'collect-digits';
      minDigits: number;
      maxDigits: number;
      timeoutMs: number;
      /** Ends entry early; not included in the digits returned. */
      terminator?: '#';
      /** The digits are a PIN: adapters must not log, record or echo them. */
      secret?: boolean;
    }
  | ({ type: 'bank-request'; requestId: string } & BankRequest)
  | { type: 'lookup-customer'; requestId: string; by: 'card'; value: string }
  | {
      type: 'create-ticket';
      ticketId: string;
      kind: TicketKind;
      slaMinutes: number;
      data: TicketData;
      /**
       * The runner waits for its `record-result` and tells the caller only then: the sink
       * answers within a bound (or fails). Absent: nobody is told, the sink keeps it until written.
       */
      awaited?: true;
    }
  | {
      type: 'schedule-callback';
      callbackId: string;
      /** The runner waits for its `record-result` before promising the call back. */
      awaited?: true;
      phone: string;
      /** Absent: the site's default callback queue. */
      queueId?: string;
      slaMinutes: number;
      data: TicketData;
    }
  | { type: 'transfer-to-queue'; queueId: string; priority: number; attached: AttachedData }
  | { type: 'hangup'; reason: string }
  /**
   * Record the call from now until the caller hangs up: the flow flagged the node entered
   * (`record: true`). `reason` says which (`node:complaint_ticket`); given once per call.
   */
  | { type: 'record-call'; reason: string }
  | { type: 'start-timer'; timerId: string; atMs: number }
  | { type: 'cancel-timer'; timerId: string };

export type TicketData = Record<string, string | number | boolean | string[]>;

export type BankErrorInfo = { kind: string; message: string };

export type IvrEvent =
  | { type: 'call-started'; ani: string; dnis: string; customer?: CustomerProfile }
  | { type: 'digits'; digits: string }
  | { type: 'digits-timeout' }
  | { type: 'bank-result'; requestId: string; ok: true; value: unknown }
  | { type: 'bank-result'; requestId: string; ok: false; error: BankErrorInfo }
  | { type: 'lookup-result'; requestId: string; customer?: CustomerProfile }
  /** A ticket (`recordId` = its ticketId) or callback (its callbackId) was recorded, or not. */
  | { type: 'record-result'; recordId: string; ok: boolean }
  | { type: 'prompt-done' }
  | { type: 'caller-hung-up' }
  | { type: 'timer-fired'; timerId: string };

/** The customer as far as the IVR needs it; copied from the directory's profile. */
export interface IvrCustomer {
  customerId: string;
  segment: Segment;
  language: string;
  cards: string[];
}

/** What a node is waiting for. */
export type Waiting =
  | { on: 'nothing' }
  | { on: 'digits'; purpose: string }
  | { on: 'bank'; requestId: string; op: BankOp; purpose: string; timerId: string }
  | { on: 'lookup'; requestId: string }
  /** A ticket or callback the caller will be told about, until it is recorded (or not). */
  | { on: 'record'; recordId: string; purpose: 'ticket' | 'callback' | 'transfer-callback' };

/** Scratch data of the node in progress (cleared on entering a node). */
export interface Work {
  accounts?: Pick<AccountBalance, 'accountId' | 'type' | 'currency' | 'balanceMinor'>[];
  fromAccountId?: string;
  toAccountId?: string;
  amountMinor?: number;
  payee?: string;
  billRef?: string;
  idempotencyKey?: string;
  cardNumber?: string;
  /** What the keys offered in the current choice stand for (account ids, payee kinds, cards). */
  choices?: string[];
}

/** The last question asked, replayed after an invalid entry or a timeout. */
export interface Ask {
  prompts: Array<{ promptId: string; vars?: PromptVars }>;
  collect: Extract<IvrCommand, { type: 'collect-digits' }>;
}

export type IvrStatus = 'idle' | 'running' | 'transferred' | 'ended';

export interface IvrState {
  sessionId: string;
  status: IvrStatus;
  node: string;
  waiting: Waiting;
  /** Attempts used in the current input phase (menus, collects, PIN entry). */
  attempts: number;
  work: Work;
  path: string[];
  intent: string;
  ani: string;
  dnis: string;
  customer?: IvrCustomer;
  /** A card number the caller keyed in (identify or card-loss). */
  cardNumber?: string;
  verified: boolean;
  pinFailures: number;
  /** Set after too many wrong PINs: no verify-pin node will ask again in this call. */
  locked: boolean;
  /** The lock is the host's (counted across calls), not only this call's: the caller is told how to unlock. */
  lockedAtHost?: boolean;
  lastAsk?: Ask;
  vars: Record<string, string>;
  /** Counts issued ids (requests, tickets, timers), so ids are deterministic per session. */
  seq: number;
  /** Events handled; the runner bails out to the fallback once `settings.maxEvents` is hit. */
  events: number;
  endReason?: string;
  /** Why the call is recorded (`node:<id>`), once a flagged node asked for it. */
  recording?: string;
}

export interface StepResult {
  state: IvrState;
  commands: IvrCommand[];
}
