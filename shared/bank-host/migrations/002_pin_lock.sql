-- PIN lockout across calls (port.ts PinLockPolicy): wrong PINs are counted per customer (a
-- card's wrong PIN counts against its customer), so a caller who redials does not get three
-- fresh tries. The count and the lock live on the customer's row, which verifyPin locks
-- (FOR UPDATE) so that concurrent attempts count one by one.
ALTER TABLE ledger.customers
  ADD COLUMN pin_failures        int NOT NULL DEFAULT 0 CHECK (pin_failures >= 0),
  ADD COLUMN pin_locked_until_ms bigint;

-- Every lock, as it started, and who lifted it before it lapsed (unlockPin): the audit trail.
CREATE TABLE ledger.pin_locks (
  lock_id         bigserial PRIMARY KEY,
  customer_id     text NOT NULL REFERENCES ledger.customers (customer_id),
  failures        int NOT NULL,
  locked_at_ms    bigint NOT NULL,
  locked_until_ms bigint NOT NULL CHECK (locked_until_ms > locked_at_ms),
  unlocked_at_ms  bigint,
  unlocked_by     text,
  unlock_reason   text,
  CONSTRAINT pin_locks_unlock_whole CHECK (
    (unlocked_at_ms IS NULL) = (unlocked_by IS NULL) AND (unlocked_at_ms IS NULL) = (unlock_reason IS NULL)
  )
);
CREATE INDEX pin_locks_customer ON ledger.pin_locks (customer_id, lock_id DESC);
