// Package health answers the liveness, readiness and startup probes of a service
// with the truth about its dependencies, in the health check response format for
// HTTP APIs (media type application/health+json, draft-inadarei-api-health-check).
//
// # Probes
//
// A [Checker] holds three lists of checks, one per [Probe], and serves each probe
// with [Checker.Handler]:
//
//	checker, err := health.New(health.Config{
//		Readiness: []health.Source{
//			health.Ping("postgres", db.PingContext),
//			health.Ping("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }),
//			health.HTTP("payments", "https://payments.internal/healthz", health.HTTPOptions{}),
//			health.RabbitMQ(transport, health.ConnectionOptions{MinConsumers: 2}),
//			health.Breakers(registry, health.BreakerCheckOptions{}),
//		},
//		Startup: []health.Source{migrationsApplied},
//	})
//	if err != nil {
//		return err
//	}
//	defer checker.Close(context.Background())
//	mux.Handle("GET /health/live", checker.Handler(health.Liveness))
//	mux.Handle("GET /health/ready", checker.Handler(health.Readiness))
//	mux.Handle("GET /health/startup", checker.Handler(health.Startup))
//
// Liveness says whether the process works at all: with no checks (the usual
// choice) it passes whenever the process answers. Readiness says whether the service
// should receive traffic: its dependencies answer and it is not draining. Startup
// passes for good once each of its checks has passed once.
//
// # Response
//
// A response ([Response]) has an overall status, pass, warn or fail, answered with
// HTTP 200, 200 and 503, and the checks keyed "component:measurement"
// ("postgres:responseTime", "payments-breaker:state"), each with its status,
// observed value and unit, the time of the reading and, for a warn or a fail, an
// output that says why:
//
//	{"status":"fail","checks":{
//	  "postgres:responseTime":[{"componentType":"datastore","observedValue":0.412,
//	    "observedUnit":"ms","status":"pass","time":"2026-01-02T15:04:05Z"}],
//	  "payments-breaker:state":[{"componentId":"payments","componentType":"component",
//	    "observedValue":"open","status":"fail","time":"2026-01-02T15:04:05Z",
//	    "output":"open since 2026-01-02T15:04:01Z, half-opens at 2026-01-02T15:04:06Z (in 1s)"}]}}
//
// The overall status is the worst of the checks', except that a check marked
// NonCritical that fails only makes it a warn: the service keeps its traffic without
// its cache, say. [Config.Details] and the "verbose" query parameter decide whether
// the checks are listed.
//
// # Checks
//
// Ready-made checks cover the usual dependencies, without importing any driver:
// [Ping] for a datastore with a ping function (Redis, PostgreSQL), [HTTP] for a
// service with a probe URL (sent with a client of its own, not through the circuit
// breaker the service calls it with), [Connection], [RabbitMQ] and [NATS] for a broker
// connection through the [ConnectionState] interface that bus transports implement,
// and [Breaker] and [Breakers] for circuit breakers (open is a warn, or a fail if so
// configured). Any other check is a [Check] literal:
//
//	health.Check{
//		Component:   "disk",
//		Measurement: "utilization",
//		Run: func(ctx context.Context) (health.Result, error) {
//			used, err := diskUsage(ctx)
//			r := health.Result{ObservedValue: used, ObservedUnit: "%"}
//			if used > 90 {
//				r.Status = health.StatusWarn
//			}
//			return r, err
//		},
//	}
//
// # Time
//
// The checks of a probe run concurrently, each with its timeout (Check.Timeout or
// Config.Timeout, 2s by default). Results are reused for Config.CacheFor (1s by
// default), and a check that is running is joined rather than started again, so
// that a storm of probes does not become a storm of queries to the dependencies:
// however many requests arrive, each check runs at most once per CacheFor.
//
// A check must honour its context, which is cancelled at its timeout. A check that
// does not is reported as failed at its timeout anyway, the request does not wait
// for it, and it is not started again until it returns; its goroutine, though, runs
// until it does. A check that panics is reported as failed with the panic in its
// output.
//
// # Shutdown
//
// To drain before exit, call [Checker.Shutdown] (or [Checker.SetDraining]) when the
// service is told to stop: readiness fails at once with the output "draining", so
// that load balancers stop sending traffic, while liveness keeps passing so that
// the process is not restarted. Then shut the server down, and [Checker.Close] the
// checker:
//
//	<-ctx.Done() // SIGTERM
//	checker.Shutdown(shutdownCtx) // readiness fails, then waits Config.DrainDelay
//	server.Shutdown(shutdownCtx)
//	checker.Close(shutdownCtx)
package health
