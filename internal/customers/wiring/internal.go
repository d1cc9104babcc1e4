package wiring

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/internal/customers/dashboard"
	"github.com/rampart-go/rampart/internal/customers/handlers"
	"github.com/rampart-go/rampart/internal/customers/stats"
	"github.com/rampart-go/rampart/internal/customers/store"
)

// The seams for an operator dashboard: the counters (GET /internal/stats) and
// the dead letters (GET /internal/deadletters/{subscription}).

// Stats is what GET /internal/stats answers: the counters of the [stats.Recorder],
// the state of each provider's breakers, and the outbox backlog.
type Stats struct {
	stats.Snapshot
	Breakers []BreakerState      `json:"breakers"`
	Outbox   store.OutboxBacklog `json:"outbox"`
}

// BreakerState is a breaker as the stats show it.
type BreakerState struct {
	Name                string    `json:"name"` // "payments/127.0.0.1:41234": client and host
	State               string    `json:"state"`
	Successes           int       `json:"successes"` // in the current sampling window
	Failures            int       `json:"failures"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	Trips               int       `json:"trips"`
	OpenedAt            time.Time `json:"opened_at,omitzero"`
	HalfOpensAt         time.Time `json:"half_opens_at,omitzero"`
}

// Stats returns the service's counters, for dashboards.
func (s *Server) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Snapshot: s.recorder.Snapshot(), Breakers: []BreakerState{}}
	for _, b := range s.breakers.Breakers() {
		bs := b.Snapshot()
		st.Breakers = append(st.Breakers, BreakerState{Name: bs.Name, State: bs.State.String(), Successes: bs.Successes,
			Failures: bs.Failures, ConsecutiveFailures: bs.ConsecutiveFailures, Trips: bs.Trips, OpenedAt: bs.OpenedAt, HalfOpensAt: bs.HalfOpensAt})
	}
	var err error
	st.Outbox, err = s.store.OutboxBacklog(ctx, "rampart_outbox")
	return st, err
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.Stats(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(st)
}

// DeadLetter is a dead-lettered event as GET /internal/deadletters shows it.
type DeadLetter struct {
	EventID       string            `json:"event_id"`
	EventType     string            `json:"event_type"`
	Subject       string            `json:"subject,omitempty"`
	CorrelationID string            `json:"correlation_id,omitempty"`
	Reason        string            `json:"reason"`
	Error         string            `json:"error"`
	ErrorType     string            `json:"error_type,omitempty"`
	Attempts      int               `json:"attempts"`
	FirstFailure  time.Time         `json:"first_failure,omitzero"`
	LastFailure   time.Time         `json:"last_failure,omitzero"`
	Headers       map[string]string `json:"headers"`
	Body          json.RawMessage   `json:"body,omitempty"` // the event, when it is JSON
}

// ErrNoDeadLetters is returned by [Server.DeadLetters] when the transport cannot
// list its dead-letter queues.
var ErrNoDeadLetters = errors.New("customers: the bus transport cannot list its dead letters")

// DeadLetters returns up to max messages (all when max <= 0) of a
// subscription's dead-letter queue, oldest first, without removing them.
// Replaying one is publishing its message again through the transport.
func (s *Server) DeadLetters(ctx context.Context, subscription string, max int) ([]DeadLetter, error) {
	if s.dlq == nil {
		return nil, ErrNoDeadLetters
	}
	msgs, err := s.dlq.DeadLetters(ctx, subscription, max)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		dl, _ := bus.ParseDeadLetter(m.Headers) // what cannot be parsed stays zero; the headers say the rest
		d := DeadLetter{EventID: m.ID, EventType: m.Type, Subject: m.Headers[bus.HeaderSubject],
			CorrelationID: m.Headers[bus.HeaderCorrelationID], Reason: string(dl.Reason), Error: dl.Error, ErrorType: dl.ErrorType,
			Attempts: dl.Attempts, FirstFailure: dl.FirstFailure, LastFailure: dl.LastFailure, Headers: m.Headers}
		if json.Valid(m.Body) {
			d.Body = m.Body
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *Server) serveDeadLetters(w http.ResponseWriter, r *http.Request) {
	list, err := s.DeadLetters(r.Context(), r.PathValue("subscription"), 100)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"dead_letters": list})
}

// mountDashboard serves the operator dashboard at /dashboard, its replay
// endpoint behind authenticate; Shutdown stops its sampling.
func (s *Server) mountDashboard(mux *http.ServeMux, tr bus.Transport, authenticate func(http.Handler) http.Handler) error {
	d, err := dashboard.New(dashboard.Config{Recorder: s.recorder, Breakers: s.breakers, Backlog: s.store, Parked: s.store, Transport: tr,
		EventTypes: handlers.EventTypes, Authenticate: authenticate, Logger: s.log.With("component", "dashboard")})
	if err != nil {
		return err
	}
	s.onClose("dashboard", func(context.Context) error { return d.Close() })
	mux.Handle("/dashboard", d)
	mux.Handle("/dashboard/", d)
	return nil
}
