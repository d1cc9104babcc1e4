package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/health"
	"github.com/rampart-go/rampart/internal/customers/app"
	"github.com/rampart-go/rampart/internal/customers/stats"
	"github.com/rampart-go/rampart/internal/customers/store"
)

// Server is the running service: its HTTP server, its bus consumers, its outbox
// relay, and what they stand on. Build it with [New]; stop it with
// [Server.Shutdown] or [Server.Close]. It is safe for concurrent use.
type Server struct {
	log      *slog.Logger
	settings Settings

	url      string
	devToken string
	sims     Simulators
	clients  Clients
	store    *store.Store
	service  *app.Service
	checker  *health.Checker
	recorder *stats.Recorder
	breakers *breakerSet
	dlq      bus.DeadLetterReader // nil when the transport cannot list its dead letters
	bus      bus.Transport        // for CutBrokerConnection

	parkedRows metric.Int64Counter // MetricOutboxParked

	closers  []closer   // in the order started; stopped in reverse
	failed   chan error // a fatal error of the HTTP server
	stopOnce sync.Once
	stopErr  error
}

// closer stops one part of the service.
type closer struct {
	name string
	fn   func(ctx context.Context) error
}

// onClose registers how to stop the part just started.
func (s *Server) onClose(name string, fn func(ctx context.Context) error) {
	s.closers = append(s.closers, closer{name, fn})
}

// New builds the service of settings and starts it, in the order the package
// documentation lists, and returns once it answers HTTP; ctx bounds the start
// only. On error, what was started is stopped again.
func New(ctx context.Context, settings Settings) (_ *Server, err error) {
	cfg, section, err := settings.loadConfig()
	if err != nil {
		return nil, err
	}
	settings.applySection(section)
	settings.normalize()
	if err := settings.check(); err != nil {
		return nil, err
	}
	s := &Server{settings: settings, log: settings.logger(), failed: make(chan error, 1),
		recorder: stats.New(), breakers: &breakerSet{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	// Take the port first: a second instance started by mistake stops here,
	// before it touches the data directory the first one uses.
	l, err := net.Listen("tcp", settings.Addr)
	if err != nil {
		return nil, fmt.Errorf("customers: listen: %w", err)
	}
	s.onClose("listener", func(context.Context) error {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	if err := os.MkdirAll(settings.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("customers: data directory: %w", err)
	}
	for _, w := range cfg.Warnings() {
		s.log.Warn("configuration: " + w.Error())
	}
	s.log.Info("customers: starting", "config", settings.configSource(), "data_dir", settings.DataDir)

	tel, prom, err := s.startTelemetry(cfg.Telemetry)
	if err != nil {
		return nil, err
	}
	inbox, err := s.openDatabase(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.startProviders(ctx, cfg, tel); err != nil {
		return nil, err
	}
	b, tr, err := s.startBus(ctx, cfg.Bus, tel, inbox)
	if err != nil {
		return nil, err
	}
	if s.service, err = app.New(app.Config{Store: s.store, Events: b, Payments: s.clients.Payments,
		Logger: s.log.With("component", "app")}); err != nil {
		return nil, err
	}
	s.startCharging()
	h, err := s.handler(cfg, prom, tr)
	if err != nil {
		return nil, err
	}
	s.serve(l, h)
	s.log.Info("customers: ready", "url", s.url, "try", "curl -s "+s.url+"/health/ready")
	return s, nil
}

// URL returns the service's base URL: "http://" and the address it listens on.
func (s *Server) URL() string { return s.url }

// DevToken returns the development token, "" when tokens are verified against
// a JWKS.
func (s *Server) DevToken() string { return s.devToken }

// Simulators returns the simulators the service started (nil fields for the
// providers configured for real).
func (s *Server) Simulators() Simulators { return s.sims }

// Store returns the service's database, for tests and tools.
func (s *Server) Store() *store.Store { return s.store }

// Failed delivers the error that stopped the HTTP server, if it stops on its
// own.
func (s *Server) Failed() <-chan error { return s.failed }

// Shutdown stops the service gracefully: readiness fails at once ("draining")
// and, after the configured drain delay, the HTTP server stops accepting
// requests and waits for those under way; then the charging of pending orders
// stops, the relay stops, the event handlers under way finish and the consumers
// close, and the transport, the providers' clients and simulators, the database
// and the telemetry close. When ctx ends first, what is still running is cut
// short. Shutdown may be called more than once; it returns the first call's
// error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.log.Info("customers: shutting down: readiness fails from now on")
		if s.checker != nil {
			if err := s.checker.Shutdown(ctx); err != nil {
				s.log.Warn("customers: drain delay cut short", "err", err)
			}
		}
		s.stopErr = s.closeAll(ctx)
		s.log.Info("customers: stopped")
	})
	return s.stopErr
}

// Close stops the service at once: requests and handlers under way are cut
// short (their messages go back to the broker). See Shutdown.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}

// closeAll stops what was started, last first, and returns the first error.
func (s *Server) closeAll(ctx context.Context) error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		c := s.closers[i]
		if err := c.fn(ctx); err != nil && !errors.Is(err, bus.ErrClosed) {
			s.log.Warn("customers: stopping "+c.name, "err", err)
			if first == nil {
				first = fmt.Errorf("customers: stopping %s: %w", c.name, err)
			}
		}
	}
	s.closers = nil
	return first
}
