package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rampart-go/rampart/auth"
)

// Sign requests on one side and verify them on the other.
func ExampleHMACSigner() {
	key := auth.NewSecret("a-shared-key-of-at-least-32-bytes!!")

	verifier, err := auth.NewHMACVerifier(auth.HMACVerifierConfig{
		Keys: map[string]auth.Secret{"orders": key},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(verifier.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keyID, _ := auth.HMACKeyIDFromContext(r.Context())
		body, _ := io.ReadAll(r.Body) // restored by the verifier
		fmt.Fprintf(w, "signed by %s: %s", keyID, body)
	})))
	defer srv.Close()

	signer, err := auth.NewHMACSigner(auth.HMACSignerConfig{KeyID: "orders", Key: key})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: auth.NewTransport(nil, signer)}
	resp, err := client.Post(srv.URL+"/payments?currency=EUR", "application/json", strings.NewReader(`{"amount":100}`))
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))

	// An unsigned request is turned away.
	resp, err = http.Post(srv.URL+"/payments", "application/json", strings.NewReader(`{"amount":100}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	// Output:
	// 200 signed by orders: {"amount":100}
	// 401 Rampart-HMAC
}

// A Secret cannot be printed or logged by accident.
func ExampleSecret() {
	s := auth.NewSecret("hunter2")
	fmt.Println(s)
	fmt.Printf("%v %s %q %#v %x\n", s, s, s, s, s)
	fmt.Printf("%+v\n", struct{ Token auth.Secret }{s})

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("calling the API", "token", s)

	fmt.Println(len(s.Reveal()))
	// Output:
	// [REDACTED]
	// [REDACTED] [REDACTED] "[REDACTED]" [REDACTED] [REDACTED]
	// {Token:[REDACTED]}
	// level=INFO msg="calling the API" token=[REDACTED]
	// 7
}

// Send a bearer token read from an environment variable on every request.
func ExampleBearer() {
	os.Setenv("EXAMPLE_API_TOKEN", "t0ken")
	defer os.Unsetenv("EXAMPLE_API_TOKEN")

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()

	client := &http.Client{Transport: auth.NewTransport(nil, auth.Bearer(auth.EnvSecret("EXAMPLE_API_TOKEN")))}
	resp, err := client.Get(api.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: Bearer t0ken
}

// Obtain OAuth2 tokens with the client credentials grant; concurrent and later
// calls share the cached token.
func ExampleClientCredentials() {
	var tokenRequests atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`)
	}))
	defer idp.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()

	creds, err := auth.NewClientCredentials(auth.ClientCredentialsConfig{
		TokenURL:     idp.URL + "/oauth2/token",
		ClientID:     "orders",
		ClientSecret: auth.NewSecret("client-secret"),
		Scopes:       []string{"payments:write"},
	})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: auth.NewTransport(nil, creds)}
	for range 3 {
		resp, err := client.Get(api.URL)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	fmt.Println("token requests:", tokenRequests.Load())
	// Output:
	// Bearer at-1
	// Bearer at-1
	// Bearer at-1
	// token requests: 1
}

// Verify JWT bearer tokens and read their claims in the handler.
func ExampleJWTVerifier() {
	key := []byte("an-hmac-key-of-at-least-32-bytes-for-HS256")
	verifier, err := auth.NewJWTVerifier(auth.JWTConfig{
		Keys:       auth.StaticKeys{"k1": {Algorithm: "HS256", Key: key}},
		Algorithms: []string{"HS256"},
		Issuer:     "https://idp.example",
		Audience:   "payments",
		Leeway:     30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	handler := verifier.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := auth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.Subject)
	}))

	mint := func(exp time.Time) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "https://idp.example", "aud": "payments", "sub": "orders", "exp": exp.Unix(),
		})
		tok.Header["kid"] = "k1"
		s, _ := tok.SignedString(key)
		return s
	}
	for _, exp := range []time.Time{time.Now().Add(time.Hour), time.Now().Add(-time.Hour)} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+mint(exp))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
		if c := w.Header().Get("WWW-Authenticate"); c != "" {
			fmt.Println(c)
		}
	}
	// Output:
	// 200 hello orders
	// 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"token is expired","error":"invalid_token"}
	// Bearer error="invalid_token", error_description="token is expired"
}

func ExampleParseSignature() {
	sig, err := auth.ParseSignature("keyId=orders,algorithm=hmac-sha256,ts=1700000000,nonce=bm9uY2U,signature=q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")
	if err != nil {
		panic(err)
	}
	fmt.Println(sig.KeyID, sig.Timestamp.UTC().Format(time.RFC3339), len(sig.MAC))

	_, err = auth.ParseSignature("keyId=orders,algorithm=hmac-sha1")
	fmt.Println(err)
	// Output:
	// orders 2023-11-14T22:13:20Z 32
	// auth: request signature rejected: unsupported algorithm "hmac-sha1"
}

// Verify a token without HTTP, and branch on the reason it is rejected.
func ExampleJWTVerifier_Verify() {
	verifier, _ := auth.NewJWTVerifier(auth.JWTConfig{
		Keys:     auth.StaticKeys{},
		Issuer:   "https://idp.example",
		Audience: "payments",
	})
	_, err := verifier.Verify(context.Background(), "not-a-token")
	fmt.Println(err)
	fmt.Println(errors.Is(err, auth.ErrInvalidToken))
	// Output:
	// auth: invalid token: token is malformed
	// true
}

// A development issuer in a test: the verifier takes its keys, and the tokens
// it mints carry the scopes asked for.
func ExampleDevIssuer() {
	iss, err := auth.NewDevIssuer(auth.DevIssuerConfig{Issuer: "orders-dev", Audience: "orders", TTL: time.Hour})
	if err != nil {
		panic(err)
	}
	cfg := iss.JWTConfig() // or auth.NewJWKS(auth.JWKSConfig{URL: ...}) with iss served on that URL
	cfg.RequiredScopes = []string{"orders:write"}
	v, err := auth.NewJWTVerifier(cfg)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", c.Subject)
	})))
	defer srv.Close()

	for _, scopes := range [][]string{{"orders:write"}, {"orders:read"}} {
		tok, err := iss.Mint(auth.DevToken{Subject: "ann", Scopes: scopes})
		if err != nil {
			panic(err)
		}
		req, _ := http.NewRequest("POST", srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(scopes, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	// Output:
	// [orders:write] 200 hello ann
	// [orders:read] 403 {"type":"about:blank","title":"Forbidden","status":403,"detail":"token lacks the required scope","error":"insufficient_scope"}
}
