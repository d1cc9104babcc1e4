package config

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/health"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

func TestHTTPXOptions(t *testing.T) {
	t.Setenv("CONFIG_TEST_SECRET", "s")
	cfg := mustParse(t, `
clients:
  plain:
    base_url: https://a.example
    retry: {max_attempts: 1, statuses: []}
    breaker: {enabled: false}
    max_logged_body: 0
  full:
    base_url: https://b.example
    total_timeout: 4s
    rate_limiter: {rate: 10}
    retry:
      max_attempts: 5
      backoff: {kind: linear, base: 10ms, max: 1s}
      budget: {ratio: 0.5}
    breaker: {mode: consecutive_failures, consecutive_failures: 7, statuses: [500]}
    auth:
      oauth2: {token_url: "https://idp.example/t", client_id: c, client_secret: {env: CONFIG_TEST_SECRET}, params: {audience: x}}
    auth_hosts: [other.example]
  keyed:
    base_url: https://c.example
    auth:
      header: {name: X-Token, scheme: Token, secret: {env: CONFIG_TEST_SECRET}}
`)
	plain, err := cfg.Clients["plain"].HTTPXOptions()
	if err != nil {
		t.Fatal(err)
	}
	if plain.Name != "plain" || !plain.Retry.Disabled || !plain.Breaker.Disabled || plain.Retry.Statuses == nil ||
		len(plain.Retry.Statuses) != 0 || plain.MaxLoggedBody != -1 || plain.Auth != nil || plain.Base != nil {
		t.Errorf("plain = %+v", plain)
	}
	full, err := cfg.Clients["full"].HTTPXOptions()
	if err != nil {
		t.Fatal(err)
	}
	if full.TotalTimeout != 4*time.Second || full.AttemptTimeout != 2*time.Second || full.Retry.MaxRetries != 4 ||
		full.Retry.Backoff != (resilience.Backoff{Kind: resilience.BackoffLinear, Base: 10 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: resilience.JitterNone}) ||
		full.Retry.Budget == nil || full.Retry.Budget.Options().Ratio != 0.5 || full.RateLimiter == nil ||
		full.Breaker.Policy.Mode != resilience.TripConsecutiveFailures || full.Breaker.Policy.ConsecutiveFailures != 7 ||
		!reflect.DeepEqual(full.Breaker.Statuses, []int{500}) || !reflect.DeepEqual(full.AuthHosts, []string{"other.example"}) {
		t.Errorf("full = %+v", full)
	}
	if full.Auth != nil || full.AuthTransport == nil {
		t.Error("OAuth2 credentials should be an AuthTransport, to be renewed after a 401")
	}
	if _, err := httpx.NewTransport(full); err != nil {
		t.Errorf("httpx.NewTransport(full) = %v", err)
	}
	keyed, err := cfg.Clients["keyed"].HTTPXOptions()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://c.example", nil)
	if err := keyed.Auth.Apply(context.Background(), req); err != nil || req.Header.Get("X-Token") != "Token s" {
		t.Errorf("header credentials: %v, %q", err, req.Header.Get("X-Token"))
	}
}

func TestPipelineBuild(t *testing.T) {
	cfg := mustParse(t, `
pipelines:
  p:
    policies:
      - rate_limiter: {rate: 5, burst: 2, wait: true, max_wait: 1s}
      - bulkhead: {max_concurrent: 3, max_queue: 1}
      - hedging: {max_hedges: 2, delay: 100ms}
      - retry: {max_attempts: 2, budget: {}}
      - breaker: {}
      - chaos: {enabled: true, fault_rate: 1}
`)
	p, err := cfg.Pipelines["p"].Build("p")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, pol := range p.Policies() {
		names = append(names, pol.Name())
	}
	if want := []string{"rate_limiter", "bulkhead", "hedging", "retry", "p", "chaos"}; !reflect.DeepEqual(names, want) {
		t.Errorf("policies = %q; want %q", names, want)
	}
	if b := p.Policies()[3].(*resilience.Retry).Options().Budget; b == nil {
		t.Error("the retry has no budget")
	}
	err = p.Run(t.Context(), func(context.Context) error { return nil })
	if !strings.Contains(err.Error(), "injected fault") {
		t.Errorf("Run = %v; want the injected fault", err)
	}
}

