-- Reference ledger standing in for the bank host (docs/architecture.md §4). Double entry: every posting
-- has entries that sum to zero per currency (checked at commit by a deferred constraint
-- trigger); account balances are the running sum of their entries.
CREATE SCHEMA IF NOT EXISTS ledger;

CREATE TABLE ledger.customers (
  customer_id text PRIMARY KEY,
  pin_hash    text NOT NULL CHECK (pin_hash LIKE 'scrypt$%')
);

CREATE TABLE ledger.accounts (
  account_id      text PRIMARY KEY,
  customer_id     text REFERENCES ledger.customers (customer_id),
  type            text NOT NULL CHECK (type IN ('current', 'deposit', 'internal')),
  currency        char(3) NOT NULL,
  balance_minor   bigint NOT NULL DEFAULT 0,
  overdraft_minor bigint NOT NULL DEFAULT 0 CHECK (overdraft_minor >= 0),
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stopped')),
  -- Customer accounts never go below their overdraft line; internal (equity, clearing) may.
  CONSTRAINT accounts_no_overdraw CHECK (type = 'internal' OR balance_minor >= -overdraft_minor),
  CONSTRAINT accounts_owner CHECK ((type = 'internal') = (customer_id IS NULL))
);
CREATE INDEX accounts_customer ON ledger.accounts (customer_id);

CREATE TABLE ledger.cards (
  card_number   text PRIMARY KEY CHECK (card_number ~ '^[0-9]{12,19}$'),
  customer_id   text NOT NULL REFERENCES ledger.customers (customer_id),
  account_id    text NOT NULL REFERENCES ledger.accounts (account_id),
  pin_hash      text NOT NULL CHECK (pin_hash LIKE 'scrypt$%'),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'stopped')),
  stopped_at_ms bigint
);

CREATE TABLE ledger.postings (
  posting_id  text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('opening', 'transfer', 'bill', 'reversal')),
  status      text NOT NULL DEFAULT 'posted' CHECK (status IN ('posted', 'reversed')),
  memo        text NOT NULL DEFAULT '',
  bill_ref    text,
  reverses    text UNIQUE REFERENCES ledger.postings (posting_id),
  at_ms       bigint NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT postings_reversal_link CHECK ((kind = 'reversal') = (reverses IS NOT NULL))
);

CREATE TABLE ledger.entries (
  entry_id     bigserial PRIMARY KEY,
  posting_id   text NOT NULL REFERENCES ledger.postings (posting_id),
  account_id   text NOT NULL REFERENCES ledger.accounts (account_id),
  amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
  currency     char(3) NOT NULL
);
CREATE INDEX entries_account ON ledger.entries (account_id, entry_id DESC);
CREATE INDEX entries_posting ON ledger.entries (posting_id);

CREATE FUNCTION ledger.check_posting_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM ledger.entries WHERE posting_id = NEW.posting_id
    GROUP BY currency HAVING sum(amount_minor) <> 0
  ) THEN
    RAISE EXCEPTION 'posting % is not balanced', NEW.posting_id USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER entries_balanced AFTER INSERT OR UPDATE ON ledger.entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger.check_posting_balanced();

-- One row per client request key. `voided` = a reversal arrived before (or instead of) the
-- original; the original is then refused if it ever arrives.
CREATE TABLE ledger.idempotency_keys (
  key         text PRIMARY KEY,
  fingerprint text NOT NULL,
  posting_id  text REFERENCES ledger.postings (posting_id),
  voided      boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger.deposit_rates (
  term_months    int PRIMARY KEY CHECK (term_months >= 0),
  annual_percent numeric(6, 3) NOT NULL
);

CREATE TABLE ledger.fx_rates (
  currency char(3) PRIMARY KEY,
  buy      numeric(12, 4) NOT NULL,
  sell     numeric(12, 4) NOT NULL
);

INSERT INTO ledger.accounts (account_id, customer_id, type, currency) VALUES
  ('bank-opening-equity', NULL, 'internal', 'CNY'),
  ('clearing-utility-water', NULL, 'internal', 'CNY'),
  ('clearing-utility-power', NULL, 'internal', 'CNY'),
  ('clearing-utility-gas', NULL, 'internal', 'CNY'),
  ('clearing-phone', NULL, 'internal', 'CNY'),
  ('clearing-cable-tv', NULL, 'internal', 'CNY');
