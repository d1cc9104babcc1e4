package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"net/http"
	"time"
)

// DefaultMaxBodyBytes is the body size limit of [HMACSigner] and [HMACVerifier]
// when their MaxBodyBytes is zero: 10 MiB.
const DefaultMaxBodyBytes = 10 << 20

// MinHMACKeyLen is the shortest HMAC key accepted, in bytes (the size of the
// SHA-256 output, as RFC 2104 recommends).
const MinHMACKeyLen = 32

// HMACSignerConfig configures an [HMACSigner]. KeyID and Key are required.
type HMACSignerConfig struct {
	// KeyID names the key to the verifier: 1 to 128 visible ASCII characters
	// other than comma and double quote.
	KeyID string
	// Key is the shared secret, at least [MinHMACKeyLen] bytes. It is loaded for
	// every request, so that a rotated key (an [EnvSecret], a [*FileSecret]) signs
	// from the next request on; a [Secret] is a source of itself, checked by
	// NewHMACSigner, while the key of another source is checked when loaded.
	Key SecretSource
	// MaxBodyBytes is the largest body that is signed; a larger body fails with
	// an error matching [ErrBodyTooLarge]. Zero means [DefaultMaxBodyBytes].
	MaxBodyBytes int64
}

// HMACSigner signs outgoing requests with HMAC-SHA256 over their method, path,
// query, a timestamp, a random nonce and the SHA-256 digest of their body (see
// the package documentation for the canonical form). It sets the
// X-Rampart-Signature, X-Rampart-Date and Content-Digest headers.
//
// The body is read through GetBody when the request has one; otherwise it is read
// once, and replaced with an in-memory copy that GetBody can replay.
//
// HMACSigner is [Credentials] and safe for concurrent use.
type HMACSigner struct {
	keyID   string
	key     SecretSource
	maxBody int64
}

// NewHMACSigner returns an HMACSigner for cfg.
func NewHMACSigner(cfg HMACSignerConfig) (*HMACSigner, error) {
	if !validKeyID(cfg.KeyID) {
		return nil, &ConfigError{Field: "HMACSignerConfig.KeyID", Reason: "must be 1 to 128 visible ASCII characters other than comma and double quote"}
	}
	if v, isValue := cfg.Key.(Secret); noSource(cfg.Key) || isValue && shortHMACKey(v) {
		return nil, shortKeyError()
	}
	maxBody := cfg.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	return &HMACSigner{keyID: cfg.KeyID, key: cfg.Key, maxBody: maxBody}, nil
}

func shortHMACKey(k Secret) bool { return len(k.Reveal()) < MinHMACKeyLen }

func shortKeyError() error {
	return &ConfigError{Field: "HMACSignerConfig.Key", Reason: fmt.Sprintf("must be at least %d bytes", MinHMACKeyLen)}
}

// Apply signs r at the current time.
func (s *HMACSigner) Apply(ctx context.Context, r *http.Request) error {
	return s.signAt(ctx, r, time.Now())
}

// Sign signs r as of now (truncated to the second) with a fresh random nonce. It
// changes r's headers and, for a body without GetBody, r's Body, GetBody and
// ContentLength, so r must be a request the caller owns. A key that cannot be
// loaded is an error matching [ErrNoSecret]; one too short, [ErrInvalidConfig].
func (s *HMACSigner) Sign(r *http.Request, now time.Time) error {
	return s.signAt(context.Background(), r, now)
}

func (s *HMACSigner) signAt(ctx context.Context, r *http.Request, now time.Time) error {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	return s.sign(ctx, r, now, base64.RawURLEncoding.EncodeToString(raw[:]))
}

func (s *HMACSigner) sign(ctx context.Context, r *http.Request, now time.Time, nonce string) error {
	key, err := s.key.Load(ctx)
	if err != nil {
		return fmt.Errorf("auth: cannot sign request: %w", err)
	}
	if shortHMACKey(key) {
		return fmt.Errorf("auth: cannot sign request: %w", shortKeyError())
	}
	sum, err := s.bodyDigest(r)
	if err != nil {
		return err
	}
	digest := contentDigest(sum)
	ts := now.Truncate(time.Second)
	canonical, err := canonicalRequest(s.keyID, ts, nonce, r.Method, r.URL, digest)
	if err != nil {
		return fmt.Errorf("auth: cannot sign request: query: %w", err)
	}
	sig := Signature{KeyID: s.keyID, Algorithm: AlgorithmHMACSHA256, Timestamp: ts, Nonce: nonce, MAC: computeMAC([]byte(key.Reveal()), canonical)}
	r.Header.Set(SignatureHeader, sig.String())
	r.Header.Set(DateHeader, ts.UTC().Format(http.TimeFormat))
	r.Header.Set(DigestHeader, digest)
	return nil
}

// bodyDigest returns the SHA-256 of r's body, leaving r with a body that can be
// sent.
func (s *HMACSigner) bodyDigest(r *http.Request) ([]byte, error) {
	h := sha256.New()
	if r.Body == nil || r.Body == http.NoBody {
		return h.Sum(nil), nil
	}
	if r.GetBody != nil {
		body, err := r.GetBody()
		if err != nil {
			return nil, fmt.Errorf("auth: cannot sign request: GetBody: %w", err)
		}
		defer body.Close()
		if err := hashLimited(h, body, s.maxBody); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("auth: cannot sign request: reading body: %w", err)
	}
	if int64(len(b)) > s.maxBody {
		return nil, bodyTooLarge(s.maxBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.ContentLength = int64(len(b))
	h.Write(b)
	return h.Sum(nil), nil
}

func hashLimited(h hash.Hash, body io.Reader, limit int64) error {
	n, err := io.Copy(h, io.LimitReader(body, limit+1))
	if err != nil {
		return fmt.Errorf("auth: reading body: %w", err)
	}
	if n > limit {
		return bodyTooLarge(limit)
	}
	return nil
}

func bodyTooLarge(limit int64) error {
	return fmt.Errorf("%w: larger than %d bytes", ErrBodyTooLarge, limit)
}
