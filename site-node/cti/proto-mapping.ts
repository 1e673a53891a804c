/**
 * Mapping between the agent contract's proto messages (proto/gen/agent.ts, common.ts) and the
 * TS types of the AgentDesk port. Both directions: `...ToProto` for the server, `...FromProto`
 * for clients (the gRPC desk client, tools). Pure functions; nothing else converts.
 *
 * From-proto functions reject enum values they do not know (UNSPECIFIED or newer than this
 * code) with a DomainError naming the field, instead of guessing.
 */
import {
  AgentState,
  EndedBy,
  PhoneState,
  WithdrawReason,
  type Agent as PbAgent,
  type DeskEvent as PbDeskEvent,
  type ScreenPop as PbScreenPop,
} from '../../proto/gen/agent.js';
import { ContactChannel, type ContactSummary as PbContactSummary } from '../../proto/gen/common.js';
import { DomainError } from '../../shared/errors.js';
import type { ContactSummary } from '../../shared/domain/customer.js';
import { customerFromProto, customerToProto } from '../../shared/domain/customer-proto.js';
import type { AgentStateName, AgentView, DeskEvent, ScreenPop } from './agent-desk.js';

function bad(field: string, value: unknown): DomainError {
  return new DomainError('invalid-argument', `${field}: unknown value ${JSON.stringify(value)}`, { field });
}

/** A two-way table between a literal union and a proto enum. */
function enumMap<N extends string, E extends number>(pairs: ReadonlyArray<readonly [N, E]>) {
  const toPb = new Map<N, E>(pairs);
  const fromPb = new Map<number, N>(pairs.map(([n, e]) => [e, n]));
  return {
    toProto(name: N): E {
      const v = toPb.get(name);
      if (v === undefined) throw bad('(enum)', name);
      return v;
    },
    fromProto(value: number, field: string): N {
      const n = fromPb.get(value);
      if (n === undefined) throw bad(field, value);
      return n;
    },
  };
}

export const agentStates = enumMap<AgentStateName, AgentState>([
  ['logged-out', AgentState.AGENT_STATE_LOGGED_OUT],
  ['ready', AgentState.AGENT_STATE_READY],
  ['not-ready', AgentState.AGENT_STATE_NOT_READY],
  ['reserved', AgentState.AGENT_STATE_RESERVED],
  ['on-call', AgentState.AGENT_STATE_ON_CALL],
  ['wrap-up', AgentState.AGENT_STATE_WRAP_UP],
]);

const phoneStates = enumMap<NonNullable<AgentView['phone']>, PhoneState>([
  ['registered', PhoneState.PHONE_STATE_REGISTERED],
  ['not-registered', PhoneState.PHONE_STATE_NOT_REGISTERED],
]);

const channels = enumMap<ContactSummary['channel'], ContactChannel>([
  ['voice-ivr', ContactChannel.CONTACT_CHANNEL_VOICE_IVR],
  ['voice-agent', ContactChannel.CONTACT_CHANNEL_VOICE_AGENT],
  ['ticket', ContactChannel.CONTACT_CHANNEL_TICKET],
]);

type WithdrawName = Extract<DeskEvent, { type: 'offer-withdrawn' }>['reason'];
const withdrawReasons = enumMap<WithdrawName, WithdrawReason>([
  ['caller-abandoned', WithdrawReason.WITHDRAW_REASON_CALLER_ABANDONED],
  ['ring-no-answer', WithdrawReason.WITHDRAW_REASON_RING_NO_ANSWER],
  ['lease-lapsed', WithdrawReason.WITHDRAW_REASON_LEASE_LAPSED],
  ['phone-failed', WithdrawReason.WITHDRAW_REASON_PHONE_FAILED],
]);

type EndedByName = Extract<DeskEvent, { type: 'call-ended' }>['by'];
const endedBy = enumMap<EndedByName, EndedBy>([
  ['caller', EndedBy.ENDED_BY_CALLER],
  ['agent', EndedBy.ENDED_BY_AGENT],
]);

// ---- agent --------------------------------------------------------------------------------

export function agentToProto(a: AgentView): PbAgent {
  return {
    agentId: a.agentId,
    state: agentStates.toProto(a.state),
    reasonCode: a.reasonCode,
    callId: a.callId,
    skills: { ...a.skills },
    ...(a.phone === undefined ? {} : { phone: phoneStates.toProto(a.phone) }),
  };
}

