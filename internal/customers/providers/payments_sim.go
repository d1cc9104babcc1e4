package providers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rampart-go/rampart/auth"
)

// The payment simulator's token contract.
const (
	// PaymentsIssuer is the "iss" of the simulator's access tokens.
	PaymentsIssuer = "rampart-payments-sim"
	// PaymentsAudience is their "aud".
	PaymentsAudience = "payments-api"
	// PaymentsScope is the scope the API requires, granted when a token request
	// asks for none.
	PaymentsScope = "payments"
)

// DefaultCurrencies are the currencies the payment simulator accepts when
// PaymentSimOptions.Currencies is nil. Read it, never modify it.
var DefaultCurrencies = []string{"AUD", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "JPY", "NOK", "PLN", "SEK", "USD"}

// PaymentSimOptions configure a [PaymentSimulator]. The zero value is a usable
// simulator with random credentials.
type PaymentSimOptions struct {
	// ClientID is the OAuth2 client the token endpoint accepts. Empty means
	// "customers".
	ClientID string
	// ClientSecret is that client's secret. Zero means a random one; read it with
	// [PaymentSimulator.ClientConfig].
	ClientSecret auth.Secret
	// TokenTTL is the lifetime of the access tokens. Zero means 1h.
	TokenTTL time.Duration
	// SigningKey signs the access tokens (ES256). Nil means a new random key.
	SigningKey *ecdsa.PrivateKey
	// Currencies are the ISO 4217 codes accepted. Nil means [DefaultCurrencies].
	Currencies []string
	// DeclineAbove declines the payments of more than this many minor units. Zero
	// declines none.
	DeclineAbove int64
	// Faults are injected from the start; see [Faults].
	Faults Faults
	// Seed seeds the draws of the faults. Zero means a random seed.
	Seed uint64
	// Logger records changes of the faults, the requests refused for their token
	// (at Info, by auth's verifier: never the token), and, at Debug, each injected
	// failure and refused token request. Nil logs nothing.
	Logger *slog.Logger
}

// PaymentStats are what a [PaymentSimulator] has done.
type PaymentStats struct {
	Stats
	// TokensIssued and TokensRefused count the answers of the token endpoint.
	TokensIssued  uint64 `json:"tokens_issued"`
	TokensRefused uint64 `json:"tokens_refused"`
	// Payments counts the payments made (succeeded or declined); Declined those
	// declined.
	Payments int `json:"payments"`
	Declined int `json:"declined"`
	// Replays counts the answers replayed for a repeated Idempotency-Key.
	Replays int `json:"replays"`
	// KeyReuses counts the requests refused because their Idempotency-Key had
	// been used with another request.
	KeyReuses int `json:"key_reuses"`
	// Refunds counts the refunds made.
	Refunds int `json:"refunds"`
	// ChargesByOrder counts the payments made per order ID: exactly one per order
	// is what a correct client achieves, whatever the faults.
	ChargesByOrder map[string]int `json:"charges_by_order"`
}

// PaymentSimulator simulates a payment provider: an OAuth2 token endpoint and a
// payments API that requires its bearer tokens and honours idempotency keys.
//
//	POST /oauth/token                 client credentials grant (HTTP Basic or form
//	                                  parameters) → {access_token, token_type,
//	                                  expires_in, scope}; the token is an ES256 JWT
//	POST /v1/payments                 {order_id, amount_minor, currency,
//	                                  customer_id} → 201 Payment
//	GET  /v1/payments/{id}            → 200 Payment, or 404
//	POST /v1/payments/{id}/refunds    {amount_minor} → 201 Refund
//
// The API answers 401 without a valid token (wrong signature, issuer, audience,
// expired) and 403 without the "payments" scope. Each POST requires an
// Idempotency-Key header (400 without one): the first request with a key that
// takes effect is stored with its answer, and a request with the same key and
// the same method, path and body gets that answer again, with the header
// "Idempotent-Replayed: true"; with a different request, 422
// [ProblemIdempotencyKeyReused]. Invalid input is answered 422
// [ProblemValidation] listing the fields (missing order_id, amount_minor ≤ 0, a
// currency not accepted), before anything is stored.
//
// Faults are injected into the /v1/ routes, never into the token endpoint. The
// control endpoint (/_sim/, no authentication: serve on loopback only) has
//
//	GET  /_sim/stats       PaymentStats as JSON
//	GET  /_sim/faults      the faults in force, in the JSON form of Faults
//	PUT  /_sim/faults      replace them; 400 names the invalid field
//	POST /_sim/outage      start an outage; DELETE /_sim/outage ends it
//
// A PaymentSimulator is an [http.Handler]; Start serves it on a port of its own.
// It is safe for concurrent use.
type PaymentSimulator struct {
	simulator
	clientID     string
	secret       auth.Secret
	ttl          time.Duration
	currencies   map[string]bool
	declineAbove int64

	keyMu    sync.Mutex // serialises key rotations
	signer   atomic.Pointer[signingKey]
	verifier atomic.Pointer[auth.JWTVerifier]

	tokensIssued, tokensRefused atomic.Uint64

	mu       sync.Mutex
	payments map[string]*Payment
	order    []*Payment
	keys     map[string]*storedAnswer
	charges  map[string]int

	// counters, under mu
	declined, replays, keyReuses, refunds int
}

