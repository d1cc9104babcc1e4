package providers_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/internal/customers/providers"
)

// noRetries are pipeline options that show each answer as it is.
func noRetries() httpx.Options {
	o := fast()
	o.Retry.Disabled = true
	return o
}

func TestFaultsSwitchedAtRunTime(t *testing.T) {
	sim := startEmail(t, providers.EmailSimOptions{})
	cfg := sim.ClientConfig()
	cfg.HTTP = noRetries()
	c := emailClient(t, cfg)
	hc := rawClient(t)
	ctx := context.Background()
	n := 0
	send := func() error {
		n++
		_, err := c.Send(ctx, providers.Message{ID: "m" + string(rune('a'+n)), To: "ann@example.com", Template: "t"})
		return err
	}

	// From code.
	sim.SetOutage(true)
	err := send()
	if e := wantKind(t, err, providers.ErrUnavailable, false); e.StatusCode != 503 || e.Problem == nil || e.Problem.Type != providers.ProblemSimulated {
		t.Errorf("during an outage: %d %+v; want a 503 simulated-failure problem", e.StatusCode, e.Problem)
	}
	sim.SetOutage(false)
	if err := send(); err != nil {
		t.Errorf("after the outage: %v", err)
	}

	// Over HTTP.
	resp, body := do(t, hc, "PUT", sim.URL()+"/_sim/faults", nil, `{"fail_next": 1, "statuses": "500"}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"fail_next":1`) {
		t.Fatalf("PUT /_sim/faults: %d %s", resp.StatusCode, body)
	}
	if e := wantKind(t, send(), providers.ErrUnavailable, false); e.StatusCode != 500 {
		t.Errorf("after PUT fail_next 1: status %d, want 500", e.StatusCode)
	}
	if err := send(); err != nil {
		t.Errorf("after the one failure: %v", err)
	}
	if _, body := do(t, hc, "GET", sim.URL()+"/_sim/faults", nil, ""); !strings.Contains(body, `"fail_next":0`) {
		t.Errorf("GET /_sim/faults after the failure = %s, want fail_next 0", body)
	}
	if resp, _ := do(t, hc, "POST", sim.URL()+"/_sim/outage", nil, ""); resp.StatusCode != 200 || !sim.Faults().Outage {
		t.Errorf("POST /_sim/outage: %d, outage %v", resp.StatusCode, sim.Faults().Outage)
	}
	wantKind(t, send(), providers.ErrUnavailable, false)
	if resp, _ := do(t, hc, "DELETE", sim.URL()+"/_sim/outage", nil, ""); resp.StatusCode != 200 || sim.Faults().Outage {
		t.Errorf("DELETE /_sim/outage: %d, outage %v", resp.StatusCode, sim.Faults().Outage)
	}
	if err := send(); err != nil {
		t.Errorf("after DELETE /_sim/outage: %v", err)
	}

	for in, field := range map[string]string{`{"error_rate": 2}`: "faults.error_rate", `{"bogus": 1}`: "bogus", `{"latency": "fast"}`: "latency"} {
		resp, body := do(t, hc, "PUT", sim.URL()+"/_sim/faults", nil, in)
		if resp.StatusCode != 400 || !strings.Contains(body, field) {
			t.Errorf("PUT /_sim/faults %s: %d %s; want 400 naming %s", in, resp.StatusCode, body, field)
		}
	}
	if err := sim.SetFaults(providers.Faults{LostRate: 3}); err == nil {
		t.Error("SetFaults(LostRate 3) = nil, want an error")
	}
	if st := sim.Stats(); st.Messages != 3 || st.Outage != 2 || st.Injected != 1 || st.ByStatus[202] != 3 {
		t.Errorf("stats = %+v; want 3 messages, 2 failed by outages, 1 injected", st)
	}
}

