-- A ticket's idempotency key: whoever opens a ticket may name the request (the IVR's ticket or
-- callback id, a call's fallback), so that a retried write (the store lost the answer of a
-- commit, or the step after it failed) finds the ticket it opened instead of opening a second
-- one and calling the customer twice (docs/architecture.md §7.1). NULL: no key, no dedupe.
-- Unique among tickets not closed: a retry finds its ticket still open (nothing holds it
-- before the write returns), while a call whose request was closed (served while it waited)
-- may ask again under the same key derived from the call.
ALTER TABLE tickets ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX tickets_idempotency_key ON tickets (idempotency_key) WHERE status <> 'closed';
