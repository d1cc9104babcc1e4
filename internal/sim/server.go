package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-go/rampart/internal/httpserve"
)

// ErrStarted is returned by [Server.Start] and [Server.Serve] when the server is
// already serving, or was shut down.
var ErrStarted = errors.New("sim: server already started or shut down")

// Server is a fault-injecting fake upstream. It is an [http.Handler], so it can be
// served by an httptest.Server; [Server.Start] serves it on an address of its own.
// Either way, [Server.Shutdown] or [Server.Close] releases the requests that hang, so
// call one of them before closing an httptest.Server that serves it.
//
// A Server is safe for concurrent use.
type Server struct {
	mu    sync.Mutex // serialises configuration changes
	state atomic.Pointer[state]
	stats counters
	rngMu sync.Mutex
	rng   *rand.Rand
	http  *httpserve.Server
}

// state is what a request needs, swapped as a whole when the configuration changes.
type state struct {
	cfg     Config    // normalized; Outage as given
	applied time.Time // when cfg was applied
	routes  []*Route  // by path, longest first
	outage  window
}

// window is an outage from from to to; the zero window is no outage.
type window struct {
	from, to time.Time
	mode     OutageMode
}

func (w window) active(now time.Time) bool { return !now.Before(w.from) && now.Before(w.to) }

// New returns a server for cfg, or a [*FieldError] that says what is invalid. The
// outage, if any, is timed from now. The server does not listen until
// [Server.Start] or [Server.Serve].
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	s.http = httpserve.New(s)
	s.apply(cfg.normalize(), time.Now())
	return s, nil
}

// apply installs cfg (normalized), with its outage timed from now.
func (s *Server) apply(cfg Config, now time.Time) {
	st := &state{cfg: cfg, applied: now}
	for i := range cfg.Routes {
		st.routes = append(st.routes, &cfg.Routes[i])
	}
	slices.SortStableFunc(st.routes, func(a, b *Route) int { return len(b.Path) - len(a.Path) })
	if o := cfg.Outage; o.For > 0 {
		st.outage = window{from: now.Add(o.After), to: now.Add(o.After + o.For), mode: o.Mode}
	}
	s.state.Store(st)
}

// Config returns the configuration in force. Its Outage is what remains of the
// current or next outage, timed from now and rounded to milliseconds, so that
// [Server.SetConfig] with it changes next to nothing; it is zero when no outage is
// ahead.
func (s *Server) Config() Config {
	st := s.state.Load()
	cfg := st.cfg
	cfg.Routes = slices.Clone(cfg.Routes)
	for i := range cfg.Routes { // the caller may change them; the server's stay
		cfg.Routes[i].Mix = slices.Clone(cfg.Routes[i].Mix)
		cfg.Routes[i].Latency.Points = slices.Clone(cfg.Routes[i].Latency.Points)
	}
	cfg.Outage = st.outage.remaining(time.Now())
	return cfg
}

func (w window) remaining(now time.Time) Outage {
	if !now.Before(w.to) {
		return Outage{}
	}
	// Rounded to milliseconds, so that the JSON form reads well.
	from := max(w.from.Sub(now), 0).Round(time.Millisecond)
	return Outage{After: from, For: max(w.to.Sub(now).Round(time.Millisecond)-from, time.Millisecond), Mode: w.mode}
}

// SetConfig replaces the configuration, or returns a [*FieldError] and changes
// nothing. Its outage is timed from now. The seed is ignored: the generator keeps
// going.
func (s *Server) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg.Seed = s.state.Load().cfg.Seed
	s.apply(cfg.normalize(), time.Now())
	return nil
}

// StartOutage makes every request fail from after to after+d from now, in the given
// mode ("" means OutageUnavailable), replacing any outage scheduled before.
func (s *Server) StartOutage(after, d time.Duration, mode OutageMode) error {
	o := Outage{After: after, For: d, Mode: mode}
	if err := o.validate(); err != nil {
		return err
	}
	if d == 0 {
		return fieldErr("outage.for", "must be above zero")
	}
	if o.Mode == "" {
		o.Mode = OutageUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.state.Load().cfg
	cfg.Outage = o
	s.apply(cfg, time.Now())
	return nil
}

// EndOutage ends the current outage now and cancels any scheduled one.
func (s *Server) EndOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.state.Load().cfg
	cfg.Outage = Outage{Mode: OutageUnavailable}
	s.apply(cfg, time.Now())
}

// InOutage reports whether an outage is under way.
func (s *Server) InOutage() bool { return s.state.Load().outage.active(time.Now()) }

