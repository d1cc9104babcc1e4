package wiring

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/health"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/idempotency/sqlinbox"
	"github.com/rampart-go/rampart/internal/customers/api"
	"github.com/rampart-go/rampart/internal/customers/app"
	"github.com/rampart-go/rampart/internal/customers/handlers"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/outbox"
	"github.com/rampart-go/rampart/resilience"
	"github.com/rampart-go/rampart/telemetry"
)

// The steps of New, in order. Each registers how to stop what it started.

// startTelemetry builds the Prometheus exposition and the Telemetry every part
// reports to. The breakers it reports are added later, as the clients that own
// them are built.
func (s *Server) startTelemetry(cfg config.TelemetryConfig) (*telemetry.Telemetry, *telemetry.Prometheus, error) {
	prom, err := telemetry.NewPrometheus(telemetry.PrometheusOptions{
		RuntimeMetrics: cfg.RuntimeMetrics,
		Resource:       serviceResource(cfg.ServiceName),
	})
	if err != nil {
		return nil, nil, err
	}
	s.onClose("metrics", prom.Shutdown)
	tel, err := telemetry.New(telemetry.Options{MeterProvider: prom.MeterProvider(), BreakerSources: []telemetry.BreakerSource{s.breakers}})
	if err != nil {
		return nil, nil, err
	}
	s.onClose("telemetry", func(context.Context) error { return tel.Close() })
	if s.parkedRows, err = prom.MeterProvider().Meter(meterName).Int64Counter(MetricOutboxParked, metric.WithUnit("{row}"),
		metric.WithDescription("Outbox rows the relay parked (stopped trying to publish), by reason: unroutable, max-attempts.")); err != nil {
		return nil, nil, fmt.Errorf("customers: metric %s: %w", MetricOutboxParked, err)
	}
	return tel, prom, nil
}

// meterName is the instrumentation scope of the service's own metrics.
const meterName = "github.com/rampart-go/rampart/internal/customers"

// MetricOutboxParked counts the outbox rows the relay parked, with the
// attribute outbox.park_reason (Prometheus: outbox_parked_total).
const MetricOutboxParked = "outbox.parked"

// onPark reports a row the outbox relay parked: counted in the stats (the
// dashboard) and the metrics. The relay has logged it (component=outbox).
func (s *Server) onPark(p outbox.Parked) {
	s.recorder.OnPark(p)
	if s.parkedRows != nil {
		s.parkedRows.Add(context.Background(), 1, metric.WithAttributes(attribute.String("outbox.park_reason", string(p.Reason))))
	}
}

// serviceResource describes the service to the metrics.
func serviceResource(name string) *resource.Resource {
	if name == "" {
		return nil
	}
	r, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		return resource.Default()
	}
	return r
}

// openDatabase opens the database and applies the migrations of the service,
// the outbox and the inbox; it returns the SQL inbox.
func (s *Server) openDatabase(ctx context.Context) (*sqlinbox.Store, error) {
	dsn := s.settings.DatabaseURL
	if dsn == "" {
		dsn = filepath.Join(s.settings.DataDir, "customers.db")
	}
	var err error
	if s.store, err = store.Open(ctx, dsn); err != nil {
		return nil, err
	}
	s.onClose("database", func(context.Context) error { return s.store.Close() })
	applied, err := s.store.Migrate(ctx)
	if err != nil {
		return nil, err
	}
	if err := outbox.Migrate(ctx, s.store.DB(), outbox.Options{}); err != nil {
		return nil, err
	}
	inbox, err := sqlinbox.New(s.store.DB(), sqlinbox.Options{})
	if err != nil {
		return nil, err
	}
	if err := inbox.Migrate(ctx); err != nil {
		return nil, err
	}
	if s.settings.DatabaseURL == "" {
		s.log.Info("database: SQLite", "file", dsn, "migrations_applied", applied,
			"replace_with", "-database or CUSTOMERS_DATABASE_URL=postgres://user:password@host:5432/customers")
	} else {
		s.log.Info("database: PostgreSQL", "url", s.store.String(), "migrations_applied", applied)
	}
	return inbox, nil
}

// startProviders builds the providers' clients, and simulators for the
// providers the configuration has no client for.
func (s *Server) startProviders(ctx context.Context, cfg *config.Config, tel *telemetry.Telemetry) error {
	hooks := clientHooks{logger: s.log.With("component", "http-client"), policy: tel,
		observer: func(name string) httpx.Observer { return s.recorder.HTTPObserver(name, tel) }}
	var err error
	if s.clients, s.sims, err = startProviders(ctx, cfg, s.settings.Simulators, hooks, s.log); err != nil {
		return err
	}
	s.onClose("providers", func(ctx context.Context) error { return closeProviders(ctx, s.clients, s.sims) })
	for _, c := range []interface{ Breakers() []*resilience.Breaker }{s.clients.Payments, s.clients.Inventory, s.clients.Email} {
		s.breakers.add(c)
	}
	return nil
}

// unroutableGrace is how long the relay retries an event that no queue is bound
// for before it parks it (outbox.RelayOptions.UnroutableGrace).
const unroutableGrace = 3 * time.Second

