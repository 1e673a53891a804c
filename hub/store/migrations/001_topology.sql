-- Topology versions and the admin audit trail (docs/architecture.md §5: "stores it as a new version with
-- an audit entry"). Versions are never updated or deleted: a rollback is a new version whose
-- rollback_of names the one it restored, so the history always shows what ran when.
CREATE TABLE topology_versions (
  version        int PRIMARY KEY CHECK (version >= 1),
  topology       jsonb NOT NULL,
  -- The file as the admin wrote it, byte for byte (comments and all).
  source_yaml    text NOT NULL,
  applied_at     timestamptz NOT NULL,
  -- The same instant as the injected clock gave it (timestamptz keeps only microseconds and
  -- is for humans reading the table; the code reads this column).
  applied_at_ms  bigint NOT NULL,
  applied_by     text NOT NULL,
  comment        text NOT NULL DEFAULT '',
  changes        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(changes) = 'array'),
  rollback_of    int NULL REFERENCES topology_versions (version)
);

-- Every admin action (topology apply/rollback, drain/undrain), newest first for `fedctl`.
CREATE TABLE admin_audit (
  id      bigserial PRIMARY KEY,
  at_ms   bigint NOT NULL,
  actor   text NOT NULL,
  action  text NOT NULL,
  target  text NOT NULL,
  detail  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object')
);
CREATE INDEX admin_audit_newest ON admin_audit (at_ms DESC, id DESC);

-- Sites an admin took out of routing (drained). Kept here, not in the topology file, because
-- draining is an operational switch flipped during an incident, not a planned change.
CREATE TABLE site_admin (
  site_id        text PRIMARY KEY,
  drained        boolean NOT NULL,
  changed_by     text NOT NULL,
  changed_at_ms  bigint NOT NULL,
  comment        text NOT NULL DEFAULT ''
);
