/**
 * An outbox event on the federation link (proto `Event`), both ways. The payload travels as
 * its JSON so a hub stores event types it does not know yet (a newer site) unchanged.
 * `eventsFromProto` checks everything a site sent before anything is stored: each event must
 * be the sending site's own, with a JSON payload and a valid envelope; the first problem
 * refuses the batch, naming `events[i].field`.
 */
import type { Event as PbEvent } from '../../proto/gen/federation.js';
import { DomainError, invalidArgument } from '../errors.js';
import { parseEvent, type EventEnvelope } from '../events/envelope.js';

export function eventToProto(e: EventEnvelope): PbEvent {
  return {
    id: e.id,
    type: e.type,
    siteId: e.siteId,
    occurredAtMs: e.occurredAtMs,
    aggregateId: e.aggregateId,
    schemaVersion: e.schemaVersion,
    payloadJson: Buffer.from(JSON.stringify(e.payload), 'utf8'),
  };
}

export function eventsFromProto(events: readonly PbEvent[], siteId: string): EventEnvelope[] {
  return events.map((e, i) => {
    const field = `events[${i}]`;
    if (e.siteId !== siteId) {
      throw new DomainError(
        'permission-denied',
        `${field}.site_id: site ${JSON.stringify(siteId)} cannot ship events of site ${JSON.stringify(e.siteId)}`,
        { field: `${field}.site_id` },
      );
    }
    let payload: unknown;
    try {
      payload = JSON.parse(e.payloadJson.toString('utf8'));
    } catch (err) {
      throw invalidArgument(`${field}.payload_json`, 'is not JSON', err);
    }
    return parseEvent(
      {
        id: e.id,
        type: e.type,
        siteId: e.siteId,
        occurredAtMs: e.occurredAtMs,
        aggregateId: e.aggregateId,
        schemaVersion: e.schemaVersion,
        payload,
      },
      field,
    );
  });
}
