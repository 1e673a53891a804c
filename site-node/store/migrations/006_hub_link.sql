-- What the site remembers of its link to the hub, so a restart resumes where it stopped:
-- the topology version it runs (and the topology itself, so it can keep routing without the
-- hub), where its customer change feed stands, and whether an admin drained it.
CREATE TABLE hub_link (
  id                int PRIMARY KEY CHECK (id = 1),
  topology_version  bigint NOT NULL DEFAULT 0 CHECK (topology_version >= 0),
  topology          jsonb,
  customer_cursor   bigint NOT NULL DEFAULT 0 CHECK (customer_cursor >= 0),
  drained           boolean NOT NULL DEFAULT false,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO hub_link (id) VALUES (1);
