/**
 * The size of an event batch on the link (docs/architecture.md §5.2), one definition both ends
 * share so a site never sends what its hub refuses: the hub refuses a batch of more than
 * MAX_BATCH_EVENTS events, and its gRPC server a message over 1 MiB
 * (shared/grpc/server.ts DEFAULT_MAX_MESSAGE_BYTES), which would end the whole stream.
 *
 * A site ships at most MAX_BATCH_EVENTS events and MAX_BATCH_BYTES encoded bytes a batch:
 * with one batch in flight, a resync after an outage takes one round trip per batch, so
 * batches are as large as the hub takes (issue 9: 100,000 events in under 10 s), and the
 * byte bound (half the hub's message limit) keeps a batch of large payloads under it.
 */
import type { Event as PbEvent } from '../../proto/gen/federation.js';

export const MAX_BATCH_EVENTS = 1000;
export const MAX_BATCH_BYTES = 512 * 1024;

/**
 * An event's size on the wire, a little over its protobuf encoding (each field's tag and
 * length prefix counted generously), without encoding it twice.
 */
export function encodedEventBytes(e: PbEvent): number {
  return (
    e.payloadJson.length +
    Buffer.byteLength(e.id) +
    Buffer.byteLength(e.type) +
    Buffer.byteLength(e.siteId) +
    Buffer.byteLength(e.aggregateId) +
    40
  );
}

/**
 * How many of `events`, from the first, fit in one batch of `maxBytes`: at least one, so an
 * event larger than the bound still goes (alone; the hub's limit then decides).
 */
export function batchPrefix(events: readonly PbEvent[], maxBytes = MAX_BATCH_BYTES): number {
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    bytes += encodedEventBytes(events[i]!);
    if (bytes > maxBytes && i > 0) return i;
  }
  return events.length;
}
