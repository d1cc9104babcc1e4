package health_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/health"
)

func TestHandlerStatus(t *testing.T) {
	pass := fixed("a", health.Result{}, nil)
	warn := fixed("b", health.Result{Status: health.StatusWarn, Output: "slow"}, nil)
	fail := fixed("c", health.Result{}, errDown)
	optional := fixed("d", health.Result{}, errDown)
	optional.NonCritical = true
	warnErr := fixed("e", health.Result{Status: health.StatusWarn}, errDown)
	passErr := fixed("f", health.Result{Status: health.StatusPass}, errDown)
	bogus := fixed("g", health.Result{Status: "ok"}, nil)
	optionalWarn := fixed("h", health.Result{Status: health.StatusWarn}, nil)
	optionalWarn.NonCritical = true

	tests := []struct {
		name     string
		checks   []health.Source
		code     int
		status   health.Status
		statuses map[string]health.Status // check key → its own status
	}{
		{"no checks", nil, 200, health.StatusPass, nil},
		{"pass", []health.Source{pass}, 200, health.StatusPass, map[string]health.Status{"a:status": "pass"}},
		{"warn", []health.Source{pass, warn}, 200, health.StatusWarn, map[string]health.Status{"a:status": "pass", "b:status": "warn"}},
		{"fail", []health.Source{pass, warn, fail}, 503, health.StatusFail, map[string]health.Status{"a:status": "pass", "b:status": "warn", "c:status": "fail"}},
		{"non-critical fail", []health.Source{pass, optional}, 200, health.StatusWarn, map[string]health.Status{"a:status": "pass", "d:status": "fail"}},
		{"non-critical and critical fail", []health.Source{optional, fail}, 503, health.StatusFail, map[string]health.Status{"c:status": "fail", "d:status": "fail"}},
		{"non-critical warn", []health.Source{optionalWarn}, 200, health.StatusWarn, map[string]health.Status{"h:status": "warn"}},
		{"explicit warn with error", []health.Source{warnErr}, 200, health.StatusWarn, map[string]health.Status{"e:status": "warn"}},
		{"pass with error", []health.Source{passErr}, 503, health.StatusFail, map[string]health.Status{"f:status": "fail"}},
		{"invalid status", []health.Source{bogus}, 503, health.StatusFail, map[string]health.Status{"g:status": "fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChecker(t, health.Config{Readiness: tt.checks})
			r := serve(t, c.Handler(health.Readiness), "/health/ready")
			if r.code != tt.code || r.body.Status != tt.status {
				t.Errorf("GET /health/ready = %d %q, want %d %q; body %s", r.code, r.body.Status, tt.code, tt.status, r.raw)
			}
			if len(r.body.Checks) != len(tt.statuses) {
				t.Errorf("GET /health/ready has %d checks, want %d; body %s", len(r.body.Checks), len(tt.statuses), r.raw)
			}
			for key, want := range tt.statuses {
				if got := r.one(t, key).Status; got != want {
					t.Errorf("checks[%q].status = %q, want %q", key, got, want)
				}
			}
		})
	}
}

func TestHandlerOutputs(t *testing.T) {
	c := newChecker(t, health.Config{Readiness: []health.Source{
		fixed("pass", health.Result{Output: "dropped for a pass"}, nil),
		fixed("err", health.Result{}, errDown),
		fixed("own", health.Result{Output: "replica lag 12s"}, errDown),
		fixed("bogus", health.Result{Status: "ok", Output: "fine"}, nil),
	}})
	r := serve(t, c.Handler(health.Readiness), "/")
	for key, want := range map[string]string{
		"pass:status":  "",
		"err:status":   "connection refused",
		"own:status":   "replica lag 12s",
		"bogus:status": `health: check returned an invalid status "ok": fine`,
	} {
		if got := r.one(t, key).Output; got != want {
			t.Errorf("checks[%q].output = %q, want %q", key, got, want)
		}
	}
}

