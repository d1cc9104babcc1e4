package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// start serves cfg on a loopback port and returns the server and a client of its own;
// both are closed when the test ends.
func start(t *testing.T, cfg Config) (*Server, *http.Client) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start = %v", err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return s, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get returns the status and Retry-After of GET url, or the error.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

func mustGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	code, ra, err := get(c, url)
	if err != nil {
		t.Fatalf("GET %s = %v", url, err)
	}
	return code, ra
}

// eventually polls cond until it holds, or fails the test after 5s. Only for what
// happens across real connections, where fake time does not reach.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMixConvergesOverHTTP(t *testing.T) {
	mix, _ := ParseMix("200:80,500:10,503:5,429:5")
	s, c := start(t, Config{Seed: 7, Routes: []Route{{Mix: mix}}})
	const n = 1000
	counts := map[int]uint64{}
	for range n {
		code, _ := mustGet(t, c, s.URL()+"/x")
		counts[code]++
	}
	for _, e := range mix {
		got, want := float64(counts[e.Status])/n, mix.Share(e.Status)
		if got < want-0.04 || got > want+0.04 {
			t.Errorf("share of %d = %.3f, want %.2f ± 0.04", e.Status, got, want)
		}
	}
	st := s.Stats()
	if st.Requests != n || st.Answered() != n || st.InFlight != 0 {
		t.Errorf("Stats() = %+v; want %d requests, all answered, none in flight", st, n)
	}
	for code, want := range counts {
		if got := st.ByStatus[code]; got != want {
			t.Errorf("Stats().ByStatus[%d] = %d, want %d (what the client saw)", code, got, want)
		}
	}
	if got, want := st.Failed(), n-counts[200]; got != want {
		t.Errorf("Stats().Failed() = %d, want %d", got, want)
	}
}

func TestSameSeedSameAnswers(t *testing.T) {
	mix, _ := ParseMix("200:1,500:1,503:1")
	run := func() []int {
		s, c := start(t, Config{Seed: 42, Routes: []Route{{Mix: mix}}})
		var codes []int
		for range 50 {
			code, _ := mustGet(t, c, s.URL())
			codes = append(codes, code)
		}
		return codes
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Errorf("two servers seeded alike answered\n%v\n%v", a, b)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter time.Duration
		want       string
	}{
		{429, 0, "1"},
		{503, 0, "1"},
		{503, 2500 * time.Millisecond, "3"},
		{429, 7 * time.Second, "7"},
		{503, -1, ""},
		{500, 5 * time.Second, ""},
		{200, 5 * time.Second, ""},
	}
	for _, tt := range tests {
		s, c := start(t, Config{Routes: []Route{{Mix: Mix{{tt.status, 1}}, RetryAfter: tt.retryAfter}}})
		code, ra := mustGet(t, c, s.URL())
		if code != tt.status || ra != tt.want {
			t.Errorf("status %d with RetryAfter %v: got %d, Retry-After %q; want %d, %q", tt.status, tt.retryAfter, code, ra, tt.status, tt.want)
		}
	}
}

func TestResetGivesClientError(t *testing.T) {
	s, c := start(t, Config{Routes: []Route{{ResetRate: 1}}})
	_, _, err := get(c, s.URL())
	if err == nil {
		t.Fatal("GET from a route that resets every connection succeeded")
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("GET error = %v, want a connection reset", err)
	}
	if st := s.Stats(); st.Resets == 0 || st.Answered() != 0 {
		t.Errorf("Stats() = %+v; want resets and no answers", st)
	}
}

func TestHangReleasedOnShutdown(t *testing.T) {
	s, c := start(t, Config{Routes: []Route{{HangRate: 1}}})
	errc := make(chan error, 1)
	go func() {
		_, _, err := get(c, s.URL())
		errc <- err
	}()
	eventually(t, "request hangs", func() bool { return s.Stats().Hangs == 1 })

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	begin := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Shutdown took %v with a hung request; want it released at once", took)
	}
	if err := <-errc; err == nil {
		t.Error("the hung request got an answer; want a closed connection")
	}
	if err := s.Start("127.0.0.1:0"); !errors.Is(err, ErrStarted) {
		t.Errorf("Start after Shutdown = %v, want ErrStarted", err)
	}
}

func TestHangReleasedWhenClientGivesUp(t *testing.T) {
	s, c := start(t, Config{Routes: []Route{{HangRate: 1}}})
	c.Timeout = 100 * time.Millisecond
	if _, _, err := get(c, s.URL()); err == nil {
		t.Fatal("GET from a hanging route succeeded")
	}
	eventually(t, "hung handler returns", func() bool { return s.Stats().InFlight == 0 })
	if st := s.Stats(); st.Hangs != 1 || st.Requests != 1 {
		t.Errorf("Stats() = %+v; want 1 request, 1 hang", st)
	}
}

func TestOutageResetsOverHTTP(t *testing.T) {
	s, c := start(t, Config{})
	if err := s.StartOutage(0, time.Hour, OutageReset); err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(c, s.URL()); err == nil {
		t.Error("GET during a reset outage succeeded")
	}
	s.EndOutage()
	if code, _ := mustGet(t, c, s.URL()); code != 200 {
		t.Errorf("GET after EndOutage = %d, want 200", code)
	}
	if st := s.Stats(); st.Outage == 0 || st.Resets != st.Outage {
		t.Errorf("Stats() = %+v; want every outage request reset", st)
	}
}

