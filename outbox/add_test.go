package outbox_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/outbox"
)

// A rolled-back transaction leaves no row and publishes nothing; the committed
// one beside it is published.
func TestRolledBackTransactionPublishesNothing(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})

			rolledBack := event(t, e.bus, "o-1", 0)
			err := e.tx(false, func(add func(...bus.Message) error) error { return add(rolledBack) })
			if err != nil {
				t.Fatal(err)
			}
			committed := event(t, e.bus, "o-2", 0)
			e.commit(committed)

			rec.waitFor(t, 1, 5*time.Second)
			time.Sleep(100 * time.Millisecond) // several polls: the rolled-back event would be out by now
			_, count, _ := rec.snapshot()
			if count[rolledBack.ID] != 0 {
				t.Errorf("rolled-back event published %d times, want 0", count[rolledBack.ID])
			}
			if count[committed.ID] != 1 || len(count) != 1 {
				t.Errorf("published %v, want only the committed event %s once", count, committed.ID)
			}
			if n := e.count(""); n != 1 {
				t.Errorf("outbox rows = %d, want 1", n)
			}
		})
	}
}

// The relay publishes exactly the message Publish would have sent: ID, type,
// ordering key, headers and body.
func TestRelayPublishesTheEncodedMessage(t *testing.T) {
	for _, be := range allBackends {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			rec := newRecorder()
			e.relay(rec, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
			want := []bus.Message{event(t, e.bus, "o-1", 0), event(t, e.bus, "o-1", 1)}
			subj, err := e.bus.Encode(ctx, OrderPlaced{Order: "o-2"}, bus.WithSubject("o-2"), bus.WithCorrelationID("req-7"))
			if err != nil {
				t.Fatal(err)
			}
			noKey, err := e.bus.Encode(ctx, OrderPlaced{Order: "o-3"})
			if err != nil {
				t.Fatal(err)
			}
			empty := noKey
			empty.ID, _ = bus.NewID()
			empty.Headers = empty.WithHeaders(map[string]string{bus.HeaderID: empty.ID}).Headers
			empty.Body = nil
			want = append(want, subj, noKey, empty)
			e.commit(want...)
			rec.waitFor(t, len(want), 5*time.Second)
			got, _, _ := rec.snapshot()
			byID := map[string]bus.Message{}
			for _, m := range got {
				byID[m.ID] = m
			}
			for _, w := range want {
				g := byID[w.ID]
				if w.Body == nil {
					w.Body = []byte{}
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("published %+v\nwant %+v", g, w)
				}
			}
		})
	}
}

func TestAddRejectsInvalidMessages(t *testing.T) {
	e := newEnv(t, sqlite)
	good := event(t, e.bus, "o-1", 0)
	noHeaders := good
	noHeaders.Headers = nil
	otherID := good
	otherID.ID, _ = bus.NewID()
	for _, tc := range []struct {
		name string
		msg  bus.Message
		want string
	}{
		{"no envelope", noHeaders, "ce-specversion"},
		{"ID differs from header", otherID, "differs from header ce-id"},
	} {
		err := e.tx(true, func(add func(...bus.Message) error) error { return add(good, tc.msg) })
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "message 1") {
			t.Errorf("%s: Add = %v, want an error naming message 1 and %q", tc.name, err, tc.want)
		}
	}
	if n := e.count(""); n != 0 {
		t.Errorf("rows after rejected Adds = %d, want 0", n)
	}
	// Adding the same event twice is an error (unique event ID).
	e.commit(good)
	err := e.tx(true, func(add func(...bus.Message) error) error { return add(good) })
	if err == nil {
		t.Errorf("adding event %s a second time = nil, want an error", good.ID)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for _, p := range []string{"Upper_", "1abc", "has space", "semi;colon", strings.Repeat("a", 41)} {
		if _, err := outbox.New(outbox.Options{TablePrefix: p}); err == nil {
			t.Errorf("New(TablePrefix %q) = nil error, want one", p)
		}
	}
	e := newEnv(t, sqlite)
	for _, tc := range []struct {
		opts outbox.RelayOptions
		name string
	}{
		{outbox.RelayOptions{BatchSize: -1}, "BatchSize"},
		{outbox.RelayOptions{Lease: time.Second, PublishTimeout: time.Second}, "PublishTimeout"},
		{outbox.RelayOptions{LockTTL: time.Second, PublishTimeout: 900 * time.Millisecond, Lease: time.Minute}, "PublishTimeout"},
		{outbox.RelayOptions{PollInterval: -1}, "PollInterval"},
	} {
		tc.opts.TablePrefix = e.prefix
		_, err := outbox.NewRelay(e.db, newRecorder(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("NewRelay(%+v) = %v, want an error naming %s", tc.opts, err, tc.name)
		}
	}
	if _, err := outbox.NewRelay(e.db, nil, outbox.RelayOptions{}); err == nil {
		t.Error("NewRelay with a nil publisher = nil error")
	}
	r := e.newRelay(newRecorder(), outbox.RelayOptions{})
	r.Close()
	if err := r.Start(ctx); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

// Migrations apply once, however often and however concurrently they run.
func TestMigrateIsIdempotent(t *testing.T) {
	for _, be := range []backend{sqlite, pgSQL} {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be)
			errs := make(chan error, 4)
			for range 4 {
				go func() { errs <- e.migrate() }()
			}
			for range 4 {
				if err := <-errs; err != nil {
					t.Fatalf("concurrent Migrate: %v", err)
				}
			}
			var n, distinct, last int
			if err := e.db.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT version), max(version) FROM "+e.prefix+"schema_version WHERE component = 'outbox'").Scan(&n, &distinct, &last); err != nil {
				t.Fatal(err)
			}
			if n != schemaVersions || distinct != schemaVersions || last != schemaVersions {
				t.Errorf("schema_version rows for the outbox: %d, %d distinct, last %d; want each of the %d migrations once", n, distinct, last, schemaVersions)
			}
		})
	}
}