// Start listens on addr (such as "127.0.0.1:0") and serves in a goroutine of the
// server's until [Server.Shutdown] or [Server.Close].
func (s *Server) Start(addr string) error {
	err := s.http.Start(addr)
	switch {
	case errors.Is(err, httpserve.ErrStarted):
		return ErrStarted
	case err != nil:
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

// Serve serves on l until [Server.Shutdown] or [Server.Close], and then returns
// [http.ErrServerClosed].
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, httpserve.ErrStarted) {
		return ErrStarted
	}
	return err
}

// Addr returns the address the server listens on, or nil before Start or Serve.
func (s *Server) Addr() net.Addr { return s.http.Addr() }

// URL returns "http://" and the address the server listens on, or "" before Start
// or Serve.
func (s *Server) URL() string { return s.http.URL() }

// Shutdown stops the server gracefully: it releases the requests that hang (closing
// their connections) and cuts every delay short, stops listening, lets the answers
// under way finish, and returns when they have, or when ctx is done (then it closes
// what is left and returns ctx's error). It may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

// Close stops the server at once, closing every connection. It may be called more
// than once.
func (s *Server) Close() error { return s.http.Close() }

// match returns the route for path, or nil.
func (st *state) match(path string) *Route {
	for _, r := range st.routes {
		if r.Path == path || (strings.HasSuffix(r.Path, "/") && strings.HasPrefix(path, r.Path)) {
			return r
		}
	}
	return nil
}

// decision is what to do with one request.
type decision struct {
	kind   outcome
	status int
	delay  time.Duration
}

type outcome uint8

const (
	answer outcome = iota
	reset
	hang
)

// decide draws what to do with one request to r.
func (s *Server) decide(r *Route) decision {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	u := s.rng.Float64()
	switch {
	case u < r.HangRate:
		return decision{kind: hang}
	case u < r.HangRate+r.ResetRate:
		return decision{kind: reset, delay: r.Latency.sample(s.rng)}
	}
	return decision{kind: answer, status: r.Mix.pick(s.rng), delay: r.Latency.sample(s.rng)}
}

// ServeHTTP answers r as its route says, or serves the control endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path+"/" == controlPrefix || strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.control(w, r)
		return
	}
	n := s.stats.requests.Add(1)
	s.stats.inFlight.Add(1)
	defer s.stats.inFlight.Add(-1)

	st := s.state.Load()
	rt := st.match(r.URL.Path)
	if st.outage.active(time.Now()) {
		s.stats.outage.Add(1)
		if st.outage.mode == OutageReset {
			s.stats.resets.Add(1)
			resetConn(w)
			return
		}
		retryAfter := time.Second
		if rt != nil {
			retryAfter = rt.RetryAfter
		}
		s.answer(w, r, n, http.StatusServiceUnavailable, retryAfter, "the upstream is in an outage")
		return
	}
	if rt == nil {
		s.answer(w, r, n, http.StatusNotFound, 0, "no route serves this path")
		return
	}
	d := s.decide(rt)
	if d.kind == hang {
		s.stats.hangs.Add(1)
		select {
		case <-r.Context().Done():
		case <-s.http.Done():
			closeConn(w)
		}
		return
	}
	if !s.wait(r.Context(), d.delay) {
		s.stats.canceled.Add(1)
		return
	}
	if d.kind == reset {
		s.stats.resets.Add(1)
		resetConn(w)
		return
	}
	s.answer(w, r, n, d.status, rt.RetryAfter, "simulated failure")
}

// wait waits d, or less if the server shuts down; it returns false if the client
// gave up first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
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

// answer writes status with a small JSON body: the request's number for a success,
// problem details (RFC 9457) otherwise.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, n uint64, status int, retryAfter time.Duration, detail string) {
	s.stats.count(status)
	h := w.Header()
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
	}
	var body string
	if status < 400 {
		h.Set("Content-Type", "application/json")
		body = fmt.Sprintf(`{"status":%d,"path":%s,"request":%d}`+"\n", status, strconv.Quote(r.URL.Path), n)
	} else {
		h.Set("Content-Type", "application/problem+json")
		body = fmt.Sprintf(`{"type":"about:blank","title":%s,"status":%d,"detail":%s}`+"\n",
			strconv.Quote(http.StatusText(status)), status, strconv.Quote(detail))
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// resetConn closes the request's connection with a TCP reset (SO_LINGER 0), before
// any answer. Where the connection cannot be taken over (HTTP/2), the handler aborts,
// which resets the stream.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := tcpConn(conn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// closeConn closes the request's connection without an answer.
func closeConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func tcpConn(c net.Conn) (*net.TCPConn, bool) {
	for {
		switch v := c.(type) {
		case *net.TCPConn:
			return v, true
		case interface{ NetConn() net.Conn }: // *tls.Conn
			c = v.NetConn()
		default:
			return nil, false
		}
	}
}
