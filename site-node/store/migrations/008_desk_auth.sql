-- Desk authentication (docs/architecture.md §4.3 "Desk authentication"): each desk user's
-- password as a scrypt string with its parameters and salt (never the password), who set it
-- and when; and the desk audit, one row per supervisor action, password change and
-- operator's bootstrap (who did what to whom, and why).
CREATE TABLE desk_credentials (
  user_id        text PRIMARY KEY,
  password_hash  text NOT NULL CHECK (password_hash LIKE 'scrypt$%'),
  set_by         text NOT NULL,
  set_at         timestamptz NOT NULL
);

CREATE TABLE desk_audit (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL,
  actor   text NOT NULL,
  action  text NOT NULL,
  target  text,
  detail  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX desk_audit_target ON desk_audit (target, at);
