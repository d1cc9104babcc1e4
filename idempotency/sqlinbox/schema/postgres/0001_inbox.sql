-- The inbox: one row per (consumer, message) that is claimed or done. Keys are
-- bytes, so that any Go string fits. A claim holds a token until expires_at (its
-- lease); a done mark has done = true and lasts until expires_at (the retention).
-- After a done mark made inside a handler's transaction (DoneTx), token keeps the
-- claim's token until that claim's own Done acknowledges it.
CREATE TABLE IF NOT EXISTS {{prefix}}inbox (
	consumer   BYTEA NOT NULL,
	message_id BYTEA NOT NULL,
	done       BOOLEAN NOT NULL DEFAULT false,
	token      TEXT,
	expires_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL DEFAULT statement_timestamp(),
	PRIMARY KEY (consumer, message_id)
);
CREATE INDEX IF NOT EXISTS {{prefix}}inbox_expires ON {{prefix}}inbox (expires_at);
