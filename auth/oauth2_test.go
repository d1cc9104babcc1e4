package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	oauth2server "github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"go.uber.org/goleak"
)

// checkLeaks fails t if goroutines started during the test outlive it. Call it
// first, so that its cleanup runs after every other (servers closing).
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// memTokenStore is an in-memory go-oauth2 token store (the library's own needs
// buntdb).
type memTokenStore struct {
	mu     sync.Mutex
	tokens map[string]oauth2server.TokenInfo
}

func (s *memTokenStore) Create(_ context.Context, info oauth2server.TokenInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = make(map[string]oauth2server.TokenInfo)
	}
	s.tokens[info.GetAccess()] = info
	return nil
}

func (s *memTokenStore) GetByAccess(_ context.Context, access string) (oauth2server.TokenInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[access], nil
}

func (s *memTokenStore) RemoveByAccess(_ context.Context, access string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, access)
	return nil
}

func (s *memTokenStore) RemoveByCode(context.Context, string) error    { return nil }
func (s *memTokenStore) RemoveByRefresh(context.Context, string) error { return nil }
func (s *memTokenStore) GetByCode(context.Context, string) (oauth2server.TokenInfo, error) {
	return nil, nil
}
func (s *memTokenStore) GetByRefresh(context.Context, string) (oauth2server.TokenInfo, error) {
	return nil, nil
}

type clientStore map[string]*models.Client

func (s clientStore) GetByID(_ context.Context, id string) (oauth2server.ClientInfo, error) {
	if c, ok := s[id]; ok {
		return c, nil
	}
	return nil, errors.New("unknown client")
}

const (
	testClientID     = "orders"
	testClientSecret = "orders-client-secret-0123456789"
)

// tokenServer is a real OAuth2 authorization server (go-oauth2) that counts
// token requests, and a resource server that validates its tokens.
type tokenServer struct {
	oauth    *server.Server
	tokens   *httptest.Server
	requests atomic.Int32
}

func newTokenServer(t *testing.T, tokenLifetime time.Duration) *tokenServer {
	t.Helper()
	m := manage.NewDefaultManager()
	m.SetClientTokenCfg(&manage.Config{AccessTokenExp: tokenLifetime})
	m.MapTokenStorage(&memTokenStore{})
	m.MapClientStorage(clientStore{testClientID: {ID: testClientID, Secret: testClientSecret}})
	ts := &tokenServer{oauth: server.NewDefaultServer(m)}
	ts.tokens = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		_ = ts.oauth.HandleTokenRequest(w, r)
	}))
	t.Cleanup(ts.tokens.Close)
	return ts
}

// valid reports whether r carries a token the server issued and that is valid.
func (ts *tokenServer) valid(r *http.Request) bool {
	_, err := ts.oauth.ValidationBearerToken(r)
	return err == nil
}

func (ts *tokenServer) credentials(t *testing.T, cfg ClientCredentialsConfig) *ClientCredentials {
	t.Helper()
	cfg.TokenURL = ts.tokens.URL + "/token"
	if cfg.ClientID == "" {
		cfg.ClientID = testClientID
	}
	if cfg.ClientSecret == nil {
		cfg.ClientSecret = NewSecret(testClientSecret)
	}
	c, err := NewClientCredentials(cfg)
	if err != nil {
		t.Fatalf("NewClientCredentials() error = %v", err)
	}
	return c
}

