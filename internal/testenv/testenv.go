// Package testenv finds the local services that integration tests talk to.
//
// Each service's address comes from an environment variable with a default on
// loopback. When the service does not answer, the test is skipped with a message
// naming the variable, or fails when RAMPART_REQUIRE_SERVICES=1 (as in CI, which
// starts every service first).
package testenv

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// Service describes one local service.
type Service struct {
	Name    string // human name, e.g. "RabbitMQ"
	Env     string // variable that overrides the URL
	Default string // URL used when Env is unset
}

// The services of the development machines (see DESIGN.md).
var (
	AMQP     = Service{"RabbitMQ", "RAMPART_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"}
	Redis    = Service{"Redis", "RAMPART_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"}
	NATS     = Service{"NATS", "RAMPART_TEST_NATS_URL", "nats://127.0.0.1:4222"}
	Postgres = Service{"PostgreSQL", "RAMPART_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"}
)

// Required reports whether missing services fail tests instead of skipping them.
func Required() bool { return os.Getenv("RAMPART_REQUIRE_SERVICES") == "1" }

// URL returns the service's URL after checking that its port accepts connections.
// It skips t (or fails it, when services are required) if the service is absent.
func URL(t testing.TB, s Service) string {
	t.Helper()
	raw := os.Getenv(s.Env)
	if raw == "" {
		raw = s.Default
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("testenv: %s=%q is not a valid URL: %v", s.Env, raw, err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		if Required() {
			t.Fatalf("testenv: %s is required (RAMPART_REQUIRE_SERVICES=1) but not reachable at %s (set %s): %v", s.Name, u.Host, s.Env, err)
		}
		t.Skipf("testenv: %s not reachable at %s; set %s to point at one (skipping): %v", s.Name, u.Host, s.Env, err)
	}
	conn.Close()
	return raw
}
