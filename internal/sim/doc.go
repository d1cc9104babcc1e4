// Package sim is a fault-injecting fake upstream: an HTTP server whose routes answer
// with a configurable mix of statuses, latencies, connection resets and hangs, and
// that can be put into an outage for a while. It is what `rampart sim` serves and
// what `rampart demo` calls, and it suits tests that need a misbehaving peer.
//
// # Routes
//
// A [Config] lists [Route]s. Each request to a route is answered in one of three
// ways, drawn at random with the route's rates:
//
//   - it hangs (HangRate): no answer until the client gives up or the server shuts
//     down, which closes the connection;
//   - it resets (ResetRate): after the route's latency, the connection is closed with
//     a TCP reset (SO_LINGER 0), so the client sees a transport error;
//   - otherwise, after the route's [Latency], it answers with a status drawn from the
//     route's [Mix]. 429 and 503 answers carry Retry-After.
//
// Mixes and latencies are written as strings, as on the command line: see
// [ParseMix] and [ParseLatency].
//
// # Outage
//
// [Outage] makes every request fail (503 with Retry-After, or a reset) from After to
// After+For, measured from when the configuration was applied (by [New] or the
// control endpoint).
//
// # Control endpoint
//
// Paths under /_sim/ are the server's own:
//
//	GET  /_sim/config            the current configuration as JSON (see [Config.MarshalJSON])
//	PUT  /_sim/config            replace it; a 400 answer's "field" names what is invalid
//	POST /_sim/outage?for=5s     start an outage now (optional mode=reset, after=2s)
//	DELETE /_sim/outage          end any outage now
//	GET  /_sim/stats             what was served so far (see [Stats])
//
// The control endpoint has no authentication: serve the simulator on loopback or a
// test network only.
//
// # Randomness
//
// Every decision comes from one math/rand/v2 generator seeded with [Config.Seed], so
// that a test sees the same sequence of decisions for the same sequence of requests.
//
// # Concurrency
//
// A [Server] is safe for concurrent use. Its statistics are atomic counters that may
// be read at any time with [Server.Stats].
package sim
