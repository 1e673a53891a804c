-- The provincial customer directory: the system of record for customer profiles
-- (docs/architecture.md §5 "Shared customer data"). Sites cache profiles and follow customer_changes by
-- cursor; every write carries the version it was based on, and a stale one is refused and
-- recorded in customer_conflicts. No PIN is stored.
CREATE TABLE customers (
  id               text PRIMARY KEY,
  name             text NOT NULL,
  -- Denormalised copies of customer_phones / customer_cards, so a profile reads in one row.
  phones           text[] NOT NULL DEFAULT '{}',
  cards            text[] NOT NULL DEFAULT '{}',
  home_site_id     text NOT NULL,
  segment          text NOT NULL CHECK (segment IN ('retail', 'vip', 'corporate')),
  language         text NOT NULL,
  flags            jsonb NOT NULL DEFAULT '{"blacklisted": false, "lostCard": false}',
  account_ids      text[] NOT NULL DEFAULT '{}',
  version          bigint NOT NULL CHECK (version >= 1),
  updated_at_ms    bigint NOT NULL,
  updated_by_site  text NOT NULL,
  updated_by       text NOT NULL
);
CREATE INDEX customers_home_site ON customers (home_site_id);

-- Lookup by ANI and by card. A side table per key (rather than GIN on the arrays) because the
-- primary key also enforces the rule that one phone or card belongs to one customer only:
-- otherwise an ANI lookup would pick one of two customers arbitrarily.
CREATE TABLE customer_phones (
  phone        text PRIMARY KEY,
  customer_id  text NOT NULL REFERENCES customers (id) ON DELETE CASCADE
);
CREATE INDEX customer_phones_customer ON customer_phones (customer_id);

CREATE TABLE customer_cards (
  card         text PRIMARY KEY,
  customer_id  text NOT NULL REFERENCES customers (id) ON DELETE CASCADE
);
CREATE INDEX customer_cards_customer ON customer_cards (customer_id);

-- The change feed. `cursor` is assigned under a table lock held until commit (see
-- hub/directory/pg-directory.ts), so cursors become visible in order and a reader that has
-- seen cursor N can never later find a smaller one appearing behind it.
CREATE TABLE customer_changes (
  cursor         bigserial PRIMARY KEY,
  customer_id    text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  version        bigint NOT NULL,
  changed_at_ms  bigint NOT NULL,
  site_id        text NOT NULL,
  changed_by     text NOT NULL,
  reason         text NOT NULL
);
CREATE INDEX customer_changes_customer ON customer_changes (customer_id, cursor DESC);

-- Refused writes (stale base version): surfaced to the writer and kept for review, never
-- silently overwritten. No foreign key: a conflict may name a customer that does not exist.
CREATE TABLE customer_conflicts (
  id               bigserial PRIMARY KEY,
  customer_id      text NOT NULL,
  site_id          text NOT NULL,
  base_version     bigint NOT NULL,
  current_version  bigint NOT NULL,
  attempted        jsonb NOT NULL,
  changed_by       text NOT NULL,
  at_ms            bigint NOT NULL
);
CREATE INDEX customer_conflicts_customer ON customer_conflicts (customer_id, id);

-- Audit of every read of a customer by a site (who, which call / agent / IVR session, why).
-- No foreign key: the audit outlives the profile.
CREATE TABLE customer_reads (
  id              bigserial PRIMARY KEY,
  reader_site_id  text NOT NULL,
  customer_id     text NOT NULL,
  home_site_id    text NOT NULL,
  reason          text NOT NULL,
  call_id         text NULL,
  agent_id        text NULL,
  ivr_session_id  text NULL,
  at_ms           bigint NOT NULL
);
CREATE INDEX customer_reads_customer ON customer_reads (customer_id, at_ms);
CREATE INDEX customer_reads_reader ON customer_reads (reader_site_id, at_ms);

-- Sites that cache a customer they do not own (they read it, wrote it, or it moved away from
-- them): the change feed sends them its later changes too.
CREATE TABLE customer_interest (
  site_id      text NOT NULL,
  customer_id  text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  since_ms     bigint NOT NULL,
  PRIMARY KEY (site_id, customer_id)
);
CREATE INDEX customer_interest_customer ON customer_interest (customer_id);