func TestInjectedFailureAnswers(t *testing.T) {
	sim := startEmail(t, providers.EmailSimOptions{})
	hc := rawClient(t)
	url := sim.URL() + "/v1/messages"
	tests := []struct {
		faults     providers.Faults
		status     int
		retryAfter string
	}{
		{providers.Faults{FailNext: 1}, 503, "1"},
		{providers.Faults{FailNext: 1, RetryAfter: 1500 * time.Millisecond}, 503, "2"},
		{providers.Faults{FailNext: 1, RetryAfter: -1}, 503, ""},
		{providers.Faults{FailNext: 1, Statuses: mustMix(t, "429")}, 429, "1"},
		{providers.Faults{FailNext: 1, Statuses: mustMix(t, "500")}, 500, ""},
		{providers.Faults{Outage: true, RetryAfter: 5 * time.Second}, 503, "5"},
	}
	for _, tt := range tests {
		if err := sim.SetFaults(tt.faults); err != nil {
			t.Fatal(err)
		}
		resp, body := do(t, hc, "GET", url, nil, "")
		if resp.StatusCode != tt.status || resp.Header.Get("Retry-After") != tt.retryAfter ||
			resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, providers.ProblemSimulated) {
			t.Errorf("faults %+v: %d, Retry-After %q, %s; want %d, %q, a simulated-failure problem",
				tt.faults, resp.StatusCode, resp.Header.Get("Retry-After"), body, tt.status, tt.retryAfter)
		}
	}
}

func TestLatencyAndCancellation(t *testing.T) {
	sim := startEmail(t, providers.EmailSimOptions{Faults: providers.Faults{Latency: mustLatency(t, "30ms")}})
	hc := rawClient(t)
	url := sim.URL() + "/v1/messages"
	start := time.Now()
	if resp, _ := do(t, hc, "GET", url, nil, ""); resp.StatusCode != 401 {
		t.Errorf("GET = %d, want 401 (no key), after the delay", resp.StatusCode)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("answered after %s, want at least 30ms", d)
	}

	// A client that gives up during the delay: the request has no effect.
	if err := sim.SetFaults(providers.Faults{Latency: mustLatency(t, "10m")}); err != nil {
		t.Fatal(err)
	}
	cfg := sim.ClientConfig()
	cfg.HTTP = noRetries()
	c := emailClient(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Send(ctx, providers.Message{ID: "slow", To: "ann@example.com", Template: "t"})
	wantKind(t, err, providers.ErrUnavailable, false)
	eventually(t, "the canceled request to be counted", func() bool { return sim.Stats().Canceled == 1 })
	if st := sim.Stats(); st.Messages != 0 || st.InFlight != 0 {
		t.Errorf("stats = %+v, want no message, nothing in flight", st)
	}

	// Close cuts a delay short and waits for the request.
	done := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), providers.Message{ID: "slower", To: "ann@example.com", Template: "t"})
		done <- err
	}()
	eventually(t, "the request to be in flight", func() bool { return sim.Stats().InFlight == 1 })
	start = time.Now()
	if err := sim.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s with a request delayed by 10m", d)
	}
	<-done
}

