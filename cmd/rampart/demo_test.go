package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/internal/sim"
	"github.com/rampart-go/rampart/resilience"
)

// TestDemoEndToEnd runs the demo for 2s against an upstream that goes down from
// 0.5s to 1.5s, with plain output, and checks that the numbers add up and that the
// breaker opened during the outage.
func TestDemoEndToEnd(t *testing.T) {
	f := demoDefaults
	f.outageAfter, f.outageFor, f.seed = 500*time.Millisecond, time.Second, 1
	upstream, err := f.config(newDemoCmd(nil))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	begin := time.Now()
	r, err := runDemo(t.Context(), demoOptions{
		upstream:    upstream,
		duration:    2 * time.Second,
		rate:        40,
		maxInFlight: 50,
		out:         &out,
	})
	if err != nil {
		t.Fatalf("runDemo = %v", err)
	}
	took := time.Since(begin)
	text := out.String()
	t.Logf("runDemo took %v; output:\n%s", took, text)

	// The numbers add up.
	if r.Made == 0 {
		t.Fatal("no call was made")
	}
	if got := r.Succeeded() + r.Fallback + r.Failed; got != r.Made {
		t.Errorf("succeeded %d + fallback %d + failed %d = %d, want the %d calls made", r.Succeeded(), r.Fallback, r.Failed, got, r.Made)
	}
	if min := r.FirstTry + 2*r.Recovered; r.Attempts < min {
		t.Errorf("%d attempts, want at least %d (one per first-try success, two per recovered call)", r.Attempts, min)
	}
	up := r.Upstream
	if got := up.Answered() + up.Resets + up.Hangs + up.Canceled; got != up.Requests {
		t.Errorf("upstream: answered %d + resets %d + hangs %d + canceled %d = %d, want its %d requests", up.Answered(), up.Resets, up.Hangs, up.Canceled, got, up.Requests)
	}
	if r.Interrupted {
		t.Error("Interrupted = true, want false")
	}

	// The breaker opened during the outage.
	if r.Trips < 1 {
		t.Errorf("the breaker opened %d times, want at least once during the 1s outage", r.Trips)
	}
	if !slices.Contains(r.Timeline, resilience.StateOpen) && !slices.Contains(r.Timeline, resilience.StateHalfOpen) {
		t.Errorf("timeline %v never shows the breaker open", r.Timeline)
	}
	if want := int(2 * time.Second / demoSlot); len(r.Timeline) < want-1 {
		t.Errorf("timeline has %d marks, want at least %d", len(r.Timeline), want-1)
	}

	// The summary says so, with the same numbers.
	for _, want := range []string{
		"Every call goes through five policies",
		"circuit breaker",
		"Summary: what happened in 2s",
		fmt.Sprintf("The upstream got %s", plural(int64(up.Requests), "request", "requests")),
		fmt.Sprintf("Your code made %s", plural(r.Made, "call", "calls")),
		"The circuit breaker opened",
		fmt.Sprintf("it refused %s", plural(r.Rejected, "try", "tries")),
		fmt.Sprintf("Check: %s calls = %s succeeded + %s from the fallback + %s failed ✓", group(r.Made), group(r.Succeeded()), group(r.Fallback), group(r.Failed)),
		"--seed 1.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^\[\s*\d+\.\ds\] calls \d+: `).MatchString(text) {
		t.Error("output has no periodic plain line")
	}
	if strings.Contains(text, "\x1b") {
		t.Error("output to a buffer contains ANSI escapes")
	}
	if took > 4*time.Second {
		t.Errorf("runDemo took %v for a 2s run", took)
	}
}

