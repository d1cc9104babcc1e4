package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"

	"github.com/rampart-go/rampart/health"
)

// A readiness endpoint with two checks, one of which fails: the probe answers 503,
// and the body says which check failed and why.
func Example() {
	checker, err := health.New(health.Config{
		ServiceID: "customers",
		Readiness: []health.Source{
			health.Check{
				Component:     "inventory",
				Measurement:   "responseTime",
				ComponentType: "system",
				Run: func(ctx context.Context) (health.Result, error) {
					return health.Result{ObservedValue: 12, ObservedUnit: "ms"}, nil
				},
			},
			health.Check{
				Component:     "postgres",
				Measurement:   "connections",
				ComponentType: "datastore",
				Run: func(ctx context.Context) (health.Result, error) {
					return health.Result{ObservedValue: 0}, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
				},
			},
		},
	})
	if err != nil {
		panic(err)
	}
	defer checker.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("GET /health/live", checker.Handler(health.Liveness))
	mux.Handle("GET /health/ready", checker.Handler(health.Readiness))
	mux.Handle("GET /health/startup", checker.Handler(health.Startup))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, path := range []string{"/health/live", "/health/ready"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("GET", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		printJSON(body)
	}
	// Output:
	// GET /health/live 200 application/health+json
	// {
	//   "status": "pass",
	//   "serviceId": "customers"
	// }
	// GET /health/ready 503 application/health+json
	// {
	//   "status": "fail",
	//   "serviceId": "customers",
	//   "checks": {
	//     "inventory:responseTime": [
	//       {
	//         "componentType": "system",
	//         "observedValue": 12,
	//         "observedUnit": "ms",
	//         "status": "pass",
	//         "time": "…"
	//       }
	//     ],
	//     "postgres:connections": [
	//       {
	//         "componentType": "datastore",
	//         "observedValue": 0,
	//         "status": "fail",
	//         "time": "…",
	//         "output": "dial tcp 127.0.0.1:5432: connect: connection refused"
	//       }
	//     ]
	//   }
	// }
}

// A cache the service can work without is NonCritical: when it fails, readiness
// warns but still answers 200, so the service keeps its traffic.
func ExampleCheck_nonCritical() {
	cache := health.Ping("redis", func(ctx context.Context) error {
		return errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	})
	cache.NonCritical = true
	checker, err := health.New(health.Config{Readiness: []health.Source{cache}})
	if err != nil {
		panic(err)
	}
	defer checker.Close(context.Background())

	rec := httptest.NewRecorder()
	checker.Handler(health.Readiness).ServeHTTP(rec, httptest.NewRequest("GET", "/health/ready", nil))
	var resp health.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		panic(err)
	}
	redis := resp.Checks["redis:responseTime"][0]
	fmt.Println(rec.Code, resp.Status)
	fmt.Println("redis:", redis.Status, redis.Output)
	// Output:
	// 200 warn
	// redis: fail dial tcp 127.0.0.1:6379: connect: connection refused
}

// Shutdown makes readiness fail at once, so that load balancers stop sending
// traffic, while liveness keeps passing.
func ExampleChecker_Shutdown() {
	checker, err := health.New(health.Config{})
	if err != nil {
		panic(err)
	}
	defer checker.Close(context.Background())

	// On SIGTERM:
	if err := checker.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	for _, p := range []health.Probe{health.Liveness, health.Readiness} {
		rec := httptest.NewRecorder()
		checker.Handler(p).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		fmt.Print(p, " ", rec.Code, " ", rec.Body.String())
	}
	// Output:
	// liveness 200 {"status":"pass"}
	// readiness 503 {"status":"fail","output":"draining"}
}

// printJSON prints a health response indented, with the times of the readings,
// which change at every run, replaced by "…".
func printJSON(body []byte) {
	body = regexp.MustCompile(`"time":"[^"]*"`).ReplaceAll(body, []byte(`"time":"…"`))
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(body), "", "  "); err != nil {
		panic(err)
	}
	fmt.Println(out.String())
}
