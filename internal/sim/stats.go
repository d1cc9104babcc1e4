package sim

import (
	"sync/atomic"
)

// Stats is what a [Server] has served since it was created.
type Stats struct {
	// Requests is the number of requests received on routes (the control endpoint's
	// are not counted). Once all have been dealt with, Requests is the sum of
	// Answered(), Resets, Hangs and Canceled.
	Requests uint64 `json:"requests"`
	// ByStatus counts answers by status (404 for paths that no route serves).
	ByStatus map[int]uint64 `json:"by_status"`
	// Resets counts connections reset instead of answered.
	Resets uint64 `json:"resets"`
	// Hangs counts requests that were never answered.
	Hangs uint64 `json:"hangs"`
	// Canceled counts requests whose client gave up while the answer was delayed.
	Canceled uint64 `json:"canceled"`
	// Outage counts requests failed by an outage; they are also counted in ByStatus
	// (503) or Resets.
	Outage uint64 `json:"outage"`
	// InFlight is the number of requests being dealt with now.
	InFlight int64 `json:"in_flight"`
}

// Answered returns the number of requests answered with a status.
func (s Stats) Answered() uint64 {
	var n uint64
	for _, c := range s.ByStatus {
		n += c
	}
	return n
}

// Failed returns the number of requests that failed: answered with a status of 400
// or more, reset, or left hanging.
func (s Stats) Failed() uint64 {
	n := s.Resets + s.Hangs
	for status, c := range s.ByStatus {
		if status >= 400 {
			n += c
		}
	}
	return n
}

// counters are the atomic counters behind [Stats].
type counters struct {
	requests, resets, hangs, canceled, outage atomic.Uint64
	inFlight                                  atomic.Int64
	status                                    [600]atomic.Uint64
}

func (c *counters) count(status int) {
	if status >= 0 && status < len(c.status) {
		c.status[status].Add(1)
	}
}

// Stats returns what the server has served so far. The counters are read one by
// one while requests go on, so they add up exactly only once traffic has stopped.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		InFlight: c.inFlight.Load(),
		ByStatus: make(map[int]uint64),
		Resets:   c.resets.Load(),
		Hangs:    c.hangs.Load(),
		Canceled: c.canceled.Load(),
		Outage:   c.outage.Load(),
	}
	for i := range c.status {
		if n := c.status[i].Load(); n > 0 {
			st.ByStatus[i] = n
		}
	}
	st.Requests = c.requests.Load()
	return st
}
