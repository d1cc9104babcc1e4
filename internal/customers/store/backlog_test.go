package store_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/outbox"
)

// TestParkedRows: the parked rows of the outbox are counted by reason and in the
// backlog, and ReplayParked puts those of one reason back.
func TestParkedRows(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			if err := outbox.Migrate(ctx, s.DB(), outbox.Options{}); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, typ := range []string{"a.v1", "a.v1", "b.v1"} {
				id, err := bus.NewID()
				if err != nil {
					t.Fatal(err)
				}
				m, err := bus.EncodeEnvelope(bus.Envelope{SpecVersion: "1.0", ID: id, Source: "/test", Type: typ, Time: time.Now(),
					DataContentType: "application/json", Attempt: 1}, []byte("{}"))
				if err != nil {
					t.Fatal(err)
				}
				if err := outbox.Add(ctx, s.DB(), m); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			// What the relay does when it parks a row.
			for id, reason := range map[string]outbox.ParkReason{ids[0]: outbox.ParkUnroutable, ids[2]: outbox.ParkMaxAttempts} {
				if _, err := s.DB().ExecContext(ctx, "UPDATE rampart_outbox SET parked_at = created_at, parked_reason = "+
					map[bool]string{true: "$1", false: "?"}[name == "postgres"]+" WHERE event_id = '"+id+"'", string(reason)); err != nil {
					t.Fatal(err)
				}
			}

			got, err := s.ParkedByReason(ctx, "rampart_outbox")
			if want := map[string]int{"unroutable": 1, "max-attempts": 1}; err != nil || !maps.Equal(got, want) {
				t.Errorf("ParkedByReason() = %v, %v; want %v", got, err, want)
			}
			if b, err := s.OutboxBacklog(ctx, "rampart_outbox"); err != nil || b.Parked != 2 || b.Unsent != 1 {
				t.Errorf("OutboxBacklog() = %+v, %v; want 2 parked, 1 unsent", b, err)
			}
			if n, err := s.ReplayParked(ctx, "rampart_outbox", outbox.ParkedFilter{Reason: outbox.ParkUnroutable}); err != nil || n != 1 {
				t.Errorf("ReplayParked(unroutable) = %d, %v; want 1", n, err)
			}
			got, err = s.ParkedByReason(ctx, "rampart_outbox")
			if want := map[string]int{"max-attempts": 1}; err != nil || !maps.Equal(got, want) {
				t.Errorf("ParkedByReason() after the replay = %v, %v; want %v", got, err, want)
			}
			for _, table := range []string{"customers", "x; DROP TABLE customers; --outbox"} {
				if _, err := s.ParkedByReason(ctx, table); err == nil {
					t.Errorf("ParkedByReason(%q) = nil error; want it refused", table)
				}
			}
		})
	}
}

// TestOutboxTableNaming: the outbox table is named as package outbox names it,
// "<prefix>outbox" with a prefix that package accepts, and every method reads
// that same table. "outbox" (an empty prefix, which package outbox reads as
// rampart_outbox) and a prefix it refuses are not outbox tables.
func TestOutboxTableNaming(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			for _, prefix := range []string{"", "shop_"} {
				if err := outbox.Migrate(ctx, s.DB(), outbox.Options{TablePrefix: prefix}); err != nil {
					t.Fatal(err)
				}
			}
			id, err := bus.NewID()
			if err != nil {
				t.Fatal(err)
			}
			m, err := bus.EncodeEnvelope(bus.Envelope{SpecVersion: "1.0", ID: id, Source: "/test", Type: "a.v1", Time: time.Now(),
				DataContentType: "application/json", Attempt: 1}, []byte("{}"))
			if err != nil {
				t.Fatal(err)
			}
			shop, err := outbox.New(outbox.Options{TablePrefix: "shop_"})
			if err != nil {
				t.Fatal(err)
			}
			if err := shop.Add(ctx, s.DB(), m); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB().ExecContext(ctx, "UPDATE shop_outbox SET parked_at = created_at, parked_reason = 'unroutable'"); err != nil {
				t.Fatal(err)
			}
			if got, err := s.ParkedByReason(ctx, "shop_outbox"); err != nil || !maps.Equal(got, map[string]int{"unroutable": 1}) {
				t.Errorf("ParkedByReason(shop_outbox) = %v, %v; want 1 unroutable", got, err)
			}
			if b, err := s.OutboxBacklog(ctx, "shop_outbox"); err != nil || b.Parked != 1 {
				t.Errorf("OutboxBacklog(shop_outbox) = %+v, %v; want 1 parked", b, err)
			}
			if got, err := s.ParkedByReason(ctx, "rampart_outbox"); err != nil || len(got) != 0 {
				t.Errorf("ParkedByReason(rampart_outbox) = %v, %v; want none", got, err)
			}

			for _, table := range []string{"outbox", "9x_outbox", "Shop_outbox", strings.Repeat("x", 41) + "outbox"} {
				if _, err := s.ParkedByReason(ctx, table); err == nil {
					t.Errorf("ParkedByReason(%q) = nil error; want it refused", table)
				}
				if b, err := s.OutboxBacklog(ctx, table); err == nil {
					t.Errorf("OutboxBacklog(%q) = %+v, nil error; want it refused", table, b)
				}
				if n, err := s.ReplayParked(ctx, table, outbox.ParkedFilter{}); err == nil {
					t.Errorf("ReplayParked(%q) = %d, nil error; want it refused", table, n)
				}
			}
		})
	}
}
