-- Reads a site served from its own cache while the hub was unreachable reach the hub later as
-- `customer.read` events; ingest adds them to the same audit table, marked as such, once per
-- event (event_id is unique; reads the hub served itself have none).
ALTER TABLE customer_reads
  ADD COLUMN served_from text NOT NULL DEFAULT 'hub' CHECK (served_from IN ('hub', 'site-cache')),
  ADD COLUMN event_id text UNIQUE;
