package httpx_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/httpx"
)

// The credentials of package auth plug into both auth stages, and stay home.
func TestWithPackageAuth(t *testing.T) {
	origin := newServer(t, httpbin.New())
	other := newServer(t, httpbin.New())
	creds := auth.Bearer(auth.NewSecret("tok-from-auth"))
	logger, logs := newLogger(slog.LevelDebug)

	for name, opts := range map[string]httpx.Options{
		"Auth": {BaseURL: origin.URL, Auth: creds, Logger: logger},
		"AuthTransport": {BaseURL: origin.URL, Logger: logger,
			AuthTransport: func(next http.RoundTripper) http.RoundTripper { return auth.NewTransport(next, creds) }},
	} {
		c := newTransport(t, opts).Client()
		for u, want := range map[string]int{
			origin.URL + "/bearer": 200,
			other.URL + "/bearer":  401,
			origin.URL + "/redirect-to?url=" + url.QueryEscape(other.URL+"/bearer"): 401,
		} {
			resp, _, err := get(t, c, t.Context(), u)
			if err != nil || resp.StatusCode != want {
				t.Errorf("%s: GET %s = %v, %v; want %d", name, u, resp.StatusCode, err, want)
			}
		}
	}
	if strings.Contains(logs.String(), "tok-from-auth") {
		t.Error("the token appears in the logs")
	}
}
