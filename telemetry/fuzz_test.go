package telemetry

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// FuzzRedactedURL: url.full never shows user information, nor the value of a
// sensitive query parameter.
func FuzzRedactedURL(f *testing.F) {
	for _, s := range []string{
		"https://alice:pw@api.example.com/v1?token=abc&page=2",
		"http://h/?a=1&&=&token&TOKEN=x;y",
		"https://h/p?%zz=1&api%5Fkey=v#frag",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		got := redactedURL(u)
		r, err := url.Parse(got)
		if err != nil {
			t.Fatalf("redactedURL(%q) = %q, which does not parse: %v", s, got, err)
		}
		if r.User != nil && r.User.String() != "" {
			t.Fatalf("redactedURL(%q) = %q keeps user information", s, got)
		}
		for _, p := range strings.Split(r.RawQuery, "&") {
			name, value, ok := strings.Cut(p, "=")
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			if ok && sensitiveQuery(name) && value != "REDACTED" {
				t.Fatalf("redactedURL(%q) = %q shows %s", s, got, name)
			}
		}
	})
}

// FuzzTraceparent: what ExtractTraceparent accepts, InjectTraceparent writes back
// so that it extracts to the same span context.
func FuzzTraceparent(f *testing.F) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ctx := ExtractTraceparent(context.Background(), s)
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			return
		}
		out := InjectTraceparent(ctx)
		again := trace.SpanContextFromContext(ExtractTraceparent(context.Background(), out))
		if !again.Equal(sc) {
			t.Fatalf("ExtractTraceparent(%q) = %v; injected as %q, extracted as %v", s, sc, out, again)
		}
	})
}
