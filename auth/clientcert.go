package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"slices"
)

// ClientCertConfig configures a [ClientCertVerifier]. A certificate is accepted
// when it matches at least one entry of any list; when every list is empty, any
// verified client certificate is accepted.
type ClientCertConfig struct {
	// CommonNames are allowed subject common names.
	CommonNames []string
	// DNSNames are allowed DNS subject alternative names.
	DNSNames []string
	// URIs are allowed URI subject alternative names, such as SPIFFE IDs
	// ("spiffe://example.org/ns/prod/sa/orders").
	URIs []string
	// Organizations are allowed subject organisations (O).
	Organizations []string
	// Logger records rejected requests at info level. Nil logs nothing.
	Logger *slog.Logger
}

// ClientCertVerifier checks the client certificate of requests that arrive over
// mutual TLS. The certificate must have been verified by the TLS stack (the
// server's tls.Config has ClientAuth set to tls.RequireAndVerifyClientCert or
// tls.VerifyClientCertIfGiven, as with [ServerTLSConfig]); an unverified
// certificate counts as none. It is safe for concurrent use.
type ClientCertVerifier struct {
	cns, dns, uris, orgs []string
	logger               *slog.Logger
}

// NewClientCertVerifier returns a ClientCertVerifier for cfg.
func NewClientCertVerifier(cfg ClientCertConfig) (*ClientCertVerifier, error) {
	for field, list := range map[string][]string{
		"CommonNames": cfg.CommonNames, "DNSNames": cfg.DNSNames,
		"URIs": cfg.URIs, "Organizations": cfg.Organizations,
	} {
		if slices.Contains(list, "") {
			return nil, &ConfigError{Field: "ClientCertConfig." + field, Reason: "contains an empty entry"}
		}
	}
	return &ClientCertVerifier{
		cns:    slices.Clone(cfg.CommonNames),
		dns:    slices.Clone(cfg.DNSNames),
		uris:   slices.Clone(cfg.URIs),
		orgs:   slices.Clone(cfg.Organizations),
		logger: cfg.Logger,
	}, nil
}

// Verify returns the verified client certificate of a connection if it is
// allowed. Errors are [*ClientCertError] values matching [ErrNoClientCert] or
// [ErrClientCertNotAllowed].
func (v *ClientCertVerifier) Verify(cs *tls.ConnectionState) (*x509.Certificate, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return nil, &ClientCertError{Err: ErrNoClientCert}
	}
	leaf := cs.VerifiedChains[0][0]
	if !v.allowed(leaf) {
		return nil, &ClientCertError{Subject: leaf.Subject.String(), Err: ErrClientCertNotAllowed}
	}
	return leaf, nil
}

func (v *ClientCertVerifier) allowed(c *x509.Certificate) bool {
	if len(v.cns)+len(v.dns)+len(v.uris)+len(v.orgs) == 0 {
		return true
	}
	if slices.Contains(v.cns, c.Subject.CommonName) {
		return true
	}
	for _, n := range c.DNSNames {
		if slices.Contains(v.dns, n) {
			return true
		}
	}
	for _, u := range c.URIs {
		if slices.Contains(v.uris, u.String()) {
			return true
		}
	}
	for _, o := range c.Subject.Organization {
		if slices.Contains(v.orgs, o) {
			return true
		}
	}
	return false
}

type clientCertKey struct{}

// ClientCertFromContext returns the client certificate accepted by a
// [ClientCertVerifier] middleware.
func ClientCertFromContext(ctx context.Context) (*x509.Certificate, bool) {
	c, ok := ctx.Value(clientCertKey{}).(*x509.Certificate)
	return c, ok && c != nil
}

// Middleware returns a handler that passes to next only requests with an allowed
// client certificate, which it puts in the context ([ClientCertFromContext]).
// Other requests are answered 403 Forbidden with a problem+json body.
func (v *ClientCertVerifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cert, err := v.Verify(r.TLS)
		if err != nil {
			detail := "a verified client certificate is required"
			if errors.Is(err, ErrClientCertNotAllowed) {
				detail = "the client certificate is not allowed"
			}
			rj := rejection{status: http.StatusForbidden, code: "access_denied", detail: detail, logReason: err.Error()}
			rj.log(r.Context(), v.logger, r)
			rj.write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientCertKey{}, cert)))
	})
}