// signingKey is the key tokens are signed with, and its ID.
type signingKey struct {
	key *ecdsa.PrivateKey
	kid string
}

// storedAnswer is the answer stored under an idempotency key.
type storedAnswer struct {
	fingerprint [32]byte // of the request: method, path and canonical body
	status      int
	location    string
	body        any
}

// NewPaymentSimulator returns a payment simulator for opts, or an error naming
// the option that is invalid. It does not listen until Start.
func NewPaymentSimulator(opts PaymentSimOptions) (*PaymentSimulator, error) {
	s := &PaymentSimulator{
		clientID:     cmpOr(opts.ClientID, "customers"),
		secret:       opts.ClientSecret,
		ttl:          cmpOr(opts.TokenTTL, time.Hour),
		declineAbove: opts.DeclineAbove,
		currencies:   map[string]bool{},
		payments:     map[string]*Payment{},
		keys:         map[string]*storedAnswer{},
		charges:      map[string]int{},
	}
	switch {
	case opts.TokenTTL < 0:
		return nil, fmt.Errorf("providers: PaymentSimOptions.TokenTTL: must not be negative, got %s", opts.TokenTTL)
	case opts.DeclineAbove < 0:
		return nil, fmt.Errorf("providers: PaymentSimOptions.DeclineAbove: must not be negative, got %d", opts.DeclineAbove)
	case opts.SigningKey != nil && opts.SigningKey.Curve != elliptic.P256():
		return nil, fmt.Errorf("providers: PaymentSimOptions.SigningKey: must be a P-256 key (ES256)")
	}
	if s.secret.IsZero() {
		s.secret = auth.NewSecret("sim_" + rand.Text())
	}
	currencies := opts.Currencies
	if currencies == nil {
		currencies = DefaultCurrencies
	}
	for _, c := range currencies {
		s.currencies[c] = true
	}
	if err := s.installKey(opts.SigningKey, opts.Logger); err != nil {
		return nil, err
	}
	if err := s.init("payments", opts.Faults, opts.Seed, opts.Logger, func() any { return s.Stats() }); err != nil {
		return nil, err
	}
	s.unfaulted["/oauth/token"] = true
	s.api.HandleFunc("POST /oauth/token", s.token)
	s.api.Handle("POST /v1/payments", s.authenticated(s.createPayment))
	s.api.Handle("GET /v1/payments/{id}", s.authenticated(s.getPayment))
	s.api.Handle("POST /v1/payments/{id}/refunds", s.authenticated(s.createRefund))
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// installKey makes key (a new one when nil) the signing key, and the only one the
// API accepts.
func (s *PaymentSimulator) installKey(key *ecdsa.PrivateKey, logger *slog.Logger) error {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return fmt.Errorf("providers: payments simulator: generating a signing key: %w", err)
		}
	}
	sk := &signingKey{key: key, kid: "sim-" + rand.Text()[:8]}
	v, err := auth.NewJWTVerifier(auth.JWTConfig{
		Keys:           auth.StaticKeys{sk.kid: {Algorithm: "ES256", Key: &key.PublicKey}},
		Issuer:         PaymentsIssuer,
		Audience:       PaymentsAudience,
		Algorithms:     []string{"ES256"},
		RequiredScopes: []string{PaymentsScope},
		Realm:          "payments",
		Logger:         logger,
	})
	if err != nil {
		return fmt.Errorf("providers: payments simulator: %w", err)
	}
	s.signer.Store(sk)
	s.verifier.Store(v)
	return nil
}

// RotateSigningKey replaces the key that signs and verifies access tokens with a
// new one: every token issued so far is refused from now on (401), as after a
// key rotation at a real provider, until the client fetches a new one.
func (s *PaymentSimulator) RotateSigningKey() error {
	return s.installKey(nil, s.logger)
}

// ClientConfig returns the configuration of a [PaymentClient] of this simulator:
// its URL (empty before Start) and the client credentials it accepts.
func (s *PaymentSimulator) ClientConfig() PaymentClientConfig {
	return PaymentClientConfig{BaseURL: s.URL(), ClientID: s.clientID, ClientSecret: s.secret}
}

