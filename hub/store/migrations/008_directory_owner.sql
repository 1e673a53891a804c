-- Directory writes by their owner, and a read audit the hub writes (docs/architecture.md §5.5,
-- §5.6; issue 10).
--
-- What a site that served a customer may add to the profile besides the home site's identity
-- fields: contact notes (append-only, each stamped by the hub with site, author and time) and
-- a preferred callback number.
ALTER TABLE customers
  ADD COLUMN notes jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN preferred_callback text NULL;

-- The profile keeps the newest 100 notes (hub/directory/write-rule.ts); an older one moved out
-- by a newer one is kept here, written by the same transaction, so no note is ever lost.
-- `version` is the profile version whose write moved it out.
CREATE TABLE customer_notes_archive (
  id              bigserial PRIMARY KEY,
  customer_id     text NOT NULL,
  version         bigint NOT NULL,
  site_id         text NOT NULL,
  by              text NOT NULL,
  at_ms           bigint NOT NULL,
  text            text NOT NULL,
  archived_at_ms  bigint NOT NULL
);
CREATE INDEX customer_notes_archive_customer ON customer_notes_archive (customer_id, id);

-- Writes the owner rule refused (hub/directory/write-rule.ts): who tried to change which field
-- of whose customer, kept for review like customer_conflicts. Written after the refused
-- write's transaction rolled back, so the record survives while the write does not. No
-- foreign key: a refused create names a customer that does not exist. Bounded per writer:
-- the first 10 refusals of a writer in a minute (by at_ms) are kept in full; later ones in
-- that minute only add to `more` on the minute's last full record, so a flooding site costs
-- at most 10 rows a minute, and every refusal is still counted (sum of 1 + more).
CREATE TABLE customer_write_refusals (
  id           bigserial PRIMARY KEY,
  customer_id  text NOT NULL,
  -- The writer's certificate: 'site' or 'admin', and its id.
  writer_kind  text NOT NULL CHECK (writer_kind IN ('site', 'admin')),
  writer_id    text NOT NULL,
  changed_by   text NOT NULL,
  field        text NOT NULL,
  reason       text NOT NULL,
  attempted    jsonb NOT NULL,
  at_ms        bigint NOT NULL,
  -- Refusals by the same writer in the same minute after this one, not kept one by one.
  more         integer NOT NULL DEFAULT 0
);
CREATE INDEX customer_write_refusals_customer ON customer_write_refusals (customer_id, id);
CREATE INDEX customer_write_refusals_writer ON customer_write_refusals (writer_kind, writer_id, at_ms);

-- A card loss reported by a site the hub never served the customer to does not mark the
-- profile: the request is kept with this outcome (the event stays stored).
ALTER TABLE directory_flag_requests DROP CONSTRAINT directory_flag_requests_outcome_check;
ALTER TABLE directory_flag_requests ADD CONSTRAINT directory_flag_requests_outcome_check
  CHECK (outcome IN ('set', 'already-set', 'unknown-customer', 'uncorroborated'));

-- The read audit holds the hub's facts: home_site_id is the directory's home for the customer
-- (empty when the hub does not know the customer), never what a `customer.read` event claims.
-- The claim is kept beside it, and a read the hub cannot corroborate is flagged with why; a
-- flagged read grants no change-feed interest.
ALTER TABLE customer_reads
  ADD COLUMN claimed_home_site_id text NULL,
  ADD COLUMN flag text NULL;

-- Reads sites reported before this migration were stored with the event's claimed home: keep
-- the claim, record the directory's home and flag them as hub/ingest/read-check.ts does now,
-- so old forged reads show up in `fedctl reads` too. Judged on today's directory (a customer
-- who moved home since reads as home-mismatch) and, for `uncorroborated`, on the lookups the
-- hub answered (interest is not used: before this migration a forged read or any write could
-- give it).
UPDATE customer_reads r
   SET claimed_home_site_id = r.home_site_id,
       home_site_id = coalesce(c.home_site_id, ''),
       flag = CASE
         WHEN c.id IS NULL THEN 'unknown-customer: the directory has no customer ' || r.customer_id
         WHEN r.home_site_id <> '' AND r.home_site_id <> c.home_site_id
           THEN 'home-mismatch: the event claims home ' || r.home_site_id || '; the directory''s is '
                || c.home_site_id
         WHEN c.home_site_id = r.reader_site_id THEN NULL
         WHEN NOT EXISTS (SELECT 1 FROM customer_reads h
                           WHERE h.customer_id = r.customer_id AND h.reader_site_id = r.reader_site_id
                             AND h.served_from = 'hub')
           THEN 'uncorroborated: the hub never served customer ' || r.customer_id || ' to ' || r.reader_site_id
         ELSE NULL
       END
  FROM customer_reads r0 LEFT JOIN customers c ON c.id = r0.customer_id
 WHERE r.id = r0.id AND r.served_from = 'site-cache';
