package wiring_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/customers/wiring"
	"github.com/rampart-go/rampart/internal/testenv"
)

// service is a running service under test.
type service struct {
	*wiring.Server
	t      *testing.T
	client *http.Client
	logs   *logBuffer
}

// start starts the service of s on a free loopback port, with a data
// directory of the test's own unless s has one, and stops it at the end of the
// test.
func start(t *testing.T, s wiring.Settings) *service {
	t.Helper()
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	s.Addr = "127.0.0.1:0"
	logs := &logBuffer{}
	if s.LogOutput == nil {
		s.LogOutput = logs
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv, err := wiring.New(ctx, s)
	if err != nil {
		t.Fatalf("wiring.New() = %v\nlogs:\n%s", err, logs)
	}
	svc := &service{Server: srv, t: t, client: &http.Client{Timeout: 20 * time.Second}, logs: logs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown() = %v", err)
		}
		svc.client.CloseIdleConnections()
		if t.Failed() {
			t.Logf("service logs:\n%s", logs)
		}
	})
	return svc
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends a request with body (JSON-encoded unless it is a string) and the
// development token when auth is true, and fails the test if it gets no answer.
func (s *service) call(method, path string, body any, auth bool) response {
	s.t.Helper()
	r, err := s.request(method, path, body, auth)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// request is call for any goroutine: it returns its error.
func (s *service) request(method, path string, body any, auth bool) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.URL()+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+s.DevToken())
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(data)}
	_ = json.Unmarshal(data, &r.body)
	return r, nil
}

// want fails the test unless r has the status.
func (r response) want(t *testing.T, what string, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d; want %d\nbody: %s", what, r.status, status, r.raw)
	}
	return r
}

// str returns the string at a dotted path of the body ("payment.status").
func (r response) str(path string) string {
	var v any = r.body
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// list returns the array member name of the body.
func (r response) list(name string) []any {
	l, _ := r.body[name].([]any)
	return l
}

// eventually waits up to timeout for cond, checking every 20ms, and fails the
// test with what when it never holds.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type logBuffer struct{ testenv.LogBuffer }

// records returns the log records whose message is msg.
func (l *logBuffer) records(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}