// Stats returns what the simulator has done so far.
func (s *PaymentSimulator) Stats() PaymentStats {
	st := PaymentStats{Stats: s.stats(), TokensIssued: s.tokensIssued.Load(), TokensRefused: s.tokensRefused.Load()}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Payments, st.Declined, st.Replays, st.KeyReuses, st.Refunds = len(s.order), s.declined, s.replays, s.keyReuses, s.refunds
	st.ChargesByOrder = maps.Clone(s.charges)
	return st
}

// Charges returns how many payments were made for an order.
func (s *PaymentSimulator) Charges(orderID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.charges[orderID]
}

// Payments returns the payments made, oldest first.
func (s *PaymentSimulator) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Payment, len(s.order))
	for i, p := range s.order {
		out[i] = *p
	}
	return out
}

// token serves the client credentials grant (RFC 6749 §4.4).
func (s *PaymentSimulator) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		s.tokenError(w, http.StatusBadRequest, "invalid_request", "the body is not a form", false)
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if !s.validClient(id, secret) {
		s.logger.Debug("providers: token refused", "client_id", id)
		s.tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed", basic)
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		s.tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported", false)
		return
	}
	for _, sc := range strings.Fields(r.PostForm.Get("scope")) {
		if sc != PaymentsScope {
			s.tokenError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("unknown scope %q", sc), false)
			return
		}
	}
	now := time.Now()
	sk := s.signer.Load()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss":   PaymentsIssuer,
		"sub":   id,
		"aud":   PaymentsAudience,
		"iat":   now.Unix(),
		"exp":   now.Add(s.ttl).Unix(),
		"jti":   rand.Text(),
		"scope": PaymentsScope,
	})
	tok.Header["kid"] = sk.kid
	signed, err := tok.SignedString(sk.key)
	if err != nil {
		s.tokenError(w, http.StatusInternalServerError, "server_error", "cannot sign the token", false)
		return
	}
	s.tokensIssued.Add(1)
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": signed,
		"token_type":   "Bearer",
		"expires_in":   max(int64(s.ttl/time.Second), 1),
		"scope":        PaymentsScope,
	})
}

// validClient compares the client's credentials in constant time.
func (s *PaymentSimulator) validClient(id, secret string) bool {
	a, b := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(s.secret.Reveal()))
	return subtle.ConstantTimeCompare(a[:], b[:])&subtle.ConstantTimeCompare([]byte(id), []byte(s.clientID)) == 1
}

