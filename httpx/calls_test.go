package httpx_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

func TestPath(t *testing.T) {
	cases := []struct {
		pattern string
		params  []any
		want    string
	}{
		{"/payments/{id}", []any{"pay_1"}, "/payments/pay_1"},
		{"/payments/{id}/refunds/{n}", []any{"a/b", 7}, "/payments/a%2Fb/refunds/7"},
		{"/users/{name}", []any{"Zoë Smith?#"}, "/users/Zo%C3%AB%20Smith%3F%23"},
		{"/files/{f}", []any{".."}, "/files/%2E%2E"},
		{"/files/{f}", []any{"."}, "/files/%2E"},
		{"/static", nil, "/static"},
	}
	for _, tc := range cases {
		if got := httpx.Path(tc.pattern, tc.params...); got != tc.want {
			t.Errorf("Path(%q, %v) = %q, want %q", tc.pattern, tc.params, got, tc.want)
		}
	}
}

func TestBadPathsFailBeforeSending(t *testing.T) {
	srv := newServer(t, failFirst(0, 200))
	c := &httpx.Client{HTTP: newTransport(t, httpx.Options{}).Client(), BaseURL: mustParse(t, srv.URL)}
	for _, p := range []string{
		httpx.Path("/payments/{id}", ""),           // empty parameter
		httpx.Path("/payments/{id}"),               // missing
		httpx.Path("/payments/{id}", "a", "b"),     // extra
		"https://elsewhere.example.com/payments/1", // absolute: would leave the base
		"//elsewhere.example.com/payments/1",
	} {
		if err := httpx.Delete(t.Context(), c, p); err == nil {
			t.Errorf("Delete(%q) succeeded", p)
		}
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("server got %d requests, want none", n)
	}
}

// TestBadPathErrorsAreRedacted is the regression test of a malformed path put in
// the error verbatim, query secrets and user information included.
func TestBadPathErrorsAreRedacted(t *testing.T) {
	c := &httpx.Client{
		HTTP:    newTransport(t, httpx.Options{RedactQuery: []string{"session"}}).Client(),
		BaseURL: mustParse(t, "https://api.example.com/v1"),
	}
	cases := []struct {
		name, path string
		want       []string // in the error
	}{
		{"bad escape", "/payments/%zz?token=s3cret&session=s3cret&page=2",
			[]string{`/payments/%zz?token=REDACTED&session=REDACTED&page=2`, `invalid URL escape "%zz"`}},
		{"missing parameter", httpx.Path("/payments/{id}?token=s3cret"),
			[]string{`/payments/{?}?token=REDACTED`, "missing"}},
		{"absolute with user information", "//user:s3cret@evil.example.com/x?token=s3cret",
			[]string{`//REDACTED@evil.example.com/x?token=REDACTED`, "relative"}},
		{"absolute URL", "https://user:s3cret@evil.example.com/x?key=s3cret#frag",
			[]string{`https://REDACTED@evil.example.com/x?key=REDACTED#frag`, "relative"}},
		{"bad host", "//us:er:s3cret@ex ample.com/?sig=s3cret",
			[]string{`//REDACTED@ex ample.com/?sig=REDACTED`}},
	}
	for _, tc := range cases {
		_, err := httpx.GetJSON[struct{}](t.Context(), c, tc.path, nil)
		if err == nil {
			t.Errorf("%s: GetJSON(%q) succeeded", tc.name, tc.path)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "s3cret") {
			t.Errorf("%s: GetJSON(%q) = %q, which holds the secret", tc.name, tc.path, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: GetJSON(%q) = %q, want it to say %q", tc.name, tc.path, err, w)
			}
		}
	}
}

// echoURL answers with the request's method and URL.
func echoURL() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "uri": r.RequestURI})
	})
}

func TestURLsAreJoinedToTheBase(t *testing.T) {
	srv := newServer(t, echoURL())
	cases := []struct {
		base, path string
		query      url.Values
		want       string
	}{
		{"/v1", "/payments", nil, "/v1/payments"},
		{"/v1/", "payments", nil, "/v1/payments"},
		{"", "/payments", nil, "/payments"},
		{"/v1?tenant=a", httpx.Path("/payments/{id}", "x y"), url.Values{"expand": {"refunds"}}, "/v1/payments/x%20y?tenant=a&expand=refunds"},
		{"/v1", "/payments?limit=2", url.Values{"page": {"3"}}, "/v1/payments?limit=2&page=3"},
	}
	for _, tc := range cases {
		c := &httpx.Client{HTTP: newTransport(t, httpx.Options{}).Client(), BaseURL: mustParse(t, srv.URL+tc.base)}
		got, err := httpx.GetJSON[map[string]string](t.Context(), c, tc.path, tc.query)
		if err != nil {
			t.Fatal(err)
		}
		if got["uri"] != tc.want {
			t.Errorf("base %q + path %q + %v = %q, want %q", tc.base, tc.path, tc.query, got["uri"], tc.want)
		}
	}
}

