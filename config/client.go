package config

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// ClientConfig is a named HTTP client: an [httpx.Transport] with its pipeline
// (rate limiter → total timeout → retry → breaker per host → attempt timeout), its
// credentials and its TLS files. BaseURL is required.
type ClientConfig struct {
	BaseURL         URL                 `yaml:"base_url"`                     // absolute http or https URL; required
	TotalTimeout    Duration            `yaml:"total_timeout" config:"off"`   // whole call, retries included; default 30s
	AttemptTimeout  Duration            `yaml:"attempt_timeout" config:"off"` // one attempt; default 10s, or half of total_timeout when that is 10s or less
	IdempotencyKeys bool                `yaml:"idempotency_keys"`             // add an Idempotency-Key to POST and PATCH, making them retryable
	RateLimiter     *RateLimiterConfig  `yaml:"rate_limiter,omitempty"`       // none by default
	Retry           ClientRetryConfig   `yaml:"retry"`                        // the retries
	Breaker         ClientBreakerConfig `yaml:"breaker"`                      // the circuit breakers, one per host
	Auth            *AuthConfig         `yaml:"auth,omitempty"`               // credentials; none by default
	AuthHosts       []string            `yaml:"auth_hosts,flow"`              // hosts besides base_url's that get the credentials
	TLS             *TLSConfig          `yaml:"tls,omitempty"`                // client certificate (mTLS) and CA
	RedactHeaders   []string            `yaml:"redact_headers,flow"`          // more headers never logged
	RedactQuery     []string            `yaml:"redact_query,flow"`            // more query parameters never logged
	MaxLoggedBody   int                 `yaml:"max_logged_body"`              // bytes of a body a debug log shows; 0 shows none; default 2048

	name string
}

func (c *ClientConfig) setDefaults() {
	*c = ClientConfig{
		TotalTimeout:  Duration(httpx.DefaultTotalTimeout),
		MaxLoggedBody: httpx.DefaultMaxLoggedBody,
		AuthHosts:     []string{},
		RedactHeaders: []string{},
		RedactQuery:   []string{},
	}
	c.Retry.setDefaults()
	c.Breaker.setDefaults()
}

// Name returns the client's name in the file ("" for a ClientConfig not from
// [Load]).
func (c ClientConfig) Name() string { return c.name }

// ClientRetryConfig configures the retries of an HTTP client.
type ClientRetryConfig struct {
	MaxAttempts   int           `yaml:"max_attempts"`     // attempts in all, ≥ 1; 1 never retries; default 4 (3 retries)
	Backoff       BackoffConfig `yaml:"backoff"`          // the waits between attempts
	Statuses      []int         `yaml:"statuses,flow"`    // statuses retried; default 408, 429, 500, 502, 503, 504
	MaxRetryAfter Duration      `yaml:"max_retry_after"`  // cap on a Retry-After wait; default 30s
	Budget        *BudgetConfig `yaml:"budget,omitempty"` // limits retries to a share of the requests; none by default
}

func (r *ClientRetryConfig) setDefaults() {
	*r = ClientRetryConfig{
		MaxAttempts:   httpx.DefaultMaxRetries + 1,
		Statuses:      slices.Clone(httpx.DefaultRetryStatuses),
		MaxRetryAfter: Duration(30 * time.Second),
	}
	r.Backoff.setDefaults()
}

// ClientBreakerConfig configures the circuit breakers of an HTTP client, one per
// host, all alike.
type ClientBreakerConfig struct {
	Enabled       bool `yaml:"enabled"` // default true
	BreakerConfig `yaml:",inline"`
	Statuses      []int `yaml:"statuses,flow"` // statuses that count as failures; default 408, 429, 500, 502, 503, 504
}

func (b *ClientBreakerConfig) setDefaults() {
	b.Enabled = true
	b.BreakerConfig.setDefaults()
	b.Statuses = slices.Clone(httpx.DefaultFailureStatuses)
}

