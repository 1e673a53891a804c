/**
 * The overflow messages (messages.ts) to and from federation.proto's `OverflowEnvelope`
 * (docs/architecture.md §5.9). Pure: no I/O. The proto has no null, so an absent value is its
 * default on the wire: '' for `toSiteId`, a token, `policyId` / `coverEntryId`; an unset
 * `remaining_patience_ms` for an unknown patience.
 *
 * `fromEnvelope` checks what a peer sent before anything acts on it (docs/architecture.md §3):
 * every number in range, exactly one body, exactly one of policy and cover entry, a token where
 * the message needs one, and a sending site on every message but the hub's own refuse
 * (`byHub`, whose `fromSiteId` is ''). A bad envelope is answered with an error naming the field, never a
 * half-read message.
 */
import { z } from 'zod';
import type { OverflowEnvelope } from '../../proto/gen/federation.js';
import { formatIssuePath } from '../../shared/validate.js';
import type { OverflowMessage } from './messages.js';

const orNull = (s: string): string | null => (s === '' ? null : s);

export function toEnvelope(m: OverflowMessage): OverflowEnvelope {
  const head = { fromSiteId: m.fromSiteId, toSiteId: m.toSiteId ?? '', requestId: m.requestId };
  switch (m.kind) {
    case 'request': {
      const value = {
        callId: m.callId,
        queueId: m.queueId,
        priority: m.priority,
        waitedMs: m.waitedMs,
        visitedSiteIds: [...m.visitedSiteIds],
        policyId: m.policyId ?? '',
        coverEntryId: m.coverEntryId ?? '',
        hops: m.hops,
        ani: m.ani,
        dnis: m.dnis,
        customerId: m.customerId,
        customerHomeSiteId: m.customerHomeSiteId,
        ivrPath: [...m.ivrPath],
        attached: { ...m.attached },
        callAgeMs: m.callAgeMs,
      };
      return {
        ...head,
        body: {
          $case: 'request',
          value:
            m.remainingPatienceMs === null ? value : { ...value, remainingPatienceMs: m.remainingPatienceMs },
        },
      };
    }
    case 'accept':
      return { ...head, body: { $case: 'accept', value: { token: m.token, holdMs: m.holdMs } } };
    case 'refuse':
      return {
        ...head,
        body: { $case: 'refuse', value: { reason: m.reason, token: m.token ?? '', byHub: m.byHub } },
      };
    case 'commit':
      return { ...head, body: { $case: 'commit', value: { token: m.token } } };
    case 'commit-ack':
      return { ...head, body: { $case: 'commitAck', value: { token: m.token } } };
    case 'cancel':
      return { ...head, body: { $case: 'cancel', value: { token: m.token ?? '' } } };
    case 'caller-left':
      return { ...head, body: { $case: 'callerLeft', value: { token: m.token } } };
  }
}

const text = z.string().min(1, 'must not be empty');
const ms = z.number().int('must be a whole number of ms').nonnegative('must be >= 0 ms');
const token = z.object({ token: text });

const request = z
  .object({
    callId: text,
    queueId: text,
    priority: z.number().int().nonnegative(),
    waitedMs: ms,
    remainingPatienceMs: ms.optional(),
    visitedSiteIds: z.array(text).min(1, 'must name at least the origin'),
    policyId: z.string(),
    coverEntryId: z.string(),
    hops: z.number().int().nonnegative(),
    ani: z.string(),
    dnis: z.string(),
    customerId: z.string(),
    customerHomeSiteId: z.string(),
    ivrPath: z.array(z.string()),
    attached: z.record(z.string(), z.string()),
    callAgeMs: ms,
  })
  .refine((r) => (r.policyId === '') !== (r.coverEntryId === ''), {
    message: 'exactly one of policyId and coverEntryId must be set',
    path: ['policyId'],
  });

