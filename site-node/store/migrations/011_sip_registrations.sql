-- Agent phones' registrations, the site's SIP location service (docs/sip.md "The location
-- service"; site-node/store/sip-registrations-repo.ts): one row per binding, an address-of-
-- record (`sip:1001@chongqing.cc.example`) and one of its contacts. Every change a REGISTER
-- makes is committed before its 200 is sent, so a restarted site still knows where each phone
-- is. `received_*` is where the REGISTER came from: the address a phone behind a NAT is
-- reached at when its Contact names an address of its own network (docs/sip.md).
CREATE TABLE sip_registrations (
  aor                text NOT NULL,
  contact            text NOT NULL,
  call_id            text NOT NULL,
  cseq               bigint NOT NULL CHECK (cseq >= 0),
  expires_at         timestamptz NOT NULL,
  q                  numeric(4, 3) CHECK (q >= 0 AND q <= 1),
  received_transport text NOT NULL CHECK (received_transport IN ('udp', 'tcp')),
  received_host      text NOT NULL,
  received_port      int NOT NULL CHECK (received_port BETWEEN 1 AND 65535),
  user_agent         text,
  registered_at      timestamptz NOT NULL,
  PRIMARY KEY (aor, contact)
);
CREATE INDEX sip_registrations_expiry ON sip_registrations (expires_at);
