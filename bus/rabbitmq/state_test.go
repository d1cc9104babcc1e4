package rabbitmq_test

import (
	"context"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/health"
)

// readiness returns the readiness status of a health checker whose one check is the
// transport's RabbitMQ connection, with at least one consumer required.
func readiness(t *testing.T, conn health.ConnectionState) func() health.Response {
	t.Helper()
	c, err := health.New(health.Config{
		Readiness: []health.Source{health.RabbitMQ(conn, health.ConnectionOptions{MinConsumers: 1})},
		CacheFor:  -1, // every probe checks again
		Timeout:   2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return func() health.Response { return c.Evaluate(context.Background(), health.Readiness) }
}

func subscribeOne(t *testing.T, tr bus.Transport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tr.Subscribe(ctx, bus.Subscription{Name: "health", EventTypes: []string{"tests.health.v1"}, Prefetch: 1})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
}

func TestHealthFollowsTheConnection(t *testing.T) {
	p, url := newProxy(t)
	tr := newTransport(t, url, testOptions(t))
	subscribeOne(t, tr)
	ready := readiness(t, tr)

	eventually(t, 10*time.Second, "readiness to pass with the consumer running", func() bool {
		return ready().Status == health.StatusPass && tr.ConsumersRunning() == 1
	})
	if !tr.Connected() || tr.Blocked() || tr.LastError() != nil {
		t.Fatalf("Connected, Blocked, LastError = %v, %v, %v; want true, false, nil", tr.Connected(), tr.Blocked(), tr.LastError())
	}

	// The network goes away: every connection through the proxy is reset, and so is
	// every attempt to reconnect.
	addToxic(t, p, `{"name":"down","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`)
	addToxic(t, p, `{"name":"up","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`)
	eventually(t, 15*time.Second, "readiness to fail while the broker is unreachable", func() bool {
		return ready().Status == health.StatusFail
	})
	if tr.Connected() {
		t.Fatal("Connected() = true while readiness fails")
	}
	if tr.LastError() == nil {
		t.Fatal("LastError() = nil while a connection is down")
	}

	removeToxic(t, p, "down")
	removeToxic(t, p, "up")
	eventually(t, 15*time.Second, "readiness to pass again after the network is back", func() bool {
		return ready().Status == health.StatusPass && tr.ConsumersRunning() == 1
	})
}

func TestHealthAfterCloseAllConnections(t *testing.T) {
	requireRabbitmqctl(t)
	tr := newTransport(t, "", testOptions(t))
	subscribeOne(t, tr)
	ready := readiness(t, tr)
	eventually(t, 10*time.Second, "readiness to pass", func() bool { return ready().Status == health.StatusPass })

	if err := closeConnections(t, tr); err != nil {
		return
	}
	eventually(t, 15*time.Second, "readiness to pass again after rabbitmqctl closed its connections", func() bool {
		return ready().Status == health.StatusPass && tr.ConsumersRunning() == 1 && tr.Connected()
	})
}
