-- Every overflow and cover decision the hub made (docs/architecture.md §5.8): the request as it
-- was routed, the target or why none, and each candidate's verdict with the state it was judged
-- on (link, drained, the snapshot's age on the hub's clock), so an admin can see why a call went
-- where it went (`fedctl routes`). Written off the message path (hub/overflow/decision-recorder.ts):
-- a row that cannot be written is logged and counted, and never delays a call.
CREATE TABLE overflow_decisions (
  seq                  bigserial PRIMARY KEY,
  request_id           text NOT NULL,
  call_id              text NOT NULL,
  kind                 text NOT NULL CHECK (kind IN ('overflow', 'cover')),
  -- The overflow policy id or the cover entry id.
  rule_id              text NOT NULL,
  origin_site_id       text NOT NULL,
  queue_id             text NOT NULL,
  -- NULL: not routed; `reason` says why (max-hops, no-eligible-site, cover-not-active, or
  -- target-unreachable: the target was chosen but its link took nothing).
  target_site_id       text NULL,
  reason               text NULL,
  why                  text NOT NULL,
  decided_at_ms        bigint NOT NULL,
  max_snapshot_age_ms  bigint NOT NULL,
  -- The age of the target's snapshot when it was chosen (hub clock).
  target_age_ms        bigint NULL,
  -- priority, waitedMs, remainingPatienceMs, visitedSiteIds
  request              jsonb NOT NULL,
  -- [{siteId, outcome, reason, rank, agentReady, why, state: {link, drained, ageMs, snapshotAtMs}}]
  candidates           jsonb NOT NULL
);
CREATE INDEX overflow_decisions_origin ON overflow_decisions (origin_site_id, seq DESC);
CREATE INDEX overflow_decisions_target ON overflow_decisions (target_site_id, seq DESC);