// serve runs one request through s's handler, in the caller's (fake) time.
func serve(s *Server, ctx context.Context, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil))
	return rec
}

func TestOutageWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{Outage: Outage{After: time.Second, For: 2 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		check := func(when string, want int, wantRetryAfter string) {
			t.Helper()
			rec := serve(s, t.Context(), "/")
			if rec.Code != want || rec.Header().Get("Retry-After") != wantRetryAfter {
				t.Errorf("%s: status %d, Retry-After %q; want %d, %q", when, rec.Code, rec.Header().Get("Retry-After"), want, wantRetryAfter)
			}
		}
		check("before the outage", 200, "")
		if got, want := s.Config().Outage, (Outage{After: time.Second, For: 2 * time.Second, Mode: OutageUnavailable}); got != want {
			t.Errorf("Config().Outage before = %+v, want %+v", got, want)
		}
		time.Sleep(time.Second)
		check("at its start", 503, "1")
		if !s.InOutage() {
			t.Error("InOutage() = false during the outage")
		}
		time.Sleep(time.Second)
		if got, want := s.Config().Outage, (Outage{For: time.Second, Mode: OutageUnavailable}); got != want {
			t.Errorf("Config().Outage during = %+v, want %+v", got, want)
		}
		time.Sleep(time.Second)
		check("at its end", 200, "")
		if s.InOutage() || s.Config().Outage != (Outage{}) {
			t.Errorf("after the outage: InOutage() = %v, Config().Outage = %+v; want false, zero", s.InOutage(), s.Config().Outage)
		}
		if st := s.Stats(); st.Outage != 1 || st.ByStatus[503] != 1 || st.ByStatus[200] != 2 {
			t.Errorf("Stats() = %+v", st)
		}
	})
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := New(Config{Seed: 1, Routes: []Route{
			{Path: "/fixed", Latency: FixedLatency(300 * time.Millisecond)},
			{Path: "/uniform", Latency: UniformLatency(100*time.Millisecond, 200*time.Millisecond)},
		}})
		begin := time.Now()
		serve(s, t.Context(), "/fixed")
		if took := time.Since(begin); took != 300*time.Millisecond {
			t.Errorf("fixed latency: answered after %v, want 300ms", took)
		}
		for range 20 {
			begin := time.Now()
			serve(s, t.Context(), "/uniform")
			if took := time.Since(begin); took < 100*time.Millisecond || took > 200*time.Millisecond {
				t.Errorf("uniform latency: answered after %v, want 100ms-200ms", took)
			}
		}
	})
}

func TestDelayEndsWhenClientGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := New(Config{Routes: []Route{{Latency: FixedLatency(time.Minute)}}})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		begin := time.Now()
		serve(s, ctx, "/")
		if took := time.Since(begin); took != time.Second {
			t.Errorf("handler returned after %v, want 1s (when the client gave up)", took)
		}
		if st := s.Stats(); st.Canceled != 1 || st.Answered() != 0 {
			t.Errorf("Stats() = %+v; want 1 canceled, none answered", st)
		}
	})
}

func TestDelayCutShortByShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := New(Config{Routes: []Route{{Latency: FixedLatency(time.Hour)}}})
		done := make(chan int)
		go func() { done <- serve(s, context.Background(), "/").Code }()
		time.Sleep(time.Second)
		if err := s.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if code := <-done; code != 200 {
			t.Errorf("delayed answer after Shutdown = %d, want 200", code)
		}
	})
}

func TestRoutes(t *testing.T) {
	s, c := start(t, Config{Routes: []Route{
		{Path: "/"},
		{Path: "/fail", Mix: Mix{{500, 1}}},
		{Path: "/api/", Mix: Mix{{503, 1}}},
		{Path: "/api/v2/", Mix: Mix{{429, 1}}},
	}})
	tests := []struct {
		path string
		want int
	}{
		{"/", 200}, {"/x", 200}, {"/fail", 500}, {"/fail/x", 200}, {"/api", 200},
		{"/api/", 503}, {"/api/v1/x", 503}, {"/api/v2/x", 429},
	}
	for _, tt := range tests {
		if code, _ := mustGet(t, c, s.URL()+tt.path); code != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, code, tt.want)
		}
	}

	s2, c2 := start(t, Config{Routes: []Route{{Path: "/only"}}})
	if code, _ := mustGet(t, c2, s2.URL()+"/other"); code != 404 {
		t.Errorf("GET of a path no route serves = %d, want 404", code)
	}
}

func TestStartTwice(t *testing.T) {
	s, _ := start(t, Config{})
	if err := s.Start("127.0.0.1:0"); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}

// TestShutdownClosesUnusedConnections: a connection that never sent a request (a
// client's spare one) does not hold Shutdown up.
func TestShutdownClosesUnusedConnections(t *testing.T) {
	s, _ := start(t, Config{})
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually(t, "connection accepted", func() bool {
		return s.http.FreshConns() == 1
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	begin := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if took := time.Since(begin); took > time.Second {
		t.Errorf("Shutdown took %v with an unused connection open", took)
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("the unused connection is still open after Shutdown")
	}
}
