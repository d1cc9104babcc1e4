package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const envBase = `
clients:
  payments-eu:
    base_url: https://pay.example
    retry:
      max_attempts: 2
      statuses: [503]
pipelines:
  orders:
    policies:
      - timeout: 5s
      - retry: {max_attempts: 2}
bus:
  subscriptions:
    emails: {}
`

func TestEnvOverrides(t *testing.T) {
	t.Setenv("RAMPART_CLIENTS__PAYMENTS_EU__RETRY__MAX_ATTEMPTS", "5")
	t.Setenv("RAMPART_CLIENTS__PAYMENTS_EU__RETRY__STATUSES", "502, 503,504")
	t.Setenv("RAMPART_CLIENTS__PAYMENTS_EU__IDEMPOTENCY_KEYS", "true")
	t.Setenv("RAMPART_CLIENTS__PAYMENTS_EU__BREAKER__FAILURE_RATIO", "0.25")
	t.Setenv("RAMPART_CLIENTS__NEW__BASE_URL", "https://new.example")
	t.Setenv("RAMPART_PIPELINES__ORDERS__POLICIES__1__RETRY__MAX_ATTEMPTS", "7")
	t.Setenv("RAMPART_PIPELINES__ORDERS__POLICIES__0__TIMEOUT", "250ms")
	t.Setenv("RAMPART_BUS__SUBSCRIPTIONS__EMAILS__REDELIVERY", "2s,20s")
	t.Setenv("RAMPART_HEALTH__TIMEOUT", "3s")
	t.Setenv("RAMPART_TEST_AMQP_URL", "amqp://ignored") // not an override: no "__"
	t.Setenv("RAMPART_REQUIRE_SERVICES", "1")

	cfg, err := parse(t, envBase)
	if err != nil {
		t.Fatal(err)
	}
	eu := cfg.Clients["payments-eu"]
	if eu.Retry.MaxAttempts != 5 || !eu.IdempotencyKeys || eu.Breaker.FailureRatio != 0.25 ||
		!reflect.DeepEqual(eu.Retry.Statuses, []int{502, 503, 504}) {
		t.Errorf("payments-eu = %+v", eu)
	}
	if _, dup := cfg.Clients["payments_eu"]; dup {
		t.Error("the override made a client payments_eu instead of setting payments-eu")
	}
	if n, ok := cfg.Clients["new"]; !ok || n.BaseURL != "https://new.example" || n.Retry.MaxAttempts != 4 {
		t.Errorf("client created from the environment = %+v, %v", n, ok)
	}
	pol := cfg.Pipelines["orders"].Policies
	if pol[0].Timeout.Duration.D() != 250*time.Millisecond || pol[1].Retry.MaxAttempts != 7 {
		t.Errorf("orders policies = %+v, %+v", *pol[0].Timeout, *pol[1].Retry)
	}
	if got := durations(cfg.Bus.Subscriptions["emails"].Redelivery); !reflect.DeepEqual(got, []time.Duration{2 * time.Second, 20 * time.Second}) {
		t.Errorf("redelivery = %v", got)
	}
	if cfg.Health.Timeout.D() != 3*time.Second {
		t.Errorf("health.timeout = %s", cfg.Health.Timeout)
	}

	ignored, err := LoadOptions{IgnoreEnv: true}.Parse("t.yaml", []byte(envBase))
	if err != nil {
		t.Fatal(err)
	}
	if ignored.Clients["payments-eu"].Retry.MaxAttempts != 2 || len(ignored.Clients) != 1 {
		t.Errorf("IgnoreEnv: the environment was applied: %+v", ignored.Clients)
	}
}