func TestStatsCounters(t *testing.T) {
	sim := startInventory(t, providers.InventorySimOptions{})
	c := inventoryClient(t, sim.ClientConfig()) // retries: each failure is followed by a success
	hc := rawClient(t)
	ctx := context.Background()
	reserve := func(id string) {
		t.Helper()
		if _, err := c.Reserve(ctx, providers.Reservation{ID: id, OrderID: "S", ProductID: "p", Quantity: 1}); err != nil {
			t.Fatal(err)
		}
	}

	reserve("s1")                                         // 201
	must(t, sim.SetFaults(providers.Faults{FailNext: 1})) // 503, 201
	reserve("s2")
	must(t, sim.SetFaults(providers.Faults{LoseNext: 1})) // 503 (reserved), 200
	reserve("s3")
	sim.SetOutage(true) // 503
	do(t, hc, "GET", sim.URL()+"/v1/reservations", nil, "")
	sim.SetOutage(false)
	do(t, hc, "GET", sim.URL()+"/v1/reservations", nil, "") // 401: unsigned

	want := providers.Stats{
		Requests: 7,
		ByStatus: map[int]uint64{201: 2, 200: 1, 503: 3, 401: 1},
		Injected: 1,
		Lost:     1,
		Outage:   1,
	}
	st := sim.Stats()
	if !reflect.DeepEqual(st.Stats, want) {
		t.Errorf("Stats() = %+v, want %+v", st.Stats, want)
	}
	if st.Reservations != 3 || st.Repeats != 1 || sim.ReservationCount("S", "p") != 3 {
		t.Errorf("Stats() = %+v; want 3 reservations, 1 repeat", st)
	}
	_, body := do(t, hc, "GET", sim.URL()+"/_sim/stats", nil, "")
	var overHTTP providers.InventoryStats
	if err := json.Unmarshal([]byte(body), &overHTTP); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(overHTTP, st) {
		t.Errorf("GET /_sim/stats = %+v, want %+v", overHTTP, st)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The same seed draws the same faults for the same requests.
func TestSeededFaults(t *testing.T) {
	statuses := func(seed uint64) []int {
		sim := startEmail(t, providers.EmailSimOptions{Seed: seed, Faults: providers.Faults{ErrorRate: 0.5, Statuses: mustMix(t, "500:1,503:1")}})
		hc := rawClient(t)
		var out []int
		for range 24 {
			resp, _ := do(t, hc, "GET", sim.URL()+"/v1/messages", nil, "")
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b, other := statuses(42), statuses(42), statuses(43)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("seed 42 twice: %v and %v, want the same", a, b)
	}
	if reflect.DeepEqual(a, other) {
		t.Errorf("seeds 42 and 43 drew the same: %v", a)
	}
	seen := map[int]bool{}
	for _, s := range a {
		seen[s] = true
	}
	if !seen[401] || !seen[500] || !seen[503] {
		t.Errorf("statuses %v, want a mix of 401 (served), 500 and 503", a)
	}
}

func TestSimulatorLifecycle(t *testing.T) {
	sim, err := providers.NewPaymentSimulator(providers.PaymentSimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sim.URL() != "" || sim.ClientConfig().BaseURL != "" {
		t.Errorf("URL() before Start = %q, want empty", sim.URL())
	}
	if err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sim.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want a loopback address", sim.URL())
	}
	if err := sim.Start(""); !errors.Is(err, providers.ErrStarted) {
		t.Errorf("second Start() = %v, want ErrStarted", err)
	}
	if err := sim.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := sim.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if err := sim.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown() after Close = %v", err)
	}
	if err := sim.Start(""); !errors.Is(err, providers.ErrStarted) {
		t.Errorf("Start() after Close = %v, want ErrStarted", err)
	}
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/payments/x", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a request after Close = %d, want 503", rec.Code)
	}

	// Served by another server, and shut down gracefully.
	email, err := providers.NewEmailSimulator(providers.EmailSimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(email)
	defer srv.Close()
	cfg := email.ClientConfig()
	cfg.BaseURL = srv.URL
	c := emailClient(t, cfg)
	if _, err := c.Send(context.Background(), providers.Message{ID: "h", To: "ann@example.com", Template: "t"}); err != nil {
		t.Errorf("Send through an httptest.Server: %v", err)
	}
	if err := email.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
	c.Close()
}

func TestConstructorErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"payment client without BaseURL", second(providers.NewPaymentClient(providers.PaymentClientConfig{})), "PaymentClientConfig.BaseURL"},
		{"payment client without secret", second(providers.NewPaymentClient(providers.PaymentClientConfig{BaseURL: "http://x", ClientID: "c"})), "ClientSecret"},
		{"payment client with a bad URL", second(providers.NewPaymentClient(providers.PaymentClientConfig{BaseURL: "x", ClientID: "c", ClientSecret: secret("s")})), "TokenURL"},
		{"inventory client without key", second(providers.NewInventoryClient(providers.InventoryClientConfig{BaseURL: "http://x", KeyID: "k"})), "HMACSignerConfig.Key"},
		{"email client without key", second(providers.NewEmailClient(providers.EmailClientConfig{BaseURL: "http://x"})), "EmailClientConfig.APIKey"},
		{"email client with bad options", second(providers.NewEmailClient(providers.EmailClientConfig{BaseURL: "http://x", APIKey: secret("k"),
			HTTP: httpx.Options{AttemptTimeout: time.Minute}})), "Options.AttemptTimeout"},
		{"payment sim with negative TTL", second(providers.NewPaymentSimulator(providers.PaymentSimOptions{TokenTTL: -1})), "PaymentSimOptions.TokenTTL"},
		{"inventory sim with negative stock", second(providers.NewInventorySimulator(providers.InventorySimOptions{Stock: map[string]int{"p": -1}})), `Stock["p"]`},
		{"inventory sim with a short key", second(providers.NewInventorySimulator(providers.InventorySimOptions{Key: secret("short")})), "shorter than 32"},
		{"email sim with bad faults", second(providers.NewEmailSimulator(providers.EmailSimOptions{Faults: providers.Faults{ErrorRate: -1}})), "faults.error_rate"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one naming %s", tt.name, tt.err, tt.want)
		}
	}
}
