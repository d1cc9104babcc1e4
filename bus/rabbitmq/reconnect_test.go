package rabbitmq_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/internal/testenv"
)

// Order is the event of these tests.
type Order struct {
	N int `json:"n"`
}

// world is a bus with an inbox on a transport, with a handler that counts what it
// handles by event ID.
type world struct {
	t     *testing.T
	tr    *rabbitmq.Transport
	b     *bus.Bus
	sub   string
	typ   string
	mu    sync.Mutex
	seen  map[string]int // handler calls by event ID
	skips int            // deliveries the inbox recognised as duplicates
}

func newWorld(t *testing.T, tr *rabbitmq.Transport) *world {
	t.Helper()
	w := &world{t: t, tr: tr, sub: "orders", typ: fmt.Sprintf("rt.%08x.order-placed.v1", rand.Uint32()), seen: map[string]int{}}
	reg := bus.NewRegistry()
	if err := bus.Register[Order](reg, w.typ); err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(tr, bus.Options{
		Source:   "/rabbitmq-test",
		Registry: reg,
		Inbox:    idempotency.NewMemory(idempotency.MemoryOptions{}),
		OnSettle: func(s bus.Settlement) {
			if s.Action == bus.ActionSkip {
				w.mu.Lock()
				w.skips++
				w.mu.Unlock()
			}
		},
		Subscriptions: map[string]bus.SubscriptionOptions{w.sub: {
			Workers: 4, Prefetch: 32, Timeout: 5 * time.Second,
			RedeliveryDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := bus.Handle(b, w.sub, func(ctx context.Context, o Order, m bus.Meta) error {
		w.mu.Lock()
		w.seen[m.ID]++
		w.mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	w.b = b
	return w
}

// publishThrough publishes n messages from 4 goroutines, each publish retried
// with the same event ID until the broker confirms it (a failed publish may have
// reached the broker: the inbox absorbs the duplicate). After a third of them, it
// calls cut. It returns the IDs, all confirmed.
func (w *world) publishThrough(n int, cut func()) []string {
	t := w.t
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := bus.NewID()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		confirmed int
		failures  int
		cutOnce   sync.Once
		errs      = make(chan error, 4)
	)
	for p := range 4 {
		wg.Go(func() {
			for i := p; i < n; i += 4 {
				deadline := time.Now().Add(20 * time.Second)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := w.b.Publish(ctx, Order{N: i}, bus.WithID(ids[i]))
					cancel()
					if err == nil {
						break
					}
					mu.Lock()
					failures++
					mu.Unlock()
					if time.Now().After(deadline) {
						errs <- fmt.Errorf("message %d: still failing after 20s: %w", i, err)
						return
					}
					time.Sleep(20 * time.Millisecond) // waiting out the reconnect, bounded by the deadline
				}
				mu.Lock()
				confirmed++
				c := confirmed
				mu.Unlock()
				if c == n/3 {
					cutOnce.Do(cut)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d messages confirmed; %d publish calls failed and were repeated", n, failures)
	return ids
}

// checkHandledOnce waits until every ID was handled, then checks that each was
// handled exactly once.
func (w *world) checkHandledOnce(ids []string) {
	t := w.t
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("all %d confirmed messages handled", len(ids)), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, id := range ids {
			if w.seen[id] == 0 {
				return false
			}
		}
		return true
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, id := range ids {
		if c := w.seen[id]; c != 1 {
			t.Errorf("message %d (%s) handled %d times, want exactly once", i, id, c)
		}
	}
	if len(w.seen) != len(ids) {
		t.Errorf("handled %d distinct events, want %d", len(w.seen), len(ids))
	}
	pub, cons := rabbitmq.Reconnects(w.tr)
	t.Logf("reconnects: publish %d, consume %d; duplicates absorbed by the inbox: %d", pub, cons, w.skips)
	if pub == 0 || cons == 0 {
		t.Errorf("reconnects: publish %d, consume %d; want both connections cut and reconnected", pub, cons)
	}
}

func TestReconnectAfterBrokerClosesConnections(t *testing.T) {
	requireRabbitmqctl(t)
	w := newWorld(t, newTransport(t, "", testOptions(t)))
	ids := w.publishThrough(600, func() { closeConnections(t, w.tr) })
	w.checkHandledOnce(ids)
}

func TestReconnectAfterClientSocketDies(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	w := newWorld(t, tr)
	ids := w.publishThrough(600, func() { rabbitmq.CutSockets(tr) })
	w.checkHandledOnce(ids)
}

// newProxy starts an in-process toxiproxy in front of the local broker and
// returns it with the AMQP URL through it.
func newProxy(t *testing.T) (*toxiproxy.Proxy, string) {
	t.Helper()
	url := testenv.URL(t, testenv.AMQP)
	i := strings.LastIndex(url, "@")
	rest := url[i+1:]
	host, path, _ := strings.Cut(rest, "/")
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, t.Name(), "127.0.0.1:0", host)
	if err := p.Start(); err != nil {
		t.Fatalf("starting toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return p, url[:i+1] + p.Listen + "/" + path
}

func addToxic(t *testing.T, p *toxiproxy.Proxy, spec string) {
	t.Helper()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
		t.Fatalf("adding toxic %s: %v", spec, err)
	}
}

func removeToxic(t *testing.T, p *toxiproxy.Proxy, name string) {
	t.Helper()
	if err := p.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatalf("removing toxic %s: %v", name, err)
	}
}

func TestReconnectThroughProxy(t *testing.T) {
	cases := []struct {
		name   string
		toxics []string
	}{
		// The proxy resets the connection (TCP RST) as soon as data flows, and every
		// new one, until the toxic is removed.
		{"reset", []string{`{"name":"reset","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`}},
		// The proxy stalls the connection: nothing flows either way, nothing is
		// closed; the heartbeat notices.
		{"stall", []string{
			`{"name":"stall-down","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`,
			`{"name":"stall-up","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy, url := newProxy(t)
			opts := testOptions(t)
			opts.Heartbeat = time.Second
			opts.DialTimeout = 2 * time.Second
			tr := newTransport(t, url, opts)
			w := newWorld(t, tr)
			ids := w.publishThrough(400, func() {
				for _, spec := range tc.toxics {
					addToxic(t, proxy, spec)
				}
				eventually(t, 10*time.Second, "the transport to notice that both connections broke", func() bool {
					pub, cons := rabbitmq.Down(tr)
					return pub && cons
				})
				for _, spec := range tc.toxics {
					name := spec[len(`{"name":"`):]
					removeToxic(t, proxy, name[:strings.Index(name, `"`)])
				}
			})
			w.checkHandledOnce(ids)
			eventually(t, 10*time.Second, "both connections back", func() bool { return rabbitmq.Connected(tr) })
		})
	}
}
