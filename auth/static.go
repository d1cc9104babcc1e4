package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"
)

// StaticConfig configures [Static] credentials. The zero value is not usable:
// Secret is required.
type StaticConfig struct {
	// Secret provides the token or key on every request: a [Secret], an
	// [EnvSecret] or a [*FileSecret]. Required.
	Secret SecretSource
	// Header is the request header that carries the secret. Empty means
	// "Authorization".
	Header string
	// Scheme is written before the secret, separated by a space. Empty means
	// "Bearer" when Header is Authorization, and nothing for other headers.
	Scheme string
}

// Static credentials put a secret in a request header: a bearer token
// ("Authorization: Bearer <token>") or an API key ("X-Api-Key: <key>"). The secret
// is loaded from its [SecretSource] on every request, so a rotated file or
// variable takes effect without a restart. Static is safe for concurrent use.
type Static struct {
	src    SecretSource
	header string
	prefix string
}

// NewStatic returns Static credentials for cfg.
func NewStatic(cfg StaticConfig) (*Static, error) {
	if noSource(cfg.Secret) {
		return nil, &ConfigError{Field: "StaticConfig.Secret", Reason: "is required"}
	}
	header := cfg.Header
	if header == "" {
		header = "Authorization"
	}
	if !validHeaderName(header) {
		return nil, &ConfigError{Field: "StaticConfig.Header", Reason: fmt.Sprintf("%q is not a valid header name", header)}
	}
	header = textproto.CanonicalMIMEHeaderKey(header)
	scheme := cfg.Scheme
	if scheme == "" && header == "Authorization" {
		scheme = "Bearer"
	}
	prefix := ""
	if scheme != "" {
		if !validHeaderName(scheme) {
			return nil, &ConfigError{Field: "StaticConfig.Scheme", Reason: fmt.Sprintf("%q is not a valid scheme", scheme)}
		}
		prefix = scheme + " "
	}
	return &Static{src: cfg.Secret, header: header, prefix: prefix}, nil
}

// Bearer returns credentials that send "Authorization: Bearer <secret>".
func Bearer(src SecretSource) *Static {
	return &Static{src: src, header: "Authorization", prefix: "Bearer "}
}

// APIKey returns credentials that send "X-Api-Key: <secret>".
func APIKey(src SecretSource) *Static {
	return &Static{src: src, header: "X-Api-Key"}
}

// Header returns the name of the header the credentials set.
func (s *Static) Header() string { return s.header }

// Apply sets the header on r. It fails, with an error matching [ErrNoSecret], if
// the secret cannot be loaded or cannot be sent in a header.
func (s *Static) Apply(ctx context.Context, r *http.Request) error {
	if s.src == nil {
		return &SecretError{Source: "a nil SecretSource"}
	}
	secret, err := s.src.Load(ctx)
	if err != nil {
		return err
	}
	v := secret.Reveal()
	if !validHeaderValue(v) {
		return &SecretError{Source: fmt.Sprintf("header %s", s.header), Err: errInvalidHeaderValue}
	}
	r.Header.Set(s.header, s.prefix+v)
	return nil
}

var errInvalidHeaderValue = fmt.Errorf("secret contains characters not allowed in a header")

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c != 0 && c < 0x80 && isTokenPunct(c):
		default:
			return false
		}
	}
	return true
}

func isTokenPunct(c byte) bool {
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// validHeaderValue reports whether s can be sent as a header value: no control
// characters other than tab, no DEL.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
