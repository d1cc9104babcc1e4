package resilience

import (
	"math"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration // Delay(1, _), Delay(2, _), ...
	}{
		{"zero value without jitter", Backoff{Jitter: JitterNone},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 12800 * ms, 25600 * ms, 30 * time.Second, 30 * time.Second}},
		{"constant", Backoff{Kind: BackoffConstant, Base: 50 * ms},
			[]time.Duration{50 * ms, 50 * ms, 50 * ms, 50 * ms}},
		{"constant capped by Max", Backoff{Kind: BackoffConstant, Base: 50 * ms, Max: 50 * ms},
			[]time.Duration{50 * ms, 50 * ms}},
		{"linear", Backoff{Kind: BackoffLinear, Base: 100 * ms, Max: 350 * ms},
			[]time.Duration{100 * ms, 200 * ms, 300 * ms, 350 * ms, 350 * ms}},
		{"exponential", Backoff{Base: 10 * ms, Max: time.Second, Jitter: JitterNone},
			[]time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second}},
		{"exponential ×1.5", Backoff{Base: 100 * ms, Max: time.Second, Multiplier: 1.5, Jitter: JitterNone},
			[]time.Duration{100 * ms, 150 * ms, 225 * ms, 337500 * time.Microsecond, 506250 * time.Microsecond, 759375 * time.Microsecond, time.Second}},
		{"exponential ×1 is constant", Backoff{Base: 70 * ms, Multiplier: 1, Jitter: JitterNone},
			[]time.Duration{70 * ms, 70 * ms, 70 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.want {
				if got := tt.b.Delay(i+1, 0); got != want {
					t.Errorf("%+v.Delay(%d, 0) = %s, want %s", tt.b, i+1, got, want)
				}
			}
		})
	}
}