type payment struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

func TestTypedCalls(t *testing.T) {
	var last atomic.Value
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		last.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type") + " " + string(b))
		switch r.Method {
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, `{"id":"p1","amount":42}`)
		}
	}))
	c := &httpx.Client{HTTP: newTransport(t, httpx.Options{}).Client(), BaseURL: mustParse(t, srv.URL), Header: http.Header{"User-Agent": {"test/1"}}}
	ctx := t.Context()

	p, err := httpx.GetJSON[payment](ctx, c, "/p/p1", nil)
	if err != nil || p != (payment{"p1", 42}) {
		t.Errorf("GetJSON = %+v, %v", p, err)
	}
	p, err = httpx.PostJSON[payment](ctx, c, "/p", payment{Amount: 42})
	if err != nil || p.ID != "p1" || last.Load() != `POST /p application/json {"id":"","amount":42}` {
		t.Errorf("PostJSON = %+v, %v; server saw %q", p, err, last.Load())
	}
	p2, err := httpx.PutJSON[*payment](ctx, c, "/p/p1", map[string]int{"amount": 1})
	if err != nil || p2 == nil || p2.Amount != 42 {
		t.Errorf("PutJSON = %+v, %v", p2, err)
	}
	if _, err := httpx.PostJSON[struct{}](ctx, c, "/p", nil); err != nil {
		t.Errorf("PostJSON[struct{}] = %v", err)
	}
	if err := httpx.Delete(ctx, c, "/p/p1"); err != nil || last.Load() != "DELETE /p/p1  " {
		t.Errorf("Delete = %v; server saw %q", err, last.Load())
	}
	if _, err := httpx.DoJSON[payment](ctx, c, http.MethodPatch, "/p/p1", nil, map[string]int{"amount": 2}); err != nil {
		t.Errorf("DoJSON PATCH = %v", err)
	}
	if _, err := httpx.PostJSON[payment](ctx, c, "/p", func() {}); err == nil || !strings.Contains(err.Error(), "encoding request body") {
		t.Errorf("PostJSON with an unencodable body: err = %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	type item struct {
		Amount int64 `json:"amount"`
	}
	type order struct {
		ID    string `json:"id"`
		Items []item `json:"items"`
	}
	cases := []struct {
		name, ct, body string
		strict         bool
		field          string
		is             error
		offset         bool
	}{
		{"malformed", "application/json", `{"id": "o1",`, false, "", nil, false},
		{"syntax", "application/json", `{"id": "o1" "items": []}`, false, "", nil, true},
		{"wrong type", "application/json", `{"id":"o1","items":[{"amount":"12.50"}]}`, false, "items.amount", nil, true},
		{"unknown field", "application/json", `{"id":"o1","itmes":[]}`, true, "itmes", nil, false},
		{"not JSON", "text/html; charset=utf-8", `<html>Bad gateway</html>`, false, "", nil, false},
		{"empty", "application/json", ``, false, "", nil, false},
		{"trailing data", "application/json", `{"id":"o1"} {"id":"o2"}`, false, "", nil, false},
		{"too large", "application/problem+json", `{"id":"` + strings.Repeat("x", 100) + `"}`, false, "", httpx.ErrBodyTooLarge, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				_, _ = io.WriteString(w, tc.body)
			}))
			c := &httpx.Client{
				HTTP: newTransport(t, httpx.Options{}).Client(), BaseURL: mustParse(t, srv.URL),
				MaxResponseBytes: 64, DisallowUnknownFields: tc.strict,
			}
			_, err := httpx.GetJSON[order](t.Context(), c, "/orders/o1", nil)
			var de *httpx.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, httpx.ErrDecode) {
				t.Fatalf("err = %v, want a DecodeError", err)
			}
			if de.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", de.Field, tc.field, err)
			}
			if tc.field != "" && !strings.Contains(err.Error(), `field "`+tc.field+`"`) {
				t.Errorf("message %q does not name the field", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want it to match %v", err, tc.is)
			}
			if tc.offset && de.Offset == 0 {
				t.Errorf("Offset = 0, want where it failed (%v)", err)
			}
			if de.StatusCode != 200 || de.Method != "GET" || !strings.HasSuffix(de.URL, "/orders/o1") {
				t.Errorf("DecodeError = %+v, want the call described", de)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/problem":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"type":"https://example.com/probs/out-of-credit","title":"You do not have enough credit.",`+
				`"status":422,"detail":"Your current balance is 30, but that costs 50.","instance":"/account/12345/msgs/abc","balance":30}`)
		case "/plain":
			w.Header().Set("Retry-After", "7")
			http.Error(w, "try later", http.StatusTooManyRequests)
		}
	}))
	c := &httpx.Client{
		HTTP:    newTransport(t, httpx.Options{Retry: httpx.RetryOptions{Disabled: true}}).Client(),
		BaseURL: mustParse(t, srv.URL),
	}
	_, err := httpx.PostJSON[payment](t.Context(), c, "/problem", payment{Amount: 50})
	var se *httpx.StatusError
	if !errors.As(err, &se) || !errors.Is(err, httpx.ErrStatus) || httpx.StatusCode(err) != 422 {
		t.Fatalf("err = %v, want a 422 StatusError", err)
	}
	p := se.Problem
	if p == nil || p.Type != "https://example.com/probs/out-of-credit" || p.Status != 422 ||
		p.Instance != "/account/12345/msgs/abc" || p.Extensions["balance"] != float64(30) {
		t.Errorf("Problem = %+v", p)
	}
	want := "httpx: POST " + srv.URL + "/problem: 422 Unprocessable Entity: You do not have enough credit.: Your current balance is 30, but that costs 50."
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", err, want)
	}

	_, err = httpx.GetJSON[payment](t.Context(), c, "/plain", nil)
	if !errors.As(err, &se) || se.StatusCode != 429 || se.RetryAfter.Seconds() != 7 || se.Problem != nil ||
		string(se.Body) != "try later\n" {
		t.Errorf("err = %#v, want a 429 with Retry-After 7s and the body", err)
	}
	if httpx.StatusCode(errors.New("x")) != 0 {
		t.Error("StatusCode of another error != 0")
	}
}

