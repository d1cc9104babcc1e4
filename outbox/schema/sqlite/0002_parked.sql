-- Parked rows: events the relay stopped trying to publish (no subscription is
-- bound to their type, or they failed RelayOptions.MaxAttempts times). They stay,
-- with their reason and last error, until ReplayParked puts them back; they hold
-- back nothing. The indexes of the rows to publish leave them out. parked_at is
-- in Unix milliseconds.
ALTER TABLE {{prefix}}outbox ADD COLUMN parked_at INTEGER;
ALTER TABLE {{prefix}}outbox ADD COLUMN parked_reason TEXT;
DROP INDEX IF EXISTS {{prefix}}outbox_unsent;
DROP INDEX IF EXISTS {{prefix}}outbox_key_unsent;
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_pending ON {{prefix}}outbox (seq) WHERE sent_at IS NULL AND parked_at IS NULL;
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_key_pending ON {{prefix}}outbox (ordering_key, seq) WHERE sent_at IS NULL AND parked_at IS NULL;
CREATE INDEX IF NOT EXISTS {{prefix}}outbox_parked ON {{prefix}}outbox (seq) WHERE parked_at IS NOT NULL;