func TestBackoffDelayExtremes(t *testing.T) {
	tests := []struct {
		b    Backoff
		n    int
		want time.Duration
	}{
		{Backoff{Jitter: JitterNone}, 0, 100 * time.Millisecond},  // n < 1 counts as 1
		{Backoff{Jitter: JitterNone}, -5, 100 * time.Millisecond}, // likewise
		{Backoff{Jitter: JitterNone}, math.MaxInt, 30 * time.Second},
		{Backoff{Kind: BackoffLinear}, math.MaxInt, 30 * time.Second},
		{Backoff{Jitter: JitterNone, Max: math.MaxInt64}, 10_000, math.MaxInt64},
		{Backoff{Kind: BackoffLinear, Base: time.Hour, Max: math.MaxInt64}, math.MaxInt, math.MaxInt64},
		// Invalid fields are made harmless, not reported.
		{Backoff{Kind: BackoffConstant, Base: -time.Second}, 1, 100 * time.Millisecond},
		{Backoff{Kind: BackoffConstant, Base: time.Minute}, 1, 30 * time.Second},
		{Backoff{Base: time.Second, Multiplier: 0.5, Jitter: JitterNone}, 3, time.Second},
		{Backoff{Base: time.Second, Multiplier: math.NaN(), Jitter: JitterNone}, 3, 4 * time.Second},
		{Backoff{Base: time.Second, Multiplier: math.Inf(1), Jitter: JitterNone}, 3, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.b.Delay(tt.n, 0); got != tt.want {
			t.Errorf("%+v.Delay(%d, 0) = %s, want %s", tt.b, tt.n, got, tt.want)
		}
	}
	// Full jitter up to the largest duration does not overflow.
	b := Backoff{Max: math.MaxInt64, Base: math.MaxInt64, Jitter: JitterFull}
	for range 100 {
		if got := b.Delay(1, 0); got < 0 {
			t.Fatalf("%+v.Delay(1, 0) = %s, want ≥ 0", b, got)
		}
	}
}

func TestBackoffJitterFull(t *testing.T) {
	for _, b := range []Backoff{
		{}, // exponential defaults to full jitter
		{Jitter: JitterFull, Max: 2 * time.Second},
		{Kind: BackoffConstant, Base: time.Second, Jitter: JitterFull},
		{Kind: BackoffLinear, Base: 3 * time.Millisecond, Max: 20 * time.Millisecond, Jitter: JitterFull},
	} {
		none := b
		none.Jitter = JitterNone
		for n := 1; n <= 12; n++ {
			d := none.Delay(n, 0)
			distinct := make(map[time.Duration]bool)
			for range 200 {
				got := b.Delay(n, 0)
				if got < 0 || got > d {
					t.Fatalf("%+v.Delay(%d, 0) = %s, want in [0, %s]", b, n, got, d)
				}
				distinct[got] = true
			}
			if len(distinct) < 2 {
				t.Errorf("%+v.Delay(%d, 0) returned %d distinct values in 200 draws, want jitter", b, n, len(distinct))
			}
		}
	}
}

func TestBackoffJitterDecorrelated(t *testing.T) {
	for _, b := range []Backoff{
		{Jitter: JitterDecorrelated},
		{Jitter: JitterDecorrelated, Base: 10 * time.Millisecond, Max: time.Second},
		{Kind: BackoffLinear, Jitter: JitterDecorrelated, Base: time.Second, Max: 2 * time.Second},
		{Jitter: JitterDecorrelated, Base: time.Second, Max: time.Second},
	} {
		n := b.normalized()
		for run := range 50 {
			prev := time.Duration(0)
			for i := 1; i <= 20; i++ {
				got := b.Delay(i, prev)
				hi := min(n.Max, 3*max(prev, n.Base))
				if got < n.Base || got > hi {
					t.Fatalf("run %d: %+v.Delay(%d, %s) = %s, want in [%s, %s]", run, b, i, prev, got, n.Base, hi)
				}
				prev = got
			}
		}
	}
	// A previous wait below Base counts as Base.
	b := Backoff{Jitter: JitterDecorrelated, Base: time.Second, Max: time.Minute}
	for range 100 {
		if got := b.Delay(3, time.Millisecond); got < time.Second || got > 3*time.Second {
			t.Fatalf("%+v.Delay(3, 1ms) = %s, want in [1s, 3s]", b, got)
		}
	}
}

func TestBackoffValidate(t *testing.T) {
	tests := []struct {
		b    Backoff
		want string // "" for valid
	}{
		{Backoff{}, ""},
		{Backoff{Kind: BackoffLinear, Base: time.Second, Max: time.Second, Multiplier: 1, Jitter: JitterDecorrelated}, ""},
		{Backoff{Base: 30 * time.Second}, ""}, // equal to the default Max
		{Backoff{Kind: 9}, "resilience: Backoff.Kind: unknown kind 9"},
		{Backoff{Jitter: 9}, "resilience: Backoff.Jitter: unknown jitter 9"},
		{Backoff{Base: -time.Second}, "resilience: Backoff.Base: must be ≥ 0, got -1s"},
		{Backoff{Max: -1}, "resilience: Backoff.Max: must be ≥ 0, got -1ns"},
		{Backoff{Multiplier: 0.5}, "resilience: Backoff.Multiplier: must be ≥ 1 (or 0 for 2), got 0.5"},
		{Backoff{Multiplier: -2}, "resilience: Backoff.Multiplier: must be ≥ 1 (or 0 for 2), got -2"},
		{Backoff{Multiplier: math.NaN()}, "resilience: Backoff.Multiplier: must be ≥ 1 (or 0 for 2), got NaN"},
		{Backoff{Multiplier: math.Inf(1)}, "resilience: Backoff.Multiplier: must be ≥ 1 (or 0 for 2), got +Inf"},
		{Backoff{Base: 2 * time.Second, Max: time.Second}, "resilience: Backoff.Base: must be ≤ Max (1s), got 2s"},
		{Backoff{Base: time.Minute}, "resilience: Backoff.Base: must be ≤ Max (30s), got 1m0s"},
	}
	for _, tt := range tests {
		err := tt.b.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v.Validate() = %q, want %q", tt.b, got, tt.want)
		}
	}
}

func TestBackoffStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{BackoffExponential.String(), "exponential"},
		{BackoffConstant.String(), "constant"},
		{BackoffLinear.String(), "linear"},
		{BackoffKind(7).String(), "BackoffKind(7)"},
		{JitterDefault.String(), "default"},
		{JitterNone.String(), "none"},
		{JitterFull.String(), "full"},
		{JitterDecorrelated.String(), "decorrelated"},
		{Jitter(7).String(), "Jitter(7)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
	if got := (Backoff{}).normalized().Jitter; got != JitterFull {
		t.Errorf("Backoff{}.normalized().Jitter = %s, want full", got)
	}
}
