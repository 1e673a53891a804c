-- A site's interest in another site's customer lapses when the site has not read that
-- customer for a while (hub config directory.interestTtl), as the site's own cache forgets
-- them: a city that served a roaming customer once does not keep receiving their profile.
-- Every read (served by the hub, or from a site's cache and reported later) renews it.
ALTER TABLE customer_interest ADD COLUMN last_read_ms bigint;
UPDATE customer_interest SET last_read_ms = since_ms;
ALTER TABLE customer_interest ALTER COLUMN last_read_ms SET NOT NULL;
CREATE INDEX customer_interest_last_read ON customer_interest (last_read_ms);
