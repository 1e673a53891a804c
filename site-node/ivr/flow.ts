/**
 * IVR flows are DATA (YAML or JSON), validated once at load (docs/architecture.md §3.6). Problems are
 * reported all at once in one invalid-argument DomainError, each naming the flow, the node
 * and the field: `flow phone-banking: nodes.main_menu.options["9"].next: unknown node "nope"`.
 *
 * Checks, beyond the shape of each node (zod, unknown keys refused):
 * - errors: missing/unknown start node; a transition to an unknown node; a prompt id that is
 *   not in the prompt catalogue (including the built-in prompts a node kind plays); a loop of
 *   transitions that can all happen without the caller pressing a key (on entry, on a host
 *   answer or timeout, on silence): it would go round forever, or until `maxEvents`.
 * - warnings: nodes unreachable from the start node. They are returned, not thrown, so a flow
 *   under construction still loads; `{ strict: true }` turns warnings into errors.
 *
 * Reading a flow file is load-flow.ts: it also refuses two keys of one mapping that read as
 * the same key (a menu's `0` and `'0'`), which only the YAML text still tells apart.
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { throwInvalid } from '../../shared/validate.js';
import { PAYEE_KINDS } from '../../shared/bank-host/port.js';

const nodeId = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'node ids are lower_snake_case');
const ref = z.string().min(1);
const varName = z
  .string()
  .regex(/^[a-z][a-zA-Z0-9_]{0,31}$/, 'variable names are identifiers')
  .refine(
    (v) => !/pin|password/i.test(v),
    'a PIN is never stored in a flow variable (use a verify-pin node)',
  );
const digit = z.string().regex(/^[0-9*#]$/, 'menu keys are single keys 0-9, * or #');

const inputOpts = {
  timeoutMs: z.number().int().min(500).max(60_000).optional(),
  retries: z.number().int().min(1).max(9).optional(),
  invalidPrompt: ref.optional(),
  timeoutPrompt: ref.optional(),
};
const common = {
  intent: z.string().min(1).max(40).optional(),
  /**
   * Record the call from the moment the caller enters this node until the caller hangs up
   * (docs/sip.md "Call recording"): the caller's side, and the agent's once bridged.
   */
  record: z.boolean().optional(),
};

const MenuOption = z.union([
  ref,
  z.strictObject({ next: ref, intent: z.string().min(1).max(40).optional() }),
]);

const MenuNode = z.strictObject({
  kind: z.literal('menu'),
  prompt: ref,
  options: z
    .record(digit, MenuOption)
    .refine((o) => Object.keys(o).length > 0, 'a menu needs at least one option'),
  onMaxRetries: ref,
  ...inputOpts,
  ...common,
});
const CollectNode = z
  .strictObject({
    kind: z.literal('collect'),
    prompt: ref,
    into: varName,
    minLength: z.number().int().min(1).max(32),
    maxLength: z.number().int().min(1).max(32),
    terminator: z.literal('#').default('#'),
    next: ref,
    onMaxRetries: ref,
    ...inputOpts,
    ...common,
  })
  .refine((n) => n.minLength <= n.maxLength, {
    message: 'minLength must not exceed maxLength',
    path: ['minLength'],
  });