func TestTypedCallRetriesAResetInTheMiddleOfTheBody(t *testing.T) {
	var count atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) == 1 {
			// Promise 100 bytes, send 10, then drop the connection.
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":\"p1\"")
			_ = buf.Flush()
			conn.Close()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"p1","amount":5}`)
	}))
	c := &httpx.Client{HTTP: newTransport(t, httpx.Options{Retry: fastRetry()}).Client(), BaseURL: mustParse(t, srv.URL)}
	p, err := httpx.GetJSON[payment](t.Context(), c, "/p/p1", nil)
	if err != nil || p.Amount != 5 {
		t.Fatalf("GetJSON = %+v, %v; want the second attempt's payment", p, err)
	}
	if n := count.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}

	// Without retries the failure is reported as what it is.
	count.Store(0)
	c.HTTP = newTransport(t, httpx.Options{Retry: httpx.RetryOptions{Disabled: true}}).Client()
	_, err = httpx.GetJSON[payment](t.Context(), c, "/p/p1", nil)
	var be *httpx.BodyReadError
	if !errors.As(err, &be) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want a BodyReadError for the unexpected EOF", err)
	}
}

func TestTypedCallRejectionsAreResilienceErrors(t *testing.T) {
	srv := newServer(t, failFirst(100, 500))
	c := &httpx.Client{
		HTTP: newTransport(t, httpx.Options{
			Retry: httpx.RetryOptions{Disabled: true},
			Breaker: httpx.BreakerOptions{Policy: resilience.BreakerOptions{
				Mode: resilience.TripConsecutiveFailures, ConsecutiveFailures: 1,
			}},
		}).Client(),
		BaseURL: mustParse(t, srv.URL),
	}
	if _, err := httpx.GetJSON[payment](t.Context(), c, "/", nil); httpx.StatusCode(err) != 500 {
		t.Fatalf("first call: %v, want a 500", err)
	}
	_, err := httpx.GetJSON[payment](t.Context(), c, "/", nil)
	if !errors.Is(err, resilience.ErrBreakerOpen) || errors.Is(err, httpx.ErrStatus) {
		t.Errorf("second call: err = %v, want ErrBreakerOpen, not a StatusError", err)
	}
}

func TestNewClient(t *testing.T) {
	if _, err := httpx.NewClient(httpx.Options{}); err == nil || !strings.Contains(err.Error(), "Options.BaseURL") {
		t.Errorf("NewClient without BaseURL: err = %v, want one naming Options.BaseURL", err)
	}
	srv := newServer(t, echoURL())
	c, err := httpx.NewClient(httpx.Options{BaseURL: srv.URL + "/api"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	got, err := httpx.GetJSON[map[string]string](t.Context(), c, "/x", nil)
	if err != nil || got["uri"] != "/api/x" {
		t.Errorf("GetJSON = %v, %v", got, err)
	}
}
