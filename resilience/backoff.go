package resilience

import "time"

// BackoffKind is the shape of the waits between retries.
type BackoffKind uint8

const (
	// BackoffExponential waits Base, Base×Multiplier, Base×Multiplier², ... (the default).
	BackoffExponential BackoffKind = iota
	// BackoffConstant waits Base every time.
	BackoffConstant
	// BackoffLinear waits Base, 2×Base, 3×Base, ...
	BackoffLinear
)

// Jitter randomises waits so that many clients do not retry in lock step.
type Jitter uint8

const (
	// JitterDefault is JitterFull for exponential backoff and JitterNone otherwise.
	JitterDefault Jitter = iota
	// JitterNone waits exactly the computed delay.
	JitterNone
	// JitterFull waits a uniformly random time in [0, delay].
	JitterFull
	// JitterDecorrelated waits a random time in [Base, 3×previous wait], capped by Max
	// (the "decorrelated jitter" of the AWS architecture blog).
	JitterDecorrelated
)

// Backoff computes the wait before a retry. The zero value is exponential from 100ms,
// doubling, capped at 30s, with full jitter.
type Backoff struct {
	Kind       BackoffKind
	Base       time.Duration // the first wait; zero means 100ms
	Max        time.Duration // the cap on any wait; zero means 30s
	Multiplier float64       // growth of exponential backoff; zero means 2
	Jitter     Jitter
}

// Delay returns the wait before retry number n (1 for the first retry). prev is the
// previous wait (zero before the first), used by decorrelated jitter.
func (b Backoff) Delay(n int, prev time.Duration) time.Duration {
	// TODO: implement.
	return b.Base
}
