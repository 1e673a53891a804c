-- Which hub leads (docs/architecture.md §6.6; hub/lease/lease.ts says why a lease row and not an
-- advisory lock). One row: the leading hub's id and advertised address, the fencing token of
-- its term (raised at every change of holder) and when its lease runs out, on THIS database's
-- clock, the only clock both hubs share.
CREATE TABLE hub_lease (
  id          smallint PRIMARY KEY CHECK (id = 1),
  holder      text NULL,
  address     text NULL,
  -- UNIQUE, so that an UPDATE changing the token (a takeover) takes the row's strongest lock,
  -- which waits for the fenced writes in flight (below); a renewal leaves the token as it is
  -- and so does not wait for them.
  token       bigint NOT NULL UNIQUE,
  expires_at  timestamptz NOT NULL,
  -- The last hub that tried for the lease and found it held, and when: a leader with no
  -- contender (a province with one hub) need not step down before confirming its lease after a
  -- stall of its own, since nobody can have taken it (hub/lease/lease.ts).
  contender     text NULL,
  contender_at  timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO hub_lease (id, holder, address, token, expires_at) VALUES (1, NULL, NULL, 0, '-infinity');

-- The fence every leader-only write runs first, in its own transaction: it fails (SQLSTATE
-- PCCNL, "not leader") unless the caller's token is the current one and unexpired. The row
-- stays key-share-locked until the write commits, so a takeover (an UPDATE of the token, the
-- row's key) waits for writes already fenced and every write after it fails: a deposed hub
-- cannot write. The leader's own renewals (no key change) never wait for its writes, however
-- long a burst of ingest takes.
CREATE FUNCTION hub_fence(p_holder text, p_token bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM hub_lease
   WHERE id = 1 AND holder = p_holder AND token = p_token AND expires_at > clock_timestamp()
   FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'hub % is not the leader: fencing token % is not the current lease', p_holder, p_token
      USING ERRCODE = 'PCCNL';
  END IF;
  RETURN true;
END $$;