const PlayNode = z.strictObject({
  kind: z.literal('play'),
  prompt: ref,
  /** Prompt variable -> flow variable whose value fills it. */
  vars: z.record(z.string(), varName).optional(),
  next: ref,
  ...common,
});
const IdentifyNode = z.strictObject({
  kind: z.literal('identify'),
  method: z.enum(['ani', 'card', 'ani-or-card']),
  cardPrompt: ref.default('identify.enter_card'),
  cardMinLength: z.number().int().min(12).max(19).default(16),
  cardMaxLength: z.number().int().min(12).max(19).default(19),
  next: ref,
  onUnknown: ref,
  ...inputOpts,
  ...common,
});
const VerifyPinNode = z.strictObject({
  kind: z.literal('verify-pin'),
  prompt: ref.default('pin.enter'),
  wrongPrompt: ref.default('pin.wrong'),
  maxAttempts: z.number().int().min(1).max(5).default(3),
  pinLength: z.number().int().min(4).max(12).default(6),
  next: ref,
  onLocked: ref,
  onUnidentified: ref,
  /** Where to go when the host cannot verify (error or timeout); defaults to onUnidentified. */
  onError: ref.optional(),
  lockSlaMinutes: z.number().int().min(1).max(10_080).default(60),
  ...inputOpts,
  ...common,
});
export const BANK_ACTIONS = [
  'balance',
  'recent-transactions',
  'transfer-own-accounts',
  'card-loss',
  'bill-payment',
  'rates',
] as const;
export type BankAction = (typeof BANK_ACTIONS)[number];
const BankNode = z.strictObject({
  kind: z.literal('bank'),
  action: z.enum(BANK_ACTIONS),
  /** Defaults to true for everything except `rates` (and `card-loss`, an urgent stop). */
  requiresVerified: z.boolean().optional(),
  onUnverified: ref.optional(),
  next: ref,
  onError: ref,
  limit: z.number().int().min(1).max(20).default(5),
  maxAmountMinor: z.number().int().min(1).default(5_000_000),
  payees: z
    .array(z.enum(PAYEE_KINDS))
    .min(1)
    .max(9)
    .default([...PAYEE_KINDS]),
  slaMinutes: z.number().int().min(1).max(10_080).default(240),
  /**
   * Transfers and bill payments: the queue through which an agent calls the customer back
   * when neither the posting nor its reversal is confirmed (within `slaMinutes`). Absent, the
   * site's default callback queue.
   */
  callbackQueue: z.string().min(1).optional(),
  ...inputOpts,
  ...common,
});
const TicketNode = z.strictObject({
  kind: z.literal('ticket'),
  ticketKind: z.enum(['complaint', 'suggestion', 'card-loss', 'callback-request']),
  slaMinutes: z.number().int().min(1).max(43_200),
  prompt: ref.optional(),
  /** Flow variables copied into the ticket's data. */
  dataVars: z.array(varName).default([]),
  next: ref,
  /**
   * Where the caller goes when the ticket could not be recorded (after the apology,
   * `ticket.not_recorded`). Absent: an agent, through `settings.fallbackQueue`.
   */
  onError: ref.optional(),
  ...common,
});
const CallbackNode = z.strictObject({
  kind: z.literal('callback'),
  queue: z.string().min(1),
  slaMinutes: z.number().int().min(1).max(10_080),
  prompt: ref.optional(),
  next: ref,
  /** As a ticket node's, after `callback.not_scheduled`. */
  onError: ref.optional(),
  ...common,
});
const RouteRule = z.strictObject({
  when: z.strictObject({
    segment: z.enum(['retail', 'vip', 'corporate']).optional(),
    intent: z.string().optional(),
    verified: z.boolean().optional(),
  }),
  queue: z.string().min(1),
  priority: z.number().int().min(0).max(100).optional(),
});
const TransferNode = z.strictObject({
  kind: z.literal('transfer'),
  queue: z.string().min(1),
  priority: z.number().int().min(0).max(100).default(5),
  /** First matching rule wins; none matching = `queue`/`priority`. */
  rules: z.array(RouteRule).default([]),
  prompt: ref.optional(),
  ...common,
});
const HangupNode = z.strictObject({
  kind: z.literal('hangup'),
  prompt: ref.optional(),
  reason: z.string().min(1).default('completed'),
  ...common,
});

const Node = z.discriminatedUnion('kind', [
  MenuNode,
  CollectNode,
  PlayNode,
  IdentifyNode,
  VerifyPinNode,
  BankNode,
  TicketNode,
  CallbackNode,
  TransferNode,
  HangupNode,
]);

