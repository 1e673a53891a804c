-- Directory writes by their owner, and a read audit the hub writes (docs/architecture.md §5.5,
-- §5.6; issue 10).
--
-- What a site that served a customer may add to the profile besides the home site's identity
-- fields: contact notes (append-only, each stamped by the hub with site, author and time) and
-- a preferred callback number.
ALTER TABLE customers
  ADD COLUMN notes jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN preferred_callback text NULL;

-- Writes the owner rule refused (hub/directory/write-rule.ts): who tried to change which field
-- of whose customer, kept for review like customer_conflicts. Written after the refused
-- write's transaction rolled back, so the record survives while the write does not. No
-- foreign key: a refused create names a customer that does not exist.
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
  at_ms        bigint NOT NULL
);
CREATE INDEX customer_write_refusals_customer ON customer_write_refusals (customer_id, id);

-- The read audit holds the hub's facts: home_site_id is the directory's home for the customer
-- (empty when the hub does not know the customer), never what a `customer.read` event claims.
-- The claim is kept beside it, and a read the hub cannot corroborate is flagged with why; a
-- flagged read grants no change-feed interest.
ALTER TABLE customer_reads
  ADD COLUMN claimed_home_site_id text NULL,
  ADD COLUMN flag text NULL;