const body = z.discriminatedUnion('$case', [
  z.object({ $case: z.literal('request'), value: request }),
  z.object({ $case: z.literal('accept'), value: z.object({ token: text, holdMs: ms }) }),
  z.object({
    $case: z.literal('refuse'),
    value: z.object({ reason: text, token: z.string(), byHub: z.boolean() }),
  }),
  z.object({ $case: z.literal('commit'), value: token }),
  z.object({ $case: z.literal('commitAck'), value: token }),
  z.object({ $case: z.literal('cancel'), value: z.object({ token: z.string() }) }),
  z.object({ $case: z.literal('callerLeft'), value: token }),
]);

// The hub's own refusals (`by_hub`) are the only messages no site sends: they carry
// `fromSiteId` '' (docs/architecture.md §5.8), and every other message names its sending site.
// The relay forces `by_hub` off on a site's refuse, so the two can never be confused.
const envelope = z
  .object({
    fromSiteId: z.string(),
    toSiteId: z.string(),
    requestId: text,
    body,
  })
  .superRefine((e, ctx) => {
    const byHub = e.body.$case === 'refuse' && e.body.value.byHub;
    if (byHub && e.fromSiteId !== '') {
      ctx.addIssue({
        code: 'custom',
        path: ['fromSiteId'],
        message: `must be empty on the hub's own refuse (by_hub), got ${JSON.stringify(e.fromSiteId)}`,
      });
    } else if (!byHub && e.fromSiteId === '') {
      ctx.addIssue({
        code: 'custom',
        path: ['fromSiteId'],
        message: "must not be empty (only the hub's own refuse, by_hub, has no sending site)",
      });
    }
  });

export type FromEnvelope =
  | { ok: true; message: OverflowMessage }
  /** `field` is the first bad one (`envelope.body.value.waitedMs`); `error` lists them all. */
  | { ok: false; field: string; error: string };

export function fromEnvelope(input: unknown): FromEnvelope {
  const r = envelope.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${formatIssuePath('envelope', i.path)}: ${i.message}`);
    return {
      ok: false,
      field: formatIssuePath('envelope', r.error.issues[0]?.path ?? []),
      error: issues.join('; '),
    };
  }
  const e = r.data;
  const head = { requestId: e.requestId, fromSiteId: e.fromSiteId, toSiteId: orNull(e.toSiteId) };
  const b = e.body;
  let message: OverflowMessage;
  switch (b.$case) {
    case 'request': {
      const v = b.value;
      message = {
        kind: 'request',
        ...head,
        callId: v.callId,
        queueId: v.queueId,
        priority: v.priority,
        waitedMs: v.waitedMs,
        remainingPatienceMs: v.remainingPatienceMs ?? null,
        visitedSiteIds: v.visitedSiteIds,
        policyId: orNull(v.policyId),
        coverEntryId: orNull(v.coverEntryId),
        hops: v.hops,
        ani: v.ani,
        dnis: v.dnis,
        customerId: v.customerId,
        customerHomeSiteId: v.customerHomeSiteId,
        ivrPath: v.ivrPath,
        attached: v.attached,
        callAgeMs: v.callAgeMs,
      };
      break;
    }
    case 'accept':
      message = { kind: 'accept', ...head, token: b.value.token, holdMs: b.value.holdMs };
      break;
    case 'refuse':
      message = {
        kind: 'refuse',
        ...head,
        token: orNull(b.value.token),
        reason: b.value.reason,
        byHub: b.value.byHub,
      };
      break;
    case 'commit':
      message = { kind: 'commit', ...head, token: b.value.token };
      break;
    case 'commitAck':
      message = { kind: 'commit-ack', ...head, token: b.value.token };
      break;
    case 'cancel':
      message = { kind: 'cancel', ...head, token: orNull(b.value.token) };
      break;
    case 'callerLeft':
      message = { kind: 'caller-left', ...head, token: b.value.token };
      break;
  }
  return { ok: true, message };
}
