-- Cross-site overflow (docs/architecture.md §5.9, §7.1): what a call that moved carries, and
-- the target's admitted reservations.
--
-- A call moved in is a new call record of this site (its own `<site>-<ULID>` id) that names
-- the origin's call: `overflow_in` = {originSiteId, originCallId, token, waitedMs}, where
-- waitedMs is the time the caller had already waited at the origin (a duration: the two
-- sites' clocks differ). `hops` counts moves between sites (not the ACD's queue moves);
-- `visited_site_ids` every site the call has been at, this one included once it is here.
ALTER TABLE calls
  ADD COLUMN hops              int NOT NULL DEFAULT 0 CHECK (hops >= 0),
  ADD COLUMN visited_site_ids  jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN overflow_in       jsonb;

-- The CDR shows the move at both ends: the origin's (`overflowed`) names where the call went
-- and under which token; the target's where it came from. The target's wait_ms includes
-- overflow_in.waitedMs (the caller's full wait).
ALTER TABLE cdrs
  ADD COLUMN overflow_in   jsonb,
  ADD COLUMN overflow_out  jsonb,
  ADD CONSTRAINT cdrs_overflowed_names_target CHECK ((final_state = 'overflowed') = (overflow_out IS NOT NULL));

-- A reservation this site admitted, written in the transaction that creates the call it
-- admitted (overflow-repo.ts): a restarted target finds it, so a resent commit is acked, not
-- met as an unknown token while the call waits here. Held and released reservations are
-- memory only (a restart forgets them, and an origin's commit for one is then refused, which
-- is the truth: it was never admitted).
CREATE TABLE overflow_reservations (
  token           text PRIMARY KEY,
  request_id      text NOT NULL UNIQUE,
  origin_site_id  text NOT NULL,
  origin_call_id  text NOT NULL,
  call_id         text NOT NULL UNIQUE REFERENCES calls (id),
  queue_id        text NOT NULL,
  admitted_at     timestamptz NOT NULL,
  -- One origin call is admitted here once, whatever the token: a second token for it would
  -- put the caller in this site's queue twice.
  UNIQUE (origin_site_id, origin_call_id)
);
CREATE INDEX overflow_reservations_admitted ON overflow_reservations (admitted_at);
