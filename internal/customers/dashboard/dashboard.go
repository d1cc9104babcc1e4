package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/internal/customers/stats"
	"github.com/rampart-go/rampart/internal/customers/store"
	"github.com/rampart-go/rampart/outbox"
	"github.com/rampart-go/rampart/resilience"
)

//go:embed static
var static embed.FS

// BreakerSource lists the breakers of the service's clients.
type BreakerSource interface {
	Breakers() []*resilience.Breaker
}

// Backlog reads the outbox backlog: a *store.Store.
type Backlog interface {
	OutboxBacklog(ctx context.Context, table string) (store.OutboxBacklog, error)
}

// ParkedRows counts and replays the rows the outbox relay parked: a
// *store.Store.
type ParkedRows interface {
	ParkedByReason(ctx context.Context, table string) (map[string]int, error)
	ReplayParked(ctx context.Context, table string, f outbox.ParkedFilter) (int, error)
}

// Config configures a [Dashboard]. Recorder is required; the rest may be left
// zero.
type Config struct {
	// Recorder holds the counters of the calls, publications and settlements.
	Recorder *stats.Recorder
	// Breakers lists the breakers; nil shows none.
	Breakers BreakerSource
	// Backlog reads the outbox backlog of OutboxTable; nil shows none.
	Backlog Backlog
	// Parked counts the parked rows of OutboxTable by reason and replays them;
	// nil shows their number only (from Backlog) and offers no replay.
	Parked ParkedRows
	// OutboxTable is the outbox's table; "" means "rampart_outbox".
	OutboxTable string
	// Transport is the bus's transport: the dead-letter queues are listed when it
	// implements bus.DeadLetterReader and replayed when it implements
	// bus.DeadLetterManager. Nil shows no dead letters.
	Transport bus.Transport
	// EventTypes maps each subscription to the event type it consumes, to show
	// its publications next to its deliveries.
	EventTypes map[string]string
	// Authenticate wraps the replay endpoints; nil leaves them open (for tests
	// only: a replay is a write).
	Authenticate func(http.Handler) http.Handler
	// Interval is the time between two samples of the history; <= 0 means 2s.
	Interval time.Duration
	// History is how far back the history goes; <= 0 means 10 minutes.
	History time.Duration
	// Logger receives the replays and sampling errors; nil discards them.
	Logger *slog.Logger
}

// Dashboard serves the page and its endpoints, and samples the counters on a
// goroutine of its own until [Dashboard.Close]. It is safe for concurrent use.
type Dashboard struct {
	cfg     Config
	log     *slog.Logger
	reader  bus.DeadLetterReader  // nil when the transport cannot list its dead letters
	manager bus.DeadLetterManager // nil when it cannot replay them
	history *history
	mux     *http.ServeMux

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// New returns a Dashboard and starts its sampling; stop it with Close.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Recorder == nil {
		return nil, errors.New("dashboard: Config.Recorder is required")
	}
	if cfg.OutboxTable == "" {
		cfg.OutboxTable = "rampart_outbox"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.History <= 0 {
		cfg.History = 10 * time.Minute
	}
	d := &Dashboard{cfg: cfg, log: cfg.Logger, history: newHistory(max(1, int(cfg.History/cfg.Interval)), cfg.EventTypes),
		done: make(chan struct{})}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.reader, _ = cfg.Transport.(bus.DeadLetterReader)
	d.manager, _ = cfg.Transport.(bus.DeadLetterManager)
	d.routes()

	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go d.sample(ctx)
	return d, nil
}

// sample adds a point to the history every Interval until ctx ends.
func (d *Dashboard) sample(ctx context.Context) {
	defer close(d.done)
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, d.cfg.Interval)
		s := d.snapshot(sctx, time.Now())
		cancel()
		if s.outErr != nil && ctx.Err() == nil {
			d.log.Warn("dashboard: reading the outbox backlog failed", "err", s.outErr)
		}
		d.history.add(s)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the sampling and waits for it. It may be called more than once.
func (d *Dashboard) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		<-d.done
	})
	return nil
}

// ServeHTTP serves the paths the package documentation lists.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