export function agentFromProto(a: PbAgent | undefined, field = 'agent'): AgentView {
  if (!a) throw new DomainError('invalid-argument', `${field}: missing`, { field });
  const view: AgentView = {
    agentId: a.agentId,
    state: agentStates.fromProto(a.state, `${field}.state`),
    skills: { ...a.skills },
  };
  if (a.reasonCode !== undefined) view.reasonCode = a.reasonCode;
  if (a.callId !== undefined) view.callId = a.callId;
  if (a.phone !== undefined) view.phone = phoneStates.fromProto(a.phone, `${field}.phone`);
  return view;
}

// ---- customer -----------------------------------------------------------------------------

// The profile mapping is shared with the federation contract.
export { customerFromProto, customerToProto };

export function contactToProto(c: ContactSummary): PbContactSummary {
  return { callId: c.callId, atMs: c.atMs, channel: channels.toProto(c.channel), summary: c.summary };
}

export function contactFromProto(c: PbContactSummary, field = 'contact'): ContactSummary {
  return {
    callId: c.callId,
    atMs: c.atMs,
    channel: channels.fromProto(c.channel, `${field}.channel`),
    summary: c.summary,
  };
}

// ---- screen pop ---------------------------------------------------------------------------

export function screenPopToProto(p: ScreenPop): PbScreenPop {
  return {
    callId: p.callId,
    queueId: p.queueId,
    ani: p.ani,
    dnis: p.dnis,
    offeredAtMs: p.offeredAtMs,
    answerByMs: p.answerByMs,
    customer: p.customer ? customerToProto(p.customer) : undefined,
    verified: p.verified,
    ivrPath: [...p.ivrPath],
    attached: { ...p.attached },
    recentContacts: p.recentContacts.map(contactToProto),
    pinLockedUntilMs: p.pinLockedUntilMs,
  };
}

export function screenPopFromProto(p: PbScreenPop | undefined, field = 'pop'): ScreenPop {
  if (!p) throw new DomainError('invalid-argument', `${field}: missing`, { field });
  const pop: ScreenPop = {
    callId: p.callId,
    queueId: p.queueId,
    ani: p.ani,
    dnis: p.dnis,
    offeredAtMs: p.offeredAtMs,
    answerByMs: p.answerByMs,
    verified: p.verified,
    ivrPath: [...p.ivrPath],
    attached: { ...p.attached },
    recentContacts: p.recentContacts.map((c, i) => contactFromProto(c, `${field}.recent_contacts[${i}]`)),
  };
  if (p.customer) pop.customer = customerFromProto(p.customer, `${field}.customer`);
  if (p.pinLockedUntilMs !== undefined) pop.pinLockedUntilMs = p.pinLockedUntilMs;
  return pop;
}

// ---- desk events --------------------------------------------------------------------------

export function deskEventToProto(e: DeskEvent): PbDeskEvent {
  switch (e.type) {
    case 'offer':
      return { event: { $case: 'offer', value: { pop: screenPopToProto(e.pop) } } };
    case 'offer-withdrawn':
      return {
        event: {
          $case: 'offerWithdrawn',
          value: { callId: e.callId, reason: withdrawReasons.toProto(e.reason) },
        },
      };
    case 'call-ended':
      return { event: { $case: 'callEnded', value: { callId: e.callId, by: endedBy.toProto(e.by) } } };
    case 'state':
      return { event: { $case: 'state', value: agentToProto(e.agent) } };
  }
}

/** A desk event from the wire; `undefined` for an event kind this code does not know yet. */
export function deskEventFromProto(e: PbDeskEvent): DeskEvent | undefined {
  const ev = e.event;
  if (!ev) return undefined;
  switch (ev.$case) {
    case 'offer':
      return { type: 'offer', pop: screenPopFromProto(ev.value.pop, 'offer.pop') };
    case 'offerWithdrawn':
      return {
        type: 'offer-withdrawn',
        callId: ev.value.callId,
        reason: withdrawReasons.fromProto(ev.value.reason, 'offer_withdrawn.reason'),
      };
    case 'callEnded':
      return {
        type: 'call-ended',
        callId: ev.value.callId,
        by: endedBy.fromProto(ev.value.by, 'call_ended.by'),
      };
    case 'state':
      return { type: 'state', agent: agentFromProto(ev.value, 'state') };
  }
}
