package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-go/rampart/internal/httpserve"
	"github.com/rampart-go/rampart/internal/sim"
)

// ErrStarted is returned by Start when the simulator is already serving, or was
// closed.
var ErrStarted = errors.New("providers: simulator already started or closed")

// Stats are the counters every simulator keeps about its API (the paths under
// /v1/; the token endpoint and the control endpoint are not counted).
type Stats struct {
	// Requests counts the API requests received. Once traffic has stopped it is
	// the sum of the answers in ByStatus and Canceled.
	Requests uint64 `json:"requests"`
	// ByStatus counts the answers by status, injected failures and rejections by
	// authentication (401) included.
	ByStatus map[int]uint64 `json:"by_status"`
	// Injected counts the requests failed before they took effect (FailNext,
	// ErrorRate).
	Injected uint64 `json:"injected"`
	// Lost counts the requests that took effect but whose answer was replaced by
	// a failure (LoseNext, LostRate).
	Lost uint64 `json:"lost"`
	// Outage counts the requests failed by an outage.
	Outage uint64 `json:"outage"`
	// Canceled counts the requests whose client gave up while they were delayed;
	// they had no effect.
	Canceled uint64 `json:"canceled"`
	// InFlight is the number of API requests being dealt with now.
	InFlight int64 `json:"in_flight"`
}

// simulator is what the three simulators share: fault injection in front of the
// provider's API, the control endpoint, the counters, and the HTTP server.
type simulator struct {
	name      string          // "payments", for errors and logs
	api       *http.ServeMux  // the provider's routes
	unfaulted map[string]bool // API paths served without faults nor counting
	control   *http.ServeMux  // /_sim/
	logger    *slog.Logger

	mu     sync.Mutex // guards faults and rng
	faults Faults
	rng    *rand.Rand

	requests, injected, lost, outage, canceled atomic.Uint64
	inFlight                                   atomic.Int64
	status                                     [600]atomic.Uint64

	http     *httpserve.Server
	gateMu   sync.Mutex     // guards closing; orders handlers.Add before Wait
	closing  bool           // Close or Shutdown was called
	handlers sync.WaitGroup // requests being served
}

// init prepares s; stats writes the simulator's own stats for GET /_sim/stats.
func (s *simulator) init(name string, faults Faults, seed uint64, logger *slog.Logger, stats func() any) error {
	if err := faults.Validate(); err != nil {
		return fmt.Errorf("%w (in the %s simulator's options)", err, name)
	}
	if seed == 0 {
		seed = rand.Uint64()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.name = name
	s.api = http.NewServeMux()
	s.unfaulted = map[string]bool{}
	s.logger = logger.With("simulator", name)
	s.faults = cloneFaults(faults)
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	s.control = http.NewServeMux()
	s.control.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, stats()) })
	s.control.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Faults()) })
	s.control.HandleFunc("PUT /_sim/faults", s.putFaults)
	s.control.HandleFunc("POST /_sim/outage", func(w http.ResponseWriter, _ *http.Request) {
		s.SetOutage(true)
		writeJSON(w, http.StatusOK, s.Faults())
	})
	s.control.HandleFunc("DELETE /_sim/outage", func(w http.ResponseWriter, _ *http.Request) {
		s.SetOutage(false)
		writeJSON(w, http.StatusOK, s.Faults())
	})

	s.http = httpserve.New(s)
	return nil
}

// cloneFaults returns a copy of f that shares no slice with it.
func cloneFaults(f Faults) Faults {
	f.Statuses = slices.Clone(f.Statuses)
	f.Latency.Points = slices.Clone(f.Latency.Points)
	return f
}

// SetFaults replaces the faults injected from now on, or returns an error naming
// the invalid field and changes nothing.
func (s *simulator) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.faults = cloneFaults(f)
	s.mu.Unlock()
	s.logger.Info("providers: faults set", "faults", f)
	return nil
}

// Faults returns the faults in force; FailNext and LoseNext are what remains of
// them.
func (s *simulator) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneFaults(s.faults)
}

// SetOutage starts (true) or ends (false) an outage, leaving the other faults as
// they are.
func (s *simulator) SetOutage(on bool) {
	s.mu.Lock()
	s.faults.Outage = on
	s.mu.Unlock()
	s.logger.Info("providers: outage", "on", on)
}

func (s *simulator) putFaults(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "about:blank", "body too large or unreadable", nil)
		return
	}
	var f Faults
	if err := f.UnmarshalJSON(data); err != nil {
		writeProblem(w, r, http.StatusBadRequest, ProblemValidation, err.Error(), nil)
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeProblem(w, r, http.StatusBadRequest, ProblemValidation, err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, s.Faults())
}

// stats returns the shared counters.
func (s *simulator) stats() Stats {
	st := Stats{
		ByStatus: make(map[int]uint64),
		Injected: s.injected.Load(),
		Lost:     s.lost.Load(),
		Outage:   s.outage.Load(),
		Canceled: s.canceled.Load(),
		InFlight: s.inFlight.Load(),
	}
	for i := range s.status {
		if n := s.status[i].Load(); n > 0 {
			st.ByStatus[i] = n
		}
	}
	st.Requests = s.requests.Load()
	return st
}

// verdict is what happens to one API request.
type verdict uint8

const (
	serve verdict = iota
	fail          // fails before taking effect
	lose          // takes effect, answered with a failure
	down          // outage
)

type decision struct {
	verdict    verdict
	status     int
	delay      time.Duration
	retryAfter time.Duration
}

