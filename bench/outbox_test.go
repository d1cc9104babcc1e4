package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/outbox"
)

// The transactional outbox on the local PostgreSQL (RAMPART_TEST_POSTGRES_URL,
// default postgres://postgres@127.0.0.1:5432/test), next to publishing directly
// after the commit (the dual write the outbox replaces, which can lose or invent
// events). Both publish to the in-process memory transport, drained by a consumer,
// so that the broker is not the bottleneck: the numbers are those of the database
// and of the relay.
//
// Each event is one transaction by one of 8 writers: INSERT of an order row plus,
// for the outbox, outbox.AddPgx of the event (keyed by the order; 256 orders).
// lib=rampart-outbox commits and leaves publishing to 1 or 4 relays (each with a
// pool of its own, as separate instances would have), woken by the NOTIFY trigger;
// lib=rampart-outbox-poll10ms is the same without the trigger, the relays polling
// every 10ms; lib=direct-publish commits and then calls Publish itself. An op is one event, committed and published:
// rows/s is events per second end to end; p50-ms and p99-ms are the time from the
// end of the commit to the publisher's confirmation, under that full load.
// BenchmarkOutboxLatency measures the same latency at a steady 200 events/s.

const (
	obWriters = 8
	obOrders  = 256 // a multiple of obWriters: each order belongs to one writer
)

func BenchmarkOutbox(b *testing.B) {
	for _, relays := range []int{1, 4} {
		b.Run(fmt.Sprintf("relays=%d/lib=rampart-outbox", relays), func(b *testing.B) {
			obRun(b, obConfig{relays: relays})
		})
		b.Run(fmt.Sprintf("relays=%d/lib=rampart-outbox-poll10ms", relays), func(b *testing.B) {
			obRun(b, obConfig{relays: relays, poll: 10 * time.Millisecond})
		})
		b.Run(fmt.Sprintf("relays=%d/lib=direct-publish", relays), func(b *testing.B) {
			obRun(b, obConfig{})
		})
	}
}

func BenchmarkOutboxLatency(b *testing.B) {
	b.Run("lib=rampart-outbox", func(b *testing.B) { obRun(b, obConfig{relays: 1, rate: 200}) })
	b.Run("lib=rampart-outbox-poll10ms", func(b *testing.B) {
		obRun(b, obConfig{relays: 1, rate: 200, poll: 10 * time.Millisecond})
	})
	b.Run("lib=direct-publish", func(b *testing.B) { obRun(b, obConfig{rate: 200}) })
}

// obConfig is one configuration of obRun.
type obConfig struct {
	relays int           // 0: publish directly after the commit
	rate   int           // > 0: writers paced to rate events per second in all
	poll   time.Duration // > 0: no NOTIFY trigger; the relays poll this often
}

// OutboxOrderPlaced is the benchmark's event.
type OutboxOrderPlaced struct {
	Order string `json:"order"`
	N     int    `json:"n"`
}