func TestClientCredentialsConcurrentCallsShareOneToken(t *testing.T) {
	checkLeaks(t)
	ts := newTokenServer(t, time.Hour)
	var apiCalls, rejected atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		if !ts.valid(r) {
			rejected.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(api.Close)

	client := &http.Client{Transport: NewTransport(nil, ts.credentials(t, ClientCredentialsConfig{}))}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			resp, err := client.Get(api.URL)
			if err != nil {
				t.Errorf("Get() error = %v", err)
				return
			}
			drainAndClose(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("Get() status = %d, want 200", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if got := ts.requests.Load(); got != 1 {
		t.Errorf("token requests for 100 concurrent calls = %d, want 1", got)
	}
	if got := apiCalls.Load(); got != 100 {
		t.Errorf("API calls = %d, want 100", got)
	}
	if got := rejected.Load(); got != 0 {
		t.Errorf("API rejections = %d, want 0", got)
	}
}

func TestClientCredentialsRefreshesAheadOfExpiry(t *testing.T) {
	checkLeaks(t)
	// The token server is real, so the token's expiry comes from the real clock;
	// the cache's time logic takes "now" per call, which lets the test look at
	// later instants without waiting (tokencache_test.go runs the same logic on
	// synctest's clock).
	ts := newTokenServer(t, time.Hour)
	c := ts.credentials(t, ClientCredentialsConfig{EarlyRefresh: 5 * time.Minute})
	ctx := context.Background()
	t0 := time.Now()
	get := func(at time.Duration) string {
		t.Helper()
		tok, err := c.cache.get(ctx, t0.Add(at))
		if err != nil {
			t.Fatalf("get(t0+%s) error = %v", at, err)
		}
		return tok.AccessToken
	}
	first := get(0)
	tests := []struct {
		at           time.Duration
		wantNew      bool
		wantRequests int32
	}{
		{time.Minute, false, 1},
		{54 * time.Minute, false, 1},
		{56 * time.Minute, true, 2}, // within 5 minutes of expiry: refreshed ahead
	}
	for _, tt := range tests {
		got := get(tt.at)
		if isNew := got != first; isNew != tt.wantNew || ts.requests.Load() != tt.wantRequests {
			t.Errorf("get(t0+%s): new token = %v after %d token requests, want %v and %d",
				tt.at, isNew, ts.requests.Load(), tt.wantNew, tt.wantRequests)
		}
	}
}

// rejectFirstToken is an API that answers 401 to the first token it sees, as if
// it had been revoked, and echoes the body of accepted requests.
type rejectFirstToken struct {
	ts *tokenServer

	mu       sync.Mutex
	first    string
	calls    int
	rejected int
	bodies   []string
}

func (a *rejectFirstToken) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	tok, _ := bearerToken(r.Header.Get("Authorization"))
	a.mu.Lock()
	a.calls++
	if a.first == "" {
		a.first = tok
	}
	reject := tok == a.first || !a.ts.valid(r)
	if reject {
		a.rejected++
	} else {
		a.bodies = append(a.bodies, string(body))
	}
	a.mu.Unlock()
	if reject {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "revoked token", http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "paid")
}

func TestClientCredentialsRetriesOnceAfter401(t *testing.T) {
	checkLeaks(t)
	ts := newTokenServer(t, time.Hour)
	a := &rejectFirstToken{ts: ts}
	api := httptest.NewServer(a)
	t.Cleanup(api.Close)
	client := &http.Client{Transport: NewTransport(nil, ts.credentials(t, ClientCredentialsConfig{}))}

	// strings.NewReader gives the request a GetBody, so it can be replayed.
	req, _ := http.NewRequest(http.MethodPost, api.URL+"/payments", strings.NewReader(`{"amount":100}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("Do() error = %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "paid" {
		t.Errorf("Do() = %d %q, want 200 %q", resp.StatusCode, body, "paid")
	}
	if a.calls != 2 || a.rejected != 1 {
		t.Errorf("API calls = %d, rejected = %d; want 2 and 1", a.calls, a.rejected)
	}
	if got := ts.requests.Load(); got != 2 {
		t.Errorf("token requests = %d, want 2 (one forced refresh)", got)
	}
	if len(a.bodies) != 1 || a.bodies[0] != `{"amount":100}` {
		t.Errorf("replayed body = %q, want %q", a.bodies, `{"amount":100}`)
	}
	if req.Header.Get("Authorization") != "" {
		t.Errorf("the caller's request was modified: Authorization = %q", req.Header.Get("Authorization"))
	}

	// The new token is cached: no more token requests.
	resp, err = client.Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	drainAndClose(resp.Body)
	if resp.StatusCode != http.StatusOK || ts.requests.Load() != 2 {
		t.Errorf("next call = %d with %d token requests, want 200 and 2", resp.StatusCode, ts.requests.Load())
	}
}

func TestClientCredentialsRetriesAtMostOnce(t *testing.T) {
	checkLeaks(t)
	ts := newTokenServer(t, time.Hour)
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(api.Close)
	client := &http.Client{Transport: NewTransport(nil, ts.credentials(t, ClientCredentialsConfig{}))}
	resp, err := client.Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	drainAndClose(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || calls.Load() != 2 || ts.requests.Load() != 2 {
		t.Errorf("always-401 API: status %d, %d API calls, %d token requests; want 401, 2, 2",
			resp.StatusCode, calls.Load(), ts.requests.Load())
	}
}

func TestClientCredentialsNoRetryWithoutGetBody(t *testing.T) {
	checkLeaks(t)
	ts := newTokenServer(t, time.Hour)
	a := &rejectFirstToken{ts: ts}
	api := httptest.NewServer(a)
	t.Cleanup(api.Close)
	client := &http.Client{Transport: NewTransport(nil, ts.credentials(t, ClientCredentialsConfig{}))}

	// io.NopCloser hides the reader's type: no GetBody, so no replay.
	req, _ := http.NewRequest(http.MethodPost, api.URL, io.NopCloser(strings.NewReader("once")))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("Do() error = %v", err)
	}
	drainAndClose(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || a.calls != 1 {
		t.Errorf("Do() without GetBody = %d after %d calls, want the 401 after 1 call", resp.StatusCode, a.calls)
	}
}

func TestClientCredentialsTokenErrors(t *testing.T) {
	checkLeaks(t)
	ts := newTokenServer(t, time.Hour)
	c := ts.credentials(t, ClientCredentialsConfig{ClientSecret: NewSecret("wrong-secret-value")})
	_, err := c.Token(context.Background())
	var fe *TokenFetchError
	if !errors.Is(err, ErrTokenFetch) || !errors.As(err, &fe) || fe.TokenURL != ts.tokens.URL+"/token" {
		t.Errorf("Token() with a wrong secret error = %v, want a TokenFetchError for %s", err, ts.tokens.URL+"/token")
	}
	if err != nil && (strings.Contains(err.Error(), "wrong-secret-value") || strings.Contains(err.Error(), testClientSecret)) {
		t.Errorf("error %q contains the client secret", err)
	}

	// Through the Transport, the fetch error is the call's error.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(api.Close)
	client := &http.Client{Transport: NewTransport(nil, c)}
	if _, err := client.Get(api.URL); !errors.Is(err, ErrTokenFetch) {
		t.Errorf("Get() with failing credentials error = %v, want ErrTokenFetch", err)
	}
}

func TestNewClientCredentialsConfigErrors(t *testing.T) {
	ok := ClientCredentialsConfig{TokenURL: "https://idp.example/token", ClientID: "id", ClientSecret: NewSecret("s")}
	tests := []struct {
		field string
		edit  func(*ClientCredentialsConfig)
	}{
		{"ClientCredentialsConfig.TokenURL", func(c *ClientCredentialsConfig) { c.TokenURL = "" }},
		{"ClientCredentialsConfig.TokenURL", func(c *ClientCredentialsConfig) { c.TokenURL = "/relative" }},
		{"ClientCredentialsConfig.ClientID", func(c *ClientCredentialsConfig) { c.ClientID = "" }},
		{"ClientCredentialsConfig.ClientSecret", func(c *ClientCredentialsConfig) { c.ClientSecret = Secret{} }},
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		_, err := NewClientCredentials(cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewClientCredentials(bad %s) = %v, want a ConfigError naming it", tt.field, err)
		}
	}
	if _, err := NewClientCredentials(ok); err != nil {
		t.Errorf("NewClientCredentials(valid) = %v, want nil", err)
	}
}

// TestClientCredentialsFetchErrorRedactsURL: a transport error from the token
// request is a *url.Error holding the token URL, whose query or user information
// may be a secret.
func TestClientCredentialsFetchErrorRedactsURL(t *testing.T) {
	client := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("connection refused")
	})}
	c, err := NewClientCredentials(ClientCredentialsConfig{
		TokenURL:     "https://user:pa55word@auth.example/token?api_key=s3cret-key",
		ClientID:     "svc",
		ClientSecret: NewSecret("client-secret-value"),
		HTTPClient:   client,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Token(context.Background())
	if !errors.Is(err, ErrTokenFetch) {
		t.Fatalf("Token() error = %v, want ErrTokenFetch", err)
	}
	for _, s := range []string{"s3cret-key", "pa55word", "client-secret-value"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("Token() error %q holds the secret %q", err, s)
		}
	}
}

// formOnlyTokenServer is a token endpoint that takes the client credentials in
// the form body only and refuses HTTP Basic with invalid_client, as some
// identity providers do. It counts requests and refusals.
type formOnlyTokenServer struct {
	*httptest.Server
	secret   atomic.Value // string: the secret it accepts
	requests atomic.Int32
	refused  atomic.Int32
	issued   atomic.Int32
}

func newFormOnlyTokenServer(t *testing.T, secret string) *formOnlyTokenServer {
	t.Helper()
	s := &formOnlyTokenServer{}
	s.secret.Store(secret)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		refuse := func() {
			s.refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
		}
		if _, _, basic := r.BasicAuth(); basic || r.ParseForm() != nil {
			refuse()
			return
		}
		if r.PostForm.Get("client_id") != testClientID || r.PostForm.Get("client_secret") != s.secret.Load().(string) {
			refuse()
			return
		}
		n := s.issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestClientCredentialsDetectsAuthStyleOnce: with the auth style left to
// detection, a token endpoint that refuses HTTP Basic sees one refused request,
// for the first token only; every later token (refreshes, a rotated secret)
// takes one request with the credentials in the form body.
func TestClientCredentialsDetectsAuthStyleOnce(t *testing.T) {
	checkLeaks(t)
	srv := newFormOnlyTokenServer(t, "first-client-secret")
	t.Setenv("RAMPART_TEST_CLIENT_SECRET", "first-client-secret")
	c, err := NewClientCredentials(ClientCredentialsConfig{
		TokenURL:     srv.URL + "/token",
		ClientID:     testClientID,
		ClientSecret: EnvSecret("RAMPART_TEST_CLIENT_SECRET"),
		HTTPClient:   srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fetch := func() string {
		t.Helper()
		tok, err := c.Token(ctx)
		if err != nil {
			t.Fatalf("Token() = %v", err)
		}
		// Force the next call to fetch a new token, as a 401 from the API does.
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		c.Invalidate(r)
		return tok.AccessToken
	}

	const n = 3
	for range n {
		fetch()
	}
	// The first fetch detects the style: Basic refused, then the form body.
	if got, want := srv.requests.Load(), int32(n+1); got != want {
		t.Errorf("%d fetches made %d requests to the token endpoint, want %d", n, got, want)
	}
	if got := srv.refused.Load(); got != 1 {
		t.Errorf("%d fetches had %d requests refused, want 1 (the first detection)", n, got)
	}

	// The secret rotates: the next fetch uses the new one, still in the form body.
	srv.secret.Store("second-client-secret")
	t.Setenv("RAMPART_TEST_CLIENT_SECRET", "second-client-secret")
	before := srv.issued.Load()
	for range n {
		fetch()
	}
	if got := srv.issued.Load() - before; got != n {
		t.Errorf("after the rotation %d fetches got %d tokens, want %d", n, got, n)
	}
	if got, want := srv.requests.Load(), int32(2*n+1); got != want {
		t.Errorf("%d fetches made %d requests to the token endpoint, want %d", 2*n, got, want)
	}
	if got := srv.refused.Load(); got != 1 {
		t.Errorf("%d fetches had %d requests refused, want 1", 2*n, got)
	}
}