// AuthConfig is the credentials of an HTTP client: exactly one of the kinds.
type AuthConfig struct {
	Bearer *Secret           `yaml:"bearer,omitempty"`  // "Authorization: Bearer <secret>"
	APIKey *Secret           `yaml:"api_key,omitempty"` // "X-Api-Key: <secret>"
	Header *HeaderAuthConfig `yaml:"header,omitempty"`  // a secret in any header
	OAuth2 *OAuth2AuthConfig `yaml:"oauth2,omitempty"`  // OAuth2 client credentials
	HMAC   *HMACAuthConfig   `yaml:"hmac,omitempty"`    // HMAC request signing
}

var authKinds = []string{"bearer", "api_key", "header", "oauth2", "hmac"}

// Kind returns "bearer", "api_key", "header", "oauth2" or "hmac"; "" if none is
// set.
func (a AuthConfig) Kind() string {
	switch {
	case a.Bearer != nil:
		return "bearer"
	case a.APIKey != nil:
		return "api_key"
	case a.Header != nil:
		return "header"
	case a.OAuth2 != nil:
		return "oauth2"
	case a.HMAC != nil:
		return "hmac"
	}
	return ""
}

// clear removes the credentials of kind.
func (a *AuthConfig) clear(kind string) {
	switch kind {
	case "bearer":
		a.Bearer = nil
	case "api_key":
		a.APIKey = nil
	case "header":
		a.Header = nil
	case "oauth2":
		a.OAuth2 = nil
	case "hmac":
		a.HMAC = nil
	}
}

// HeaderAuthConfig puts a secret in a header ([auth.NewStatic]).
type HeaderAuthConfig struct {
	Name   string `yaml:"name"`   // the header; required
	Scheme string `yaml:"scheme"` // written before the secret; default "Bearer" for Authorization, none otherwise
	Secret Secret `yaml:"secret"` // required
}

// OAuth2AuthConfig obtains tokens with the client credentials grant
// ([auth.NewClientCredentials]). The token requests go through the client's
// connections, with its TLS settings (a token endpoint whose CA is only in the
// client's ca_file is trusted), but not through its pipeline: no retries, no
// breaker. Each is bounded by the client's attempt_timeout (10s when that is
// "off") and by the call that needs the token.
type OAuth2AuthConfig struct {
	TokenURL     string            `yaml:"token_url"`                  // required
	ClientID     string            `yaml:"client_id"`                  // required
	ClientSecret Secret            `yaml:"client_secret"`              // required
	Scopes       []string          `yaml:"scopes,flow"`                // none by default
	Params       map[string]string `yaml:"params"`                     // extra token request parameters (audience, resource)
	EarlyRefresh Duration          `yaml:"early_refresh" config:"off"` // refresh before expiry; default 1m; off refreshes at expiry
}

func (o *OAuth2AuthConfig) setDefaults() {
	*o = OAuth2AuthConfig{EarlyRefresh: Duration(auth.DefaultEarlyRefresh), Scopes: []string{}, Params: map[string]string{}}
}

// HMACAuthConfig signs requests with a shared key ([auth.NewHMACSigner]).
type HMACAuthConfig struct {
	KeyID        string `yaml:"key_id"`         // required
	Key          Secret `yaml:"key"`            // at least 32 bytes; required
	MaxBodyBytes int64  `yaml:"max_body_bytes"` // largest body signed; default 10 MiB
}

func (h *HMACAuthConfig) setDefaults() { h.MaxBodyBytes = auth.DefaultMaxBodyBytes }

// TLSConfig is the client side of mutual TLS ([auth.ClientTLSConfig]).
type TLSConfig struct {
	CertFile   string `yaml:"cert_file"`   // the client certificate, PEM; required
	KeyFile    string `yaml:"key_file"`    // its private key, PEM; required
	CAFile     string `yaml:"ca_file"`     // CAs that verify the server; default the system's
	ServerName string `yaml:"server_name"` // name the server's certificate must have; default the host dialled
}

