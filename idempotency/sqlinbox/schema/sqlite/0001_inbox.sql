-- The inbox: one row per (consumer, message) that is claimed or done. Keys are
-- bytes, so that any Go string fits. Times are Unix nanoseconds. A claim holds a
-- token until expires_at (its lease); a done mark has done = 1 and lasts until
-- expires_at (the retention). After a done mark made inside a handler's
-- transaction (DoneTx), token keeps the claim's token until that claim's own Done
-- acknowledges it.
CREATE TABLE IF NOT EXISTS {{prefix}}inbox (
	consumer   BLOB NOT NULL,
	message_id BLOB NOT NULL,
	done       INTEGER NOT NULL DEFAULT 0,
	token      TEXT,
	expires_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (consumer, message_id)
);
CREATE INDEX IF NOT EXISTS {{prefix}}inbox_expires ON {{prefix}}inbox (expires_at);
