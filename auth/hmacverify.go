package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Defaults of [HMACVerifierConfig].
const (
	// DefaultMaxSkew is the replay window: how far a signed request's timestamp
	// may be from the verifier's clock.
	DefaultMaxSkew = 5 * time.Minute
	// DefaultReplayCacheSize is how many signatures are remembered. Each takes
	// about 150 bytes.
	DefaultReplayCacheSize = 100_000
)

// HMACScheme is the authentication scheme named in the WWW-Authenticate header of
// requests rejected by an [HMACVerifier].
const HMACScheme = "Rampart-HMAC"

// HMACVerifierConfig configures an [HMACVerifier]. Keys is required; every other
// field has a usable zero value.
type HMACVerifierConfig struct {
	// Keys maps key IDs to shared secrets (each at least [MinHMACKeyLen] bytes).
	// Several keys allow rotation: add the new one, move the signers, remove the
	// old one.
	Keys map[string]Secret
	// MaxSkew is how far a request's timestamp may be from now, in either
	// direction. Zero means [DefaultMaxSkew].
	MaxSkew time.Duration
	// ReplayCacheSize bounds the number of signatures remembered to reject
	// replays. Zero means [DefaultReplayCacheSize]. When full, the signature that
	// expires first is forgotten.
	ReplayCacheSize int
	// MaxBodyBytes is the largest body accepted; a larger one is answered 413.
	// Zero means [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// Logger records rejected requests at info level (reason, key ID, method,
	// path, remote address; never a secret or a signature). Nil logs nothing.
	Logger *slog.Logger
}

// HMACVerifier verifies requests signed by an [HMACSigner]: the signature
// header parses, its timestamp lies within MaxSkew of now, its key is known, the
// body matches its digest, the HMAC matches (compared in constant time), and the
// signature was not seen before within the window. The body is read (up to
// MaxBodyBytes) and restored for the next handler.
//
// The replay cache lives in memory: behind a load balancer, each instance rejects
// replays of what it saw itself. No goroutine is started.
//
// HMACVerifier is safe for concurrent use.
type HMACVerifier struct {
	keys    map[string][]byte
	maxSkew time.Duration
	maxBody int64
	replays *replayCache
	logger  *slog.Logger
}

// NewHMACVerifier returns an HMACVerifier for cfg.
func NewHMACVerifier(cfg HMACVerifierConfig) (*HMACVerifier, error) {
	if len(cfg.Keys) == 0 {
		return nil, &ConfigError{Field: "HMACVerifierConfig.Keys", Reason: "at least one key is required"}
	}
	keys := make(map[string][]byte, len(cfg.Keys))
	for id, k := range cfg.Keys {
		if !validKeyID(id) {
			return nil, &ConfigError{Field: "HMACVerifierConfig.Keys", Reason: fmt.Sprintf("key ID %q is not 1 to 128 visible ASCII characters other than comma and double quote", truncate(id))}
		}
		if len(k.Reveal()) < MinHMACKeyLen {
			return nil, &ConfigError{Field: "HMACVerifierConfig.Keys", Reason: fmt.Sprintf("key %q is shorter than %d bytes", id, MinHMACKeyLen)}
		}
		keys[id] = []byte(k.Reveal())
	}
	switch {
	case cfg.MaxSkew < 0:
		return nil, &ConfigError{Field: "HMACVerifierConfig.MaxSkew", Reason: "must not be negative"}
	case cfg.ReplayCacheSize < 0:
		return nil, &ConfigError{Field: "HMACVerifierConfig.ReplayCacheSize", Reason: "must not be negative"}
	case cfg.MaxBodyBytes < 0:
		return nil, &ConfigError{Field: "HMACVerifierConfig.MaxBodyBytes", Reason: "must not be negative"}
	}
	v := &HMACVerifier{
		keys:    keys,
		maxSkew: cmpOr(cfg.MaxSkew, DefaultMaxSkew),
		maxBody: cmpOr(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		replays: newReplayCache(cmpOr(cfg.ReplayCacheSize, DefaultReplayCacheSize)),
		logger:  cfg.Logger,
	}
	return v, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Verify checks r's signature as of now and returns its key ID. It reads r's body
// and replaces it with an in-memory copy. A signature that verifies is recorded,
// so a second Verify of the same request fails with [ErrReplay]. Errors are
// [*SignatureError] values.
func (v *HMACVerifier) Verify(r *http.Request, now time.Time) (keyID string, err error) {
	header := r.Header.Get(SignatureHeader)
	if header == "" {
		return "", &SignatureError{Detail: "no " + SignatureHeader + " header", Err: ErrMissingCredentials}
	}
	sig, err := ParseSignature(header)
	if err != nil {
		return "", err
	}
	fail := func(sentinel error, format string, args ...any) (string, error) {
		detail := fmt.Sprintf(format, args...)
		return "", &SignatureError{KeyID: sig.KeyID, Detail: detail, Err: reason(sentinel, nil, "%s", detail)}
	}
	switch age := now.Sub(sig.Timestamp); {
	case age > v.maxSkew:
		return fail(ErrExpired, "timestamp is older than %s", v.maxSkew)
	case age < -v.maxSkew:
		return fail(ErrNotYetValid, "timestamp is more than %s in the future", v.maxSkew)
	}
	if d := r.Header.Get(DateHeader); d != "" {
		if t, err := http.ParseTime(d); err != nil || !t.Equal(sig.Timestamp) {
			return fail(ErrMalformedSignature, "%s does not match the signature's ts", DateHeader)
		}
	}
	key, ok := v.keys[sig.KeyID]
	if !ok {
		return fail(ErrUnknownKey, "unknown key ID")
	}
	sum, err := v.readBody(r)
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			return fail(ErrBodyTooLarge, "body is larger than %d bytes", v.maxBody)
		}
		return fail(ErrDigestMismatch, "cannot read body")
	}
	digest := contentDigest(sum)
	if !digestHeaderMatches(r.Header.Values(DigestHeader), digest) {
		return fail(ErrDigestMismatch, "%s does not match the body", DigestHeader)
	}
	canonical, err := canonicalRequest(sig.KeyID, sig.Timestamp, sig.Nonce, r.Method, r.URL, digest)
	if err != nil || !hmac.Equal(computeMAC(key, canonical), sig.MAC) {
		return fail(ErrSignatureMismatch, "signature does not match the request")
	}
	// Only verified signatures are recorded, so that forged requests cannot fill
	// the cache. The entry lives as long as the timestamp check would accept it.
	if !v.replays.add(string(sig.MAC), sig.Timestamp.Add(v.maxSkew), now) {
		return fail(ErrReplay, "signature was already used")
	}
	return sig.KeyID, nil
}

