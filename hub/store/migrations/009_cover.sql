-- On-demand cover started and stopped by admins (`fedctl cover start|stop`, docs/architecture.md
-- §5.8). One row per activation, never deleted: who started it, when, until when, and who
-- stopped it and when. A row with no stop is open; it is active while its `until_ms` (if any)
-- has not passed on the hub's clock. A row whose `until_ms` passed is closed at the next start
-- of the same entry with `stopped_at_ms = until_ms` and no `stopped_by` (the time ended it).
-- Kept here, not in the topology file, for the reason drains are (site_admin): starting cover
-- is an operational switch, not a planned change. Scheduled (weekly) entries have no rows: the
-- clock alone decides them.
CREATE TABLE cover_activations (
  id             bigserial PRIMARY KEY,
  entry_id       text NOT NULL,
  started_by     text NOT NULL,
  started_at_ms  bigint NOT NULL,
  until_ms       bigint NULL CHECK (until_ms IS NULL OR until_ms > started_at_ms),
  stopped_by     text NULL,
  stopped_at_ms  bigint NULL,
  comment        text NOT NULL DEFAULT '',
  CHECK (stopped_by IS NULL OR stopped_at_ms IS NOT NULL)
);
-- At most one open activation per entry: two admins starting the same entry at once cannot
-- both succeed (the second gets already-exists).
CREATE UNIQUE INDEX cover_activations_one_open ON cover_activations (entry_id) WHERE stopped_at_ms IS NULL;