const Settings = z.strictObject({
  bankTimeoutMs: z.number().int().min(10).max(120_000).default(8_000),
  timeoutMs: z.number().int().min(500).max(60_000).default(6_000),
  retries: z.number().int().min(1).max(9).default(3),
  invalidPrompt: ref.default('common.invalid'),
  timeoutPrompt: ref.default('common.no_input'),
  /** After this many events the call goes to `fallbackQueue` (bounds every call). */
  maxEvents: z.number().int().min(10).max(10_000).default(300),
  fallbackQueue: z.string().min(1).default('retail'),
  /**
   * Queues whose callers are recorded from the moment they join (from the IVR, an agent's
   * transfer or a queue's overflow) until they hang up (docs/sip.md "Call recording").
   */
  recordQueues: z.array(z.string().min(1)).default([]),
});

const FlowSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/),
  version: z.number().int().min(1).default(1),
  description: z.string().optional(),
  start: ref,
  settings: Settings.default(() => Settings.parse({})),
  nodes: z.record(nodeId, Node),
});

export type FlowNode = z.infer<typeof Node>;
export type NodeOf<K extends FlowNode['kind']> = Extract<FlowNode, { kind: K }>;
export type Flow = z.infer<typeof FlowSchema>;
export type FlowSettings = Flow['settings'];

/**
 * The prompt a queue's fallback `announcement:<name>` plays (site-node/acd/config.ts):
 * `acd.<name>`, its dashes as underscores, since prompt ids are lower_snake_case.
 */
export const announcementPrompt = (name: string): string => `acd.${name.replace(/-/g, '_')}`;

/** Prompt ids the runner plays by itself, by node kind / bank action. */
export const BUILTIN_PROMPTS = {
  common: ['common.invalid', 'common.no_input', 'common.error', 'common.goodbye'],
  /**
   * What the site's call handling plays outside the flow (site-node/runtime/): refusals, the
   * queue's announcement and its callback offer. Checked with every flow, so that a catalogue
   * without them fails at load, not on a real caller's line.
   */
  site: [
    'acd.all_ports_busy',
    'acd.technical_difficulty',
    'acd.leave_message',
    'acd.callback_option',
    'acd.callback_offered',
    'acd.callback_confirmed',
    'queue.position',
    'queue.expected_wait',
  ],
  identify: ['identify.unknown_card'],
  'verify-pin': ['pin.locked', 'pin.locked_host'],
  transfer: ['transfer.connecting'],
  callback: ['callback.scheduled', 'callback.not_scheduled'],
  ticket: ['ticket.created', 'ticket.not_recorded'],
  bank: ['bank.not_verified', 'bank.host_error', 'bank.cancelled', 'bank.choose_account_item'],
  balance: ['bank.balance_item', 'bank.no_accounts'],
  'recent-transactions': ['bank.txn_item', 'bank.txn_none'],
  'transfer-own-accounts': [
    'transfer.need_two_accounts',
    'transfer.choose_from',
    'transfer.choose_to',
    'transfer.enter_amount',
    'transfer.amount_too_large',
    'transfer.confirm',
    'transfer.done',
    'transfer.insufficient',
    'transfer.not_made',
    'transfer.uncertain',
    'transfer.unconfirmed',
  ],
  'card-loss': [
    'cardloss.choose_card',
    'cardloss.enter_card',
    'cardloss.confirm',
    'cardloss.stopped',
    'cardloss.unknown_card',
  ],
  'bill-payment': [
    'bill.choose_payee',
    'bill.payee_item',
    'bill.enter_ref',
    'bill.enter_amount',
    'bill.choose_from',
    'bill.confirm',
    'bill.done',
    'transfer.insufficient',
    'transfer.amount_too_large',
    'transfer.not_made',
    'transfer.uncertain',
    'transfer.unconfirmed',
  ],
  rates: ['rates.deposit_item', 'rates.fx_item'],
} as const;

export interface PromptText {
  zh: string;
  en: string;
}
export type PromptCatalogue = ReadonlyMap<string, PromptText>;

const CatalogueSchema = z.record(
  z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/, 'prompt ids are dotted lower_snake_case'),
  z.strictObject({ zh: z.string().min(1), en: z.string().min(1) }),
);

export function parsePromptCatalogue(input: unknown, what = 'prompts'): PromptCatalogue {
  const r = CatalogueSchema.safeParse(input);
  if (!r.success)
    throwInvalid(
      r.error.issues.map((i) => `${what}${fieldPath(i.path)}: ${i.message}`),
      what,
    );
  return new Map(Object.entries(r.data));
}