// startBus connects the transport, registers the handlers with the SQL inbox,
// starts consuming, and starts the relay that publishes the outbox through
// the transport.
func (s *Server) startBus(ctx context.Context, cfg config.BusConfig, tel *telemetry.Telemetry, inbox *sqlinbox.Store) (*bus.Bus, bus.Transport, error) {
	tr, desc, err := openTransport(ctx, cfg, s.log)
	if err != nil {
		return nil, nil, err
	}
	s.onClose("bus transport", func(context.Context) error { return tr.Close() })
	s.dlq, _ = tr.(bus.DeadLetterReader)
	s.bus = tr
	s.log.Info("bus: "+desc, "replace_with", "bus.transport and bus.url in the config file, or RAMPART_BUS__TRANSPORT=rabbitmq|jetstream and RAMPART_BUS__URL")

	opts, err := cfg.Options(nil)
	if err != nil {
		return nil, nil, err
	}
	if opts.Source == "" {
		opts.Source = "/customers"
	}
	if opts.Registry, err = app.Events(); err != nil {
		return nil, nil, err
	}
	opts.Inbox, opts.Observer, opts.OnSettle = inbox, tel, s.recorder.OnSettle
	opts.Logger = s.log.With("component", "bus")
	b, err := bus.New(tr, opts)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range handlers.Subscriptions {
		s.recorder.Subscription(name)
	}
	if _, err := handlers.Register(b, handlers.Config{Store: s.store, Inbox: inbox, Email: s.clients.Email,
		Inventory: s.clients.Inventory, Logger: s.log.With("component", "handler")}); err != nil {
		return nil, nil, err
	}
	if err := b.Start(ctx); err != nil {
		return nil, nil, err
	}
	s.onClose("bus", func(ctx context.Context) error {
		err := b.Shutdown(ctx) // handlers under way finish, unless ctx ends first
		b.Close()
		return err
	})

	// The service's own subscriptions are declared (b.Start) before the relay
	// starts; a few seconds of grace cover other services' queues declared at the
	// same start before an event nobody receives is parked.
	relay, err := outbox.NewRelay(s.store.DB(), s.recorder.Publisher(tr), outbox.RelayOptions{Logger: s.log.With("component", "outbox"),
		OnPark: s.onPark, UnroutableGrace: unroutableGrace})
	if err != nil {
		return nil, nil, err
	}
	if err := relay.Start(ctx); err != nil {
		return nil, nil, err
	}
	s.onClose("outbox relay", func(context.Context) error { return relay.Close() })
	return b, tr, nil
}

// startCharging charges the orders left pending every ChargeInterval, on a
// goroutine that Shutdown stops and waits for.
func (s *Server) startCharging() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.settings.ChargeInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n, err := s.service.ChargePending(ctx, 2*s.settings.ChargeInterval, 50)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn("charging pending orders failed", "err", err)
			case n > 0:
				s.log.Info("pending orders charged", "orders", n)
			}
		}
	}()
	s.onClose("payment charging", func(context.Context) error {
		cancel()
		<-done
		return nil
	})
}

// handler builds the JWT verifier and the health checker, and returns the
// service's HTTP handler: the API, health, metrics and the internal endpoints,
// behind the request ID and the access log.
func (s *Server) handler(cfg *config.Config, prom *telemetry.Prometheus, tr bus.Transport) (http.Handler, error) {
	v, devToken, err := verifier(s.settings, s.log.With("component", "auth"))
	if err != nil {
		return nil, err
	}
	s.devToken = devToken
	if s.checker, err = newChecker(cfg.Health, s.store, tr, s.clients, s.breakers, s.log.With("component", "health")); err != nil {
		return nil, err
	}
	s.onClose("health", s.checker.Close)
	a, err := api.New(api.Config{Service: s.service, Authenticate: v.Middleware, Logger: s.log.With("component", "api")})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", a)
	mux.Handle("GET /health/live", s.checker.Handler(health.Liveness))
	mux.Handle("GET /health/ready", s.checker.Handler(health.Readiness))
	metrics := cfg.Telemetry.MetricsPath
	mux.Handle("GET "+metrics, prom)
	mux.HandleFunc("GET /internal/stats", s.serveStats)
	// Dead letters carry the events' contents (customers' addresses): writers only.
	mux.Handle("GET /internal/deadletters/{subscription}", v.Middleware(http.HandlerFunc(s.serveDeadLetters)))
	if err := s.mountDashboard(mux, tr, v.Middleware); err != nil {
		return nil, err
	}
	quiet := func(p string) bool { // probes and scrapes are logged at Debug
		return strings.HasPrefix(p, "/health/") || p == metrics || strings.HasPrefix(p, "/internal/") || strings.HasPrefix(p, "/dashboard/api/state")
	}
	return api.RequestID(api.Logged(s.log.With("component", "http"), quiet, mux)), nil
}

// serve starts the HTTP server on l, on its own goroutine.
func (s *Server) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
	}
	s.url = "http://" + l.Addr().String()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("customers: HTTP server: %w", err)
		}
	})
	s.onClose("http server", func(ctx context.Context) error {
		err := srv.Shutdown(ctx) // requests under way finish, unless ctx ends first
		if err != nil {
			srv.Close()
		}
		wg.Wait()
		return err
	})
}

// slogWriter sends net/http's error log to the logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)), "component", "http")
	return len(p), nil
}
