package sim

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestParseLatency(t *testing.T) {
	tests := []struct {
		in   string
		want []LatencyPoint
		str  string
	}{
		{"", nil, "0"},
		{"0", nil, "0"},
		{"none", nil, "0"},
		{"50ms", []LatencyPoint{{0, 50 * ms}}, "50ms"},
		{"fixed:1.5s", []LatencyPoint{{0, 1500 * ms}}, "1.5s"},
		{"uniform:10ms-200ms", []LatencyPoint{{0, 10 * ms}, {100, 200 * ms}}, "uniform:10ms-200ms"},
		{"uniform:20ms-20ms", []LatencyPoint{{0, 20 * ms}}, "20ms"},
		{"p50=20ms,p99=800ms", []LatencyPoint{{0, 10 * ms}, {50, 20 * ms}, {99, 800 * ms}}, "p0=10ms,p50=20ms,p99=800ms"},
		{"p99=800ms, p50=20ms, p90=100ms", []LatencyPoint{{0, 10 * ms}, {50, 20 * ms}, {90, 100 * ms}, {99, 800 * ms}}, "p0=10ms,p50=20ms,p90=100ms,p99=800ms"},
		{"p0=5ms,p99.9=2s", []LatencyPoint{{0, 5 * ms}, {99.9, 2 * time.Second}}, "p0=5ms,p99.9=2s"},
		{"p0=1ms,p100=3ms", []LatencyPoint{{0, ms}, {100, 3 * ms}}, "uniform:1ms-3ms"},
	}
	for _, tt := range tests {
		got, err := ParseLatency(tt.in)
		if err != nil || !reflect.DeepEqual(got.Points, tt.want) {
			t.Errorf("ParseLatency(%q) = %v, %v; want %v, nil", tt.in, got.Points, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseLatency(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
	}
}

func TestParseLatencyErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"fast", "want a duration (50ms), uniform:MIN-MAX or percentiles"},
		{"-5ms", "delay -5ms is negative"},
		{"fixed:soon", `delay "soon" is not a duration`},
		{"fixed:-1s", "delay -1s is negative"},
		{"fixed:2h", "delay 2h0m0s is above 1h0m0s"},
		{"uniform:10ms", "want uniform:MIN-MAX"},
		{"uniform:200ms-10ms", "minimum 200ms is above maximum 10ms"},
		{"uniform:x-10ms", `minimum "x" is not a duration`},
		{"uniform:10ms-y", `maximum "y" is not a duration`},
		{"gauss:10ms", `unknown kind "gauss"`},
		{"p50", `entry "p50": want pNN=DURATION`},
		{"p50=20ms,", "empty entry"},
		{"p=20ms", `"p" is not a percentile`},
		{"p150=20ms", `percentile "150" is not a number from 0 to 100`},
		{"pNaN=20ms", `percentile "NaN" is not a number from 0 to 100`},
		{"p50=slow", `p50 "slow" is not a duration`},
		{"p50=20ms,p90=10ms", "p90 (10ms) is below p50 (20ms): delays may not decrease"},
		{"p50=20ms,p50=30ms", "p50 appears twice"},
	}
	for _, tt := range tests {
		_, err := ParseLatency(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sim: latency ") {
			t.Errorf("ParseLatency(%q) error = %v; want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestLatencyQuantile(t *testing.T) {
	l, err := ParseLatency("p50=20ms,p90=100ms,p99=800ms")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{0, 10 * ms}, {25, 15 * ms}, {50, 20 * ms}, {70, 60 * ms}, {90, 100 * ms}, {99, 800 * ms}, {99.5, 800 * ms}, {100, 800 * ms},
	}
	for _, tt := range tests {
		if got := l.Quantile(tt.p); got != tt.want {
			t.Errorf("Quantile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestLatencySampleShape(t *testing.T) {
	l, _ := ParseLatency("p50=20ms,p90=100ms,p99=800ms")
	r := rand.New(rand.NewPCG(3, 4))
	const n = 100_000
	var le20, le100 int
	for range n {
		switch d := l.sample(r); {
		case d <= 20*ms:
			le20++
			le100++
		case d <= 100*ms:
			le100++
		}
	}
	if got := float64(le20) / n; got < 0.49 || got > 0.51 {
		t.Errorf("share at most p50 = %.3f, want 0.50 ± 0.01", got)
	}
	if got := float64(le100) / n; got < 0.89 || got > 0.91 {
		t.Errorf("share at most p90 = %.3f, want 0.90 ± 0.01", got)
	}
}

func FuzzParseLatency(f *testing.F) {
	for _, s := range []string{"", "0", "none", "50ms", "fixed:1.5s", "uniform:10ms-200ms", "p50=20ms,p99=800ms",
		"p99=800ms, p50=20ms", "p0=1ms,p100=3ms", "p99.9=2s", "p50=20ms,p90=10ms", "p-0=1ms", "p1e1=3ms", "uniform:-1s-2s"} {
		f.Add(s)
	}
	r := rand.New(rand.NewPCG(1, 1))
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLatency(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sim: latency ") {
				t.Errorf("ParseLatency(%q) error %q lacks the prefix", s, err)
			}
			return
		}
		if err := l.validate(); err != nil {
			t.Fatalf("ParseLatency(%q) = %v, which is invalid: %v", s, l.Points, err)
		}
		again, err := ParseLatency(l.String())
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("ParseLatency(%q) = %v; ParseLatency(%q) = %v, %v", s, l.Points, l.String(), again.Points, err)
		}
		lo, hi := l.Quantile(0), l.Quantile(100)
		if d := l.sample(r); d < lo || d > hi {
			t.Fatalf("latency %v sampled %v, outside [%v, %v]", l, d, lo, hi)
		}
		prev := time.Duration(0)
		for p := 0.0; p <= 100; p += 12.5 {
			q := l.Quantile(p)
			if q < prev {
				t.Fatalf("latency %v: Quantile(%v) = %v, below the previous %v", l, p, q, prev)
			}
			prev = q
		}
	})
}
