package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/health"
	"github.com/rampart-go/rampart/internal/customers/handlers"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/resilience"
)

// breakerSet lists the breakers of sources added after it was handed out: the
// telemetry needs it before the clients that own the breakers exist, and the
// clients need the telemetry.
type breakerSet struct {
	mu      sync.Mutex
	sources []interface{ Breakers() []*resilience.Breaker }
}

func (b *breakerSet) add(src interface{ Breakers() []*resilience.Breaker }) {
	b.mu.Lock()
	b.sources = append(b.sources, src)
	b.mu.Unlock()
}

// Breakers returns the breakers of every source.
func (b *breakerSet) Breakers() []*resilience.Breaker {
	b.mu.Lock()
	srcs := append([]interface{ Breakers() []*resilience.Breaker }(nil), b.sources...)
	b.mu.Unlock()
	var out []*resilience.Breaker
	for _, s := range srcs {
		out = append(out, s.Breakers()...)
	}
	return out
}

// newChecker returns the health checker: readiness checks the database, the
// broker connection and its consumers, each provider (a probe that any answer
// below 500 passes; a provider down only warns: the service keeps its traffic
// and its orders wait for their payment), the providers' breakers (open warns),
// and the outbox backlog.
func newChecker(cfg config.HealthConfig, st *store.Store, tr bus.Transport, clients Clients, breakers health.BreakerSource, log *slog.Logger) (*health.Checker, error) {
	hc := cfg.Config()
	hc.Logger = log
	ready := []health.Source{
		health.Check{Component: "database", Measurement: "responseTime", ComponentType: "datastore", ComponentID: string(st.Dialect()),
			Run: func(ctx context.Context) (health.Result, error) {
				start := time.Now()
				err := st.Ping(ctx)
				return health.Result{ObservedValue: float64(time.Since(start).Microseconds()) / 1000, ObservedUnit: "ms"}, err
			}},
	}
	if cs, ok := tr.(health.ConnectionState); ok {
		ready = append(ready, health.Connection("broker", cs, health.ConnectionOptions{MinConsumers: len(handlers.Subscriptions)}))
	} else {
		log.Warn("the bus transport reports no connection state; readiness does not check the broker")
	}
	for _, name := range []string{Payments, Inventory, Email} {
		chk := health.HTTP(name, clients.probes[name], health.HTTPOptions{MinStatus: 200, MaxStatus: 499})
		chk.NonCritical = true
		ready = append(ready, chk)
	}
	ready = append(ready, health.Breakers(breakers, cfg.BreakerCheckOptions()))
	for _, c := range cfg.HTTPCheckList() {
		ready = append(ready, c)
	}
	ready = append(ready, health.Check{Component: "outbox", Measurement: "backlog", ComponentType: "component", NonCritical: true,
		Run: func(ctx context.Context) (health.Result, error) {
			b, err := st.OutboxBacklog(ctx, "rampart_outbox")
			if err != nil {
				return health.Result{}, err
			}
			r := health.Result{ObservedValue: b.Unsent, ObservedUnit: "events"}
			if age := b.Age(time.Now()); age > time.Minute {
				r.Status, r.Output = health.StatusWarn, fmt.Sprintf("the oldest unpublished event is %s old", age.Round(time.Second))
			}
			return r, nil
		}})
	hc.Readiness = ready
	return health.New(hc)
}
