package outbox_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/internal/sqldb/sqldbtest"
	"github.com/rampart-go/rampart/internal/testenv"
	"github.com/rampart-go/rampart/outbox"
	"github.com/rampart-go/rampart/resilience"
)

var ctx = context.Background()

// OrderPlaced is the event of the tests: N numbers the events of one order.
type OrderPlaced struct {
	Order string `json:"order"`
	N     int    `json:"n"`
}

const orderPlaced = "shop.order-placed.v1"

// OrderCancelled is a second event type, which the tests leave unsubscribed.
type OrderCancelled struct {
	Order string `json:"order"`
}

const orderCancelled = "shop.order-cancelled.v1"

// encoder encodes events the way a bus publishes them.
func encoder(t testing.TB) *bus.Bus {
	t.Helper()
	reg := bus.NewRegistry()
	if err := bus.Register[OrderPlaced](reg, orderPlaced); err != nil {
		t.Fatal(err)
	}
	if err := bus.Register[OrderCancelled](reg, orderCancelled); err != nil {
		t.Fatal(err)
	}
	tr := memory.New()
	t.Cleanup(func() { tr.Close() })
	b, err := bus.New(tr, bus.Options{Source: "/shop", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// event returns the message of OrderPlaced{order, n}, ordered by order.
func event(t testing.TB, b *bus.Bus, order string, n int) bus.Message {
	t.Helper()
	m, err := b.Encode(ctx, OrderPlaced{Order: order, N: n}, bus.WithPartitionKey(order))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// backend is one way to reach one kind of database.
type backend struct {
	name    string
	dialect outbox.Dialect
	pgx     bool // through a pgx pool rather than database/sql
}

var (
	pgSQL  = backend{"postgres-sql", outbox.Postgres, false}
	pgPgx  = backend{"postgres-pgx", outbox.Postgres, true}
	sqlite = backend{"sqlite", outbox.SQLite, false}

	allBackends = []backend{sqlite, pgSQL, pgPgx}
)

// env is an outbox of its own in a database of the backend's kind: a table
// prefix of its own on the test PostgreSQL (dropped at the end), a new SQLite file.
type env struct {
	t       testing.TB
	backend backend
	prefix  string
	dsn     string        // what a child process opens
	db      *sql.DB       // database/sql backends; also set for pgx ones, for checks
	pool    *pgxpool.Pool // pgx backend
	ob      *outbox.Outbox
	bus     *bus.Bus // encoder
}

func newEnv(t testing.TB, be backend) *env {
	t.Helper()
	e := newBareEnv(t, be)
	if err := e.migrate(); err != nil {
		t.Fatal(err)
	}
	return e
}

// newBareEnv is newEnv without the outbox's tables.
func newBareEnv(t testing.TB, be backend) *env {
	t.Helper()
	e := &env{t: t, backend: be, bus: encoder(t)}
	switch be.dialect {
	case outbox.Postgres:
		e.dsn = testenv.URL(t, testenv.Postgres)
		e.prefix = "t" + strings.ToLower(rand.Text()[:10]) + "_"
		e.db = openSQL(t, "pgx", e.dsn)
		t.Cleanup(func() { dropTables(t, e.db, e.prefix) })
		if be.pgx {
			e.pool = openPool(t, e.dsn)
		}
	case outbox.SQLite:
		e.dsn = sqliteDSN(filepath.Join(t.TempDir(), "app.db"))
		e.prefix = "app_"
		e.db = openSQL(t, "sqlite", e.dsn)
	}
	var err error
	if e.ob, err = outbox.New(outbox.Options{TablePrefix: e.prefix}); err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	sqliteDSN = sqldbtest.SQLiteDSN
	openSQL   = sqldbtest.OpenSQL
)

func openPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func dropTables(t testing.TB, db *sql.DB, prefix string) {
	_, err := db.ExecContext(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]soutbox, %[1]soutbox_relay, %[1]sschema_version, %[1]sorders CASCADE;
DROP FUNCTION IF EXISTS %[1]soutbox_notify() CASCADE`, prefix))
	if err != nil {
		t.Errorf("dropping the tables of %s: %v", prefix, err)
	}
}

func (e *env) migrate() error {
	if e.pool != nil {
		return outbox.MigratePgx(ctx, e.pool, outbox.Options{TablePrefix: e.prefix})
	}
	return outbox.Migrate(ctx, e.db, outbox.Options{TablePrefix: e.prefix})
}

// relay starts a relay of the env's outbox (through the env's backend) that
// publishes to pub, and closes it when the test ends.
func (e *env) relay(pub outbox.Publisher, opts outbox.RelayOptions) *outbox.Relay {
	e.t.Helper()
	r := e.newRelay(pub, opts)
	if err := r.Start(ctx); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	return r
}

func (e *env) newRelay(pub outbox.Publisher, opts outbox.RelayOptions) *outbox.Relay {
	e.t.Helper()
	opts.TablePrefix = e.prefix
	if opts.Logger == nil && os.Getenv("OUTBOX_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Backoff == (resilience.Backoff{}) {
		opts.Backoff = resilience.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}
	}
	var (
		r   *outbox.Relay
		err error
	)
	if e.pool != nil {
		r, err = outbox.NewPgxRelay(e.pool, pub, opts)
	} else {
		r, err = outbox.NewRelay(e.db, pub, opts)
	}
	if err != nil {
		e.t.Fatalf("NewRelay: %v", err)
	}
	e.t.Cleanup(func() { r.Close() })
	return r
}

// tx runs fn in a transaction of the env's backend with an add function that
// writes into the outbox, and commits it, or rolls it back if commit is false.
func (e *env) tx(commit bool, fn func(add func(msgs ...bus.Message) error) error) error {
	if e.pool != nil {
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := fn(func(msgs ...bus.Message) error { return e.ob.AddPgx(ctx, tx, msgs...) }); err != nil {
			return err
		}
		if !commit {
			return tx.Rollback(ctx)
		}
		return tx.Commit(ctx)
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(func(msgs ...bus.Message) error { return e.ob.Add(ctx, tx, msgs...) }); err != nil {
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}

// commit adds msgs in a committed transaction.
func (e *env) commit(msgs ...bus.Message) {
	e.t.Helper()
	if err := e.tx(true, func(add func(...bus.Message) error) error { return add(msgs...) }); err != nil {
		e.t.Fatalf("adding %d messages: %v", len(msgs), err)
	}
}

// count returns the result of SELECT count(*) FROM <prefix>outbox WHERE where.
func (e *env) count(where string) int {
	e.t.Helper()
	var n int
	q := "SELECT count(*) FROM " + e.prefix + "outbox"
	if where != "" {
		q += " WHERE " + where
	}
	if err := e.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// eventually waits up to timeout for cond, failing with what() otherwise.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder is a Publisher that records what it publishes, detects a message
// published twice or by two callers at once, and fails on demand. It forwards to
// next, if set.
type recorder struct {
	next  outbox.Publisher
	delay time.Duration // upper bound of a random pause inside Publish
	// reverse publishes the messages of one call last to first, as a publisher
	// that publishes them in parallel (RabbitMQ's) may.
	reverse bool
	// partial publishes the routable messages of a call even when some are
	// unroutable, and then returns bus.ErrUnroutable for the call, as RabbitMQ's
	// transport does (the memory transport publishes nothing of such a call).
	partial bool

	mu         sync.Mutex
	inflight   map[string]bool
	published  []bus.Message
	count      map[string]int
	concurrent []string        // IDs published by two calls at once
	down       bool            // fail every publish
	failNext   int             // fail this many more calls
	reject     map[string]bool // IDs failed with errBrokerDown
	unbound    map[string]bool // types failed with bus.ErrUnroutable, as RabbitMQ's mandatory flag does
	tried      map[string]int  // calls that carried each ID, failed or not
	calls      int
	failures   int
}

func newRecorder() *recorder {
	return &recorder{inflight: map[string]bool{}, count: map[string]int{}, reject: map[string]bool{},
		unbound: map[string]bool{}, tried: map[string]int{}}
}

var errBrokerDown = fmt.Errorf("test broker: connection refused")

func (r *recorder) Publish(ctx context.Context, msgs ...bus.Message) error {
	r.mu.Lock()
	r.calls++
	fail := r.down || r.failNext > 0
	if r.failNext > 0 {
		r.failNext--
	}
	var (
		unroutable []string
		routable   []bus.Message
	)
	for _, m := range msgs {
		r.tried[m.ID]++
		if r.reject[m.ID] {
			fail = true
		}
		if r.unbound[m.Type] {
			unroutable = append(unroutable, m.Type)
		} else {
			routable = append(routable, m)
		}
	}
	if fail {
		r.failures++
		r.mu.Unlock()
		return errBrokerDown
	}
	var errUnroutable error
	if len(unroutable) > 0 {
		r.failures++
		errUnroutable = fmt.Errorf("test broker: publish %v: %w", unroutable, bus.ErrUnroutable)
		if !r.partial || len(routable) == 0 {
			// Like the memory transport: nothing of the call is published.
			r.mu.Unlock()
			return errUnroutable
		}
		msgs = routable // like RabbitMQ: the others are published and confirmed
	}
	for _, m := range msgs {
		if r.inflight[m.ID] {
			r.concurrent = append(r.concurrent, m.ID)
		}
		r.inflight[m.ID] = true
	}
	r.mu.Unlock()

	if r.delay > 0 {
		time.Sleep(time.Duration(randN(int64(r.delay))))
	}
	var err error
	if r.next != nil {
		err = r.next.Publish(ctx, msgs...)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reverse {
		msgs = slices.Clone(msgs)
		slices.Reverse(msgs)
	}
	for _, m := range msgs {
		delete(r.inflight, m.ID)
		if err == nil {
			r.published = append(r.published, m)
			r.count[m.ID]++
		}
	}
	if err == nil {
		err = errUnroutable
	}
	return err
}

func randN(n int64) int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	v := int64(0)
	for _, c := range b {
		v = v<<8 | int64(c)
	}
	if v < 0 {
		v = -v
	}
	return v % n
}

func (r *recorder) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

// setUnbound makes messages of type fail with bus.ErrUnroutable, or not.
func (r *recorder) setUnbound(typ string, unbound bool) {
	r.mu.Lock()
	r.unbound[typ] = unbound
	r.mu.Unlock()
}

// triedWith returns the number of calls that carried the message id.
func (r *recorder) triedWith(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tried[id]
}

// distinct returns the number of distinct IDs published.
func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.count)
}

// total returns the number of publications, repeats included.
func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.published)
}

func (r *recorder) snapshot() (published []bus.Message, count map[string]int, concurrent []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	count = make(map[string]int, len(r.count))
	for k, v := range r.count {
		count[k] = v
	}
	return append([]bus.Message(nil), r.published...), count, append([]string(nil), r.concurrent...)
}

// waitFor waits until n distinct messages were published.
func (r *recorder) waitFor(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() bool { return r.distinct() >= n }, func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return fmt.Sprintf("%d distinct messages published, want %d (%d calls, %d failed)", len(r.count), n, r.calls, r.failures)
	})
}

// checkOrder checks that the first publication of each order's OrderPlaced
// events came in the order of N, 0, 1, 2, ..., with none missing up to
// want[order].
func checkOrder(t testing.TB, published []bus.Message, want map[string]int) {
	t.Helper()
	seen := map[string]bool{}
	next := map[string]int{}
	for _, m := range published {
		if seen[m.ID] || m.Type != orderPlaced {
			continue
		}
		seen[m.ID] = true
		var e OrderPlaced
		if err := json.Unmarshal(m.Body, &e); err != nil {
			t.Fatalf("body of %s: %v", m.ID, err)
		}
		if m.Key != e.Order {
			t.Errorf("message %s has key %q, want the order %q", m.ID, m.Key, e.Order)
		}
		if e.N != next[e.Order] {
			t.Errorf("order %s: event %d published after event %d, want %d", e.Order, e.N, next[e.Order]-1, next[e.Order])
		}
		next[e.Order] = e.N + 1
	}
	for order, n := range want {
		if next[order] != n {
			t.Errorf("order %s: %d events published in order, want %d", order, next[order], n)
		}
	}
}

// pgIdent quotes a PostgreSQL identifier for tests that build SQL.
func pgIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