func TestEnvErrors(t *testing.T) {
	t.Setenv("RAMPART_CLIENTS__PAYMENTS_EU__RETRY__MAX_ATTEMPTS", "0")
	t.Setenv("RAMPART_CLIENTS__PAYMENTS_EU__RETRY__MAXATTEMPTS", "3")
	t.Setenv("RAMPART_CLIENTS__PAYMENTS_EU__TOTAL_TIMEOUT", "30")
	t.Setenv("RAMPART_CLIENTS__PAYMENTS_EU__IDEMPOTENCY_KEYS", "sure")
	t.Setenv("RAMPART_PIPELINES__ORDERS__POLICIES__9__RETRY__MAX_ATTEMPTS", "1")
	t.Setenv("RAMPART_PIPELINES__ORDERS__POLICIES__RETRY", "1")
	t.Setenv("RAMPART_BUSS__URL", "amqp://x")
	t.Setenv("RAMPART_HEALTH____TIMEOUT", "1s")
	t.Setenv("RAMPART_TELEMETRY__PROMETHEUS", "true")
	t.Setenv("RAMPART_telemetry__prometheus", "false")
	_, err := parse(t, envBase)
	want := []string{
		`env RAMPART_BUSS__URL: buss: unknown key (did you mean bus?)`,
		`env RAMPART_CLIENTS__PAYMENTS_EU__IDEMPOTENCY_KEYS: clients.payments-eu.idempotency_keys: must be true or false, got the string "sure"`,
		`env RAMPART_CLIENTS__PAYMENTS_EU__RETRY__MAXATTEMPTS: clients.payments-eu.retry.maxattempts: unknown key (did you mean max_attempts?)`,
		`env RAMPART_CLIENTS__PAYMENTS_EU__RETRY__MAX_ATTEMPTS: clients.payments-eu.retry.max_attempts: must be ≥ 1, got 0`,
		`env RAMPART_CLIENTS__PAYMENTS_EU__TOTAL_TIMEOUT: clients.payments-eu.total_timeout: must be a duration with a unit, such as "250ms" or "2s", or "off"; got the bare number 30`,
		`env RAMPART_HEALTH____TIMEOUT: has an empty level (a "__" right after another, or at an end)`,
		`env RAMPART_PIPELINES__ORDERS__POLICIES__9__RETRY__MAX_ATTEMPTS: pipelines.orders.policies: is a list of 2 elements: address one by its index from 0, got "9"`,
		`env RAMPART_PIPELINES__ORDERS__POLICIES__RETRY: pipelines.orders.policies: is a list of 2 elements: address one by its index from 0, got "retry"`,
		`env RAMPART_telemetry__prometheus: telemetry.prometheus: sets the same key as RAMPART_TELEMETRY__PROMETHEUS`,
	}
	if got := errorLines(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	for _, e := range FieldErrors(err) {
		if e.File != "" || e.Line != 0 {
			t.Errorf("%v: File, Line = %q, %d; want the variable only", e, e.File, e.Line)
		}
	}
}

// TestEnvReplacesFileValue checks that a value set by a variable is reported at
// the variable, not at the file's line it replaced.
func TestEnvReplacesFileValue(t *testing.T) {
	t.Setenv("RAMPART_BUS__SUBSCRIPTIONS__EMAILS__REDELIVERY", "1s,0s")
	_, err := parse(t, "bus:\n  subscriptions:\n    emails:\n      redelivery: [1s, 2s]\n")
	want := []string{"env RAMPART_BUS__SUBSCRIPTIONS__EMAILS__REDELIVERY: bus.subscriptions.emails.redelivery[1]: must be > 0, got 0s"}
	if got := errorLines(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %q; want %q", got, want)
	}
}

func TestEnvName(t *testing.T) {
	for path, want := range map[string]string{
		"clients.payments.retry.max_attempts":             "RAMPART_CLIENTS__PAYMENTS__RETRY__MAX_ATTEMPTS",
		"clients.payments-eu.base_url":                    "RAMPART_CLIENTS__PAYMENTS_EU__BASE_URL",
		"pipelines.orders.policies[2].retry.max_attempts": "RAMPART_PIPELINES__ORDERS__POLICIES__2__RETRY__MAX_ATTEMPTS",
	} {
		if got := EnvName(path); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", path, got, want)
		}
	}
}