// The body follows the response format: exactly the documented member names, times
// in RFC 3339, and the overall fields from the Config.
func TestHandlerJSONFormat(t *testing.T) {
	c := newChecker(t, health.Config{
		ServiceID: "customers", Version: "1", ReleaseID: "1.4.2", Description: "customer management",
		Readiness: []health.Source{health.Check{
			Component: "postgres", Measurement: "responseTime", ComponentID: "primary", ComponentType: "datastore",
			Run: func(context.Context) (health.Result, error) {
				return health.Result{ObservedValue: 250, ObservedUnit: "ms"}, errDown
			},
		}},
	})
	before := time.Now().Add(-time.Second)
	r := serve(t, c.Handler(health.Readiness), "/health/ready")
	if r.code != 503 {
		t.Fatalf("GET /health/ready = %d, want 503", r.code)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}

	var doc map[string]json.RawMessage
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := sortedKeys(doc), []string{"checks", "description", "releaseId", "serviceId", "status", "version"}; !slices.Equal(got, want) {
		t.Errorf("top-level members = %v, want %v", got, want)
	}
	var checks map[string][]map[string]any
	if err := json.Unmarshal(doc["checks"], &checks); err != nil {
		t.Fatal(err)
	}
	entry := checks["postgres:responseTime"][0]
	if got, want := sortedKeys(entry), []string{"componentId", "componentType", "observedUnit", "observedValue", "output", "status", "time"}; !slices.Equal(got, want) {
		t.Errorf("check members = %v, want %v", got, want)
	}
	want := map[string]any{
		"componentId": "primary", "componentType": "datastore", "observedValue": 250.0,
		"observedUnit": "ms", "status": "fail", "output": "connection refused",
	}
	for k, v := range want {
		if entry[k] != v {
			t.Errorf("checks[postgres:responseTime].%s = %v, want %v", k, entry[k], v)
		}
	}
	at, err := time.Parse(time.RFC3339Nano, entry["time"].(string))
	if err != nil || at.Before(before) || at.After(time.Now()) {
		t.Errorf("checks[postgres:responseTime].time = %v (%v), want a time of this run", entry["time"], err)
	}
	if r.body.ServiceID != "customers" || r.body.Version != "1" || r.body.ReleaseID != "1.4.2" || r.body.Description != "customer management" {
		t.Errorf("service fields = %+v, want those of the Config", r.body)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestHandlerComponentTypeDefault(t *testing.T) {
	c := newChecker(t, health.Config{Liveness: []health.Source{fixed("loop", health.Result{}, nil)}})
	r := serve(t, c.Handler(health.Liveness), "/")
	if got := r.one(t, "loop:status").ComponentType; got != "component" {
		t.Errorf("componentType = %q, want component", got)
	}
}

func TestHandlerKeyWithoutMeasurement(t *testing.T) {
	c := newChecker(t, health.Config{Liveness: []health.Source{health.Check{
		Component: "worker",
		Run:       func(context.Context) (health.Result, error) { return health.Result{}, nil },
	}}})
	r := serve(t, c.Handler(health.Liveness), "/")
	r.one(t, "worker")
}

func TestHandlerDetails(t *testing.T) {
	tests := []struct {
		details health.Details
		target  string
		listed  bool
	}{
		{health.DetailsAlways, "/", true},
		{health.DetailsAlways, "/?verbose", true},
		{health.DetailsAlways, "/?verbose=false", false},
		{health.DetailsAlways, "/?verbose=0", false},
		{health.DetailsOnRequest, "/", false},
		{health.DetailsOnRequest, "/?verbose", true},
		{health.DetailsOnRequest, "/?verbose=true", true},
		{health.DetailsOnRequest, "/?verbose=1", true},
		{health.DetailsOnRequest, "/?verbose=no", false},
		{health.DetailsNever, "/", false},
		{health.DetailsNever, "/?verbose", false},
	}
	for _, tt := range tests {
		c := newChecker(t, health.Config{Details: tt.details, Readiness: []health.Source{fixed("db", health.Result{}, errDown)}})
		r := serve(t, c.Handler(health.Readiness), tt.target)
		if listed := len(r.body.Checks) > 0; listed != tt.listed {
			t.Errorf("Details %d, GET %s: checks listed = %v, want %v; body %s", tt.details, tt.target, listed, tt.listed, r.raw)
		}
		if r.code != 503 || r.body.Status != health.StatusFail {
			t.Errorf("Details %d, GET %s = %d %q, want 503 fail whether listed or not", tt.details, tt.target, r.code, r.body.Status)
		}
		if !tt.listed && strings.Contains(string(r.raw), "refused") {
			t.Errorf("Details %d, GET %s: hidden details leak into the body %s", tt.details, tt.target, r.raw)
		}
	}
}

// The three probes mounted on a mux, through a real HTTP server.
func TestHandlerOverHTTP(t *testing.T) {
	c := newChecker(t, health.Config{
		Liveness:  []health.Source{fixed("loop", health.Result{}, nil)},
		Readiness: []health.Source{fixed("db", health.Result{}, errDown)},
		Startup:   []health.Source{fixed("migrations", health.Result{}, nil)},
	})
	mux := http.NewServeMux()
	mux.Handle("/health/live", c.Handler(health.Liveness))
	mux.Handle("/health/ready", c.Handler(health.Readiness))
	mux.Handle("/health/startup", c.Handler(health.Startup))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for path, want := range map[string]int{"/health/live": 200, "/health/ready": 503, "/health/startup": 200} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := decode(t, resp.StatusCode, resp.Header, raw)
		if r.code != want {
			t.Errorf("GET %s = %d, want %d; body %s", path, r.code, want, raw)
		}
	}

	resp, err := http.Head(srv.URL + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || len(raw) != 0 {
		t.Errorf("HEAD /health/ready = %d with %d bytes, want 503 with none", resp.StatusCode, len(raw))
	}

	resp, err = http.Post(srv.URL+"/health/live", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /health/live = %d Allow %q, want 405 Allow \"GET, HEAD\"", resp.StatusCode, resp.Header.Get("Allow"))
	}
	srv.CloseClientConnections()
	http.DefaultClient.CloseIdleConnections()
}

// An observed value that JSON cannot encode is dropped, not the whole response.
func TestHandlerUnencodableValue(t *testing.T) {
	c := newChecker(t, health.Config{Readiness: []health.Source{
		fixed("nan", health.Result{ObservedValue: math.NaN()}, nil),
		fixed("ok", health.Result{ObservedValue: 3}, nil),
	}})
	r := serve(t, c.Handler(health.Readiness), "/")
	if r.code != 200 {
		t.Errorf("GET = %d, want 200; body %s", r.code, r.raw)
	}
	nan := r.one(t, "nan:status")
	if nan.ObservedValue != nil || !strings.Contains(nan.Output, "observedValue dropped") {
		t.Errorf("checks[nan:status] = %+v, want no value and an output that says why", nan)
	}
	if got := r.one(t, "ok:status").ObservedValue; got != 3.0 {
		t.Errorf("checks[ok:status].observedValue = %v, want 3", got)
	}
}

func TestEvaluateUnknownProbe(t *testing.T) {
	c := newChecker(t, health.Config{})
	r := c.Evaluate(context.Background(), health.Probe(7))
	if r.Status != health.StatusFail || r.Output != "health: unknown probe Probe(7)" {
		t.Errorf("Evaluate(Probe(7)) = %q %q, want fail with the probe named", r.Status, r.Output)
	}
}

func TestProbeString(t *testing.T) {
	for p, want := range map[health.Probe]string{health.Liveness: "liveness", health.Readiness: "readiness", health.Startup: "startup"} {
		if got := p.String(); got != want {
			t.Errorf("Probe(%d).String() = %q, want %q", p, got, want)
		}
	}
}

func TestStatusHTTPStatus(t *testing.T) {
	for s, want := range map[health.Status]int{health.StatusPass: 200, health.StatusWarn: 200, health.StatusFail: 503, "": 503} {
		if got := s.HTTPStatus(); got != want {
			t.Errorf("Status(%q).HTTPStatus() = %d, want %d", s, got, want)
		}
	}
}
