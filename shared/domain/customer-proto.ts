/**
 * The customer profile between its TS type (customer.ts) and its proto message
 * (proto/common.proto), for every contract that carries one: the agent desk's screen pop and
 * the federation's directory RPCs and change feed. Pure; an unknown segment (UNSPECIFIED, or
 * one newer than this code) is refused naming the field, never guessed.
 */
import { Segment, type CustomerProfile as PbCustomerProfile } from '../../proto/gen/common.js';
import { DomainError } from '../errors.js';
import type { CustomerProfile, Segment as SegmentName } from './customer.js';

const TO_PB: Record<SegmentName, Segment> = {
  retail: Segment.SEGMENT_RETAIL,
  vip: Segment.SEGMENT_VIP,
  corporate: Segment.SEGMENT_CORPORATE,
};
const FROM_PB = new Map<number, SegmentName>(Object.entries(TO_PB).map(([n, e]) => [e, n as SegmentName]));

export function customerToProto(c: CustomerProfile): PbCustomerProfile {
  return {
    customerId: c.customerId,
    name: c.name,
    phones: [...c.phones],
    cards: [...c.cards],
    homeSiteId: c.homeSiteId,
    segment: TO_PB[c.segment],
    language: c.language,
    flags: { blacklisted: c.flags.blacklisted, lostCard: c.flags.lostCard },
    accountIds: [...c.accountIds],
    version: c.version,
    notes: (c.notes ?? []).map((n) => ({ ...n })),
    preferredCallback: c.preferredCallback,
  };
}

export function customerFromProto(c: PbCustomerProfile | undefined, field = 'customer'): CustomerProfile {
  if (!c) throw new DomainError('invalid-argument', `${field}: missing`, { field });
  const segment = FROM_PB.get(c.segment);
  if (segment === undefined) {
    throw new DomainError(
      'invalid-argument',
      `${field}.segment: unknown value ${JSON.stringify(c.segment)}`,
      {
        field: `${field}.segment`,
      },
    );
  }
  return {
    customerId: c.customerId,
    name: c.name,
    phones: [...c.phones],
    cards: [...c.cards],
    homeSiteId: c.homeSiteId,
    segment,
    language: c.language,
    flags: { blacklisted: c.flags?.blacklisted ?? false, lostCard: c.flags?.lostCard ?? false },
    accountIds: [...c.accountIds],
    version: c.version,
    // Absent rather than empty, so a profile from an older peer (or one without notes) is
    // the same value it was before these fields existed.
    ...(c.notes.length > 0 ? { notes: c.notes.map((n) => ({ ...n })) } : {}),
    ...(c.preferredCallback !== undefined ? { preferredCallback: c.preferredCallback } : {}),
  };
}
