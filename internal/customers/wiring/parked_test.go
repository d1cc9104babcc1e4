package wiring_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/internal/customers/wiring"
	"github.com/rampart-go/rampart/outbox"
)

// TestParkedOutboxRows: an event no subscription is bound to is parked by the
// relay (the memory transport reports it unroutable); the park is logged,
// counted in the metrics and shown by the dashboard's state, and the dashboard's
// replay puts the row back, to be parked again while nobody subscribes.
func TestParkedOutboxRows(t *testing.T) {
	cfg, err := config.LoadOptions{IgnoreEnv: true}.Parse("test", []byte("bus:\n  transport: memory\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := start(t, wiring.Settings{Simulators: testSimulators(), Config: cfg, DataDir: dir})

	// An event of a type nobody consumes, written as the service writes its own.
	db, err := store.Open(t.Context(), filepath.Join(dir, "customers.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := bus.NewID()
	if err != nil {
		t.Fatal(err)
	}
	const orphanType = "customers.nobody-listens.v1"
	m, err := bus.EncodeEnvelope(bus.Envelope{SpecVersion: "1.0", ID: id, Source: "/customers", Type: orphanType, Time: time.Now(),
		DataContentType: "application/json", Attempt: 1}, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(t.Context(), db.DB(), m); err != nil {
		t.Fatal(err)
	}

	parked := func() (n float64, byReason, since map[string]any) {
		r := dashState(t, s)
		p, _ := r.body["parked"].(map[string]any)
		if p == nil {
			t.Fatalf("state lacks parked: %s", r.raw)
		}
		n, _ = r.body["outbox"].(map[string]any)["parked"].(float64)
		byReason, _ = p["by_reason"].(map[string]any)
		since, _ = p["since_start"].(map[string]any)
		return n, byReason, since
	}
	eventually(t, wait, "the event is parked and the dashboard shows it", func() bool {
		n, byReason, since := parked()
		return n == 1 && byReason["unroutable"] == 1.0 && since["unroutable"] == 1.0
	})
	if recs := s.logs.records("outbox: event parked; it is not published until replayed"); len(recs) != 1 ||
		recs[0]["id"] != id || recs[0]["type"] != orphanType || recs[0]["reason"] != "unroutable" {
		t.Errorf("park log records = %v; want one for %s of type %s, unroutable", recs, id, orphanType)
	}
	metrics := s.call("GET", "/metrics", nil, false).want(t, "GET /metrics", http.StatusOK).raw
	found := false
	for _, l := range strings.Split(metrics, "\n") {
		found = found || strings.HasPrefix(l, "outbox_parked_total{") && strings.Contains(l, `outbox_park_reason="unroutable"`) && strings.HasSuffix(l, "} 1")
	}
	if want := `outbox_parked_total{...outbox_park_reason="unroutable"} 1`; !found {
		var lines []string
		for _, l := range strings.Split(metrics, "\n") {
			if strings.Contains(l, "parked") {
				lines = append(lines, l)
			}
		}
		t.Errorf("GET /metrics lacks %s; its lines about parks:\n%s", want, strings.Join(lines, "\n"))
	}
	st := s.call("GET", "/internal/stats", nil, false).want(t, "GET /internal/stats", http.StatusOK)
	if n, _ := st.body["outbox"].(map[string]any)["parked"].(float64); n != 1 {
		t.Errorf("GET /internal/stats outbox = %v; want 1 parked", st.body["outbox"])
	}

	const path = "/dashboard/api/outbox/parked/replay"
	s.call("POST", path, nil, false).want(t, "replay parked without a token", http.StatusUnauthorized)
	s.call("POST", path+"?reason=nope", nil, true).want(t, "replay parked of an unknown reason", http.StatusBadRequest)
	r := s.call("POST", path+"?reason=unroutable", nil, true).want(t, "replay parked", http.StatusOK)
	if n, _ := r.body["replayed"].(float64); n != 1 {
		t.Fatalf("replay parked = %s; want 1 replayed", r.raw)
	}
	// Still nobody subscribes: published again, parked again.
	eventually(t, wait, "the replayed event is parked again", func() bool {
		n, _, since := parked()
		return n == 1 && since["unroutable"] == 2.0
	})
}
