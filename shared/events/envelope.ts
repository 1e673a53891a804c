/**
 * The event envelope (docs/architecture.md §5). Every fact a site produces is one envelope: a unique id
 * (`evt_<ULID>`, so delivery can be at-least-once and the effect exactly-once: consumers
 * dedupe on `id`), a type, the producing site, when it happened, the aggregate it is about
 * (call id, agent id, ticket id...), a schema version for the payload, and the payload.
 */
import { z } from 'zod';
import { newId } from '../ids.js';
import { parseOrThrow } from '../validate.js';

/** The event types sites produce today. `type` is still an open string on the wire. */
export const EVENT_TYPES = [
  'call.created',
  'call.state-changed',
  'call.data-changed',
  'call.ended',
  /** A caller refused before the call existed (no free trunk, or the site stopping). */
  'call.refused',
  'agent.logged-in',
  'agent.logged-out',
  'agent.state-changed',
  'ticket.opened',
  'ticket.escalated',
  'ticket.closed',
  'card-loss.reported',
  'callback.scheduled',
  'callback.placed',
  /** A site served another site's customer from its cache while the hub was unreachable. */
  'customer.read',
  /** An agent lifted a customer's PIN lock at the bank host, after verifying who they are. */
  'customer.pin-unlocked',
] as const;
export type KnownEventType = (typeof EVENT_TYPES)[number];

export interface EventEnvelope<P = Record<string, unknown>> {
  /** `evt_<ULID>`; globally unique, sorts by creation time. */
  id: string;
  /** `noun.verb-ed`, e.g. `call.ended`. */
  type: string;
  siteId: string;
  occurredAtMs: number;
  /** The id of the thing the event is about: call id, agent id, ticket id, customer id. */
  aggregateId: string;
  /** Version of the payload's shape for this type; bump it when the shape changes. */
  schemaVersion: number;
  payload: P;
}

const TYPE = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

export const eventEnvelopeSchema = z.object({
  id: z.string().regex(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/, 'must be evt_<ULID>'),
  type: z.string().regex(TYPE, 'must look like noun.verb-ed'),
  siteId: z.string().min(1),
  occurredAtMs: z.number().int().nonnegative(),
  aggregateId: z.string().min(1),
  schemaVersion: z.number().int().positive(),
  payload: z.record(z.string(), z.unknown()),
});

export interface NewEvent<P> {
  type: KnownEventType | (string & {});
  siteId: string;
  aggregateId: string;
  occurredAtMs: number;
  payload: P;
  schemaVersion?: number;
}

/** Build an envelope with a fresh id. Validates the shape (throws invalid-argument). */
export function makeEvent<P extends Record<string, unknown>>(e: NewEvent<P>): EventEnvelope<P> {
  const env: EventEnvelope<P> = {
    id: newId('evt', e.occurredAtMs),
    type: e.type,
    siteId: e.siteId,
    occurredAtMs: e.occurredAtMs,
    aggregateId: e.aggregateId,
    schemaVersion: e.schemaVersion ?? 1,
    payload: e.payload,
  };
  parseOrThrow(eventEnvelopeSchema, env, 'event');
  return env;
}

/** Parse an envelope received from elsewhere (hub ingest, Kafka consumer). */
export function parseEvent(input: unknown, what = 'event'): EventEnvelope {
  return parseOrThrow(eventEnvelopeSchema, input, what) as EventEnvelope;
}
