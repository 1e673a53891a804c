-- The origin's moves, recorded before their commit is sent (docs/architecture.md §5.9, §7.1;
-- site-node/store/overflow-commits.ts). Once a commit has gone the origin cannot take it back:
-- only the target's word (commit-ack or a refusal naming the token) says where the call is.
-- A row here is what lets a restarted origin ask for that word again instead of guessing:
-- crash recovery leaves a live call with a row open, and the origin resends the commit.
-- One row per request (an attempt of one call); the call's latest attempt is the one that
-- counts (an earlier one was settled before the call could be asked again).
CREATE TABLE overflow_commits (
  request_id   text PRIMARY KEY,
  call_id      text NOT NULL REFERENCES calls (id),
  attempt      int NOT NULL CHECK (attempt > 0),
  to_site_id   text NOT NULL,
  token        text NOT NULL,
  recorded_at  timestamptz NOT NULL
);
CREATE INDEX overflow_commits_call ON overflow_commits (call_id, attempt);