// Files returns the auth.TLSFiles.
func (t TLSConfig) Files() auth.TLSFiles {
	return auth.TLSFiles{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile, ServerName: t.ServerName}
}

func (c *ClientConfig) validate(st *loadState, path string) {
	bp := join(path, "base_url")
	if !st.has(bp) {
		st.fail(bp, "is required")
	} else {
		st.checkURL(bp, string(c.BaseURL), []string{"http", "https"}, false)
	}
	if c.TotalTimeout == 0 {
		st.fail(join(path, "total_timeout"), `must be > 0 or "off", got 0s`)
	}
	ap := join(path, "attempt_timeout")
	switch {
	case c.AttemptTimeout == 0 && !st.has(ap):
		c.AttemptTimeout = Duration(httpx.DefaultAttemptTimeout)
		if c.TotalTimeout > 0 && c.TotalTimeout <= c.AttemptTimeout {
			c.AttemptTimeout = c.TotalTimeout / 2
		}
	case c.AttemptTimeout == 0:
		st.fail(ap, `must be > 0 or "off", got 0s`)
	}
	st.atLeast(join(path, "max_logged_body"), c.MaxLoggedBody, 0)
	if c.RateLimiter != nil {
		c.RateLimiter.validate(st, join(path, "rate_limiter"))
	}
	rp := join(path, "retry")
	st.atLeast(join(rp, "max_attempts"), c.Retry.MaxAttempts, 1)
	c.Retry.Backoff.validate(st, join(rp, "backoff"))
	st.checkStatuses(join(rp, "statuses"), c.Retry.Statuses)
	st.positiveDuration(join(rp, "max_retry_after"), c.Retry.MaxRetryAfter)
	if c.Retry.Budget != nil {
		c.Retry.Budget.validate(st, join(rp, "budget"))
	}
	c.Breaker.BreakerConfig.validate(st, join(path, "breaker"))
	st.checkStatuses(join(path, "breaker.statuses"), c.Breaker.Statuses)
	if c.Auth != nil {
		c.Auth.validate(st, join(path, "auth"))
	}
	if c.TLS != nil {
		c.TLS.validate(st, join(path, "tls"))
	}
	if st.settled(path) {
		c.checkWithHTTPX(st, path)
	}
}

// checkWithHTTPX runs httpx's own validation, which checks the settings against
// each other (the attempt timeout below the total timeout, the breakers' window
// at least twice the attempt timeout), and reports its errors at their keys.
func (c *ClientConfig) checkWithHTTPX(st *loadState, path string) {
	p := clientParts{base: http.DefaultTransport}
	if c.Auth != nil {
		p.creds = httpx.AuthenticatorFunc(func(context.Context, *http.Request) error { return nil })
	}
	if c.RateLimiter != nil {
		var err error
		if p.limiter, err = resilience.NewRateLimiter(c.RateLimiter.Options(c.name)); err != nil {
			st.surface(join(path, "rate_limiter"), err)
			return
		}
	}
	if c.Retry.Budget != nil {
		var err error
		if p.budget, err = resilience.NewBudget(c.Retry.Budget.Options()); err != nil {
			st.surface(join(path, "retry.budget"), err)
			return
		}
	}
	if _, err := httpx.NewTransport(c.options(p)); err != nil {
		st.surfaceHTTPX(path, err)
	}
}

