package providers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/internal/customers/providers"
)

func TestPaymentClientHappyPath(t *testing.T) {
	sim := startPayments(t, providers.PaymentSimOptions{Seed: 1})
	c := paymentClient(t, sim.ClientConfig())
	ctx := context.Background()

	pay, err := c.ProcessPayment(ctx, providers.PaymentRequest{OrderID: "A-1", AmountMinor: 1999, Currency: "EUR", CustomerID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	if pay.ID != "pay_000001" || pay.Status != providers.PaymentSucceeded || pay.AmountMinor != 1999 ||
		pay.Currency != "EUR" || pay.OrderID != "A-1" || pay.CustomerID != "c-1" || pay.CreatedAt.IsZero() {
		t.Errorf("ProcessPayment = %+v, want pay_000001 succeeded 1999 EUR for A-1/c-1", pay)
	}

	got, err := c.GetPaymentStatus(ctx, pay.ID)
	if err != nil || got != pay {
		t.Errorf("GetPaymentStatus(%s) = %+v, %v; want %+v, nil", pay.ID, got, err, pay)
	}

	ref, err := c.RefundPayment(ctx, providers.RefundRequest{PaymentID: pay.ID, AmountMinor: 500, Key: "refund-A-1"})
	if err != nil || ref.ID != "re_000001" || ref.AmountMinor != 500 || ref.PaymentID != pay.ID || ref.Status != "succeeded" {
		t.Fatalf("RefundPayment = %+v, %v; want re_000001 of 500", ref, err)
	}
	again, err := c.RefundPayment(ctx, providers.RefundRequest{PaymentID: pay.ID, AmountMinor: 500, Key: "refund-A-1"})
	if err != nil || again != ref {
		t.Errorf("RefundPayment again with the same key = %+v, %v; want %+v (replayed)", again, err, ref)
	}
	if got, _ := c.GetPaymentStatus(ctx, pay.ID); got.RefundedMinor != 500 {
		t.Errorf("RefundedMinor after a refund asked twice = %d, want 500", got.RefundedMinor)
	}

	_, err = c.RefundPayment(ctx, providers.RefundRequest{PaymentID: pay.ID, AmountMinor: 2000})
	e := wantKind(t, err, providers.ErrInvalidRequest, true)
	if e.StatusCode != http.StatusUnprocessableEntity || !hasField(e.Fields, "amount_minor") {
		t.Errorf("refund of too much: status %d, fields %v; want 422 naming amount_minor", e.StatusCode, e.Fields)
	}

	_, err = c.GetPaymentStatus(ctx, "pay_404")
	e = wantKind(t, err, providers.ErrPaymentNotFound, true)
	if e.StatusCode != http.StatusNotFound || e.ID != "pay_404" || e.Op != "GetPaymentStatus" {
		t.Errorf("GetPaymentStatus(pay_404) error = %+v, want 404 for pay_404", e)
	}
	_, err = c.RefundPayment(ctx, providers.RefundRequest{PaymentID: "pay_404", AmountMinor: 1})
	wantKind(t, err, providers.ErrPaymentNotFound, true)
	_, err = c.GetPaymentStatus(ctx, "")
	wantKind(t, err, providers.ErrInvalidRequest, true)

	st := sim.Stats()
	if st.TokensIssued != 1 || st.Payments != 1 || st.Refunds != 1 || st.Replays != 1 || sim.Charges("A-1") != 1 {
		t.Errorf("stats = %+v; want 1 token, 1 payment, 1 refund, 1 replay, 1 charge for A-1", st)
	}
	want := map[int]uint64{201: 3, 200: 2, 422: 1, 404: 2}
	for code, n := range want {
		if st.ByStatus[code] != n {
			t.Errorf("ByStatus[%d] = %d, want %d (all: %v)", code, st.ByStatus[code], n, st.ByStatus)
		}
	}
	if st.Requests != 8 {
		t.Errorf("Requests = %d, want 8", st.Requests)
	}
}

func TestPaymentDeclined(t *testing.T) {
	sim := startPayments(t, providers.PaymentSimOptions{DeclineAbove: 10_000})
	c := paymentClient(t, sim.ClientConfig())
	ctx := context.Background()

	pay, err := c.ProcessPayment(ctx, providers.PaymentRequest{OrderID: "big", AmountMinor: 20_000, Currency: "USD"})
	if err != nil || pay.Status != providers.PaymentDeclined {
		t.Fatalf("ProcessPayment(20000 above 10000) = %+v, %v; want declined, nil", pay, err)
	}
	_, err = c.RefundPayment(ctx, providers.RefundRequest{PaymentID: pay.ID, AmountMinor: 1})
	if e := wantKind(t, err, providers.ErrConflict, true); e.StatusCode != http.StatusConflict {
		t.Errorf("refund of a declined payment: status %d, want 409", e.StatusCode)
	}
	if st := sim.Stats(); st.Declined != 1 || st.Payments != 1 || sim.Charges("big") != 1 {
		t.Errorf("stats = %+v, want 1 payment, declined", st)
	}
}

func TestPaymentValidation(t *testing.T) {
	sim := startPayments(t, providers.PaymentSimOptions{})
	c := paymentClient(t, sim.ClientConfig())
	ctx := context.Background()

	tests := []struct {
		name  string
		req   providers.PaymentRequest
		field string
	}{
		{"missing order_id", providers.PaymentRequest{AmountMinor: 100, Currency: "EUR"}, "order_id"},
		{"zero amount", providers.PaymentRequest{OrderID: "V-1", Currency: "EUR"}, "amount_minor"},
		{"negative amount", providers.PaymentRequest{OrderID: "V-2", AmountMinor: -5, Currency: "EUR"}, "amount_minor"},
		{"unknown currency", providers.PaymentRequest{OrderID: "V-3", AmountMinor: 100, Currency: "EURO"}, "currency"},
		{"lower-case currency", providers.PaymentRequest{OrderID: "V-4", AmountMinor: 100, Currency: "eur"}, "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ProcessPayment(ctx, tt.req)
			e := wantKind(t, err, providers.ErrInvalidRequest, true)
			if e.StatusCode != http.StatusUnprocessableEntity || !hasField(e.Fields, tt.field) {
				t.Errorf("ProcessPayment(%+v): status %d, fields %v; want 422 naming %s", tt.req, e.StatusCode, e.Fields, tt.field)
			}
			if e.Problem == nil || e.Problem.Type != providers.ProblemValidation {
				t.Errorf("problem = %+v, want type %s", e.Problem, providers.ProblemValidation)
			}
		})
	}
	st := sim.Stats()
	if st.Payments != 0 || st.ByStatus[422] != uint64(len(tests)) {
		t.Errorf("after invalid requests: %d payments, %d answers 422; want 0 and %d (not retried)", st.Payments, st.ByStatus[422], len(tests))
	}
	// A refused request is not stored under its key: the order can still be paid.
	if _, err := c.ProcessPayment(ctx, providers.PaymentRequest{OrderID: "V-2", AmountMinor: 5, Currency: "EUR"}); err != nil {
		t.Errorf("ProcessPayment(V-2) after a refused attempt: %v", err)
	}
}

func TestPaymentIdempotency(t *testing.T) {
	sim := startPayments(t, providers.PaymentSimOptions{Seed: 7})
	c := paymentClient(t, sim.ClientConfig())
	ctx := context.Background()
	req := providers.PaymentRequest{OrderID: "A-2", AmountMinor: 1500, Currency: "EUR", CustomerID: "c-2"}

	// The provider charges, but its answer is lost: the client sees a 503 with
	// Retry-After, retries with the same key, and gets the same payment.
	if err := sim.SetFaults(providers.Faults{LoseNext: 1}); err != nil {
		t.Fatal(err)
	}
	pay, err := c.ProcessPayment(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	st := sim.Stats()
	if n := sim.Charges("A-2"); n != 1 || st.Lost != 1 || st.Replays != 1 || st.ByStatus[503] != 1 {
		t.Errorf("after a lost answer: %d charges, %d lost, %d replays, %d answers 503; want 1 each", n, st.Lost, st.Replays, st.ByStatus[503])
	}

	// Failures before the request took effect: retried too.
	if err := sim.SetFaults(providers.Faults{FailNext: 2, Statuses: mustMix(t, "500:1,503:1")}); err != nil {
		t.Fatal(err)
	}
	other, err := c.ProcessPayment(ctx, providers.PaymentRequest{OrderID: "A-3", AmountMinor: 100, Currency: "EUR"})
	if err != nil || sim.Charges("A-3") != 1 || sim.Stats().Injected != 2 {
		t.Errorf("after 2 injected failures: %+v, %v, %d charges, %d injected; want success, 1, 2", other, err, sim.Charges("A-3"), sim.Stats().Injected)
	}

	// The caller asks again, after a crash: same payment, no second charge.
	again, err := c.ProcessPayment(ctx, req)
	if err != nil || again != pay {
		t.Errorf("ProcessPayment again = %+v, %v; want %+v", again, err, pay)
	}

	// Same key, different body: refused, permanently.
	changed := req
	changed.AmountMinor = 2500
	_, err = c.ProcessPayment(ctx, changed)
	if e := wantKind(t, err, providers.ErrIdempotencyKeyReused, true); e.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("same key, other body: status %d, want 422", e.StatusCode)
	}
	if n, st := sim.Charges("A-2"), sim.Stats(); n != 1 || st.KeyReuses != 1 || st.Replays != 2 {
		t.Errorf("at the end: %d charges for A-2, %d key reuses, %d replays; want 1, 1, 2", n, st.KeyReuses, st.Replays)
	}
}

// Under a steady mix of failures, lost answers included, every order is charged
// exactly once.
func TestPaymentExactlyOnceUnderFaults(t *testing.T) {
	sim := startPayments(t, providers.PaymentSimOptions{Seed: 3, Faults: providers.Faults{
		ErrorRate: 0.25, LostRate: 0.25, Statuses: mustMix(t, "503:2,500:1,429:1"), Latency: mustLatency(t, "uniform:0-2ms"),
	}})
	cfg := sim.ClientConfig()
	cfg.HTTP = fast()
	cfg.HTTP.Retry.MaxRetries = 12
	c := paymentClient(t, cfg)

	const orders = 20
	errs := make(chan error, orders)
	for i := range orders {
		go func() {
			_, err := c.ProcessPayment(context.Background(), providers.PaymentRequest{
				OrderID: "O-" + string(rune('a'+i)), AmountMinor: int64(100 + i), Currency: "EUR"})
			errs <- err
		}()
	}
	for range orders {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	st := sim.Stats()
	if len(st.ChargesByOrder) != orders || st.Payments != orders {
		t.Errorf("%d orders charged, %d payments; want %d", len(st.ChargesByOrder), st.Payments, orders)
	}
	for id, n := range st.ChargesByOrder {
		if n != 1 {
			t.Errorf("order %s charged %d times, want 1", id, n)
		}
	}
	if st.Lost == 0 || st.Injected == 0 || st.Replays != int(st.Lost) {
		t.Errorf("lost %d, injected %d, replays %d: want some of each, replays = lost", st.Lost, st.Injected, st.Replays)
	}
}

func TestPaymentWrongSecret(t *testing.T) {
	var logs logBuffer
	sim := startPayments(t, providers.PaymentSimOptions{ClientSecret: auth.NewSecret("the-right-secret-4711")})
	cfg := sim.ClientConfig()
	cfg.ClientSecret = auth.NewSecret("a-wrong-secret-0815")
	cfg.Logger = debugLogger(&logs)
	c := paymentClient(t, cfg)

	_, err := c.ProcessPayment(context.Background(), providers.PaymentRequest{OrderID: "A-9", AmountMinor: 1, Currency: "EUR"})
	e := wantKind(t, err, providers.ErrUnauthorized, true)
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("error %q does not say invalid_client", err)
	}
	for _, secret := range []string{"a-wrong-secret-0815", "the-right-secret-4711"} {
		if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("secret %q in the error or the logs:\n%v\n%s", secret, err, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "http attempt") {
		t.Errorf("no attempt logged:\n%s", logs.String())
	}
	st := sim.Stats()
	if st.Requests != 0 || st.TokensIssued != 0 || st.TokensRefused == 0 || st.TokensRefused > 2 {
		// x/oauth2 tries HTTP Basic, then form parameters: at most 2 refusals, no retry.
		t.Errorf("stats = %+v; want no API request, no token, 1 or 2 refusals", st)
	}
	t.Logf("error: %v (status %d)", err, e.StatusCode)
}

func TestPaymentClientRenewsRejectedToken(t *testing.T) {
	sim := startPayments(t, providers.PaymentSimOptions{})
	c := paymentClient(t, sim.ClientConfig())
	ctx := context.Background()
	if _, err := c.ProcessPayment(ctx, providers.PaymentRequest{OrderID: "K-1", AmountMinor: 1, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	if err := sim.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ProcessPayment(ctx, providers.PaymentRequest{OrderID: "K-2", AmountMinor: 1, Currency: "EUR"}); err != nil {
		t.Fatalf("after a key rotation: %v", err)
	}
	if st := sim.Stats(); st.TokensIssued != 2 || st.ByStatus[401] != 1 || st.Payments != 2 {
		t.Errorf("stats = %+v; want 2 tokens, one 401, 2 payments", st)
	}
}

// The API's contract on the wire.
func TestPaymentSimulatorHTTP(t *testing.T) {
	sim := startPayments(t, providers.PaymentSimOptions{})
	hc := rawClient(t)
	cfg := sim.ClientConfig()
	tokenURL := sim.URL() + "/oauth/token"
	form := func(v url.Values) http.Header {
		return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	}

	// Token endpoint.
	resp, body := do(t, hc, "POST", tokenURL, form(nil), url.Values{"grant_type": {"client_credentials"},
		"client_id": {cfg.ClientID}, "client_secret": {"nope"}}.Encode())
	if resp.StatusCode != 401 || !strings.Contains(body, `"invalid_client"`) {
		t.Errorf("token with a wrong secret: %d %s; want 401 invalid_client", resp.StatusCode, body)
	}
	resp, body = do(t, hc, "POST", tokenURL, form(nil), url.Values{"grant_type": {"password"},
		"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret.(auth.Secret).Reveal()}}.Encode())
	if resp.StatusCode != 400 || !strings.Contains(body, `"unsupported_grant_type"`) {
		t.Errorf("token with grant_type=password: %d %s; want 400 unsupported_grant_type", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("POST", tokenURL, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cfg.ClientID, cfg.ClientSecret.(auth.Secret).Reveal())
	tresp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(tresp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	tresp.Body.Close()
	if tresp.StatusCode != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || tok.Scope != "payments" || strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("token (Basic) = %d %+v; want 200, a Bearer JWT for 3600s with scope payments", tresp.StatusCode, tok)
	}

	// API.
	payURL := sim.URL() + "/v1/payments"
	payment := `{"order_id":"W-1","amount_minor":700,"currency":"EUR","customer_id":"c"}`
	resp, _ = do(t, hc, "POST", payURL, http.Header{"Idempotency-Key": {"W-1"}}, payment)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("POST without a token: %d, WWW-Authenticate %q; want 401 Bearer", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	bearer := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
	resp, body = do(t, hc, "POST", payURL, bearer, payment)
	if resp.StatusCode != 400 || !strings.Contains(body, "Idempotency-Key") || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST without Idempotency-Key: %d %s; want a 400 problem naming the header", resp.StatusCode, body)
	}
	withKey := http.Header{"Authorization": bearer["Authorization"], "Idempotency-Key": {"W-1"}}
	first, firstBody := do(t, hc, "POST", payURL, withKey, payment)
	second, secondBody := do(t, hc, "POST", payURL, withKey, payment)
	if first.StatusCode != 201 || second.StatusCode != 201 || firstBody != secondBody ||
		first.Header.Get("Idempotent-Replayed") != "" || second.Header.Get("Idempotent-Replayed") != "true" ||
		first.Header.Get("Location") != "/v1/payments/pay_000001" {
		t.Errorf("POST twice with a key: %d %q %s / %d %q %s; want 201 twice, the same body, replayed the second time",
			first.StatusCode, first.Header.Get("Idempotent-Replayed"), firstBody, second.StatusCode, second.Header.Get("Idempotent-Replayed"), secondBody)
	}
	resp, body = do(t, hc, "POST", payURL, withKey, strings.Replace(payment, "700", "701", 1))
	if resp.StatusCode != 422 || !strings.Contains(body, providers.ProblemIdempotencyKeyReused) {
		t.Errorf("same key, other body: %d %s; want 422 %s", resp.StatusCode, body, providers.ProblemIdempotencyKeyReused)
	}
	resp, body = do(t, hc, "GET", payURL+"/pay_000009", bearer, "")
	if resp.StatusCode != 404 || !strings.Contains(body, providers.ProblemNotFound) {
		t.Errorf("GET unknown payment: %d %s; want a 404 problem", resp.StatusCode, body)
	}

	// A token signed with a key the provider no longer has.
	if err := sim.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, hc, "GET", payURL+"/pay_000001", bearer, "")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("GET with a token of a rotated key: %d %s; want 401 invalid_token", resp.StatusCode, body)
	}

	// Stats, from code and over HTTP.
	resp, body = do(t, hc, "GET", sim.URL()+"/_sim/stats", nil, "")
	var st providers.PaymentStats
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /_sim/stats: %d %s: %v", resp.StatusCode, body, err)
	}
	fromCode := sim.Stats()
	if st.Payments != 1 || st.Replays != 1 || st.KeyReuses != 1 || st.TokensIssued != 1 || st.TokensRefused != 2 ||
		st.ChargesByOrder["W-1"] != 1 || st.Requests != fromCode.Requests || st.ByStatus[401] != 2 {
		t.Errorf("GET /_sim/stats = %+v; want 1 payment, 1 replay, 1 key reuse, 1 token, 2 refusals, two 401 (code says %+v)", st, fromCode)
	}
}
