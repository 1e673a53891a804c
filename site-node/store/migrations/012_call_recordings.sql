-- Call recordings (docs/sip.md "Call recording"; site-node/store/recordings-repo.ts): one row
-- per recorded call, written when the recording starts (`recording`, with why the flow asked
-- for it: `node:complaint_ticket`, `queue:complaints`). It says `saved`, with the WAV's path,
-- length and size, only once the file is written, or `failed` with why: never a path to a file
-- that is not there. The CDR read (getCdr) carries it.
CREATE TABLE call_recordings (
  call_id      text PRIMARY KEY REFERENCES calls (id),
  state        text NOT NULL CHECK (state IN ('recording', 'saved', 'failed')),
  reason       text NOT NULL,
  started_at   timestamptz NOT NULL,
  ended_at     timestamptz,
  path         text,
  duration_ms  bigint CHECK (duration_ms >= 0),
  bytes        bigint CHECK (bytes >= 0),
  error        text,
  CHECK ((state = 'recording') = (ended_at IS NULL)),
  CHECK ((state = 'saved') = (path IS NOT NULL AND duration_ms IS NOT NULL AND bytes IS NOT NULL)),
  CHECK ((state = 'failed') = (error IS NOT NULL))
);
CREATE INDEX call_recordings_open ON call_recordings (call_id) WHERE state = 'recording';
