// Package stats counts what the customers service does, for its operator
// dashboard: the calls to each dependency (attempts, outcomes, retries,
// latency percentiles), the events published and how each subscription
// settled its deliveries. Its [Recorder] plugs into the library's own hooks:
//
//   - an httpx.Observer per dependency ([Recorder.HTTPObserver]), which passes
//     every attempt on to the next observer (telemetry's), spans included;
//   - the bus's Options.OnSettle ([Recorder.OnSettle]);
//   - the outbox relay's Publisher ([Recorder.Publisher]), which counts what
//     the relay published.
//
// [Recorder.Snapshot] returns cumulative counters since the start and the
// latency percentiles of the last [LatencyWindow] attempts of each dependency:
// a page that polls it computes rates from two snapshots. Package wiring adds
// the breakers' states and the outbox backlog, and serves the whole at
// GET /internal/stats.
//
// A Recorder is safe for concurrent use; it starts no goroutine.
package stats
