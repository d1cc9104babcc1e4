package config

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// mustParse parses src without the environment.
func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := LoadOptions{IgnoreEnv: true}.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// changeLines formats changes for comparison.
func changeLines(changes []Change) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.String()
	}
	return out
}

const pipelinesV1 = `
pipelines:
  orders:
    policies:
      - rate_limiter: {rate: 100}
      - timeout: 5s
        name: total
      - retry: {max_attempts: 2, backoff: {kind: constant, base: 1ms}}
      - breaker: {mode: consecutive_failures, consecutive_failures: 3}
      - timeout: 1s
        name: attempt
  mail:
    policies:
      - bulkhead: {max_concurrent: 2}
`

func TestApplyPipelines(t *testing.T) {
	live, err := Build(mustParse(t, pipelinesV1), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, ok := live.Pipeline("orders")
	if !ok {
		t.Fatal("no pipeline orders")
	}
	old := p1.Policies()
	breaker := old[3].(*resilience.Breaker)

	// Open the breaker: its state must survive a reload that does not change it.
	boom := errors.New("boom")
	for range 2 {
		_ = p1.Run(t.Context(), func(context.Context) error { return boom })
	}
	if s := breaker.State(); s != resilience.StateOpen {
		t.Fatalf("breaker state = %s; want open", s)
	}
	breaker.Reset()

	// A call in flight during the reload finishes with the old pipeline.
	started, release := make(chan struct{}), make(chan struct{})
	inflight := make(chan error, 1)
	go func() {
		inflight <- p1.Run(t.Context(), func(ctx context.Context) error {
			close(started)
			<-release
			return ctx.Err()
		})
	}()
	<-started

	v2 := strings.NewReplacer("rate: 100", "rate: 50", "timeout: 5s", "timeout: 3s", "max_attempts: 2", "max_attempts: 4",
		"max_concurrent: 2", "max_concurrent: 4").Replace(pipelinesV1) + `
  extra:
    policies: [{timeout: 1s}]
bus:
  transport: jetstream
  embedded: {data_dir: /tmp/x}
`
	changes, err := live.Apply(mustParse(t, v2))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"bus: restart required: cannot be reloaded",
		"pipelines.extra: added",
		"pipelines.mail: replaced: calls in flight finish with the old pipeline",
		"pipelines.mail.policies[0].bulkhead: replaced: calls in flight hold slots of the old bulkhead until they finish",
		"pipelines.orders: replaced: calls in flight finish with the old pipeline",
		"pipelines.orders.policies[0].rate_limiter: updated: the tokens in the bucket are kept",
		"pipelines.orders.policies[1].timeout: updated: calls that start from now on use 3s",
		"pipelines.orders.policies[2].retry: replaced: calls in flight finish with the old one",
	}
	if got := changeLines(changes); !reflect.DeepEqual(got, want) {
		t.Errorf("Apply =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}

	close(release)
	if err := <-inflight; err != nil {
		t.Errorf("the call in flight = %v; want nil", err)
	}

	p2, _ := live.Pipeline("orders")
	cur := p2.Policies()
	if p2 == p1 {
		t.Fatal("the pipeline was not replaced in the registry")
	}
	if cur[0] != old[0] || cur[1] != old[1] || cur[3] != old[3] || cur[4] != old[4] {
		t.Error("the rate limiter, the timeouts and the breaker should be the same objects")
	}
	if cur[2] == old[2] || cur[2].(*resilience.Retry).Options().MaxAttempts != 4 {
		t.Error("the retry should be a new one with 4 attempts")
	}
	if d := cur[1].(*resilience.Timeout).Duration(); d != 3*time.Second {
		t.Errorf("total timeout = %s; want 3s, updated in place", d)
	}
	if _, ok := live.Pipeline("extra"); !ok {
		t.Error("the new pipeline is not registered")
	}

	// The same configuration again changes nothing.
	again, err := live.Apply(mustParse(t, v2))
	if err != nil || len(again) != 1 || again[0].Path != "bus" {
		t.Errorf("Apply(same) = %v, %v; want the bus only", again, err)
	}
	if p3, _ := live.Pipeline("orders"); p3 != p2 {
		t.Error("Apply(same) replaced the pipeline")
	}

	// A breaker whose thresholds change is rebuilt; a pipeline removed stays.
	v3 := strings.Replace(v2, "consecutive_failures: 3", "consecutive_failures: 5", 1)
	v3 = v3[:strings.Index(v3, "  mail:")] + v3[strings.Index(v3, "  extra:"):]
	changes, err = live.Apply(mustParse(t, v3))
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"bus: restart required: cannot be reloaded",
		"pipelines.mail: restart required: removed from the file; it stays registered until the next start",
		"pipelines.orders: replaced: calls in flight finish with the old pipeline",
		"pipelines.orders.policies[3].breaker: replaced: the new breaker starts closed; the old one's state is dropped",
	}
	if got := changeLines(changes); !reflect.DeepEqual(got, want) {
		t.Errorf("Apply =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	p4, _ := live.Pipeline("orders")
	if p4.Policies()[3] == old[3] {
		t.Error("the breaker was kept although its settings changed")
	}
	if _, ok := live.Pipeline("mail"); !ok {
		t.Error("the removed pipeline was unregistered")
	}
}

func TestApplyReorderKeepsNamedPolicies(t *testing.T) {
	src := `
pipelines:
  p:
    policies:
      - timeout: 1s
        name: a
      - breaker: {}
      - chaos: {fault_rate: 0.1}
`
	live, err := Build(mustParse(t, src), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := live.Pipeline("p")
	old := p1.Policies()
	changes, err := live.Apply(mustParse(t, `
pipelines:
  p:
    policies:
      - breaker: {}
      - chaos: {fault_rate: 0.2, enabled: true}
      - timeout: 1s
        name: a
      - bulkhead: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"pipelines.p: replaced: calls in flight finish with the old pipeline",
		"pipelines.p.policies[1].chaos: updated",
		"pipelines.p.policies[3].bulkhead: added: policy bulkhead",
	}
	if got := changeLines(changes); !reflect.DeepEqual(got, want) {
		t.Errorf("Apply =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	p2, _ := live.Pipeline("p")
	cur := p2.Policies()
	if cur[0] != old[1] || cur[1] != old[2] || cur[2] != old[0] {
		t.Error("reordered policies were not kept")
	}
	if !cur[1].(*resilience.Chaos).Enabled() {
		t.Error("chaos was not enabled")
	}
}

func TestApplyClients(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	v1 := `
clients:
  flaky:
    base_url: ` + srv.URL + `
    rate_limiter: {rate: 1000}
    retry: {max_attempts: 2, backoff: {kind: constant, base: 1ms}}
    breaker: {enabled: false}
`
	live, err := Build(mustParse(t, v1), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.CloseIdleConnections()
	c, ok := live.Client("flaky")
	if !ok {
		t.Fatal("no client flaky")
	}
	call := func() int64 {
		t.Helper()
		before := hits.Load()
		resp, err := c.HTTPClient().Get(srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return hits.Load() - before
	}
	if n := call(); n != 2 {
		t.Fatalf("attempts = %d; want 2", n)
	}

	changes, err := live.Apply(mustParse(t, strings.Replace(v1, "rate: 1000", "rate: 500", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := changeLines(changes), []string{"clients.flaky.rate_limiter: updated: the tokens in the bucket are kept"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Apply = %q; want %q", got, want)
	}
	v2 := strings.Replace(strings.Replace(v1, "rate: 1000", "rate: 500", 1), "max_attempts: 2", "max_attempts: 3", 1)
	changes, err = live.Apply(mustParse(t, v2))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := changeLines(changes), []string{"clients.flaky: replaced: new transport; calls in flight finish with the old one; the breakers of its hosts start closed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Apply = %q; want %q", got, want)
	}
	if n := call(); n != 3 {
		t.Errorf("attempts after the reload = %d; want 3", n)
	}
	v3 := strings.Replace(v2, "base_url: "+srv.URL, "base_url: https://elsewhere.example", 1)
	changes, err = live.Apply(mustParse(t, v3+"  more:\n    base_url: https://more.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"clients.flaky.base_url: restart required: the base URL is kept until the next start", "clients.more: added"}
	if got := changeLines(changes); !reflect.DeepEqual(got, want) {
		t.Errorf("Apply = %q; want %q", got, want)
	}
	if u := c.JSON().BaseURL.String(); u != srv.URL {
		t.Errorf("base URL = %s; want it kept", u)
	}
	if _, ok := live.Client("more"); !ok {
		t.Error("the new client is missing")
	}
	if n := call(); n != 3 {
		t.Errorf("attempts = %d; want 3", n)
	}
}

func TestBuildFailsOnMissingSecret(t *testing.T) {
	t.Setenv("CONFIG_TEST_TOKEN", "x")
	cfg, err := parse(t, `
clients:
  a:
    base_url: https://a.example
    auth:
      oauth2: {token_url: "https://idp.example/t", client_id: a, client_secret: {env: CONFIG_TEST_TOKEN}}
`)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONFIG_TEST_TOKEN", "")
	if _, err := Build(cfg, BuildOptions{}); err == nil || !strings.Contains(err.Error(), `config: clients.a: auth: no secret in environment variable "CONFIG_TEST_TOKEN"`) {
		t.Errorf("Build = %v; want the missing secret", err)
	}
}