func (d *Dashboard) routes() {
	sub, _ := fs.Sub(static, "static")
	d.mux = http.NewServeMux()
	file := func(name, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			data, err := fs.ReadFile(sub, name)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(data)
		}
	}
	d.mux.HandleFunc("GET /dashboard", file("index.html", "text/html; charset=utf-8"))
	d.mux.HandleFunc("GET /dashboard/{$}", file("index.html", "text/html; charset=utf-8"))
	d.mux.HandleFunc("GET /dashboard/app.js", file("app.js", "text/javascript; charset=utf-8"))
	d.mux.HandleFunc("GET /dashboard/style.css", file("style.css", "text/css; charset=utf-8"))
	d.mux.HandleFunc("GET /dashboard/api/state", d.serveState)
	var replay http.Handler = http.HandlerFunc(d.serveReplay)
	if d.cfg.Authenticate != nil {
		replay = d.cfg.Authenticate(replay)
	}
	d.mux.Handle("POST /dashboard/api/deadletters/{subscription}/replay", replay)
	var replayParked http.Handler = http.HandlerFunc(d.serveReplayParked)
	if d.cfg.Authenticate != nil {
		replayParked = d.cfg.Authenticate(replayParked)
	}
	d.mux.Handle("POST /dashboard/api/outbox/parked/replay", replayParked)
}

func (d *Dashboard) serveState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.state(r.Context(), d.snapshot(r.Context(), time.Now())))
}

// ReplayResult is what the replay endpoint answers.
type ReplayResult struct {
	Subscription string `json:"subscription"`
	Replayed     int    `json:"replayed"`
	Kept         int    `json:"kept"`
}

// errorBody is the body of an error answer.
type errorBody struct {
	Error string `json:"error"`
}

func (d *Dashboard) serveReplay(w http.ResponseWriter, r *http.Request) {
	sub := r.PathValue("subscription")
	if _, ok := d.cfg.Recorder.Snapshot().Subscriptions[sub]; !ok {
		writeJSON(w, http.StatusNotFound, errorBody{"no subscription " + sub})
		return
	}
	if d.manager == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody{"replay not supported by this transport"})
		return
	}
	res, err := d.manager.ReplayDeadLetters(r.Context(), sub, bus.ReplayOptions{})
	out := ReplayResult{Subscription: sub, Replayed: len(res.Replayed), Kept: res.Kept}
	if err != nil {
		d.log.Warn("dashboard: replay failed", "subscription", sub, "replayed", out.Replayed, "err", err)
		writeJSON(w, http.StatusBadGateway, errorBody{err.Error()})
		return
	}
	d.log.Info("dashboard: dead letters replayed", "subscription", sub, "replayed", out.Replayed)
	writeJSON(w, http.StatusOK, out)
}

// ParkedReplayResult is what the parked rows' replay endpoint answers.
type ParkedReplayResult struct {
	Reason   string `json:"reason,omitempty"` // the reason replayed, "" for all
	Type     string `json:"type,omitempty"`   // the event type replayed, "" for all
	Replayed int    `json:"replayed"`
}

// serveReplayParked puts the parked outbox rows back in the outbox, those of
// the query's reason and type when given.
func (d *Dashboard) serveReplayParked(w http.ResponseWriter, r *http.Request) {
	if d.cfg.Parked == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody{"replaying parked outbox rows is not configured"})
		return
	}
	f := outbox.ParkedFilter{Type: r.URL.Query().Get("type"), Reason: outbox.ParkReason(r.URL.Query().Get("reason"))}
	switch f.Reason {
	case "", outbox.ParkUnroutable, outbox.ParkMaxAttempts:
	default:
		writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("reason %q is not %q or %q", f.Reason, outbox.ParkUnroutable, outbox.ParkMaxAttempts)})
		return
	}
	n, err := d.cfg.Parked.ReplayParked(r.Context(), d.cfg.OutboxTable, f)
	if err != nil {
		d.log.Warn("dashboard: replaying parked outbox rows failed", "reason", f.Reason, "type", f.Type, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{err.Error()})
		return
	}
	d.log.Info("dashboard: parked outbox rows replayed", "reason", f.Reason, "type", f.Type, "replayed", n)
	writeJSON(w, http.StatusOK, ParkedReplayResult{Reason: string(f.Reason), Type: f.Type, Replayed: n})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
