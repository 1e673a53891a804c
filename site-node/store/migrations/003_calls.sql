-- Calls, their timelines and their call detail records.
-- States (site-node/store/call-states.ts): ivr -> queued -> offered -> connected -> wrapup
-- -> ended, plus the terminals abandoned, overflowed, callback-scheduled, failed.
CREATE TABLE calls (
  id               text PRIMARY KEY,
  ani              text NOT NULL,
  dnis             text NOT NULL,
  entry_site_id    text NOT NULL,
  current_site_id  text NOT NULL,
  state            text NOT NULL CHECK (state IN ('ivr', 'queued', 'offered', 'connected', 'wrapup', 'ended',
                                                  'abandoned', 'overflowed', 'callback-scheduled', 'failed')),
  queue_id         text,
  priority         int NOT NULL DEFAULT 0,
  customer_id      text,
  verified         boolean NOT NULL DEFAULT false,
  attached         jsonb NOT NULL DEFAULT '{}',
  ivr_path         jsonb NOT NULL DEFAULT '[]',
  legs             jsonb NOT NULL DEFAULT '[]',
  agent_id         text,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  ended_at         timestamptz,
  end_reason       text,
  CHECK ((state IN ('ended', 'abandoned', 'overflowed', 'callback-scheduled', 'failed')) = (ended_at IS NOT NULL))
);
CREATE INDEX calls_live ON calls (state) WHERE ended_at IS NULL;
CREATE INDEX calls_customer ON calls (customer_id, created_at DESC) WHERE customer_id IS NOT NULL;

CREATE TABLE call_timeline (
  call_id  text NOT NULL REFERENCES calls (id),
  seq      int NOT NULL CHECK (seq >= 1),
  at       timestamptz NOT NULL,
  state    text NOT NULL,
  event    text NOT NULL,
  detail   jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (call_id, seq)
);

-- One CDR per call (the primary key makes ending twice unable to write a second one).
CREATE TABLE cdrs (
  call_id        text PRIMARY KEY REFERENCES calls (id),
  site_id        text NOT NULL,
  entry_site_id  text NOT NULL,
  ani            text NOT NULL,
  dnis           text NOT NULL,
  queue_id       text,
  customer_id    text,
  agent_id       text,
  started_at     timestamptz NOT NULL,
  queued_at      timestamptz,
  offered_at     timestamptz,
  answered_at    timestamptz,
  ended_at       timestamptz NOT NULL,
  wait_ms        bigint NOT NULL CHECK (wait_ms >= 0),
  talk_ms        bigint NOT NULL CHECK (talk_ms >= 0),
  wrapup_code    text,
  final_state    text NOT NULL,
  outcome        text NOT NULL,
  abandoned      boolean NOT NULL,
  end_reason     text NOT NULL,
  CHECK (ended_at >= started_at)
);
CREATE INDEX cdrs_ended ON cdrs (ended_at);
