package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/httpx"
)

func TestLogsOneRecordPerAttempt(t *testing.T) {
	srv := newServer(t, failFirst(1, http.StatusBadGateway))
	logger, logs := newLogger(slog.LevelInfo)
	c := newTransport(t, httpx.Options{Retry: fastRetry(), Logger: logger}).Client()
	if _, _, err := get(t, c, httpx.WithRequestID(t.Context(), "req-7"), srv.URL+"/pay?x=1"); err != nil {
		t.Fatal(err)
	}
	lines := logs.lines()
	if len(lines) != 2 {
		t.Fatalf("%d records, want 2 (one per attempt):\n%s", len(lines), logs)
	}
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("record %d is not JSON: %v", i, err)
		}
		want := map[string]any{
			"level": "INFO", "msg": "http attempt", "method": "GET", "url": srv.URL + "/pay?x=1",
			"status": float64([]int{502, 200}[i]), "attempt": float64(i + 1), "request_id": "req-7",
		}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("record %d: %s = %v, want %v", i, k, rec[k], v)
			}
		}
		if _, ok := rec["duration"].(float64); !ok {
			t.Errorf("record %d has no duration: %s", i, line)
		}
	}
}

func TestLogsTransportErrors(t *testing.T) {
	srv := newServer(t, failFirst(0, 200))
	addr := srv.URL
	srv.Close() // nothing listens there any more
	logger, logs := newLogger(slog.LevelInfo)
	c := newTransport(t, httpx.Options{Retry: httpx.RetryOptions{Disabled: true}, Logger: logger}).Client()
	if _, _, err := get(t, c, t.Context(), addr); err == nil {
		t.Fatal("GET on a closed server succeeded")
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(logs.lines()[0]), &rec); err != nil || rec["error"] == nil || rec["status"] != nil {
		t.Errorf("record = %s, want one with an error and no status", logs)
	}
}

func TestNoSecretInAnyLogLine(t *testing.T) {
	secrets := map[string]string{}
	secret := func(name string) string {
		s := "S3CR3T-" + name + "-x9"
		secrets[name] = s
		return s
	}
	var (
		bearer     = secret("bearer")
		authStage  = secret("auth-stage")
		cookie     = secret("cookie")
		apiKey     = secret("api-key")
		custom     = secret("custom-header")
		setCookie  = secret("set-cookie")
		queryKey   = secret("query-api-key")
		queryTok   = secret("query-token")
		queryOwn   = secret("query-configured")
		password   = secret("url-password")
		user       = secret("url-user")
		respToken  = secret("response-token")
		reqPass    = secret("request-password")
		formSecret = secret("form-secret")
	)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.SetCookie(w, &http.Cookie{Name: "session", Value: setCookie})
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("fail") == "1" && r.Header.Get("X-Retried") == "" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = io.WriteString(w, `{"access_token":"`+respToken+`","expires_in":3600}`)
	}))
	logger, logs := newLogger(slog.LevelDebug) // the most verbose: headers and bodies
	tr := newTransport(t, httpx.Options{
		Retry:         fastRetry(),
		Breaker:       httpx.BreakerOptions{Disabled: true},
		Logger:        logger,
		AuthHosts:     []string{"*"},
		Auth:          httpx.AuthenticatorFunc(func(_ context.Context, r *http.Request) error { r.Header.Set("X-Auth-Token", authStage); return nil }),
		RedactHeaders: []string{"X-Custom-Secret"},
		RedactQuery:   []string{"signature_v9"},
	})
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword(user, password)
	u.RawQuery = url.Values{"api_key": {queryKey}, "token": {queryTok}, "signature_v9": {queryOwn}, "fail": {"1"}}.Encode()

	send := func(method, contentType, body string) {
		req, _ := http.NewRequestWithContext(t.Context(), method, u.String(), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Cookie", "session="+cookie)
		req.Header.Set("X-Api-Key", apiKey)
		req.Header.Set("X-Custom-Secret", custom)
		req.Header.Set("Content-Type", contentType)
		resp, err := tr.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = httpx.CheckResponse(resp) // a StatusError's text must be clean too
		resp.Body.Close()
	}
	send(http.MethodPut, "application/json", `{"user":"ann","password":"`+reqPass+`"}`)
	send(http.MethodPut, "application/x-www-form-urlencoded", "grant_type=client_credentials&client_secret="+formSecret)

	// Errors carry redacted URLs too.
	c := &httpx.Client{HTTP: tr.Client(), BaseURL: u}
	_, err := httpx.GetJSON[struct{ N int }](t.Context(), c, "/", nil)
	var se *httpx.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("GetJSON: err = %v, want a StatusError", err)
	}
	out := logs.String() + "\n" + err.Error() + "\n" + se.URL + "\n" + strings.Join(se.Header.Values("Set-Cookie"), ",")

	if !strings.Contains(out, "http attempt detail") || !strings.Contains(out, "expires_in") {
		t.Fatalf("the debug records are missing; the test would prove nothing:\n%s", out)
	}
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("secret %s appears in the output", name)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("output:\n%s", out)
	}
}

func TestSilentWithoutLogger(t *testing.T) {
	logger, logs := newLogger(slog.LevelDebug)
	old := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(old)
	srv := newServer(t, failFirst(1, 500))
	c := newTransport(t, httpx.Options{Retry: fastRetry()}).Client()
	if _, _, err := get(t, c, t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if s := logs.String(); s != "" {
		t.Errorf("a Transport without a Logger logged to the default logger:\n%s", s)
	}
}

func TestDebugRecordsKeepTheBodyIntact(t *testing.T) {
	body := strings.Repeat("0123456789", 1000) // longer than the logged part
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }))
	logger, logs := newLogger(slog.LevelDebug)
	c := newTransport(t, httpx.Options{Logger: logger, MaxLoggedBody: 100}).Client()
	_, got, err := get(t, c, t.Context(), srv.URL)
	if err != nil || got != body {
		t.Fatalf("body of %d bytes, %v; want the whole %d bytes", len(got), err, len(body))
	}
	var rec struct {
		ResponseBody string `json:"response_body"`
	}
	_ = json.Unmarshal([]byte(logs.lines()[1]), &rec)
	if rec.ResponseBody != body[:100] {
		t.Errorf("logged body = %q, want the first 100 bytes", rec.ResponseBody)
	}
}
