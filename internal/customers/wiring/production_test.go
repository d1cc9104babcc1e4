package wiring_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/internal/customers/handlers"
	"github.com/rampart-go/rampart/internal/customers/internal/pgschema"
	"github.com/rampart-go/rampart/internal/customers/wiring"
	"github.com/rampart-go/rampart/internal/testenv"
)

// TestPostgresRabbitMQ runs the same flow as TestEmbeddedDefaults on the
// production pieces: PostgreSQL (in a schema of its own) and RabbitMQ (with a
// queue prefix of its own), both removed at the end. It is skipped when either
// is absent, unless RAMPART_REQUIRE_SERVICES=1.
func TestPostgresRabbitMQ(t *testing.T) {
	pgURL := testenv.URL(t, testenv.Postgres)
	amqpURL := testenv.URL(t, testenv.AMQP)
	id := time.Now().UnixNano()

	dbURL := pgschema.New(t, pgURL, fmt.Sprintf("customers_e2e_%d", id))

	prefix := fmt.Sprintf("customers-e2e-%d", id)
	t.Cleanup(func() { deleteQueues(t, amqpURL, prefix) })
	yaml := fmt.Sprintf(`bus:
  transport: rabbitmq
  url: %q
  prefix: %s
  source: /customers
  subscriptions:
    welcome-email: {workers: 2, redelivery: [1s]}
    vip-email: {redelivery: [1s]}
    reserve-inventory: {workers: 2, redelivery: [1s]}
`, amqpURL, prefix)
	cfg, err := config.LoadOptions{IgnoreEnv: true}.Parse("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, wiring.Settings{DatabaseURL: dbURL, Config: cfg, Simulators: testSimulators()})
	if got := s.Store().Dialect(); got != "postgres" {
		t.Fatalf("store dialect %q; want postgres", got)
	}
	exercise(t, s)
}

// TestExternalNATS runs the flow on an external NATS server (JetStream), with
// a stream prefix of its own, removed at the end. It is skipped when the
// server is absent, unless RAMPART_REQUIRE_SERVICES=1.
func TestExternalNATS(t *testing.T) {
	natsURL := testenv.URL(t, testenv.NATS)
	prefix := fmt.Sprintf("customers_e2e_%d", time.Now().UnixNano())
	t.Cleanup(func() { deleteStreams(t, natsURL, prefix) })
	yaml := fmt.Sprintf("bus:\n  transport: jetstream\n  url: %q\n  prefix: %s\n", natsURL, prefix)
	cfg, err := config.LoadOptions{IgnoreEnv: true}.Parse("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, start(t, wiring.Settings{Config: cfg, Simulators: testSimulators()}))
}

// deleteStreams deletes the streams the JetStream transport declared under
// prefix.
func deleteStreams(t *testing.T, url, prefix string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("cleaning NATS up: %v", err)
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Errorf("cleaning NATS up: %v", err)
		return
	}
	for _, name := range []string{prefix + "_EVENTS", prefix + "_DLQ", prefix + "_REDELIVERY"} {
		if err := js.DeleteStream(name); err != nil && !errors.Is(err, nats.ErrStreamNotFound) {
			t.Errorf("deleting stream %s: %v", name, err)
		}
	}
}

// deleteQueues deletes what the RabbitMQ transport declared under prefix: each
// subscription's work, retry and dead-letter queues, and the events exchange.
func deleteQueues(t *testing.T, url, prefix string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Errorf("cleaning RabbitMQ up: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("cleaning RabbitMQ up: %v", err)
		return
	}
	defer ch.Close()
	for _, sub := range handlers.Subscriptions {
		work := prefix + "." + sub
		for _, q := range []string{work, work + ".retry.1s", work + ".dlq"} {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				t.Errorf("deleting queue %s: %v", q, err)
				return
			}
		}
	}
	if err := ch.ExchangeDelete(prefix+".events", false, false); err != nil {
		t.Errorf("deleting exchange %s.events: %v", prefix, err)
	}
}