// httpxFields maps the fields httpx names in its errors to the keys of a client.
var httpxFields = []struct{ field, key string }{
	{"Options.Breaker.Policy.SamplingWindow", "breaker.sampling_window"},
	{"Options.Breaker.Policy", "breaker"},
	{"Options.Breaker.Statuses", "breaker.statuses"},
	{"Options.Retry.MaxRetries", "retry.max_attempts"},
	{"Options.Retry.MaxRetryAfter", "retry.max_retry_after"},
	{"Options.Retry.Statuses", "retry.statuses"},
	{"Options.Retry", "retry"},
	{"Options.AttemptTimeout", "attempt_timeout"},
	{"Options.TotalTimeout", "total_timeout"},
	{"Options.BaseURL", "base_url"},
	{"Options.AuthHosts", "auth_hosts"},
	{"Options.AuthTransport", "auth"},
	{"Options.RateLimiter", "rate_limiter"},
}

var httpxErrorRE = regexp.MustCompile(`^httpx: (Options[A-Za-z.]*)((?:\[\d+\])?): `)

// surfaceHTTPX reports an error of httpx.NewTransport at the key it is about.
// httpx's option errors are plain text that names the Go field; the mapping is
// kept here, in one place.
func (st *loadState) surfaceHTTPX(path string, err error) {
	msg := err.Error()
	m := httpxErrorRE.FindStringSubmatch(msg)
	if m == nil {
		st.failErr(path, err, "%v", err)
		return
	}
	for _, f := range httpxFields {
		if m[1] != f.field {
			continue
		}
		key := join(path, f.key) + m[2]
		if inner := errors.Unwrap(err); inner != nil && (f.key == "retry" || f.key == "breaker") {
			st.surface(key, inner)
			return
		}
		rest := msg[len(m[0]):]
		for _, g := range httpxFields {
			rest = strings.ReplaceAll(rest, g.field, g.key)
		}
		st.failErr(key, err, "%s", rest)
		return
	}
	st.failErr(path, err, "%v", err)
}

// checkStatuses checks a list of HTTP status codes.
func (st *loadState) checkStatuses(path string, codes []int) {
	for i, c := range codes {
		if c < 100 || c > 599 {
			st.fail(index(path, i), "must be an HTTP status from 100 to 599, got %d", c)
		}
	}
}

func (a *AuthConfig) validate(st *loadState, path string) {
	var kinds, chosen []string
	for _, k := range authKinds {
		if st.has(join(path, k)) {
			kinds = append(kinds, k)
			if !st.onlyDefault(join(path, k)) {
				chosen = append(chosen, k)
			}
		}
	}
	if len(kinds) > 1 && len(chosen) > 0 && len(chosen) < len(kinds) {
		// The defaults' credentials give way to the kind the file or the
		// environment chose, as a mapping with one kind must.
		for _, k := range kinds {
			if !slices.Contains(chosen, k) {
				a.clear(k)
			}
		}
		kinds = chosen
	}
	switch {
	case len(kinds) == 0 && a.Kind() == "":
		st.fail(path, "names no credentials; want one of %s", strings.Join(authKinds, ", "))
		return
	case len(kinds) > 1:
		st.fail(path, "has %d kinds of credentials (%s); want one", len(kinds), strings.Join(kinds, ", "))
		return
	case a.Kind() == "":
		st.fail(join(path, kinds[0]), "has no value")
		return
	}
	resolvable := true
	secret := func(p string, s *Secret) {
		if s.IsZero() {
			if !st.has(p) {
				st.fail(p, "is required")
			}
			resolvable = false
			return
		}
		if st.errCountAt(p) > 0 {
			resolvable = false
			return
		}
		s.check(st, p)
		if st.errCountAt(p) > 0 || (s.Env != "" && st.ignoreEnv) {
			resolvable = false
		}
	}
	required := func(p, v string) {
		if v == "" {
			st.fail(p, "is required")
		}
	}
	switch {
	case a.Bearer != nil:
		secret(join(path, "bearer"), a.Bearer)
	case a.APIKey != nil:
		secret(join(path, "api_key"), a.APIKey)
	case a.Header != nil:
		p := join(path, "header")
		required(join(p, "name"), a.Header.Name)
		secret(join(p, "secret"), &a.Header.Secret)
	case a.OAuth2 != nil:
		p := join(path, "oauth2")
		if a.OAuth2.TokenURL == "" {
			st.fail(join(p, "token_url"), "is required")
		} else {
			st.checkURL(join(p, "token_url"), a.OAuth2.TokenURL, []string{"http", "https"}, false)
		}
		required(join(p, "client_id"), a.OAuth2.ClientID)
		secret(join(p, "client_secret"), &a.OAuth2.ClientSecret)
	case a.HMAC != nil:
		p := join(path, "hmac")
		required(join(p, "key_id"), a.HMAC.KeyID)
		secret(join(p, "key"), &a.HMAC.Key)
		st.atLeast(join(p, "max_body_bytes"), int(min(a.HMAC.MaxBodyBytes, 1<<40)), 1)
	}
	if !st.settled(path) || !resolvable {
		return
	}
	// The constructors' own checks, on the secrets as they are now: a valid header
	// name, an HMAC key long enough.
	if _, _, err := a.credentials(context.Background(), true, nil); err != nil {
		st.surfaceAuth(path, a.Kind(), err)
	}
}

