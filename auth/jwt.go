package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxTokenLen bounds the bearer tokens a JWTVerifier parses.
const maxTokenLen = 16 << 10

// JWTConfig configures a [JWTVerifier]. Keys, Issuer and Audience are required;
// every other field has a usable zero value.
type JWTConfig struct {
	// Keys finds the verification key by the token's "kid": [StaticKeys] or a
	// [*JWKS].
	Keys KeySet
	// Issuer is the required "iss".
	Issuer string
	// Audience must be one of the token's "aud" values.
	Audience string
	// Algorithms are the allowed "alg" values. Empty means [DefaultAlgorithms]
	// (asymmetric only); "none" is rejected. Each key is moreover bound to its
	// own algorithm.
	Algorithms []string
	// Leeway is the clock skew tolerated when checking "exp", "nbf" and "iat".
	// Zero means none.
	Leeway time.Duration
	// RequiredScopes must all be granted by the token, else the request is
	// answered 403 insufficient_scope. Empty requires none.
	RequiredScopes []string
	// Realm is sent in the WWW-Authenticate challenge; empty sends none.
	Realm string
	// Logger records rejected requests at info level (reason, method, path,
	// remote address; never the token). Nil logs nothing.
	Logger *slog.Logger
}

// JWTVerifier verifies JWT bearer tokens (RFC 6750, RFC 7519) with
// golang-jwt/jwt/v5: the signature with the key found by "kid", the algorithm
// against the allowed list and the key's own, the issuer, the audience, and the
// "exp" (required), "nbf" and "iat" times with the configured leeway; then the
// required scopes.
//
// JWTVerifier is safe for concurrent use.
type JWTVerifier struct {
	keys     KeySet
	issuer   string
	audience string
	allowed  []string
	leeway   time.Duration
	scopes   []string
	realm    string
	logger   *slog.Logger
}

// NewJWTVerifier returns a JWTVerifier for cfg.
func NewJWTVerifier(cfg JWTConfig) (*JWTVerifier, error) {
	switch {
	case cfg.Keys == nil:
		return nil, &ConfigError{Field: "JWTConfig.Keys", Reason: "is required"}
	case cfg.Issuer == "":
		return nil, &ConfigError{Field: "JWTConfig.Issuer", Reason: "is required"}
	case cfg.Audience == "":
		return nil, &ConfigError{Field: "JWTConfig.Audience", Reason: "is required"}
	case cfg.Leeway < 0:
		return nil, &ConfigError{Field: "JWTConfig.Leeway", Reason: "must not be negative"}
	}
	allowed := cfg.Algorithms
	if len(allowed) == 0 {
		allowed = DefaultAlgorithms
	}
	for _, alg := range allowed {
		if !supportedAlgorithm(alg) {
			return nil, &ConfigError{Field: "JWTConfig.Algorithms", Reason: fmt.Sprintf("%q is not supported", truncate(alg))}
		}
	}
	return &JWTVerifier{
		keys:     cfg.Keys,
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		allowed:  append([]string(nil), allowed...),
		leeway:   cfg.Leeway,
		scopes:   append([]string(nil), cfg.RequiredScopes...),
		realm:    cfg.Realm,
		logger:   cfg.Logger,
	}, nil
}

// Verify verifies token and returns its claims. It checks the signature and the
// claims but not the required scopes (see [JWTVerifier.CheckScopes]). Errors are
// [*TokenError] values that match [ErrInvalidToken] and the specific reason.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, tokenError(nil, nil, "token is too long")
	}
	p := jwt.NewParser(
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithLeeway(v.leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	claims := new(Claims)
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if !slices.Contains(v.allowed, alg) {
			return nil, reason(ErrAlgorithmNotAllowed, nil, "algorithm %q is not allowed", truncate(alg))
		}
		kid, _ := t.Header["kid"].(string)
		key, err := v.keys.Lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		if key.Algorithm != alg {
			return nil, reason(ErrAlgorithmNotAllowed, nil, "key %q is for %s, not %s", truncate(kid), key.Algorithm, alg)
		}
		return key.material()
	})
	if err != nil {
		return nil, classifyJWTError(err)
	}
	return claims, nil
}

