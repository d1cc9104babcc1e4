package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultEarlyRefresh is how long before expiry a [ClientCredentials] token is
// refreshed when [ClientCredentialsConfig.EarlyRefresh] is zero.
const DefaultEarlyRefresh = time.Minute

// ClientCredentialsConfig configures [ClientCredentials]. TokenURL, ClientID and
// ClientSecret are required; every other field has a usable zero value.
type ClientCredentialsConfig struct {
	// TokenURL is the authorization server's token endpoint.
	TokenURL string
	// ClientID and ClientSecret identify this service to the token endpoint. The
	// secret is loaded for every token request, so that a rotated secret (an
	// [EnvSecret], a [*FileSecret]) is used from the next token on; a [Secret]
	// is a source of itself.
	ClientID     string
	ClientSecret SecretSource
	// Scopes are requested with every token; empty requests none.
	Scopes []string
	// EndpointParams are extra form parameters for the token request, such as
	// "audience" or "resource"; nil adds none.
	EndpointParams url.Values
	// AuthStyle says how the client authenticates to the token endpoint; the zero
	// value detects it (HTTP Basic first, then form parameters).
	AuthStyle oauth2.AuthStyle
	// EarlyRefresh is how long before its expiry a token is refreshed. Zero means
	// [DefaultEarlyRefresh]; a negative value refreshes only at expiry. It is
	// capped at half the token's lifetime.
	EarlyRefresh time.Duration
	// HTTPClient sends token requests. Nil means [http.DefaultClient]; either
	// way, each token request is bound to the context of the call that caused it.
	HTTPClient *http.Client
}

// ClientCredentials are [Credentials] that obtain access tokens with the OAuth2
// client credentials grant (RFC 6749 §4.4, through
// [golang.org/x/oauth2/clientcredentials]) and send them as
// "Authorization: Bearer <token>".
//
// The token is cached and refreshed ahead of its expiry (see
// [ClientCredentialsConfig.EarlyRefresh]). Concurrent callers share one token
// request: while there is no valid token they wait for it, bounded by their own
// context; while the token is about to expire one caller refreshes it and the
// others keep using the current one, which is also kept if that refresh fails.
// As a [Refresher], it drops a token the API rejected with 401, once, however many
// requests were rejected with it.
//
// ClientCredentials is safe for concurrent use.
type ClientCredentials struct {
	secret SecretSource
	// confMu guards conf.ClientSecret, which holds the secret loaded for a token
	// request only while that request runs. conf is shared by every request, never
	// copied: it remembers the auth style it detected (AuthStyle zero), and a copy
	// would detect it again, sending rejected requests to the token endpoint.
	confMu   sync.Mutex
	conf     *clientcredentials.Config
	client   *http.Client
	tokenURL string // for errors: no query, no user information
	cache    tokenCache
}

// NewClientCredentials returns ClientCredentials for cfg. It sends no request:
// the first token is fetched by the first call that needs it.
func NewClientCredentials(cfg ClientCredentialsConfig) (*ClientCredentials, error) {
	u, err := url.Parse(cfg.TokenURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &ConfigError{Field: "ClientCredentialsConfig.TokenURL", Reason: "must be an absolute http or https URL"}
	}
	if cfg.ClientID == "" {
		return nil, &ConfigError{Field: "ClientCredentialsConfig.ClientID", Reason: "is required"}
	}
	if v, isValue := cfg.ClientSecret.(Secret); noSource(cfg.ClientSecret) || isValue && v.IsZero() {
		return nil, &ConfigError{Field: "ClientCredentialsConfig.ClientSecret", Reason: "is required"}
	}
	early := cfg.EarlyRefresh
	switch {
	case early == 0:
		early = DefaultEarlyRefresh
	case early < 0:
		early = 0
	}
	c := &ClientCredentials{
		secret: cfg.ClientSecret,
		conf: &clientcredentials.Config{
			ClientID:       cfg.ClientID,
			TokenURL:       cfg.TokenURL,
			Scopes:         append([]string(nil), cfg.Scopes...),
			EndpointParams: cfg.EndpointParams,
			AuthStyle:      cfg.AuthStyle,
		},
		client:   cfg.HTTPClient,
		tokenURL: (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String(),
	}
	c.cache = tokenCache{fetch: c.fetch, early: early}
	return c, nil
}

// fetch requests a new token from the token endpoint.
func (c *ClientCredentials) fetch(ctx context.Context) (*oauth2.Token, error) {
	secret, err := c.secret.Load(ctx)
	if err != nil {
		return nil, &TokenFetchError{TokenURL: c.tokenURL, Err: err}
	}
	if c.client != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, c.client)
	}
	// The token cache already runs one fetch at a time; the lock keeps conf's
	// secret consistent even if that changes.
	c.confMu.Lock()
	c.conf.ClientSecret = secret.Reveal()
	tok, err := c.conf.Token(ctx)
	c.conf.ClientSecret = ""
	c.confMu.Unlock()
	if err != nil {
		return nil, &TokenFetchError{TokenURL: c.tokenURL, Err: redactURLError(err, c.tokenURL)}
	}
	if tok.AccessToken == "" || !validHeaderValue(tok.AccessToken) {
		return nil, &TokenFetchError{TokenURL: c.tokenURL, Err: fmt.Errorf("response has no usable access_token")}
	}
	return tok, nil
}

// Token returns a valid access token, from the cache or from the token endpoint.
// Errors from the endpoint match [ErrTokenFetch]; if ctx ends while waiting, the
// error is ctx's.
func (c *ClientCredentials) Token(ctx context.Context) (*oauth2.Token, error) {
	return c.cache.get(ctx, time.Now())
}

// Apply sets "Authorization: Bearer <token>" on r.
func (c *ClientCredentials) Apply(ctx context.Context, r *http.Request) error {
	tok, err := c.Token(ctx)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return nil
}

// Invalidate forgets the token carried by r if it is still the cached one, so
// that the next call fetches a new token.
func (c *ClientCredentials) Invalidate(r *http.Request) {
	if tok, ok := bearerToken(r.Header.Get("Authorization")); ok {
		c.cache.invalidate(tok)
	}
}

// bearerToken returns the token of an "Authorization: Bearer <token>" value.
func bearerToken(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
