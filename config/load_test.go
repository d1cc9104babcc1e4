package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// parse loads src as the file "t.yaml", with the environment.
func parse(t *testing.T, src string) (*Config, error) {
	t.Helper()
	return LoadOptions{}.Parse("t.yaml", []byte(src))
}

// errorLines returns the text of each FieldError in err.
func errorLines(err error) []string {
	var out []string
	for _, e := range FieldErrors(err) {
		out = append(out, e.Error())
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "unknown key suggests the closest",
			src: `
clients:
  payments:
    base_url: https://pay.example
    retry:
      max_atempts: 5
`,
			want: []string{"t.yaml:6: clients.payments.retry.max_atempts: unknown key (did you mean max_attempts?)"},
		},
		{
			name: "unknown key with a dash and another case",
			src: `
health:
  Cache-For: 2s
`,
			want: []string{"t.yaml:3: health.Cache-For: unknown key (did you mean cache_for?)"},
		},
		{
			name: "unknown key far from any lists them",
			src: `
telemetry:
  exporter: otlp
`,
			want: []string{"t.yaml:3: telemetry.exporter: unknown key (known: metrics_path, prometheus, runtime_metrics, service_name)"},
		},
		{
			name: "unknown section",
			src: `
pipeline:
  orders: {}
`,
			want: []string{"t.yaml:2: pipeline: unknown key (did you mean pipelines?)"},
		},
		{
			name: "wrong type",
			src: `
bus:
  subscriptions:
    emails:
      workers: four
      ordered: "yes"
`,
			want: []string{
				`t.yaml:5: bus.subscriptions.emails.workers: must be a whole number, got the string "four"`,
				`t.yaml:6: bus.subscriptions.emails.ordered: must be true or false, got the string "yes"`,
			},
		},
		{
			name: "a number where a string is wanted",
			src: `
health:
  version: 1.10
`,
			want: []string{"t.yaml:3: health.version: must be a string, got the number 1.1 (quote it to keep it as written)"},
		},
		{
			name: "a mapping where a list is wanted, and a list where a mapping is",
			src: `
clients:
  payments:
    base_url: https://pay.example
    retry:
      statuses: {a: 1}
    breaker: [1, 2]
`,
			want: []string{
				"t.yaml:6: clients.payments.retry.statuses: must be a list, got a mapping",
				"t.yaml:7: clients.payments.breaker: must be a mapping of keys to values, got a list",
			},
		},
		{
			name: "bare number for a duration",
			src: `
health:
  timeout: 5
`,
			want: []string{`t.yaml:3: health.timeout: must be a duration with a unit, such as "250ms" or "2s"; got the bare number 5`},
		},
		{
			name: "quoted bare number and garbage durations",
			src: `
health:
  timeout: "5"
  drain_delay: 5 seconds
  cache_for: soon
`,
			want: []string{
				`t.yaml:3: health.timeout: must be a duration with a unit, such as "250ms" or "2s"; got the bare number 5`,
				`t.yaml:4: health.drain_delay: must be a duration such as "250ms" or "2s", got the string "5 seconds"`,
				`t.yaml:5: health.cache_for: must be a duration such as "250ms" or "2s", or "off", got the string "soon"`,
			},
		},
		{
			name: "negative duration",
			src: `
bus:
  subscriptions:
    emails:
      timeout: -1s
`,
			want: []string{"t.yaml:5: bus.subscriptions.emails.timeout: must not be negative, got -1s"},
		},
		{
			name: "negative and zero counts",
			src: `
pipelines:
  orders:
    policies:
      - bulkhead: {max_concurrent: 10, max_queue: -1}
      - retry: {max_attempts: 0}
`,
			want: []string{
				"t.yaml:5: pipelines.orders.policies[0].bulkhead.max_queue: must be ≥ 0, got -1",
				"t.yaml:6: pipelines.orders.policies[1].retry.max_attempts: must be ≥ 1, got 0",
			},
		},
		{
			name: "the example of the issue",
			src: `
clients:
  payments:
    base_url: https://pay.example
    retry:
      max_attempts: 0
`,
			want: []string{"t.yaml:6: clients.payments.retry.max_attempts: must be ≥ 1, got 0"},
		},
		{
			name: "missing base_url is reported at the client",
			src: `
clients:
  payments:
    total_timeout: 5s
`,
			want: []string{"t.yaml:3: clients.payments.base_url: is required"},
		},
		{
			name: "invalid URLs",
			src: `
clients:
  a:
    base_url: payments.example.com
  b:
    base_url: "http://pay ments.example"
  c:
    base_url: https://user:hunter2@pay.example
`,
			want: []string{
				`t.yaml:4: clients.a.base_url: must be an absolute http or https URL, got "payments.example.com"`,
				`t.yaml:6: clients.b.base_url: is not a valid URL: invalid character " " in host name`,
				`t.yaml:8: clients.c.base_url: must not hold credentials ("https://user:[REDACTED]@pay.example"); configure them under auth`,
			},
		},
		{
			name: "attempt timeout not below the total timeout, from httpx",
			src: `
clients:
  payments:
    base_url: https://pay.example
    total_timeout: 2s
    attempt_timeout: 2s
`,
			want: []string{"t.yaml:6: clients.payments.attempt_timeout: must be below total_timeout (2s), got 2s"},
		},
		{
			name: "breaker window shorter than twice the attempt timeout, from httpx",
			src: `
clients:
  payments:
    base_url: https://pay.example
    total_timeout: 1m
    attempt_timeout: 20s
    breaker:
      sampling_window: 30s
`,
			want: []string{"t.yaml:8: clients.payments.breaker.sampling_window: must be at least twice attempt_timeout (20s), got 30s"},
		},
		{
			name: "unknown policy kinds",
			src: `
pipelines:
  orders:
    policies:
      - retyr: {max_attempts: 3}
      - circuit_breaker: {}
      - fallback: {}
      - {}
      - name: lonely
`,
			want: []string{
				"t.yaml:5: pipelines.orders.policies[0].retyr: unknown policy kind (did you mean retry?)",
				"t.yaml:6: pipelines.orders.policies[1].circuit_breaker: unknown policy kind (known: breaker, bulkhead, chaos, hedging, name, rate_limiter, retry, timeout)",
				"t.yaml:7: pipelines.orders.policies[2].fallback: a fallback policy needs a function: add it to the pipeline in code",
				"t.yaml:8: pipelines.orders.policies[3]: is empty; want one of retry, breaker, timeout, bulkhead, rate_limiter, hedging, chaos",
				"t.yaml:9: pipelines.orders.policies[4]: names no policy kind; want one of retry, breaker, timeout, bulkhead, rate_limiter, hedging, chaos",
			},
		},
		{
			name: "two kinds in one item, duplicate names",
			src: `
pipelines:
  orders:
    policies:
      - timeout: 1s
        retry: {}
      - timeout: 2s
        name: t
      - bulkhead: {}
        name: t
`,
			want: []string{
				"t.yaml:5: pipelines.orders.policies[0]: has 2 policy kinds (retry, timeout): write one policy per list item",
				`t.yaml:10: pipelines.orders.policies[2].name: "t" is the name of policies[1] too; give each policy its own name`,
			},
		},
		{
			name: "a rate limiter needs a rate",
			src: `
pipelines:
  orders:
    policies:
      - rate_limiter: {burst: 5}
`,
			want: []string{"t.yaml:5: pipelines.orders.policies[0].rate_limiter.rate: is required (permits per second)"},
		},
		{
			name: "secret from an environment variable that is not set",
			src: `
clients:
  payments:
    base_url: https://pay.example
    auth:
      oauth2:
        token_url: https://idp.example/token
        client_id: customers
        client_secret: {env: RAMPART_CONFIG_TEST_UNSET}
`,
			want: []string{"t.yaml:9: clients.payments.auth.oauth2.client_secret.env: environment variable RAMPART_CONFIG_TEST_UNSET is not set"},
		},
		{
			name: "secret from a file that cannot be read",
			src: `
clients:
  a:
    base_url: https://a.example
    auth:
      bearer: {file: ` + missing + `}
  b:
    base_url: https://b.example
    auth:
      api_key:
        file: ` + dir + `
`,
			want: []string{
				"t.yaml:6: clients.a.auth.bearer.file: cannot read " + missing + ": no such file or directory",
				"t.yaml:11: clients.b.auth.api_key.file: cannot read " + dir + ": not a regular file",
			},
		},
		{
			name: "malformed secrets",
			src: `
clients:
  a:
    base_url: https://a.example
    auth:
      bearer: {env: A, file: /b}
  b:
    base_url: https://b.example
    auth:
      bearer: {vault: x}
  c:
    base_url: https://c.example
    auth:
      hmac: {key_id: k1, key: {env: 7}}
`,
			want: []string{
				"t.yaml:6: clients.a.auth.bearer: must have one of env, file and value, not 2",
				"t.yaml:10: clients.b.auth.bearer.vault: unknown key (did you mean value?)",
				"t.yaml:14: clients.c.auth.hmac.key.env: must be a string, got the number 7",
			},
		},
		{
			name: "credentials: none, two, and an HMAC key too short (from auth)",
			src: `
clients:
  a:
    base_url: https://a.example
    auth: {}
  b:
    base_url: https://b.example
    auth:
      bearer: {env: HOME}
      api_key: {env: HOME}
  c:
    base_url: https://c.example
    auth:
      hmac: {key_id: k1, key: {env: RAMPART_CONFIG_TEST_SHORT_KEY}}
`,
			want: []string{
				"t.yaml:5: clients.a.auth: names no credentials; want one of bearer, api_key, header, oauth2, hmac",
				"t.yaml:8: clients.b.auth: has 2 kinds of credentials (bearer, api_key); want one",
				"t.yaml:14: clients.c.auth.hmac.key: must be at least 32 bytes",
			},
		},
		{
			name: "TLS files",
			src: `
clients:
  a:
    base_url: https://a.example
    tls: {cert_file: ` + missing + `}
`,
			want: []string{
				"t.yaml:5: clients.a.tls.cert_file: cannot read " + missing + ": no such file or directory",
				"t.yaml:5: clients.a.tls.key_file: is required",
			},
		},
		{
			name: "bus",
			src: `
bus:
  transport: rabbitmqq
  subscriptions:
    "emails.welcome": {}
    orders:
      pipeline: order-retry
      prefetch: 1
      workers: 2
      redelivery: []
`,
			want: []string{
				`t.yaml:3: bus.transport: must be one of jetstream, memory, rabbitmq, got "rabbitmqq" (did you mean rabbitmq?)`,
				`t.yaml:5: bus.subscriptions.emails.welcome: name "emails.welcome" must be 1 to 200 letters, digits, '-' and '_', starting with a letter or digit`,
				`t.yaml:7: bus.subscriptions.orders.pipeline: no pipeline "order-retry" in pipelines`,
				`t.yaml:8: bus.subscriptions.orders.prefetch: must be ≥ workers (2), got 1`,
				`t.yaml:10: bus.subscriptions.orders.redelivery: must list at least one delay`,
			},
		},
		{
			name: "transports",
			src: `
bus:
  transport: jetstream
  url: amqp://localhost
  embedded: {data_dir: /var/lib/nats}
`,
			want: []string{"t.yaml:4: bus.url: cannot be given with embedded: the transport connects to its embedded server"},
		},
		{
			name: "full headers on the memory transport",
			src: `
bus:
  transport: memory
  full_headers: true
`,
			want: []string{"t.yaml:4: bus.full_headers: is for rabbitmq and jetstream; the memory transport has no headers on a wire"},
		},
		{
			name: "an empty value",
			src: `
health:
  timeout:
`,
			want: []string{"t.yaml:3: health.timeout: has no value (leave the key out for the default)"},
		},
		{
			name: "invalid YAML",
			src:  "clients:\n  a:\n    base_url: [\n",
			want: []string{"t.yaml:3: invalid YAML: did not find expected node content"},
		},
		{
			name: "duplicate key",
			src:  "health:\n  timeout: 1s\n  timeout: 2s\n",
			want: []string{`t.yaml:3: invalid YAML: mapping key "timeout" already defined at line 2`},
		},
		{
			name: "a list at the top",
			src:  "- clients\n",
			want: []string{"t.yaml:1: the file must be a mapping of sections (clients, pipelines, bus, health, telemetry)"},
		},
		{
			name: "two documents",
			src:  "health: {}\n---\nbus: {}\n",
			want: []string{"t.yaml:2: the file holds more than one YAML document; put everything in one"},
		},
	}
	t.Setenv("RAMPART_CONFIG_TEST_SHORT_KEY", "too-short")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse(t, tt.src)
			if err == nil {
				t.Fatalf("Parse = %+v, nil; want errors %q", cfg, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			got := errorLines(err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse errors =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			if err.Error() != strings.Join(got, "\n") {
				t.Errorf("err.Error() = %q; want the errors one per line", err.Error())
			}
		})
	}
}

