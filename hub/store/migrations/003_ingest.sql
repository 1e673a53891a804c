-- Events ingested from every site (docs/architecture.md §5): one row per event id, whichever path
-- (hub link or Kafka) delivered it first; a replay of the same id changes nothing.
CREATE TABLE ingested_events (
  id              text PRIMARY KEY,
  site_id         text NOT NULL,
  type            text NOT NULL,
  aggregate_id    text NOT NULL,
  occurred_at_ms  bigint NOT NULL,
  schema_version  int NOT NULL,
  payload         jsonb NOT NULL,
  via             text NOT NULL CHECK (via IN ('link', 'kafka')),
  ingested_at_ms  bigint NOT NULL
);
CREATE INDEX ingested_events_site_idx ON ingested_events (site_id);

-- One row per ended call, derived from `call.ended` CDRs that name a queue, so the province
-- statistics read a narrow table by time instead of digging through event payloads.
CREATE TABLE call_facts (
  call_id      text PRIMARY KEY,
  event_id     text NOT NULL,
  site_id      text NOT NULL,
  queue_id     text NOT NULL,
  ended_at_ms  bigint NOT NULL,
  queued       boolean NOT NULL,
  answered     boolean NOT NULL,
  abandoned    boolean NOT NULL,
  wait_ms      bigint NOT NULL
);
CREATE INDEX call_facts_ended_at_idx ON call_facts (ended_at_ms);
