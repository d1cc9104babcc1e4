-- The outbox: one row per event, written by Add in the service's transaction and
-- published by the relay. seq orders the rows of one ordering key. Times are Unix
-- milliseconds.
CREATE TABLE IF NOT EXISTS {{prefix}}outbox (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id      TEXT NOT NULL,
	event_type    TEXT NOT NULL,
	ordering_key  TEXT NOT NULL DEFAULT '',
	headers       TEXT NOT NULL,
	body          BLOB NOT NULL,
	created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
	attempts      INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT,
	claimed_until INTEGER,
	claimed_by    TEXT,
	sent_at       INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS {{prefix}}outbox_event_id ON {{prefix}}outbox (event_id);
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_unsent ON {{prefix}}outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_key_unsent ON {{prefix}}outbox (ordering_key, seq) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_sent ON {{prefix}}outbox (sent_at) WHERE sent_at IS NOT NULL;

-- The lock that keeps one relay per database file: its owner renews expires_at
-- while it runs and deletes the row when it stops.
CREATE TABLE IF NOT EXISTS {{prefix}}outbox_relay (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	owner       TEXT NOT NULL,
	acquired_at INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
);
