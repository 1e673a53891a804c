-- The agent roster, login sessions and the history of every agent state change.
CREATE TABLE agents (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  home_site_id  text NOT NULL,
  skills        jsonb NOT NULL DEFAULT '{}',
  state         text NOT NULL DEFAULT 'logged-out'
                CHECK (state IN ('logged-out', 'ready', 'not-ready', 'reserved', 'on-call', 'wrap-up')),
  state_reason  text,
  state_since   timestamptz NOT NULL,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL
);

CREATE TABLE agent_sessions (
  id             text PRIMARY KEY,
  agent_id       text NOT NULL REFERENCES agents (id),
  site_id        text NOT NULL,
  login_at       timestamptz NOT NULL,
  logout_at      timestamptz,
  logout_reason  text,
  CHECK (logout_at IS NULL OR logout_at >= login_at)
);
-- At most one open session per agent.
CREATE UNIQUE INDEX agent_sessions_open ON agent_sessions (agent_id) WHERE logout_at IS NULL;

CREATE TABLE agent_state_history (
  id          bigserial PRIMARY KEY,
  agent_id    text NOT NULL REFERENCES agents (id),
  from_state  text NOT NULL,
  to_state    text NOT NULL,
  reason      text,
  call_id     text,
  at          timestamptz NOT NULL
);
CREATE INDEX agent_state_history_agent ON agent_state_history (agent_id, id);
