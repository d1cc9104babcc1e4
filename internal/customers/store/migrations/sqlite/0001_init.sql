-- Customers, orders and what the event handlers did. Times are Unix microseconds.
CREATE TABLE IF NOT EXISTS customers (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	email      TEXT NOT NULL,
	type       TEXT NOT NULL CHECK (type IN ('regular', 'vip')),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS customers_email ON customers (email);

CREATE TABLE IF NOT EXISTS orders (
	id             TEXT PRIMARY KEY,
	customer_id    TEXT NOT NULL REFERENCES customers (id),
	currency       TEXT NOT NULL,
	total_minor    INTEGER NOT NULL CHECK (total_minor > 0),
	status         TEXT NOT NULL,
	payment_status TEXT NOT NULL,
	payment_id     TEXT NOT NULL DEFAULT '',
	payment_error  TEXT NOT NULL DEFAULT '',
	refunded_minor INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id);
CREATE INDEX IF NOT EXISTS orders_pending ON orders (updated_at) WHERE payment_status = 'pending';

CREATE TABLE IF NOT EXISTS order_items (
	order_id    TEXT NOT NULL REFERENCES orders (id),
	line        INTEGER NOT NULL,
	product_id  TEXT NOT NULL,
	quantity    INTEGER NOT NULL CHECK (quantity > 0),
	price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
	PRIMARY KEY (order_id, line)
);

CREATE TABLE IF NOT EXISTS emails_sent (
	message_id  TEXT PRIMARY KEY,
	customer_id TEXT NOT NULL,
	template    TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	sent_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS emails_sent_customer ON emails_sent (customer_id);

CREATE TABLE IF NOT EXISTS reservations (
	id          TEXT PRIMARY KEY,
	order_id    TEXT NOT NULL,
	line        INTEGER NOT NULL,
	product_id  TEXT NOT NULL,
	quantity    INTEGER NOT NULL,
	event_id    TEXT NOT NULL,
	reserved_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_order ON reservations (order_id);
