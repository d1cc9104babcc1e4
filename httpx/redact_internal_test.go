package httpx

import (
	"net/url"
	"testing"
)

func TestRedactor(t *testing.T) {
	r := newRedactor([]string{"X-Internal-Token"}, []string{"session"})
	urls := []struct{ in, want string }{
		{"https://api.example.com/v1/x", "https://api.example.com/v1/x"},
		{"https://u:p@api.example.com/x", "https://REDACTED@api.example.com/x"},
		{"https://api.example.com/x?api_key=s3cr3t&page=2", "https://api.example.com/x?api_key=REDACTED&page=2"},
		{"https://api.example.com/x?page=2&Session=abc&TOKEN=t", "https://api.example.com/x?page=2&Session=REDACTED&TOKEN=REDACTED"},
		{"https://api.example.com/x?api%5Fkey=s", "https://api.example.com/x?api%5Fkey=REDACTED"},
	}
	for _, tc := range urls {
		u, _ := url.Parse(tc.in)
		if got := r.url(u); got != tc.want {
			t.Errorf("url(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	bodies := []struct{ ct, in, want string }{
		{"application/json", `{"access_token":"abc","n":1}`, `{"access_token":"REDACTED","n":1}`},
		{"application/json", `{"Password" : "a\"b", "x":"y"}`, `{"Password" : "REDACTED", "x":"y"}`},
		{"application/json", `{"refresh_token":"cut sho`, `{"refresh_token":"REDACTED"`},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_secret=s", "grant_type=client_credentials&client_secret=REDACTED"},
		{"text/plain", "nothing here", "nothing here"},
	}
	for _, tc := range bodies {
		if got := r.body(tc.ct, []byte(tc.in)); got != tc.want {
			t.Errorf("body(%s, %s) = %s, want %s", tc.ct, tc.in, got, tc.want)
		}
	}
	for _, h := range []string{"authorization", "Cookie", "set-cookie", "X-API-KEY", "x-internal-token", "Proxy-Authorization"} {
		if !r.secretHeader(h) {
			t.Errorf("secretHeader(%s) = false, want true", h)
		}
	}
	if r.secretHeader("Content-Type") {
		t.Error("secretHeader(Content-Type) = true")
	}
}
