package auth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Sentinel errors that callers branch on with [errors.Is]. The struct types below
// carry the details; none of them ever holds a secret.
var (
	// ErrInvalidConfig is matched by the errors of constructors given a bad
	// configuration. See [ConfigError] for the field.
	ErrInvalidConfig = errors.New("auth: invalid configuration")
	// ErrNoSecret is matched when a [SecretSource] has no usable secret: an unset
	// environment variable, a missing, unreadable or empty file, an empty [Secret].
	ErrNoSecret = errors.New("auth: secret unavailable")
	// ErrTokenFetch is matched when an OAuth2 token request fails. See
	// [TokenFetchError].
	ErrTokenFetch = errors.New("auth: token request failed")

	// ErrMissingCredentials is matched when an incoming request carries no
	// credentials at all (no bearer token, no signature, no client certificate).
	ErrMissingCredentials = errors.New("auth: missing credentials")
	// ErrInvalidToken is matched by every rejection of a JWT. See [TokenError]; the
	// specific reason matches one of the sentinels below as well.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpired is matched by an expired token, a signed request whose timestamp is
	// older than the replay window, and a certificate past its validity.
	ErrExpired = errors.New("auth: expired")
	// ErrNotYetValid is matched by a token used before its "nbf" or "iat" time and by
	// a signed request whose timestamp is too far in the future.
	ErrNotYetValid = errors.New("auth: not yet valid")
	// ErrInvalidIssuer is matched by a token from another issuer.
	ErrInvalidIssuer = errors.New("auth: invalid issuer")
	// ErrInvalidAudience is matched by a token meant for another audience.
	ErrInvalidAudience = errors.New("auth: invalid audience")
	// ErrUnknownKey is matched when the key ID of a token or a signature is not in
	// the key set.
	ErrUnknownKey = errors.New("auth: unknown key")
	// ErrAlgorithmNotAllowed is matched by a token signed with an algorithm that is
	// not allowed, or not the one its key is bound to.
	ErrAlgorithmNotAllowed = errors.New("auth: algorithm not allowed")
	// ErrKeySetUnavailable is matched when a remote key set (JWKS) cannot be fetched
	// and no keys are cached.
	ErrKeySetUnavailable = errors.New("auth: key set unavailable")
	// ErrSignatureMismatch is matched by a token or a signed request whose signature
	// does not verify: tampered, or signed with another key.
	ErrSignatureMismatch = errors.New("auth: signature mismatch")
	// ErrInsufficientScope is matched when a valid token lacks a required scope. See
	// [ScopeError].
	ErrInsufficientScope = errors.New("auth: insufficient scope")

	// ErrMalformedSignature is matched by an X-Rampart-Signature header that does not
	// parse.
	ErrMalformedSignature = errors.New("auth: malformed signature")
	// ErrReplay is matched by a signed request whose signature was already seen
	// within the replay window.
	ErrReplay = errors.New("auth: replayed request")
	// ErrDigestMismatch is matched when a request's Content-Digest does not match its
	// body.
	ErrDigestMismatch = errors.New("auth: content digest mismatch")
	// ErrBodyTooLarge is matched when a body to be signed or verified exceeds the
	// configured limit.
	ErrBodyTooLarge = errors.New("auth: body too large")

	// ErrNoClientCert is matched when a request has no verified client certificate.
	ErrNoClientCert = errors.New("auth: no verified client certificate")
	// ErrClientCertNotAllowed is matched when a verified client certificate matches
	// none of the allowed identities.
	ErrClientCertNotAllowed = errors.New("auth: client certificate not allowed")
	// ErrInvalidPEM is matched by every problem with TLS files: missing, unreadable,
	// not PEM, unparsable, a key that does not match its certificate, an expired
	// certificate. See [PEMError] for the file.
	ErrInvalidPEM = errors.New("auth: invalid PEM file")
)

// ConfigError reports an invalid configuration field. It matches [ErrInvalidConfig].
type ConfigError struct {
	Field  string // e.g. "HMACSignerConfig.Key"
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("auth: invalid %s: %s", e.Field, e.Reason)
}

// Is reports whether target is [ErrInvalidConfig].
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// SecretError reports a secret that could not be loaded. It matches [ErrNoSecret]
// and unwraps to the cause (for example an [os.PathError]).
type SecretError struct {
	Source string // where the secret comes from, e.g. `file "/run/secrets/token"`
	Err    error  // the cause, if any
}

func (e *SecretError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("auth: no secret in %s", e.Source)
	}
	return fmt.Sprintf("auth: no secret in %s: %v", e.Source, e.Err)
}

// Is reports whether target is [ErrNoSecret].
func (e *SecretError) Is(target error) bool { return target == ErrNoSecret }

