// Package dashboard serves the operator dashboard of the customers service: a
// page at /dashboard (plain HTML, JavaScript and CSS embedded in the binary,
// no build step, nothing fetched from elsewhere) that shows, live, each
// dependency's breaker state, call rate, outcomes and latency percentiles,
// each subscription's publications and settlements, the dead-letter queues
// with a replay button, and the outbox backlog.
//
// # Endpoints
//
// A [Dashboard] is an http.Handler for these paths:
//
//	GET  /dashboard                                     the page
//	GET  /dashboard/app.js, /dashboard/style.css        its script and style
//	GET  /dashboard/api/state                           the current [State], with its history
//	POST /dashboard/api/deadletters/{subscription}/replay
//	                                                    replay a subscription's dead letters
//	                                                    (behind Config.Authenticate)
//
// The page polls /dashboard/api/state every 2 seconds.
//
// # History
//
// The dashboard samples the counters every Config.Interval (2s by default) on
// a goroutine of its own and keeps the rates of the last Config.History (10
// minutes by default) in a ring, so that a page opened now shows the minutes
// before it. [Dashboard.Close] stops the sampling.
//
// # Replay
//
// Replaying needs a transport that implements [bus.DeadLetterManager] (the
// memory and RabbitMQ transports do); with another, the replay endpoint
// answers 501 and the page says that the transport cannot replay.
package dashboard
