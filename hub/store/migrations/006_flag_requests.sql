-- A card loss reported at any site marks the customer's profile (flags.lostCard) in the
-- directory, so every site that serves them sees it. The ingest statement that stores a
-- `card-loss.reported` event queues the request here (once per event: event_id is the key);
-- the hub's flag worker applies it to the directory as a versioned write and marks it done
-- in the same transaction, so neither a hub crash nor a replayed event loses or doubles it.
CREATE TABLE directory_flag_requests (
  event_id       text PRIMARY KEY,
  site_id        text NOT NULL,
  customer_id    text NOT NULL,
  flag           text NOT NULL CHECK (flag IN ('lostCard')),
  reason         text NOT NULL,
  at_ms          bigint NOT NULL,
  applied_at_ms  bigint NULL,
  -- set: the profile got a new version with the flag; already-set: nothing to change;
  -- unknown-customer: the directory has no such customer (kept for the record).
  outcome        text NULL CHECK (outcome IN ('set', 'already-set', 'unknown-customer'))
);
CREATE INDEX directory_flag_requests_pending ON directory_flag_requests (at_ms) WHERE applied_at_ms IS NULL;
