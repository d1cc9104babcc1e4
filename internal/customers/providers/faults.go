package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rampart-go/rampart/internal/sim"
)

// Faults are the failures a simulator injects into the requests of its API (the
// paths under /v1/). The token endpoint of the payment simulator, which stands for
// the provider's separate authorization server, and the control endpoint under
// /_sim/ are never faulted. The zero value injects nothing.
//
// Each API request is dealt with in this order: during an Outage it is answered 503
// at once; otherwise it waits a delay drawn from Latency, and then, while FailNext is
// above zero, it fails before taking effect (and FailNext goes down by one); else,
// while LoseNext is above zero, it takes effect but its answer is replaced by a
// failure (and LoseNext goes down by one): the answer a client never sees, which
// only an idempotency key makes safe to retry; else a draw decides whether it fails
// before taking effect (ErrorRate), has its answer lost (LostRate), or is served
// normally. A request whose client gives up during the delay has no effect.
//
// A failure answers a status drawn from Statuses, as an RFC 9457 problem, with a
// Retry-After header on 429 and 503.
type Faults struct {
	// Outage answers every API request 503 with Retry-After, at once.
	Outage bool
	// ErrorRate is the share, in [0, 1], of requests that fail before taking effect.
	ErrorRate float64
	// LostRate is the share, in [0, 1], of requests that take effect but whose answer
	// is replaced by a failure. ErrorRate+LostRate must not exceed 1.
	LostRate float64
	// FailNext makes the next FailNext requests fail before taking effect, whatever
	// the rates; it counts down as they do. Not negative.
	FailNext int
	// LoseNext makes the next LoseNext requests (after those of FailNext) take
	// effect and answer a failure, whatever the rates; it counts down as they do.
	// Not negative.
	LoseNext int
	// Statuses are the statuses of injected failures, weighted, from 400 to 599
	// (see [sim.ParseMix] for the written form, "503:3,500:1"). Empty means 503.
	Statuses sim.Mix
	// RetryAfter is sent as the Retry-After header of 429 and 503 answers, in whole
	// seconds rounded up. Zero means 1s; negative sends no header.
	RetryAfter time.Duration
	// Latency delays every API request that is not in an outage (see
	// [sim.ParseLatency] for the written forms, "5ms", "uniform:1ms-20ms",
	// "p50=20ms,p99=300ms"). The zero value adds no delay.
	Latency sim.Latency
}

// Validate reports the first thing wrong with f, as an error that names the field
// the way the JSON form spells it ("providers: faults.error_rate: ...").
func (f Faults) Validate() error {
	rate := func(name string, r float64) error {
		if math.IsNaN(r) || r < 0 || r > 1 {
			return fmt.Errorf("providers: faults.%s: must be between 0 and 1, got %v", name, r)
		}
		return nil
	}
	if err := rate("error_rate", f.ErrorRate); err != nil {
		return err
	}
	if err := rate("lost_rate", f.LostRate); err != nil {
		return err
	}
	if f.ErrorRate+f.LostRate > 1 {
		return fmt.Errorf("providers: faults.lost_rate: error_rate %v + lost_rate %v is above 1", f.ErrorRate, f.LostRate)
	}
	if f.FailNext < 0 {
		return fmt.Errorf("providers: faults.fail_next: must not be negative, got %d", f.FailNext)
	}
	if f.LoseNext < 0 {
		return fmt.Errorf("providers: faults.lose_next: must not be negative, got %d", f.LoseNext)
	}
	for _, w := range f.Statuses {
		if w.Status < 400 || w.Status > 599 {
			return fmt.Errorf("providers: faults.statuses: status %d is not a failure (400 to 599)", w.Status)
		}
	}
	// sim validates mixes and latencies; say which of our fields it means.
	err := sim.Config{Routes: []sim.Route{{Mix: f.Statuses, Latency: f.Latency}}}.Validate()
	if fe, ok := errors.AsType[*sim.FieldError](err); ok {
		field := "statuses"
		if strings.HasSuffix(fe.Field, ".latency") {
			field = "latency"
		}
		return fmt.Errorf("providers: faults.%s: %s", field, strings.TrimPrefix(fe.Err.Error(), "sim: "))
	}
	return err
}

// faultsJSON is the JSON form of Faults.
type faultsJSON struct {
	Outage     bool        `json:"outage"`
	ErrorRate  float64     `json:"error_rate"`
	LostRate   float64     `json:"lost_rate"`
	FailNext   int         `json:"fail_next"`
	LoseNext   int         `json:"lose_next"`
	Statuses   sim.Mix     `json:"statuses"`
	RetryAfter string      `json:"retry_after"`
	Latency    sim.Latency `json:"latency"`
}

// MarshalJSON writes the faults as in
//
//	{"outage": false, "error_rate": 0.1, "lost_rate": 0.05, "fail_next": 0, "lose_next": 0,
//	 "statuses": "503:3,500:1", "retry_after": "2s", "latency": "uniform:1ms-20ms"}
//
// A zero RetryAfter is written "", a negative one "none".
func (f Faults) MarshalJSON() ([]byte, error) {
	w := faultsJSON{Outage: f.Outage, ErrorRate: f.ErrorRate, LostRate: f.LostRate, FailNext: f.FailNext,
		LoseNext: f.LoseNext, Statuses: f.Statuses, Latency: f.Latency}
	switch {
	case f.RetryAfter < 0:
		w.RetryAfter = "none"
	case f.RetryAfter > 0:
		w.RetryAfter = f.RetryAfter.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the form [Faults.MarshalJSON] writes; absent members are
// zero. Unknown members are an error. It does not call [Faults.Validate].
func (f *Faults) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w faultsJSON
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("providers: faults: %w", err)
	}
	out := Faults{Outage: w.Outage, ErrorRate: w.ErrorRate, LostRate: w.LostRate, FailNext: w.FailNext,
		LoseNext: w.LoseNext, Statuses: w.Statuses, Latency: w.Latency}
	switch s := strings.TrimSpace(w.RetryAfter); s {
	case "":
	case "none":
		out.RetryAfter = -1
	default:
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("providers: faults.retry_after: %q is not a positive duration such as 2s, or \"none\"", s)
		}
		out.RetryAfter = d
	}
	*f = out
	return nil
}