// obRun commits b.N events with obWriters writers, through the outbox or
// published directly, and waits until every one is published.
func obRun(b *testing.B, cfg obConfig) {
	relays, rate := cfg.relays, cfg.rate
	ctx := context.Background()
	dsn := obPostgresURL(b)
	prefix := "bench_" + strings.ToLower(rand.Text()[:8]) + "_"
	pool := obPool(b, dsn, obWriters+2)
	b.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), fmt.Sprintf(`DROP TABLE IF EXISTS %[1]soutbox, %[1]soutbox_relay, %[1]sschema_version, %[1]sorders;
DROP FUNCTION IF EXISTS %[1]soutbox_notify() CASCADE`, prefix))
	})
	if err := outbox.MigratePgx(ctx, pool, outbox.Options{TablePrefix: prefix}); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE "+prefix+"orders (id BIGSERIAL PRIMARY KEY, order_id TEXT NOT NULL, n INT NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	if cfg.poll > 0 {
		// Without the trigger, commits that add events do not queue for
		// PostgreSQL's notification lock (see the outbox package's Latency docs).
		if _, err := pool.Exec(ctx, "DROP TRIGGER "+prefix+"outbox_notify ON "+prefix+"outbox"); err != nil {
			b.Fatal(err)
		}
	}
	ob, err := outbox.New(outbox.Options{TablePrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}

	tr := memory.New()
	defer tr.Close()
	bs, err := bus.New(tr, bus.Options{Source: "/bench"})
	if err != nil {
		b.Fatal(err)
	}
	// A consumer that drains the queue, so that Publish has a bound queue.
	typ := "bench.outbox-order-placed.v1"
	if err := bus.Register[OutboxOrderPlaced](bs.Registry(), typ); err != nil {
		b.Fatal(err)
	}
	cons, err := tr.Subscribe(ctx, bus.Subscription{Name: "sink", EventTypes: []string{typ}, Prefetch: 1024})
	if err != nil {
		b.Fatal(err)
	}
	dctx, stopDrain := context.WithCancel(ctx)
	var drain sync.WaitGroup
	drain.Go(func() {
		for {
			d, err := cons.Receive(dctx)
			if err != nil {
				return
			}
			_ = d.Ack(dctx)
		}
	})
	defer func() { stopDrain(); drain.Wait(); cons.Close() }()

	// Every event, encoded before the clock starts.
	n := b.N
	msgs := make([]bus.Message, n)
	index := make(map[string]int, n)
	for i := range msgs {
		order := fmt.Sprintf("o-%d", i%obOrders)
		m, err := bs.Encode(ctx, OutboxOrderPlaced{Order: order, N: i}, bus.WithPartitionKey(order))
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
		index[m.ID] = i
	}
	committed := make([]time.Time, n)
	published := make([]time.Time, n)
	pub := &obTimer{next: tr, index: index, at: published, done: make(chan struct{}), left: n}

	var rs []*outbox.Relay
	for range relays {
		r, err := outbox.NewPgxRelay(obPool(b, dsn, 4), pub, outbox.RelayOptions{TablePrefix: prefix, Retention: -1, PollInterval: cfg.poll})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Start(ctx); err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range obWriters {
		wg.Go(func() {
			for i := w; i < n; i += obWriters {
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
						time.Sleep(d)
					}
				}
				m := msgs[i]
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "INSERT INTO "+prefix+"orders (order_id, n) VALUES ($1, $2)", m.Key, i); err != nil {
						return err
					}
					if relays > 0 {
						return ob.AddPgx(ctx, tx, m)
					}
					return nil
				})
				if err != nil {
					b.Error(err)
					return
				}
				committed[i] = time.Now()
				if relays == 0 {
					if err := pub.Publish(ctx, m); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-pub.done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("%d of %d events not published within 2 minutes", pub.remaining(), n)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	lat := make([]time.Duration, n)
	for i := range lat {
		lat[i] = max(0, published[i].Sub(committed[i]))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) float64 { return float64(lat[int(p*float64(n-1))]) / float64(time.Millisecond) }
	b.ReportMetric(float64(n)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// obTimer publishes to next and records when each event was first confirmed.
type obTimer struct {
	next  bus.Transport
	index map[string]int
	at    []time.Time

	mu   sync.Mutex
	left int
	done chan struct{}
}

func (p *obTimer) Publish(ctx context.Context, msgs ...bus.Message) error {
	if err := p.next.Publish(ctx, msgs...); err != nil {
		return err
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		i := p.index[m.ID]
		if p.at[i].IsZero() {
			p.at[i] = now
			p.left--
			if p.left == 0 {
				close(p.done)
			}
		}
	}
	return nil
}

func (p *obTimer) remaining() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.left
}

func obPool(b *testing.B, dsn string, conns int32) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = conns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// obPostgresURL returns the PostgreSQL URL, or skips the benchmark if nobody
// listens there.
func obPostgresURL(b *testing.B) string {
	raw := os.Getenv("RAMPART_TEST_POSTGRES_URL")
	if raw == "" {
		raw = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	u, err := url.Parse(raw)
	if err != nil {
		b.Fatalf("RAMPART_TEST_POSTGRES_URL=%q: %v", raw, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		b.Skipf("PostgreSQL not reachable at %s (set RAMPART_TEST_POSTGRES_URL): %v", u.Host, err)
	}
	c.Close()
	return raw
}