// Unwrap returns the cause.
func (e *SecretError) Unwrap() error { return e.Err }

// TokenFetchError reports a failed OAuth2 token request. It matches
// [ErrTokenFetch] and unwraps to the cause, often an [golang.org/x/oauth2.RetrieveError]
// that carries the token endpoint's answer.
type TokenFetchError struct {
	TokenURL string // the token endpoint, without query or user information
	Err      error
}

func (e *TokenFetchError) Error() string {
	return fmt.Sprintf("auth: token request to %s failed: %v", e.TokenURL, e.Err)
}

// Is reports whether target is [ErrTokenFetch].
func (e *TokenFetchError) Is(target error) bool { return target == ErrTokenFetch }

// Unwrap returns the cause.
func (e *TokenFetchError) Unwrap() error { return e.Err }

// TokenError reports a rejected JWT. It matches [ErrInvalidToken] and, through
// Unwrap, the specific sentinel ([ErrExpired], [ErrInvalidAudience], ...) and the
// golang-jwt error underneath.
type TokenError struct {
	// Detail says what is wrong in words fit for the error_description sent back to
	// the client; it never contains the token.
	Detail string
	Err    error
}

func (e *TokenError) Error() string { return "auth: invalid token: " + e.Detail }

// Is reports whether target is [ErrInvalidToken].
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

// Unwrap returns the specific reason.
func (e *TokenError) Unwrap() error { return e.Err }

// ScopeError reports a token that lacks required scopes. It matches
// [ErrInsufficientScope].
type ScopeError struct {
	Required []string // every scope the endpoint requires
	Missing  []string // those the token lacks
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("auth: insufficient scope: missing %s", strings.Join(e.Missing, " "))
}

// Is reports whether target is [ErrInsufficientScope].
func (e *ScopeError) Is(target error) bool { return target == ErrInsufficientScope }

// SignatureError reports a rejected HMAC-signed request. It unwraps to the specific
// sentinel: [ErrMissingCredentials], [ErrMalformedSignature], [ErrExpired],
// [ErrNotYetValid], [ErrUnknownKey], [ErrDigestMismatch], [ErrBodyTooLarge],
// [ErrSignatureMismatch] or [ErrReplay].
type SignatureError struct {
	KeyID  string // the key ID claimed by the request, if it parsed
	Detail string // what is wrong, fit for the client
	Err    error
}

func (e *SignatureError) Error() string {
	if e.KeyID == "" {
		return "auth: request signature rejected: " + e.Detail
	}
	return fmt.Sprintf("auth: request signature with key %q rejected: %s", e.KeyID, e.Detail)
}

// Unwrap returns the specific reason.
func (e *SignatureError) Unwrap() error { return e.Err }

// ClientCertError reports a rejected client certificate. It unwraps to
// [ErrNoClientCert] or [ErrClientCertNotAllowed].
type ClientCertError struct {
	Subject string // the certificate's subject, if there was one
	Err     error
}

func (e *ClientCertError) Error() string {
	if e.Subject == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v: %s", e.Err, e.Subject)
}

// Unwrap returns the reason.
func (e *ClientCertError) Unwrap() error { return e.Err }

// PEMError reports a problem with one TLS file. It matches [ErrInvalidPEM] and
// unwraps to the cause (an [os.PathError], an x509 error, [ErrExpired], ...).
type PEMError struct {
	Role string // "certificate", "key" or "CA"
	File string // the file's path
	Err  error
}

func (e *PEMError) Error() string {
	return fmt.Sprintf("auth: TLS %s file %q: %v", e.Role, e.File, e.Err)
}

// Is reports whether target is [ErrInvalidPEM].
func (e *PEMError) Is(target error) bool { return target == ErrInvalidPEM }

// Unwrap returns the cause.
func (e *PEMError) Unwrap() error { return e.Err }

// reasonError is an error whose text is a bare reason (no "auth:" prefix) and which
// matches a sentinel and, optionally, a cause. It sits inside the struct errors
// above so that errors.Is finds the sentinel while the outer message stays readable.
type reasonError struct {
	reason   string
	sentinel error
	cause    error
}

func (e *reasonError) Error() string { return e.reason }

func (e *reasonError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.sentinel}
	}
	return []error{e.sentinel, e.cause}
}

// redactURLError replaces, in the [*url.Error] of err's chain if any, the URL
// (which may hold user information or secret query parameters) with safe.
func redactURLError(err error, safe string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = safe
	}
	return err
}

func reason(sentinel error, cause error, format string, args ...any) error {
	return &reasonError{reason: fmt.Sprintf(format, args...), sentinel: sentinel, cause: cause}
}
