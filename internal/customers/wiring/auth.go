package wiring

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-go/rampart/auth"
)

// devIssuer is the issuer of development tokens.
const devIssuer = "customers-dev"

// verifier returns the JWT verifier of the write endpoints: with s.JWKSURL, one
// that checks tokens against the issuer's published keys; without, a
// development key made now, with a token signed by it that is written to
// DataDir/dev-token, so that the quick start works with curl, and printed on
// the terminal (never logged). [Settings.check] has refused an issuer
// without a JWKS URL.
func verifier(s Settings, log *slog.Logger) (v *auth.JWTVerifier, devToken string, err error) {
	cfg := auth.JWTConfig{
		Issuer:         s.JWTIssuer,
		Audience:       s.JWTAudience,
		Leeway:         30 * time.Second,
		RequiredScopes: []string{s.JWTScope},
		Realm:          "customers",
		Logger:         log,
	}
	if s.JWKSURL != "" {
		if cfg.Keys, err = auth.NewJWKS(auth.JWKSConfig{URL: s.JWKSURL}); err != nil {
			return nil, "", fmt.Errorf("customers: -jwks-url: %w", err)
		}
		v, err = auth.NewJWTVerifier(cfg)
		return v, "", err
	}
	issuer := cfg.Issuer
	if issuer == "" {
		issuer = devIssuer
	}
	dev, err := auth.NewDevIssuer(auth.DevIssuerConfig{Issuer: issuer, Audience: cfg.Audience, TTL: s.DevTokenTTL})
	if err != nil {
		return nil, "", fmt.Errorf("customers: development issuer: %w", err)
	}
	dc := dev.JWTConfig()
	cfg.Keys, cfg.Issuer, cfg.Algorithms = dc.Keys, dc.Issuer, dc.Algorithms
	if v, err = auth.NewJWTVerifier(cfg); err != nil {
		return nil, "", err
	}
	now := time.Now()
	if devToken, err = dev.Mint(auth.DevToken{Subject: "developer", Scopes: []string{s.JWTScope}, IssuedAt: now}); err != nil {
		return nil, "", fmt.Errorf("customers: development token: %w", err)
	}
	file := filepath.Join(s.DataDir, "dev-token")
	if err := os.WriteFile(file, []byte(devToken+"\n"), 0o600); err != nil {
		return nil, "", fmt.Errorf("customers: development token: %w", err)
	}
	expires := now.Add(s.DevTokenTTL).UTC().Format(time.RFC3339)
	// The token is a credential: the logs, which may be collected and kept,
	// name its file only; the terminal gets the token itself.
	log.Warn("development mode: write endpoints accept tokens signed by a key made at start; set -jwks-url (CUSTOMERS_JWKS_URL) and -jwt-issuer for real tokens",
		"token_file", file, "expires", expires,
		"usage", "curl -H \"Authorization: Bearer $(cat "+file+")\" ...")
	if out := devTokenOutput(s); out != nil {
		fmt.Fprintf(out, "\ncustomers: development token (in %s, valid until %s):\n\n%s\n\n", file, expires, devToken)
	}
	return v, devToken, nil
}

// devTokenOutput returns where the development token is printed:
// s.DevTokenOutput, or standard error if it is a terminal.
func devTokenOutput(s Settings) io.Writer {
	if s.DevTokenOutput != nil {
		return s.DevTokenOutput
	}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return os.Stderr
	}
	return nil
}