// readBody reads r's body up to the limit, restores it, and returns its SHA-256.
func (v *HMACVerifier) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		sum := sha256.Sum256(nil)
		return sum[:], nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, v.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > v.maxBody {
		return nil, ErrBodyTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// digestHeaderMatches reports whether the Content-Digest field values, if any,
// agree with digest. Members for algorithms other than sha-256 are ignored; an
// absent header is accepted, since the signature covers the digest anyway.
func digestHeaderMatches(values []string, digest string) bool {
	for _, v := range values {
		for member := range strings.SplitSeq(v, ",") {
			member = strings.Trim(member, " \t")
			if len(member) >= 8 && strings.EqualFold(member[:8], "sha-256=") {
				if subtle.ConstantTimeCompare([]byte(member[8:]), []byte(digest[8:])) != 1 {
					return false
				}
			}
		}
	}
	return true
}

type hmacKeyIDKey struct{}

// HMACKeyIDFromContext returns the key ID of the request verified by an
// [HMACVerifier] middleware.
func HMACKeyIDFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(hmacKeyIDKey{}).(string)
	return id, ok
}

// Middleware returns a handler that verifies each request before passing it to
// next, with the key ID in its context ([HMACKeyIDFromContext]). A rejected
// request is answered with a problem+json body: 401 with "WWW-Authenticate:
// Rampart-HMAC" for a missing, malformed, stale, unknown-key, tampered or replayed
// signature, 413 for a body over the limit.
func (v *HMACVerifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keyID, err := v.Verify(r, time.Now())
		if err != nil {
			rj := hmacRejection(err)
			var se *SignatureError
			var id string
			if errors.As(err, &se) {
				id = se.KeyID
			}
			rj.log(r.Context(), v.logger, r, slog.String("key_id", id))
			rj.write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), hmacKeyIDKey{}, keyID)))
	})
}

func hmacRejection(err error) rejection {
	detail := err.Error()
	var se *SignatureError
	if errors.As(err, &se) {
		detail = se.Detail
	}
	rj := rejection{status: http.StatusUnauthorized, scheme: HMACScheme, detail: detail, logReason: detail}
	switch {
	case errors.Is(err, ErrMissingCredentials):
		rj.detail = "the request is not signed"
	case errors.Is(err, ErrBodyTooLarge):
		rj.status, rj.scheme, rj.code = http.StatusRequestEntityTooLarge, "", "body_too_large"
	default:
		rj.code = "invalid_signature"
		rj.params = [][2]string{{"error", rj.code}, {"error_description", detail}}
	}
	return rj
}