// CheckScopes returns a [*ScopeError] if c lacks any of the required scopes.
func (v *JWTVerifier) CheckScopes(c *Claims) error {
	var missing []string
	for _, s := range v.scopes {
		if !c.HasScope(s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return &ScopeError{Required: v.scopes, Missing: missing}
	}
	return nil
}

func tokenError(sentinel, cause error, detail string) error {
	if sentinel == nil {
		sentinel = ErrInvalidToken
	}
	return &TokenError{Detail: detail, Err: &reasonError{reason: detail, sentinel: sentinel, cause: cause}}
}

// classifyJWTError maps a golang-jwt error to a TokenError with our sentinel.
func classifyJWTError(err error) error {
	var re *reasonError
	if errors.As(err, &re) && (re.sentinel == ErrUnknownKey || re.sentinel == ErrAlgorithmNotAllowed) {
		return tokenError(re.sentinel, err, re.reason)
	}
	if errors.Is(err, ErrKeySetUnavailable) {
		return tokenError(ErrKeySetUnavailable, err, "verification keys are unavailable")
	}
	for _, m := range [...]struct {
		jwtErr, sentinel error
		detail           string
	}{
		{jwt.ErrTokenMalformed, ErrInvalidToken, "token is malformed"},
		{jwt.ErrTokenUnverifiable, ErrInvalidToken, "token cannot be verified"},
		{jwt.ErrTokenSignatureInvalid, ErrSignatureMismatch, "signature is invalid"},
		{jwt.ErrTokenExpired, ErrExpired, "token is expired"},
		{jwt.ErrTokenNotValidYet, ErrNotYetValid, "token is not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, ErrNotYetValid, "token is used before it was issued"},
		{jwt.ErrTokenInvalidIssuer, ErrInvalidIssuer, "token has an invalid issuer"},
		{jwt.ErrTokenInvalidAudience, ErrInvalidAudience, "token has an invalid audience"},
		{jwt.ErrTokenRequiredClaimMissing, ErrInvalidToken, "token lacks a required claim"},
	} {
		if errors.Is(err, m.jwtErr) {
			return tokenError(m.sentinel, err, m.detail)
		}
	}
	return tokenError(ErrInvalidToken, err, "token is invalid")
}

// Middleware returns a handler that verifies the bearer token of each request
// before passing it to next, with the claims in its context
// ([ClaimsFromContext]). A request without a bearer token is answered 401 with
// "WWW-Authenticate: Bearer"; an invalid token 401 with error="invalid_token" and
// an error_description; a valid token without the required scopes 403 with
// error="insufficient_scope"; unavailable keys 503. Every answer has an RFC 9457
// problem+json body.
func (v *JWTVerifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, rj := v.authenticate(r)
		if rj != nil {
			rj.log(r.Context(), v.logger, r)
			rj.write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), claims)))
	})
}

func (v *JWTVerifier) authenticate(r *http.Request) (*Claims, *rejection) {
	var realm [][2]string
	if v.realm != "" {
		realm = [][2]string{{"realm", v.realm}}
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return nil, &rejection{status: http.StatusUnauthorized, scheme: "Bearer", params: realm,
			detail: "a bearer token is required", logReason: "no bearer token"}
	}
	claims, err := v.Verify(r.Context(), token)
	if err != nil {
		detail := err.Error()
		var te *TokenError
		if errors.As(err, &te) {
			detail = te.Detail
		}
		if errors.Is(err, ErrKeySetUnavailable) {
			return nil, &rejection{status: http.StatusServiceUnavailable, detail: detail, logReason: err.Error()}
		}
		return nil, &rejection{status: http.StatusUnauthorized, scheme: "Bearer",
			params: append(realm, [2]string{"error", "invalid_token"}, [2]string{"error_description", detail}),
			code:   "invalid_token", detail: detail, logReason: detail}
	}
	if err := v.CheckScopes(claims); err != nil {
		detail := "token lacks the required scope"
		return nil, &rejection{status: http.StatusForbidden, scheme: "Bearer",
			params: append(realm, [2]string{"error", "insufficient_scope"}, [2]string{"error_description", detail},
				[2]string{"scope", strings.Join(v.scopes, " ")}),
			code: "insufficient_scope", detail: detail, logReason: err.Error()}
	}
	return claims, nil
}
