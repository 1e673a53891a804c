export {
  EVENT_TYPES,
  eventEnvelopeSchema,
  makeEvent,
  parseEvent,
  type EventEnvelope,
  type KnownEventType,
  type NewEvent,
} from './envelope.js';
export {
  appendToOutbox,
  countUnshipped,
  eventsFor,
  markShipped,
  markShippedSeqs,
  readUnshipped,
  type OutboxRow,
} from './outbox.js';
export { OutboxRelay, type OutboxRelayOptions, type RelayStats, type ShipFn } from './relay.js';
