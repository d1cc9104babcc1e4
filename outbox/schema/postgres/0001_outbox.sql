-- The outbox: one row per event, written by Add in the service's transaction and
-- published by a relay. seq orders the rows of one ordering key.
CREATE TABLE IF NOT EXISTS {{prefix}}outbox (
	seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id      TEXT NOT NULL,
	event_type    TEXT NOT NULL,
	ordering_key  TEXT NOT NULL DEFAULT '',
	headers       JSONB NOT NULL,
	body          BYTEA NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
	attempts      INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT,
	claimed_until TIMESTAMPTZ,
	claimed_by    TEXT,
	sent_at       TIMESTAMPTZ
);
CREATE UNIQUE INDEX IF NOT EXISTS {{prefix}}outbox_event_id ON {{prefix}}outbox (event_id);
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_unsent ON {{prefix}}outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_key_unsent ON {{prefix}}outbox (ordering_key, seq) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_sent ON {{prefix}}outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Wake the relays when a transaction that added rows commits (NOTIFY is delivered
-- at commit, and once per transaction for equal payloads).
CREATE OR REPLACE FUNCTION {{prefix}}outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('{{prefix}}outbox', '');
	RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS {{prefix}}outbox_notify ON {{prefix}}outbox;
CREATE TRIGGER {{prefix}}outbox_notify AFTER INSERT ON {{prefix}}outbox
	FOR EACH STATEMENT EXECUTE FUNCTION {{prefix}}outbox_notify();