func TestBusAndHealthOptions(t *testing.T) {
	cfg := mustParse(t, `
pipelines:
  handler-retry:
    policies: [{retry: {max_attempts: 2}}]
bus:
  transport: jetstream
  embedded: {data_dir: /var/lib/nats}
  subscriptions:
    emails: {workers: 2, pipeline: handler-retry, redelivery: [5s]}
    orders: {ordered: true, max_attempts: 3}
health:
  details: never
  breakers: {open_status: fail, non_critical: true}
  http_checks:
    payments: {url: "https://pay.example/healthz", non_critical: true}
`)
	live, err := Build(cfg, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bus.FullHeaders {
		t.Error("Bus.FullHeaders = true without full_headers; want false")
	}
	if c := mustParse(t, "bus: {transport: rabbitmq, url: amqp://localhost/, full_headers: true}\n"); !c.Bus.FullHeaders {
		t.Error("Bus.FullHeaders = false with full_headers: true")
	}
	o, err := cfg.Bus.Options(live.Registry())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := live.Pipeline("handler-retry")
	want := bus.SubscriptionOptions{Workers: 2, Prefetch: 8, Timeout: 30 * time.Second, Retry: p,
		RedeliveryDelays: []time.Duration{5 * time.Second}, MaxAttempts: 5, InProgressDelay: 5 * time.Second, InboxLease: time.Minute}
	if got := o.Subscriptions["emails"]; !reflect.DeepEqual(got, want) {
		t.Errorf("emails = %+v; want %+v", got, want)
	}
	if got := o.Subscriptions["orders"]; !got.Ordered || got.MaxAttempts != 3 {
		t.Errorf("orders = %+v", got)
	}
	if _, err := cfg.Bus.Options(nil); err == nil {
		t.Error("Options(nil) with a subscription that names a pipeline = nil error")
	}

	hc := cfg.Health.Config()
	hc.Readiness = []health.Source{health.Breakers(live.Registry(), cfg.Health.BreakerCheckOptions())}
	for _, c := range cfg.Health.HTTPCheckList() {
		hc.Readiness = append(hc.Readiness, c)
	}
	if hc.Details != health.DetailsNever || hc.Timeout != 2*time.Second {
		t.Errorf("health config = %+v", hc)
	}
	checker, err := health.New(hc)
	if err != nil {
		t.Fatalf("health.New = %v", err)
	}
	_ = checker.Close(t.Context())
	if chk := cfg.Health.HTTPCheckList()[0]; !chk.NonCritical || chk.Timeout != 2*time.Second || chk.Component != "payments" {
		t.Errorf("HTTP check = %+v", chk)
	}
}

func TestApplyReportsSubscriptionPipeline(t *testing.T) {
	src := `
pipelines:
  handler-retry:
    policies: [{retry: {max_attempts: 2}}]
bus:
  subscriptions:
    emails: {pipeline: handler-retry}
`
	live, err := Build(mustParse(t, src), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changes, err := live.Apply(mustParse(t, strings.Replace(src, "max_attempts: 2", "max_attempts: 3", 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"bus.subscriptions.emails.pipeline: restart required: the subscription keeps the pipeline handler-retry it started with; only the policies updated in place reach it",
		"pipelines.handler-retry: replaced: calls in flight finish with the old pipeline",
		"pipelines.handler-retry.policies[0].retry: replaced: calls in flight finish with the old one",
	}
	if got := changeLines(changes); !reflect.DeepEqual(got, want) {
		t.Errorf("Apply =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
