-- The outbox table shared/events/outbox.ts works on, as a node's own migrations create it
-- (site-node/store/migrations/001_outbox.sql creates exactly this; a site test compares
-- the two, since an applied migration cannot change). Rows are written by the same
-- transaction as the change they describe; the relay ships them in seq order.
CREATE TABLE outbox (
  seq            bigserial PRIMARY KEY,
  id             text NOT NULL UNIQUE,
  type           text NOT NULL,
  site_id        text NOT NULL,
  aggregate_id   text NOT NULL,
  occurred_at_ms bigint NOT NULL,
  schema_version int NOT NULL CHECK (schema_version > 0),
  payload        jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  shipped_at     timestamptz
);
CREATE INDEX outbox_unshipped ON outbox (seq) WHERE shipped_at IS NULL;
CREATE INDEX outbox_aggregate ON outbox (aggregate_id, seq);