// decide draws what happens to one API request.
func (s *simulator) decide() decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.faults
	d := decision{retryAfter: f.RetryAfter}
	if d.retryAfter == 0 {
		d.retryAfter = time.Second
	}
	if f.Outage {
		d.verdict, d.status = down, http.StatusServiceUnavailable
		return d
	}
	if len(f.Latency.Points) > 0 {
		d.delay = f.Latency.Quantile(s.rng.Float64() * 100)
	}
	switch {
	case f.FailNext > 0:
		f.FailNext--
		d.verdict = fail
	case f.LoseNext > 0:
		f.LoseNext--
		d.verdict = lose
	case f.ErrorRate > 0 || f.LostRate > 0:
		switch u := s.rng.Float64(); {
		case u < f.ErrorRate:
			d.verdict = fail
		case u < f.ErrorRate+f.LostRate:
			d.verdict = lose
		}
	}
	if d.verdict != serve {
		d.status = pickStatus(f.Statuses, s.rng)
	}
	return d
}

// pickStatus draws a status from m; an empty mix is 503.
func pickStatus(m sim.Mix, r *rand.Rand) int {
	total := 0
	for _, e := range m {
		total += e.Weight
	}
	if total == 0 {
		return http.StatusServiceUnavailable
	}
	n := r.IntN(total)
	for _, e := range m {
		if n < e.Weight {
			return e.Status
		}
		n -= e.Weight
	}
	return m[len(m)-1].Status // unreachable
}

// ServeHTTP serves the control endpoint (/_sim/), or the provider's API with the
// faults in force.
func (s *simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeProblem(w, r, http.StatusServiceUnavailable, ProblemSimulated, "the simulator is closed", nil)
		return
	}
	defer s.handlers.Done()
	if r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.control.ServeHTTP(w, r)
		return
	}
	if s.unfaulted[r.URL.Path] {
		s.api.ServeHTTP(w, r)
		return
	}
	s.requests.Add(1)
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	sw := &statusWriter{ResponseWriter: w, s: s}

	d := s.decide()
	if d.verdict == down {
		s.outage.Add(1)
		writeFailure(sw, r, d.status, d.retryAfter, "the provider is in an outage")
		return
	}
	if d.delay > 0 && r.Body != nil && r.Body != http.NoBody {
		// Read the body first: only then does net/http watch the connection and
		// cancel the request's context when the client gives up during the delay.
		data, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		if err != nil {
			s.canceled.Add(1)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	if !s.wait(r.Context(), d.delay) {
		s.canceled.Add(1)
		return
	}
	switch d.verdict {
	case fail:
		s.injected.Add(1)
		s.logger.Debug("providers: failure injected", "method", r.Method, "path", r.URL.Path, "status", d.status)
		writeFailure(sw, r, d.status, d.retryAfter, "simulated failure")
	case lose:
		s.lost.Add(1)
		s.api.ServeHTTP(&discardWriter{header: make(http.Header)}, r)
		s.logger.Debug("providers: answer lost", "method", r.Method, "path", r.URL.Path, "status", d.status)
		writeFailure(sw, r, d.status, d.retryAfter, "simulated failure")
	default:
		s.api.ServeHTTP(sw, r)
	}
}

// enter registers a request being served, unless the simulator is closed.
func (s *simulator) enter() bool {
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	if s.closing {
		return false
	}
	s.handlers.Add(1)
	return true
}

// wait waits d, or less if the simulator closes; it returns false if the client
// gave up first.
func (s *simulator) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.http.Done():
		return true
	case <-ctx.Done():
		return false
	}
}

// statusWriter counts the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	s     *simulator
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		if code < len(w.s.status) {
			w.s.status[code].Add(1)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discardWriter is the ResponseWriter of a request whose answer is lost.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// Start listens on addr ("127.0.0.1:0" when empty: a free loopback port) and
// serves in a goroutine of the simulator's until Close or Shutdown. It
// returns [ErrStarted] if called twice or after Close.
func (s *simulator) Start(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	err := s.http.Start(addr)
	switch {
	case errors.Is(err, httpserve.ErrStarted):
		return ErrStarted
	case err != nil:
		return fmt.Errorf("providers: %s simulator: %w", s.name, err)
	}
	return nil
}

// Addr returns the address the simulator listens on, or nil before Start.
func (s *simulator) Addr() net.Addr { return s.http.Addr() }

// URL returns "http://" and the address the simulator listens on, or "" before
// Start.
func (s *simulator) URL() string { return s.http.URL() }

// Close stops the simulator at once: it cuts every injected delay short, closes
// the listener and every connection, and returns once the requests under way have
// returned. It may be called more than once, and also stops a simulator served by
// another server (an httptest.Server): requests that arrive after Close are
// answered 503.
func (s *simulator) Close() error {
	s.refuse()
	err := s.http.Close()
	s.handlers.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Shutdown stops the simulator gracefully: it cuts every injected delay short,
// stops listening, lets the answers under way finish and returns when they have,
// or when ctx is done (then it closes what is left and returns ctx's error). It
// may be called more than once, and after Close.
func (s *simulator) Shutdown(ctx context.Context) error {
	s.refuse()
	err := s.http.Shutdown(ctx)
	s.handlers.Wait()
	return err
}

// refuse makes the requests that arrive from now on answered 503.
func (s *simulator) refuse() {
	s.gateMu.Lock()
	s.closing = true
	s.gateMu.Unlock()
}