// authFields maps the fields auth names in its ConfigErrors to keys.
var authFields = map[string]string{
	"StaticConfig.Header":                  "header.name",
	"StaticConfig.Scheme":                  "header.scheme",
	"StaticConfig.Secret":                  "header.secret",
	"ClientCredentialsConfig.TokenURL":     "oauth2.token_url",
	"ClientCredentialsConfig.ClientID":     "oauth2.client_id",
	"ClientCredentialsConfig.ClientSecret": "oauth2.client_secret",
	"HMACSignerConfig.KeyID":               "hmac.key_id",
	"HMACSignerConfig.Key":                 "hmac.key",
	"TLSFiles.CertFile":                    "cert_file",
	"TLSFiles.KeyFile":                     "key_file",
	"TLSFiles.CAFile":                      "ca_file",
}

// surfaceAuth reports an error of an auth constructor at its key under path.
func (st *loadState) surfaceAuth(path, kind string, err error) {
	var ce *auth.ConfigError
	if errors.As(err, &ce) {
		if key, ok := authFields[ce.Field]; ok {
			st.failErr(join(path, key), err, "%s", ce.Reason)
			return
		}
	}
	if kind != "" {
		path = join(path, kind)
	}
	st.failErr(path, err, "%v", err)
}

// credentials builds the credentials, and reports whether they must see the
// responses (OAuth2 tokens are renewed after a 401), which httpx wants as an
// AuthTransport. The credentials load their secrets whenever they use them
// ([Secret.Source]), so that a rotated secret needs no restart; with loadNow,
// the secrets are loaded now instead, for the constructors to check them.
// tokens sends the OAuth2 token requests ([ClientConfig.tokenClient]); nil
// means http.DefaultClient, for checks that send none.
func (a AuthConfig) credentials(ctx context.Context, loadNow bool, tokens *http.Client) (auth.Credentials, bool, error) {
	source := func(s Secret) (auth.SecretSource, error) {
		if !loadNow {
			return s.Source(), nil
		}
		return s.Load(ctx)
	}
	switch {
	case a.Bearer != nil:
		return auth.Bearer(a.Bearer.Source()), false, nil
	case a.APIKey != nil:
		return auth.APIKey(a.APIKey.Source()), false, nil
	case a.Header != nil:
		c, err := auth.NewStatic(auth.StaticConfig{Secret: a.Header.Secret.Source(), Header: a.Header.Name, Scheme: a.Header.Scheme})
		return c, false, err
	case a.OAuth2 != nil:
		secret, err := source(a.OAuth2.ClientSecret)
		if err != nil {
			return nil, false, err
		}
		var params map[string][]string
		if len(a.OAuth2.Params) > 0 {
			params = make(map[string][]string, len(a.OAuth2.Params))
			for k, v := range a.OAuth2.Params {
				params[k] = []string{v}
			}
		}
		c, err := auth.NewClientCredentials(auth.ClientCredentialsConfig{
			TokenURL:       a.OAuth2.TokenURL,
			ClientID:       a.OAuth2.ClientID,
			ClientSecret:   secret,
			Scopes:         a.OAuth2.Scopes,
			EndpointParams: params,
			EarlyRefresh:   a.OAuth2.EarlyRefresh.D(),
			HTTPClient:     tokens,
		})
		return c, true, err
	case a.HMAC != nil:
		key, err := source(a.HMAC.Key)
		if err != nil {
			return nil, false, err
		}
		c, err := auth.NewHMACSigner(auth.HMACSignerConfig{KeyID: a.HMAC.KeyID, Key: key, MaxBodyBytes: a.HMAC.MaxBodyBytes})
		return c, false, err
	}
	return nil, false, errors.New("config: auth names no credentials")
}

