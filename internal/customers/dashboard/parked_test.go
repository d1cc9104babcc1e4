package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/dashboard"
	"github.com/rampart-go/rampart/internal/customers/stats"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/outbox"
)

type fakeBacklog struct{ parked int }

func (f fakeBacklog) OutboxBacklog(context.Context, string) (store.OutboxBacklog, error) {
	return store.OutboxBacklog{Unsent: 2, Parked: f.parked}, nil
}

// fakeParked records the replays; it is used from the test's goroutine only
// (httptest.ResponseRecorder calls the handler in place).
type fakeParked struct {
	byReason map[string]int
	replays  []outbox.ParkedFilter
	err      error
}

func (f *fakeParked) ParkedByReason(_ context.Context, table string) (map[string]int, error) {
	if table != "rampart_outbox" {
		return nil, errors.New("table " + table)
	}
	return f.byReason, nil
}

func (f *fakeParked) ReplayParked(_ context.Context, table string, flt outbox.ParkedFilter) (int, error) {
	f.replays = append(f.replays, flt)
	return 4, f.err
}

func newDashboard(t *testing.T, cfg dashboard.Config) *dashboard.Dashboard {
	t.Helper()
	cfg.Interval = time.Hour // one sample, at the start
	d, err := dashboard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func serve(t *testing.T, d *dashboard.Dashboard, method, target string, out any) int {
	t.Helper()
	w := httptest.NewRecorder()
	d.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, target, err, w.Body)
		}
	}
	return w.Code
}

func TestParkedState(t *testing.T) {
	rec := stats.New()
	rec.OnPark(outbox.Parked{Reason: outbox.ParkUnroutable})
	p := &fakeParked{byReason: map[string]int{"unroutable": 2, "max-attempts": 1}}
	d := newDashboard(t, dashboard.Config{Recorder: rec, Backlog: fakeBacklog{parked: 3}, Parked: p})
	var st dashboard.State
	if code := serve(t, d, "GET", "/dashboard/api/state", &st); code != http.StatusOK {
		t.Fatalf("GET state = %d", code)
	}
	want := dashboard.Parked{ByReason: p.byReason, SinceStart: map[string]uint64{"unroutable": 1}, Replayable: true}
	if st.Outbox.Parked != 3 || !reflect.DeepEqual(st.Parked, want) {
		t.Errorf("state outbox.parked = %d, parked = %+v; want 3 and %+v", st.Outbox.Parked, st.Parked, want)
	}

	// Nothing parked: no query by reason.
	d = newDashboard(t, dashboard.Config{Recorder: stats.New(), Backlog: fakeBacklog{}, Parked: &fakeParked{byReason: map[string]int{"x": 1}}})
	st = dashboard.State{}
	serve(t, d, "GET", "/dashboard/api/state", &st)
	if len(st.Parked.ByReason) != 0 || st.Parked.SinceStart == nil {
		t.Errorf("state parked with nothing parked = %+v; want no reasons, an empty since_start", st.Parked)
	}
}

func TestReplayParked(t *testing.T) {
	p := &fakeParked{}
	d := newDashboard(t, dashboard.Config{Recorder: stats.New(), Backlog: fakeBacklog{parked: 4}, Parked: p})
	var res dashboard.ParkedReplayResult
	if code := serve(t, d, "POST", "/dashboard/api/outbox/parked/replay?reason=max-attempts&type=a.v1", &res); code != http.StatusOK ||
		res.Replayed != 4 || res.Reason != "max-attempts" || res.Type != "a.v1" {
		t.Errorf("replay = %d %+v; want 200, 4 replayed of max-attempts, a.v1", code, res)
	}
	if want := []outbox.ParkedFilter{{Reason: outbox.ParkMaxAttempts, Type: "a.v1"}}; !reflect.DeepEqual(p.replays, want) {
		t.Errorf("ReplayParked calls = %+v; want %+v", p.replays, want)
	}
	var e struct{ Error string }
	if code := serve(t, d, "POST", "/dashboard/api/outbox/parked/replay?reason=lost", &e); code != http.StatusBadRequest || e.Error == "" {
		t.Errorf("replay of reason lost = %d %+v; want 400 with an error", code, e)
	}
	if len(p.replays) != 1 {
		t.Errorf("ReplayParked called %d times; want once, the bad reason refused before", len(p.replays))
	}
	p.err = errors.New("database is locked")
	if code := serve(t, d, "POST", "/dashboard/api/outbox/parked/replay", &e); code != http.StatusInternalServerError || e.Error != "database is locked" {
		t.Errorf("replay failing = %d %+v; want 500 with the error", code, e)
	}

	d = newDashboard(t, dashboard.Config{Recorder: stats.New(), Backlog: fakeBacklog{parked: 1}})
	var st dashboard.State
	serve(t, d, "GET", "/dashboard/api/state", &st)
	if st.Parked.Replayable || st.Outbox.Parked != 1 {
		t.Errorf("state without Config.Parked = %+v, outbox %+v; want 1 parked, not replayable", st.Parked, st.Outbox)
	}
	if code := serve(t, d, "POST", "/dashboard/api/outbox/parked/replay", &e); code != http.StatusNotImplemented {
		t.Errorf("replay without Config.Parked = %d; want 501", code)
	}
}
