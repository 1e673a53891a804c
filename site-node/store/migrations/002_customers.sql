-- The site's cache of customer profiles (its own customers and those it recently served)
-- and their contact history. The hub's directory is the system of record. No PIN is stored.
CREATE TABLE customers (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  phones        text[] NOT NULL DEFAULT '{}',
  cards         text[] NOT NULL DEFAULT '{}',
  home_site_id  text NOT NULL,
  segment       text NOT NULL CHECK (segment IN ('retail', 'vip', 'corporate')),
  language      text NOT NULL,
  flags         jsonb NOT NULL DEFAULT '{"blacklisted": false, "lostCard": false}',
  account_ids   text[] NOT NULL DEFAULT '{}',
  version       int NOT NULL CHECK (version >= 0),
  source        text NOT NULL CHECK (source IN ('home', 'served')),
  cached_at     timestamptz NOT NULL
);
CREATE INDEX customers_phones ON customers USING gin (phones);
CREATE INDEX customers_cards ON customers USING gin (cards);

CREATE TABLE contact_history (
  id           bigserial PRIMARY KEY,
  customer_id  text NOT NULL,
  call_id      text NOT NULL,
  at           timestamptz NOT NULL,
  channel      text NOT NULL CHECK (channel IN ('voice-ivr', 'voice-agent', 'ticket')),
  summary      text NOT NULL
);
CREATE INDEX contact_history_customer ON contact_history (customer_id, at DESC);