func (t *TLSConfig) validate(st *loadState, path string) {
	for _, f := range []struct {
		key, file string
		required  bool
	}{{"cert_file", t.CertFile, true}, {"key_file", t.KeyFile, true}, {"ca_file", t.CAFile, false}} {
		p := join(path, f.key)
		switch {
		case f.file == "" && f.required:
			st.fail(p, "is required")
		case f.file != "":
			if err := regularFile(f.file); err != nil {
				st.failErr(p, err, "cannot read %s: %v", f.file, unwrapPath(err))
			}
		}
	}
	if !st.settled(path) {
		return
	}
	if _, err := auth.ClientTLSConfig(t.Files()); err != nil {
		var pe *auth.PEMError
		if errors.As(err, &pe) {
			key := map[string]string{"certificate": "cert_file", "key": "key_file", "CA": "ca_file"}[pe.Role]
			st.failErr(join(path, key), err, "%s: %v", pe.File, unwrapPath(pe.Err))
			return
		}
		st.surfaceAuth(path, "", err)
	}
}

// clientParts are the objects a client's httpx.Options point to, built once and
// kept by a reloaded client.
type clientParts struct {
	limiter *resilience.RateLimiter
	budget  *resilience.Budget
	creds   httpx.Authenticator
	refresh bool              // creds must see the responses: use AuthTransport
	base    http.RoundTripper // nil: httpx's default
}

// newParts builds the client's rate limiter, budget, credentials and, with TLS, its
// base transport. base, when not nil, is the base transport to keep (a reloaded
// client keeps its connections); the OAuth2 token requests go through the base
// transport too, so that they have the client's TLS settings.
func (c ClientConfig) newParts(base http.RoundTripper) (clientParts, error) {
	p := clientParts{base: base}
	var err error
	if c.RateLimiter != nil {
		if p.limiter, err = resilience.NewRateLimiter(c.RateLimiter.Options(c.name + "/rate-limiter")); err != nil {
			return p, err
		}
	}
	if c.Retry.Budget != nil {
		if p.budget, err = resilience.NewBudget(c.Retry.Budget.Options()); err != nil {
			return p, err
		}
	}
	if c.TLS != nil && p.base == nil {
		if p.base, err = c.TLS.baseTransport(); err != nil {
			return p, err
		}
	}
	if c.Auth != nil {
		// Every secret must be readable now (a missing one fails the start, not the
		// first call), and is read again whenever it is used.
		if _, _, err := c.Auth.credentials(context.Background(), true, nil); err != nil {
			return p, err
		}
		creds, refresh, err := c.Auth.credentials(context.Background(), false, c.tokenClient(p.base))
		if err != nil {
			return p, err
		}
		p.creds, p.refresh = creds, refresh
	}
	return p, nil
}

// defaultTokenTimeout bounds an OAuth2 token request of a client whose
// attempt_timeout is "off".
const defaultTokenTimeout = 10 * time.Second

