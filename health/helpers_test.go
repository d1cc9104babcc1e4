package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/health"
)

// newChecker returns a Checker for cfg that is closed when the test ends.
func newChecker(t *testing.T, cfg health.Config) *health.Checker {
	t.Helper()
	c, err := health.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// reply is a decoded answer of a health handler.
type reply struct {
	code   int
	header http.Header
	body   health.Response
	raw    []byte
}

// serve sends GET target to h through ServeHTTP (usable inside a synctest bubble)
// and decodes the body.
func serve(t *testing.T, h http.Handler, target string) reply {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return decode(t, rec.Code, rec.Header(), rec.Body.Bytes())
}

// decode decodes a health response body, failing the test if it is not one.
func decode(t *testing.T, code int, header http.Header, raw []byte) reply {
	t.Helper()
	r := reply{code: code, header: header, raw: raw}
	if ct := header.Get("Content-Type"); ct != health.ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, health.ContentType)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r.body); err != nil {
		t.Fatalf("decoding %q: %v", raw, err)
	}
	return r
}

// one returns the only result of check key in r, failing the test if there is not
// exactly one.
func (r reply) one(t *testing.T, key string) health.CheckResult {
	t.Helper()
	list := r.body.Checks[key]
	if len(list) != 1 {
		t.Fatalf("checks[%q] has %d results, want 1; body %s", key, len(list), r.raw)
	}
	return list[0]
}

// counted returns a check keyed component:status that counts its runs and returns
// what fn returns (a pass if fn is nil).
func counted(component string, n *atomic.Int64, fn func(ctx context.Context) (health.Result, error)) health.Check {
	return health.Check{
		Component:   component,
		Measurement: "status",
		Run: func(ctx context.Context) (health.Result, error) {
			n.Add(1)
			if fn == nil {
				return health.Result{}, nil
			}
			return fn(ctx)
		},
	}
}

// fixed returns a check that returns r and err.
func fixed(component string, r health.Result, err error) health.Check {
	return health.Check{
		Component:   component,
		Measurement: "status",
		Run:         func(context.Context) (health.Result, error) { return r, err },
	}
}

var errDown = errors.New("connection refused")