export function loadPromptCatalogueFile(file: string): PromptCatalogue {
  return parsePromptCatalogue(parseYaml(readFileSync(file, 'utf8')), `prompts (${file})`);
}

/** Renders a prompt's text for logs and demos: `{name}` placeholders filled from vars. */
export function renderPrompt(
  cat: PromptCatalogue,
  promptId: string,
  vars: Record<string, string> = {},
  lang: 'zh' | 'en' = 'zh',
): string {
  const p = cat.get(promptId);
  if (!p) return `[${promptId}]`;
  return p[lang].replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
}

/** `.nodes.main_menu.options["9"].next` for a path into a flow (callers drop the leading dot). */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(p))) out += `.${String(p)}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

/** Every transition out of a node, as [field path relative to the node, target]. */
export function targetsOf(node: FlowNode): Array<[string, string]> {
  switch (node.kind) {
    case 'menu':
      return [
        ...Object.entries(node.options).map(([k, o]): [string, string] =>
          typeof o === 'string' ? [`options${fieldPath([k])}`, o] : [`options${fieldPath([k])}.next`, o.next],
        ),
        ['onMaxRetries', node.onMaxRetries],
      ];
    case 'collect':
      return [
        ['next', node.next],
        ['onMaxRetries', node.onMaxRetries],
      ];
    case 'play':
      return [['next', node.next]];
    case 'ticket':
    case 'callback':
      return [['next', node.next], ...(node.onError ? [['onError', node.onError] as [string, string]] : [])];
    case 'identify':
      return [
        ['next', node.next],
        ['onUnknown', node.onUnknown],
      ];
    case 'verify-pin':
      return [
        ['next', node.next],
        ['onLocked', node.onLocked],
        ['onUnidentified', node.onUnidentified],
        ...(node.onError ? [['onError', node.onError] as [string, string]] : []),
      ];
    case 'bank':
      return [
        ['next', node.next],
        ['onError', node.onError],
        ...(node.onUnverified ? [['onUnverified', node.onUnverified] as [string, string]] : []),
      ];
    case 'transfer':
    case 'hangup':
      return [];
  }
}

/** Prompt ids a node refers to, as [field path, prompt id]; built-ins under `(built-in)`. */
export function promptsOf(node: FlowNode, settings: FlowSettings): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (field: string, id: string | undefined) => id && out.push([field, id]);
  const n = node as Record<string, unknown>;
  for (const f of ['prompt', 'invalidPrompt', 'timeoutPrompt', 'cardPrompt', 'wrongPrompt'])
    add(f, n[f] as string | undefined);
  const builtins: readonly string[] = [
    ...(['menu', 'collect', 'identify', 'verify-pin', 'bank'].includes(node.kind)
      ? [settings.invalidPrompt, settings.timeoutPrompt]
      : []),
    ...(node.kind in BUILTIN_PROMPTS ? BUILTIN_PROMPTS[node.kind as keyof typeof BUILTIN_PROMPTS] : []),
    ...(node.kind === 'bank' ? [...BUILTIN_PROMPTS.bank, ...BUILTIN_PROMPTS[node.action]] : []),
  ];
  for (const b of builtins) add(`(built-in ${node.kind === 'bank' ? node.action : node.kind} prompt)`, b);
  return out;
}

/** ACD queues a node sends callers (or callbacks) to, as [field path, queue id]. */
export function queuesOf(node: FlowNode): Array<[string, string]> {
  switch (node.kind) {
    case 'transfer':
      return [
        ['queue', node.queue],
        ...node.rules.map((r, i): [string, string] => [`rules[${i}].queue`, r.queue]),
      ];
    case 'callback':
      return [['queue', node.queue]];
    case 'bank':
      return node.callbackQueue ? [['callbackQueue', node.callbackQueue]] : [];
    default:
      return [];
  }
}

/**
 * The transitions a node can take without the caller pressing a key, as [field, target]: on
 * entering it (a play node, a locked or unidentified caller at a PIN node, an unverified or
 * unidentified caller at a bank node), on the host's answer, error or timeout, and when
 * silences use up the retries. Read off the runner (runner.ts): a loop made only of these
 * would go round with nobody pressing anything, at once or once per host call or silence.
 */
function noInputTargets(node: FlowNode): Array<[string, string]> {
  const maybe = (field: string, target: string | undefined): Array<[string, string]> =>
    target === undefined ? [] : [[field, target]];
  switch (node.kind) {
    case 'menu':
    case 'collect':
      return [['onMaxRetries', node.onMaxRetries]];
    case 'play':
      return [['next', node.next]];
    case 'ticket':
    case 'callback':
      // next: recorded; onError: not recorded (the store's answer, not the caller's keys).
      return [['next', node.next], ...maybe('onError', node.onError)];
    case 'identify':
      // next: a caller already known (ANI, or a card keyed earlier); onUnknown: ani method, or silence.
      return [
        ['next', node.next],
        ['onUnknown', node.onUnknown],
      ];
    case 'verify-pin':
      // next: already verified; onLocked: already locked; onUnidentified: nobody to verify, or
      // silence. onError follows a PIN the caller keyed.
      return [
        ['next', node.next],
        ['onLocked', node.onLocked],
        ['onUnidentified', node.onUnidentified],
      ];
    case 'bank':
      // onError: a host error or timeout, silence, or an unidentified caller with no
      // onUnverified; next: the host's answer (only card-loss always asks the caller first).
      return [
        ...(node.action === 'card-loss' ? [] : maybe('next', node.next)),
        ['onError', node.onError],
        ...maybe('onUnverified', node.onUnverified),
      ];
    case 'transfer':
    case 'hangup':
      return [];
  }
}

export interface LoadedFlow {
  flow: Flow;
  warnings: string[];
}

export interface LoadFlowOptions {
  catalogue: PromptCatalogue;
  /** Treat warnings (unreachable nodes) as errors. */
  strict?: boolean;
  /**
   * The queues the site's ACD has. Given, a transfer or callback to any other queue is an
   * error at load: otherwise the first caller routed there would find no queue.
   */
  queues?: readonly string[];
  /**
   * Other prompts the site will play, as [where they are named, prompt id]: the queues'
   * fallback announcements (load-flow.ts). Each must be in the catalogue.
   */
  sitePrompts?: ReadonlyArray<readonly [string, string]>;
}

export function parseFlow(input: unknown, opts: LoadFlowOptions): LoadedFlow {
  const rawId = (input as { id?: unknown } | null)?.id;
  const label = `flow ${typeof rawId === 'string' ? rawId : '(no id)'}`;
  const r = FlowSchema.safeParse(input);
  if (!r.success) {
    throwInvalid(
      r.error.issues.map((i) => `${label}: ${fieldPath(i.path).slice(1) || '(root)'}: ${i.message}`),
      fieldPath(r.error.issues[0]?.path ?? []).slice(1),
    );
  }
  const flow = r.data;
  const errors: Array<[string, string]> = [];
  const warnings: string[] = [];
  const nodes = flow.nodes;
  const has = (id: string) => Object.hasOwn(nodes, id);

  if (!has(flow.start)) errors.push(['start', `unknown node ${JSON.stringify(flow.start)}`]);
  for (const [id, node] of Object.entries(nodes)) {
    const at = `nodes${fieldPath([id])}`;
    for (const [field, target] of targetsOf(node)) {
      if (!has(target)) errors.push([`${at}.${field}`, `unknown node ${JSON.stringify(target)}`]);
    }
    for (const [field, prompt] of promptsOf(node, flow.settings)) {
      if (!opts.catalogue.has(prompt))
        errors.push([
          `${at}.${field}`,
          `unknown prompt ${JSON.stringify(prompt)} (not in the prompt catalogue)`,
        ]);
    }
    if (
      node.kind === 'bank' &&
      (node.requiresVerified ?? defaultRequiresVerified(node.action)) &&
      !node.onUnverified
    ) {
      errors.push([`${at}.onUnverified`, `required when the action needs a verified caller`]);
    }
    if (opts.queues) {
      for (const [field, queue] of queuesOf(node)) {
        if (!opts.queues.includes(queue))
          errors.push([
            `${at}.${field}`,
            `unknown queue ${JSON.stringify(queue)} (the site's ACD has ${opts.queues.join(', ') || 'none'})`,
          ]);
      }
    }
    if (node.kind === 'identify' && node.cardMinLength > node.cardMaxLength) {
      errors.push([`${at}.cardMinLength`, 'must not exceed cardMaxLength']);
    }
  }
  flow.settings.recordQueues.forEach((queue, i) => {
    if (flow.settings.recordQueues.indexOf(queue) !== i)
      errors.push([`settings.recordQueues[${i}]`, `queue ${JSON.stringify(queue)} is listed twice`]);
    else if (opts.queues && !opts.queues.includes(queue))
      errors.push([
        `settings.recordQueues[${i}]`,
        `unknown queue ${JSON.stringify(queue)} (the site's ACD has ${opts.queues.join(', ') || 'none'})`,
      ]);
  });
  for (const p of [flow.settings.invalidPrompt, flow.settings.timeoutPrompt, ...BUILTIN_PROMPTS.common]) {
    if (!opts.catalogue.has(p))
      errors.push(['settings', `unknown prompt ${JSON.stringify(p)} (not in the prompt catalogue)`]);
  }
  const site: Array<readonly [string, string]> = [
    ...BUILTIN_PROMPTS.site.map((p) => ['(built-in site prompt)', p] as const),
    ...(opts.sitePrompts ?? []),
  ];
  for (const [where, p] of site) {
    if (!opts.catalogue.has(p))
      errors.push([where, `unknown prompt ${JSON.stringify(p)} (not in the prompt catalogue)`]);
  }

  if (errors.length === 0) {
    // Reachability (warning).
    const seen = new Set<string>();
    const todo = [flow.start];
    while (todo.length) {
      const id = todo.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const [, t] of targetsOf(nodes[id]!)) todo.push(t);
    }
    for (const id of Object.keys(nodes)) {
      if (!seen.has(id))
        warnings.push(
          `${label}: nodes${fieldPath([id])}: unreachable from start node ${JSON.stringify(flow.start)}`,
        );
    }
    // Loops with no key pressed anywhere (error), named by the transition that closes them.
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (id: string): void => {
      state.set(id, 'open');
      stack.push(id);
      for (const [field, t] of noInputTargets(nodes[id]!)) {
        if (state.get(t) === 'open') {
          const loop = [...stack.slice(stack.indexOf(t)), t];
          errors.push([
            `nodes${fieldPath([id])}.${field}`,
            `loop without caller input: ${loop.join(' -> ')}`,
          ]);
        } else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(id, 'done');
    };
    for (const id of Object.keys(nodes)) if (!state.has(id)) visit(id);
  }
  if (opts.strict) for (const w of warnings) errors.push(['', w.slice(label.length + 2)]);
  if (errors.length > 0) {
    throwInvalid(
      errors.map(([f, m]) => `${label}: ${f ? `${f}: ` : ''}${m}`),
      errors[0]![0],
    );
  }
  return { flow, warnings };
}

/** Whether a flow records any call: a node flagged `record`, or a recorded queue. */
export function flowRecords(flow: Flow): boolean {
  return flow.settings.recordQueues.length > 0 || Object.values(flow.nodes).some((n) => n.record === true);
}

/** Where a flow asks for recordings, as field paths (for an error naming why a site needs them). */
export function recordingFields(flow: Flow): string[] {
  return [
    ...Object.entries(flow.nodes)
      .filter(([, n]) => n.record === true)
      .map(([id]) => `nodes${fieldPath([id])}.record`),
    ...(flow.settings.recordQueues.length > 0 ? ['settings.recordQueues'] : []),
  ];
}

export function defaultRequiresVerified(action: BankAction): boolean {
  return action !== 'rates' && action !== 'card-loss';
}

export function menuTarget(o: z.infer<typeof MenuOption>): { next: string; intent?: string } {
  return typeof o === 'string' ? { next: o } : o;
}