// tokenTimeout returns the bound of one OAuth2 token request: the attempt
// timeout, or defaultTokenTimeout when it is off.
func (c ClientConfig) tokenTimeout() time.Duration {
	if c.AttemptTimeout > 0 {
		return c.AttemptTimeout.D()
	}
	return defaultTokenTimeout
}

// tokenClient returns the *http.Client of the OAuth2 token requests: over base
// (the client's connections and TLS settings; nil means a new
// [httpx.NewBaseTransport]), each request bounded by [ClientConfig.tokenTimeout]
// besides the context of the call that needs the token. It does not go through
// the client's pipeline: no retries, no breaker, no credentials.
func (c ClientConfig) tokenClient(base http.RoundTripper) *http.Client {
	if base == nil {
		base = httpx.NewBaseTransport()
	}
	return &http.Client{Transport: base, Timeout: c.tokenTimeout()}
}

// baseTransport returns httpx's base transport with the client certificate.
func (t TLSConfig) baseTransport() (*http.Transport, error) {
	tc, err := auth.ClientTLSConfig(t.Files())
	if err != nil {
		return nil, err
	}
	base := httpx.NewBaseTransport()
	base.TLSClientConfig = tc
	return base, nil
}

// options returns the httpx.Options over the given parts.
func (c ClientConfig) options(p clientParts) httpx.Options {
	o := httpx.Options{
		Name:            c.name,
		BaseURL:         string(c.BaseURL),
		Base:            p.base,
		RateLimiter:     p.limiter,
		TotalTimeout:    c.TotalTimeout.D(),
		AttemptTimeout:  c.AttemptTimeout.D(),
		IdempotencyKeys: c.IdempotencyKeys,
		AuthHosts:       slices.Clone(c.AuthHosts),
		RedactHeaders:   slices.Clone(c.RedactHeaders),
		RedactQuery:     slices.Clone(c.RedactQuery),
		MaxLoggedBody:   c.MaxLoggedBody,
		Retry: httpx.RetryOptions{
			Disabled:      c.Retry.MaxAttempts <= 1,
			MaxRetries:    max(c.Retry.MaxAttempts-1, 0),
			Backoff:       c.Retry.Backoff.Backoff(),
			Statuses:      statuses(c.Retry.Statuses),
			MaxRetryAfter: c.Retry.MaxRetryAfter.D(),
			Budget:        p.budget,
		},
		Breaker: httpx.BreakerOptions{
			Disabled: !c.Breaker.Enabled,
			Policy:   c.Breaker.Options(""),
			Statuses: statuses(c.Breaker.Statuses),
		},
	}
	if o.MaxLoggedBody == 0 {
		o.MaxLoggedBody = -1
	}
	if p.creds != nil {
		if p.refresh {
			creds := p.creds.(auth.Credentials)
			o.AuthTransport = func(next http.RoundTripper) http.RoundTripper { return auth.NewTransport(next, creds) }
		} else {
			o.Auth = p.creds
		}
	}
	return o
}

// statuses copies a list of statuses, keeping an empty list empty rather than nil
// (nil means httpx's defaults).
func statuses(s []int) []int {
	if s == nil {
		return nil
	}
	return append([]int{}, s...)
}

// HTTPXOptions returns the httpx.Options of the client, with a new rate limiter,
// retry budget and credentials, and with TLS, a base transport of its own, which
// OAuth2 credentials send their token requests through too (otherwise Base is
// nil: [httpx.NewClient] makes one, and OAuth2 credentials use a base transport
// of their own). Logger, Observer and PolicyObserver are left for the caller.
// It fails if a secret or a TLS file
// cannot be read; the credentials read their secrets again whenever they use
// them, so that a rotated secret (an environment variable, a file) needs no
// restart.
func (c ClientConfig) HTTPXOptions() (httpx.Options, error) {
	p, err := c.newParts(nil)
	if err != nil {
		return httpx.Options{}, fmt.Errorf("config: clients.%s: %w", c.name, err)
	}
	return c.options(p), nil
}
