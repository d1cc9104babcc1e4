package dashboard

import (
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/stats"
	"github.com/rampart-go/rampart/resilience"
)

func snap(at time.Time, attempts, failures, acked, published uint64, state resilience.BreakerState) snapshot {
	return snapshot{at: at,
		counters: stats.Snapshot{
			Dependencies:  map[string]stats.DependencyStats{"payments": {Attempts: attempts, Failures: failures, Successes: attempts - failures, Latency: stats.Latency{P50: 3}}},
			Subscriptions: map[string]stats.SubscriptionStats{"welcome-email": {Acked: acked}},
			Published:     map[string]uint64{"created": published},
		},
		breakers: []resilience.BreakerSnapshot{{Name: "payments/127.0.0.1:1", State: state}, {Name: "payments/127.0.0.1:2"}},
	}
}

func TestHistoryRates(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHistory(2, map[string]string{"welcome-email": "created"})
	h.add(snap(t0, 0, 0, 0, 0, resilience.StateClosed))
	if got := h.points(); len(got) != 0 {
		t.Fatalf("points() after the baseline = %d points; want 0", len(got))
	}
	h.add(snap(t0.Add(2*time.Second), 10, 4, 6, 8, resilience.StateOpen))
	p := h.points()[0]
	d, s := p.Dependencies["payments"], p.Subscriptions["welcome-email"]
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"calls", d.Calls, 5}, {"failures", d.Failures, 2}, {"successes", d.Successes, 3}, {"p50", d.P50, 3},
		{"handled", s.Handled, 3}, {"published", s.Published, 4}, {"all published", p.Published, 4},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if d.State != "open" {
		t.Errorf("state = %q, want the worst breaker's, open", d.State)
	}
	// The ring keeps the last two points, oldest first.
	h.add(snap(t0.Add(4*time.Second), 10, 4, 6, 8, resilience.StateClosed))
	h.add(snap(t0.Add(6*time.Second), 20, 4, 6, 8, resilience.StateClosed))
	got := h.points()
	if len(got) != 2 || !got[0].At.Equal(t0.Add(4*time.Second)) || got[1].Dependencies["payments"].Calls != 5 {
		t.Errorf("points() after 3 points in a ring of 2 = %+v; want the points at +4s and +6s", got)
	}
}