// tokenError answers an RFC 6749 §5.2 error.
func (s *PaymentSimulator) tokenError(w http.ResponseWriter, status int, code, desc string, basic bool) {
	s.tokensRefused.Add(1)
	if basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="payments"`)
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// authenticated requires a valid access token.
func (s *PaymentSimulator) authenticated(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.verifier.Load().Middleware(h).ServeHTTP(w, r)
	})
}

// fingerprint identifies a request: its method, path and canonical body.
func fingerprint(r *http.Request, body any) [32]byte {
	data, _ := json.Marshal(body)
	return sha256.Sum256(fmt.Appendf(nil, "%s %s\n%s", r.Method, r.URL.EscapedPath(), data))
}

// idempotencyKey returns the request's Idempotency-Key, or answers 400.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.Header.Get("Idempotency-Key")
	switch {
	case key == "":
		writeProblem(w, r, http.StatusBadRequest, ProblemValidation, "an Idempotency-Key header is required",
			map[string]any{"errors": []FieldError{{Field: "Idempotency-Key", Detail: "required on POST"}}})
		return "", false
	case len(key) > 255:
		writeProblem(w, r, http.StatusBadRequest, ProblemValidation, "the Idempotency-Key is too long",
			map[string]any{"errors": []FieldError{{Field: "Idempotency-Key", Detail: "at most 255 characters"}}})
		return "", false
	}
	return key, true
}

// replayOrRefuse answers a request whose key is known: the stored answer, or 422
// if the request differs. s.mu must be held; it is released.
func (s *PaymentSimulator) replayOrRefuse(w http.ResponseWriter, r *http.Request, a *storedAnswer, fp [32]byte) {
	if a.fingerprint != fp {
		s.keyReuses++
		s.mu.Unlock()
		writeProblem(w, r, http.StatusUnprocessableEntity, ProblemIdempotencyKeyReused,
			"this Idempotency-Key was used with another request",
			map[string]any{"errors": []FieldError{{Field: "Idempotency-Key", Detail: "used with another request"}}})
		return
	}
	s.replays++
	s.mu.Unlock()
	w.Header().Set("Idempotent-Replayed", "true")
	a.write(w)
}

func (a *storedAnswer) write(w http.ResponseWriter) {
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	writeJSON(w, a.status, a.body)
}

func (s *PaymentSimulator) createPayment(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req PaymentRequest
	if !decodeBody(w, r, &req) {
		return
	}
	fp := fingerprint(r, req)
	s.mu.Lock()
	if a, ok := s.keys[key]; ok {
		s.replayOrRefuse(w, r, a, fp)
		return
	}
	if errs := s.validatePayment(req); len(errs) > 0 {
		s.mu.Unlock()
		writeValidation(w, r, errs)
		return
	}
	p := &Payment{
		ID:          fmt.Sprintf("pay_%06d", len(s.order)+1),
		OrderID:     req.OrderID,
		CustomerID:  req.CustomerID,
		Status:      PaymentSucceeded,
		AmountMinor: req.AmountMinor,
		Currency:    req.Currency,
		CreatedAt:   time.Now().UTC().Truncate(time.Millisecond),
	}
	if s.declineAbove > 0 && req.AmountMinor > s.declineAbove {
		p.Status = PaymentDeclined
		s.declined++
	}
	s.payments[p.ID] = p
	s.order = append(s.order, p)
	s.charges[p.OrderID]++
	a := &storedAnswer{fingerprint: fp, status: http.StatusCreated, location: "/v1/payments/" + p.ID, body: *p}
	s.keys[key] = a
	s.mu.Unlock()
	a.write(w)
}

// validatePayment lists what is wrong with req.
func (s *PaymentSimulator) validatePayment(req PaymentRequest) []FieldError {
	var errs []FieldError
	switch {
	case req.OrderID == "":
		errs = append(errs, FieldError{"order_id", "required"})
	case len(req.OrderID) > 128:
		errs = append(errs, FieldError{"order_id", "at most 128 characters"})
	}
	if req.AmountMinor <= 0 {
		errs = append(errs, FieldError{"amount_minor", "must be above zero"})
	}
	if !s.currencies[req.Currency] {
		errs = append(errs, FieldError{"currency", fmt.Sprintf("%q is not an ISO 4217 code this provider accepts (%s)",
			req.Currency, strings.Join(slices.Sorted(maps.Keys(s.currencies)), ", "))})
	}
	return errs
}

func (s *PaymentSimulator) getPayment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.payments[r.PathValue("id")]
	var pay Payment
	if ok {
		pay = *p
	}
	s.mu.Unlock()
	if !ok {
		writeProblem(w, r, http.StatusNotFound, ProblemNotFound, "no such payment", nil)
		return
	}
	writeJSON(w, http.StatusOK, pay)
}

// refundBody is the body of a refund request.
type refundBody struct {
	AmountMinor int64 `json:"amount_minor"`
}

func (s *PaymentSimulator) createRefund(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var req refundBody
	if !decodeBody(w, r, &req) {
		return
	}
	fp := fingerprint(r, req)
	s.mu.Lock()
	if a, ok := s.keys[key]; ok {
		s.replayOrRefuse(w, r, a, fp)
		return
	}
	p, ok := s.payments[r.PathValue("id")]
	switch {
	case !ok:
		s.mu.Unlock()
		writeProblem(w, r, http.StatusNotFound, ProblemNotFound, "no such payment", nil)
		return
	case p.Status != PaymentSucceeded:
		s.mu.Unlock()
		writeProblem(w, r, http.StatusConflict, ProblemConflict, "a "+p.Status+" payment cannot be refunded", nil)
		return
	case req.AmountMinor <= 0:
		s.mu.Unlock()
		writeValidation(w, r, []FieldError{{"amount_minor", "must be above zero"}})
		return
	case req.AmountMinor > p.AmountMinor-p.RefundedMinor:
		left := p.AmountMinor - p.RefundedMinor
		s.mu.Unlock()
		writeValidation(w, r, []FieldError{{"amount_minor", fmt.Sprintf("exceeds the %d left to refund", left)}})
		return
	}
	s.refunds++
	p.RefundedMinor += req.AmountMinor
	ref := Refund{
		ID:          fmt.Sprintf("re_%06d", s.refunds),
		PaymentID:   p.ID,
		AmountMinor: req.AmountMinor,
		Status:      "succeeded",
		CreatedAt:   time.Now().UTC().Truncate(time.Millisecond),
	}
	a := &storedAnswer{fingerprint: fp, status: http.StatusCreated, body: ref}
	s.keys[key] = a
	s.mu.Unlock()
	a.write(w)
}