func TestLoadCollectsEveryError(t *testing.T) {
	_, err := parse(t, `
clients:
  payments:
    retry: {max_attempts: 0}
pipelines:
  orders:
    policies: [{timeout: 0s}]
bus:
  transport: kafka
health:
  details: sometimes
telemetry:
  metrics_path: metrics
`)
	want := []string{
		"t.yaml:3: clients.payments.base_url: is required",
		"t.yaml:4: clients.payments.retry.max_attempts: must be ≥ 1, got 0",
		"t.yaml:7: pipelines.orders.policies[0].timeout: must be > 0, got 0s",
		`t.yaml:9: bus.transport: must be one of jetstream, memory, rabbitmq, got "kafka"`,
		`t.yaml:11: health.details: must be one of always, never, on_request, got "sometimes"`,
		`t.yaml:13: telemetry.metrics_path: must start with '/', got "metrics"`,
	}
	if got := errorLines(err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestLoadFile(t *testing.T) {
	t.Setenv("PAYMENTS_CLIENT_SECRET", "x")
	t.Setenv("INVENTORY_API_KEY", "y")
	cfg, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File() != "testdata/full.yaml" {
		t.Errorf("File() = %q", cfg.File())
	}
	if len(cfg.Warnings()) != 0 {
		t.Errorf("Warnings() = %v; want none", cfg.Warnings())
	}
	pay := cfg.Clients["payments"]
	if pay.Name() != "payments" || pay.Retry.MaxAttempts != 4 || pay.AttemptTimeout.D() != 10*time.Second {
		t.Errorf("payments = %+v", pay)
	}
	if got := cfg.Clients["inventory"].AttemptTimeout.D(); got != 2500*time.Millisecond {
		t.Errorf("inventory attempt_timeout = %s; want half of total_timeout 5s", got)
	}

	_, err = Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "config: open ") {
		t.Errorf("Load(missing) = %v; want an *os.PathError", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := LoadOptions{IgnoreEnv: true}.Parse("t.yaml", []byte(`
clients:
  a: {base_url: "https://a.example"}
pipelines:
  p:
    policies:
      - timeout: {}
      - retry:
      - breaker: {break_duration: 2s}
      - rate_limiter: {rate: 2.5}
      - timeout: 1s
      - chaos: {}
bus:
  subscriptions:
    s: {workers: 3, timeout: 10s, redelivery: [2s]}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Clients["a"]
	if a.TotalTimeout.D() != 30*time.Second || a.AttemptTimeout.D() != 10*time.Second || a.Retry.MaxAttempts != 4 ||
		a.Retry.Backoff.Jitter != "full" || !a.Breaker.Enabled || a.Breaker.MaxBreakDuration.D() != 50*time.Second {
		t.Errorf("client a = %+v", a)
	}
	pols := cfg.Pipelines["p"].Policies
	names := []string{}
	for _, p := range pols {
		names = append(names, p.Name)
	}
	if want := []string{"timeout", "retry", "p", "rate_limiter", "timeout-2", "chaos"}; !reflect.DeepEqual(names, want) {
		t.Errorf("policy names = %q; want %q", names, want)
	}
	if pols[0].Timeout.Duration.D() != 10*time.Second || pols[1].Retry.MaxAttempts != 3 ||
		pols[2].Breaker.MaxBreakDuration.D() != 20*time.Second || pols[3].RateLimiter.Burst != 3 {
		t.Errorf("policies = %+v %+v %+v %+v", *pols[0].Timeout, *pols[1].Retry, *pols[2].Breaker, *pols[3].RateLimiter)
	}
	s := cfg.Bus.Subscriptions["s"]
	if s.Prefetch != 12 || s.InProgressDelay.D() != 2*time.Second || s.InboxLease.D() != 40*time.Second || s.MaxAttempts != 5 {
		t.Errorf("subscription = %+v", s)
	}
	if cfg.Bus.Transport != "memory" || cfg.Health.Timeout.D() != 2*time.Second || cfg.Telemetry.MetricsPath != "/metrics" {
		t.Errorf("bus, health, telemetry = %+v %+v %+v", cfg.Bus, cfg.Health, cfg.Telemetry)
	}
}

func TestOff(t *testing.T) {
	cfg, err := parse(t, `
clients:
  a:
    base_url: https://a.example
    total_timeout: "off"
    attempt_timeout: off
health:
  cache_for: off
`)
	if err != nil {
		t.Fatal(err)
	}
	o, err := cfg.Clients["a"].HTTPXOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.TotalTimeout >= 0 || o.AttemptTimeout >= 0 || cfg.Health.Config().CacheFor >= 0 {
		t.Errorf("off = %s, %s, %s; want negative durations", o.TotalTimeout, o.AttemptTimeout, cfg.Health.Config().CacheFor)
	}
	if s := cfg.Clients["a"].TotalTimeout.String(); s != "off" {
		t.Errorf("String() = %q; want off", s)
	}
	_, err = parse(t, "bus:\n  subscriptions:\n    s: {timeout: off}\n")
	if got := errorLines(err); len(got) != 1 || !strings.Contains(got[0], `bus.subscriptions.s.timeout: must be a duration such as "250ms" or "2s", got the string "off"`) {
		t.Errorf("off where not allowed: %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"retry", "retry", 0}, {"retyr", "retry", 1}, {"max_atempts", "max_attempts", 1},
		{"kitten", "sitting", 3}, {"breakr", "breaker", 1}, {"", "abc", 3},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