func TestDemoStopsEarly(t *testing.T) {
	f := demoDefaults
	f.seed = 3
	upstream, _ := f.config(newDemoCmd(nil))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	r, err := runDemo(ctx, demoOptions{upstream: upstream, duration: time.Minute, rate: 20, maxInFlight: 10, out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Elapsed > 2*time.Second {
		t.Errorf("Interrupted = %v after %v; want true, soon", r.Interrupted, r.Elapsed)
	}
	if got := r.Succeeded() + r.Fallback + r.Failed; got != r.Made {
		t.Errorf("calls %d != succeeded + fallback + failed = %d", r.Made, got)
	}
	if !strings.Contains(out.String(), "(stopped early)") {
		t.Errorf("summary does not say it stopped early:\n%s", out.String())
	}
}

// TestLiveLinesFit checks that the live display fits 80 columns with large numbers.
func TestLiveLinesFit(t *testing.T) {
	f := demoDefaults
	upstream, _ := f.config(newDemoCmd(nil))
	d := &demo{opts: demoOptions{upstream: upstream, duration: time.Hour, rate: 1000, maxInFlight: 100, color: true, live: true}}
	if err := d.build(); err != nil {
		t.Fatal(err)
	}
	defer d.client.Transport.(*http.Transport).CloseIdleConnections()
	up, err := sim.New(upstream)
	if err != nil {
		t.Fatal(err)
	}
	d.upstream, d.start = up, time.Now().Add(-59*time.Minute)
	for _, c := range []interface{ Store(int64) }{&d.t.made, &d.t.firstTry, &d.t.recovered, &d.t.fallback, &d.t.fallbackOpen,
		&d.t.failed, &d.t.evRetry, &d.t.evRetryAfter, &d.t.evRejected, &d.t.evAttemptTimeout, &d.t.evTotalTimeout} {
		c.Store(3_600_000)
	}
	for range 200 {
		d.tl.endSlot(resilience.StateHalfOpen)
	}
	v := newView(d)
	for _, finishing := range []bool{false, true} {
		for _, l := range v.liveLines(59*time.Minute, finishing) {
			if n := visibleLen(l); n > viewWidth {
				t.Errorf("live line is %d columns wide, want at most %d:\n%s", n, viewWidth, l)
			}
		}
	}
	for _, l := range strings.Split(v.markLegend(), "\n") {
		if n := visibleLen(l); n > viewWidth {
			t.Errorf("legend line is %d columns wide:\n%s", n, l)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFormatting(t *testing.T) {
	groups := map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4200: "-4,200"}
	for n, want := range groups {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
	percents := []struct {
		part, whole int64
		want        string
	}{{0, 10, "0%"}, {1, 0, "0%"}, {1, 1000, "<1%"}, {31, 100, "31%"}, {997, 1000, "99.7%"}, {9999, 10000, "99.9%"}, {10, 10, "100%"}}
	for _, tt := range percents {
		if got := percent(tt.part, tt.whole); got != tt.want {
			t.Errorf("percent(%d, %d) = %q, want %q", tt.part, tt.whole, got, tt.want)
		}
	}
	text := "the quick brown fox jumps over the lazy dog"
	if got, want := wrap(text, 20, "- "), "- the quick brown\n  fox jumps over the\n  lazy dog"; got != want {
		t.Errorf("wrap = %q, want %q", got, want)
	}
	colored := ansiRed + "abcdef" + ansiReset
	if got := visibleLen(colored); got != 6 {
		t.Errorf("visibleLen(%q) = %d, want 6", colored, got)
	}
	if got, want := truncateVisible(colored+"gh", 3), ansiRed+"abc"+ansiReset; got != want {
		t.Errorf("truncateVisible = %q, want %q", got, want)
	}
}

func TestBreakerMinThroughput(t *testing.T) {
	tests := []struct {
		rate float64
		want int
	}{{0.1, 5}, {5, 5}, {20, 12}, {40, 24}, {50, 30}, {1000, 30}}
	for _, tt := range tests {
		if got := breakerMinThroughput(tt.rate); got != tt.want {
			t.Errorf("breakerMinThroughput(%v) = %d, want %d", tt.rate, got, tt.want)
		}
	}
}

func TestDescribeUpstream(t *testing.T) {
	tests := []struct {
		f    upstreamFlags
		want string
	}{
		{upstreamFlags{mix: "200", latency: "0", outageMode: "503"}, "The upstream answers every request successfully."},
		{upstreamFlags{mix: "200:3,503:1", latency: "50ms", resetRate: 0.02, outageMode: "reset", outageAfter: time.Second, outageFor: 2 * time.Second},
			"The upstream answers 25% of requests with an error (25% 503), resets 2% of connections and always takes 50ms to answer. From 1s to 3s it is down: every connection is reset."},
		{upstreamFlags{mix: "200:9,500:1", latency: "uniform:10ms-110ms", hangRate: 0.005, outageMode: "503"},
			"The upstream answers 10% of requests with an error (10% 500), never answers 0.5% and takes 10ms to 110ms to answer (half the time under 60ms, 1 in 10 over 100ms)."},
	}
	for _, tt := range tests {
		cfg, err := tt.f.config(newDemoCmd(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := describeUpstream(cfg); got != tt.want {
			t.Errorf("describeUpstream(%+v) =\n%q\nwant\n%q", tt.f, got, tt.want)
		}
	}
}
