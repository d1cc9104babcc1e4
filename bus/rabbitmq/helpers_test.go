package rabbitmq_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/internal/testenv"
	"github.com/rampart-go/rampart/resilience"
)

// fastReconnect keeps reconnects in tests quick.
var fastReconnect = resilience.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}

// testOptions returns options with a prefix unique to this test, fast reconnects
// and short heartbeats.
func testOptions(t *testing.T) rabbitmq.Options {
	return rabbitmq.Options{
		Name:      "rampart-test",
		Prefix:    fmt.Sprintf("rt-%08x", rand.Uint32()),
		Heartbeat: 2 * time.Second,
		Reconnect: fastReconnect,
	}
}

// newTransport connects to the test broker at url (the local RabbitMQ if empty)
// and, when the test ends, closes the transport and deletes the queues and the
// exchange it declared.
func newTransport(t *testing.T, url string, opts rabbitmq.Options) *rabbitmq.Transport {
	t.Helper()
	if url == "" {
		url = testenv.URL(t, testenv.AMQP)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := rabbitmq.New(ctx, url, opts)
	if err != nil {
		t.Fatalf("rabbitmq.New: %v", err)
	}
	t.Cleanup(func() {
		tr.Close()
		deleteTopology(t, rabbitmq.DeclaredQueues(tr), tr.Exchange())
	})
	return tr
}

// deleteTopology deletes queues and an exchange on the local broker.
func deleteTopology(t *testing.T, queues []string, exchange string) {
	t.Helper()
	withChannel(t, func(ch *amqp.Channel) {
		for _, q := range queues {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				t.Errorf("cleanup: deleting queue %s: %v", q, err)
				return
			}
		}
		if exchange != "" {
			if err := ch.ExchangeDelete(exchange, false, false); err != nil {
				t.Errorf("cleanup: deleting exchange %s: %v", exchange, err)
			}
		}
	})
}

// withChannel runs fn with a channel of a plain amqp091-go connection to the
// local broker.
func withChannel(t *testing.T, fn func(ch *amqp.Channel)) {
	t.Helper()
	conn, err := amqp.Dial(testenv.URL(t, testenv.AMQP))
	if err != nil {
		t.Fatalf("amqp.Dial: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("opening a channel: %v", err)
	}
	defer ch.Close()
	fn(ch)
}

// rabbitmqctl runs rabbitmqctl with args, or skips the test when it is not
// available or not allowed (it needs the broker's Erlang cookie: root on the
// development machines). It must run on the test's goroutine.
func rabbitmqctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runRabbitmqctl(args...)
	if err != nil {
		t.Skip(err)
	}
	return out
}

// runRabbitmqctl runs rabbitmqctl with args.
func runRabbitmqctl(args ...string) (string, error) {
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		return "", fmt.Errorf("rabbitmqctl not found: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// requireRabbitmqctl skips the test if rabbitmqctl is not installed.
func requireRabbitmqctl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skipf("rabbitmqctl not found: %v", err)
	}
}

// closeConnections closes tr's connections from the broker's side
// (rabbitmqctl close_connection, by the pid of each connection whose client port
// is one of tr's), and only tr's: tests of other packages using the same broker
// at the same time keep theirs. It may run on any goroutine: it reports a failure
// with t.Error and returns it.
func closeConnections(t *testing.T, tr *rabbitmq.Transport) error {
	t.Helper()
	ports := rabbitmq.LocalPorts(tr)
	out, err := runRabbitmqctl("-q", "list_connections", "--no-table-headers", "pid", "peer_port")
	if err != nil {
		t.Error(err)
		return err
	}
	closed := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !slices.Contains(ports, f[1]) {
			continue
		}
		if _, err := runRabbitmqctl("close_connection", f[0], "rampart test: cutting the connection"); err != nil {
			t.Error(err)
			return err
		}
		closed++
	}
	if closed == 0 {
		err := fmt.Errorf("rabbitmqctl lists none of the transport's connections (client ports %v)", ports)
		t.Error(err)
		return err
	}
	return nil
}

// eventually polls cond every 10ms until it holds, failing the test after
// timeout with what it waited for.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline: the broker has no notification for this
	}
}

// testWriter writes a transport's logs to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
