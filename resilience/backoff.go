package resilience

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// BackoffKind is the shape of the waits between retries. The zero value is
// [BackoffExponential].
type BackoffKind uint8

const (
	// BackoffExponential waits Base, Base×Multiplier, Base×Multiplier², ... (the default).
	BackoffExponential BackoffKind = iota
	// BackoffConstant waits Base every time.
	BackoffConstant
	// BackoffLinear waits Base, 2×Base, 3×Base, ...
	BackoffLinear
)

// String returns "exponential", "constant" or "linear".
func (k BackoffKind) String() string {
	switch k {
	case BackoffExponential:
		return "exponential"
	case BackoffConstant:
		return "constant"
	case BackoffLinear:
		return "linear"
	}
	return fmt.Sprintf("BackoffKind(%d)", uint8(k))
}

// Jitter randomises waits so that many clients do not retry in lock step. The zero
// value is [JitterDefault].
type Jitter uint8

const (
	// JitterDefault is JitterFull for exponential backoff and JitterNone otherwise.
	JitterDefault Jitter = iota
	// JitterNone waits exactly the computed delay.
	JitterNone
	// JitterFull waits a uniformly random time in [0, delay].
	JitterFull
	// JitterDecorrelated waits a random time in [Base, 3×previous wait], capped by Max
	// (the "decorrelated jitter" of the AWS architecture blog). The previous wait
	// starts at Base; Kind and Multiplier play no part.
	JitterDecorrelated
)

// String returns "default", "none", "full" or "decorrelated".
func (j Jitter) String() string {
	switch j {
	case JitterDefault:
		return "default"
	case JitterNone:
		return "none"
	case JitterFull:
		return "full"
	case JitterDecorrelated:
		return "decorrelated"
	}
	return fmt.Sprintf("Jitter(%d)", uint8(j))
}

// Defaults of a zero [Backoff].
const (
	defaultBackoffBase       = 100 * time.Millisecond
	defaultBackoffMax        = 30 * time.Second
	defaultBackoffMultiplier = 2.0
)

// Backoff computes the wait before a retry. The zero value is exponential from 100ms,
// doubling, capped at 30s, with full jitter. A Backoff is a plain value: it holds no
// state between calls (the caller passes the previous wait), so one value is safe for
// concurrent use.
type Backoff struct {
	Kind       BackoffKind
	Base       time.Duration // the first wait; zero means 100ms; negative is an error
	Max        time.Duration // the cap on any wait, jitter included; zero means 30s; negative is an error
	Multiplier float64       // growth of exponential backoff; zero means 2; otherwise must be ≥ 1
	Jitter     Jitter
}

// Validate reports the first invalid field of b, naming it ("resilience:
// Backoff.Base: must be ≥ 0, got -1s"). Zero fields are valid: they stand for their
// defaults. [NewRetry] validates its Backoff this way.
func (b Backoff) Validate() error { return b.validate("Backoff") }

// validate is Validate with the path of b in the caller's options as prefix.
func (b Backoff) validate(prefix string) error {
	switch {
	case b.Kind > BackoffLinear:
		return fmt.Errorf("resilience: %s.Kind: unknown kind %d", prefix, uint8(b.Kind))
	case b.Jitter > JitterDecorrelated:
		return fmt.Errorf("resilience: %s.Jitter: unknown jitter %d", prefix, uint8(b.Jitter))
	case b.Base < 0:
		return fmt.Errorf("resilience: %s.Base: must be ≥ 0, got %s", prefix, b.Base)
	case b.Max < 0:
		return fmt.Errorf("resilience: %s.Max: must be ≥ 0, got %s", prefix, b.Max)
	case math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0) || (b.Multiplier != 0 && b.Multiplier < 1):
		return fmt.Errorf("resilience: %s.Multiplier: must be ≥ 1 (or 0 for 2), got %v", prefix, b.Multiplier)
	}
	if n := b.normalized(); n.Base > n.Max {
		return fmt.Errorf("resilience: %s.Base: must be ≤ Max (%s), got %s", prefix, n.Max, n.Base)
	}
	return nil
}

// normalized returns b with its defaults applied: Base, Max and Multiplier set, and
// Jitter resolved (never JitterDefault). Invalid values are made harmless, not
// reported: negative durations count as zero and a Multiplier below 1 as 1.
func (b Backoff) normalized() Backoff {
	if b.Base <= 0 {
		b.Base = defaultBackoffBase
	}
	if b.Max <= 0 {
		b.Max = defaultBackoffMax
	}
	switch {
	case b.Multiplier == 0 || math.IsNaN(b.Multiplier):
		b.Multiplier = defaultBackoffMultiplier
	case b.Multiplier < 1:
		b.Multiplier = 1
	}
	if b.Jitter == JitterDefault {
		if b.Kind == BackoffExponential {
			b.Jitter = JitterFull
		} else {
			b.Jitter = JitterNone
		}
	}
	return b
}

// Delay returns the wait before retry number n (1 for the first retry; smaller n
// count as 1). prev is the previous wait (zero before the first), used by
// decorrelated jitter only. The result is in [0, Max]. Delay applies the defaults of
// zero fields itself and never fails; use [Backoff.Validate] to reject invalid
// fields. It is safe for concurrent use; jitter draws from math/rand/v2's global
// source, which takes no lock.
func (b Backoff) Delay(n int, prev time.Duration) time.Duration {
	b = b.normalized()
	if n < 1 {
		n = 1
	}
	if b.Base > b.Max {
		b.Base = b.Max
	}
	if b.Jitter == JitterDecorrelated {
		return b.decorrelated(prev)
	}
	var d time.Duration
	switch b.Kind {
	case BackoffConstant:
		d = b.Base
	case BackoffLinear:
		if int64(n) > int64(b.Max/b.Base) {
			d = b.Max
		} else {
			d = b.Base * time.Duration(n)
		}
	default:
		f := float64(b.Base) * math.Pow(b.Multiplier, float64(n-1))
		if f >= float64(b.Max) || math.IsNaN(f) {
			d = b.Max
		} else {
			d = time.Duration(f)
		}
	}
	d = min(d, b.Max)
	if b.Jitter == JitterFull {
		return time.Duration(rand.Uint64N(uint64(d) + 1))
	}
	return d
}

// decorrelated returns a random wait in [Base, min(Max, 3×prev)], prev counting as at
// least Base. b is normalized, with Base ≤ Max.
func (b Backoff) decorrelated(prev time.Duration) time.Duration {
	prev = max(prev, b.Base)
	hi := b.Max
	if prev <= b.Max/3 {
		hi = 3 * prev
	}
	if hi <= b.Base {
		return b.Base
	}
	return b.Base + time.Duration(rand.Uint64N(uint64(hi-b.Base)+1))
}
