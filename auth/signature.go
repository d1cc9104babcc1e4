package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Headers of HMAC-signed requests.
const (
	// SignatureHeader carries the signature: keyId, algorithm, ts, nonce, signature.
	SignatureHeader = "X-Rampart-Signature"
	// DateHeader carries the signing time as an HTTP-date, for people and proxies;
	// the signed time is the signature's ts.
	DateHeader = "X-Rampart-Date"
	// DigestHeader carries the body's SHA-256 digest (RFC 9530).
	DigestHeader = "Content-Digest"
)

// AlgorithmHMACSHA256 is the only signature algorithm.
const AlgorithmHMACSHA256 = "hmac-sha256"

// canonicalPrefix is the first line of the canonical form.
const canonicalPrefix = "RAMPART-HMAC-SHA256"

// maxSignatureHeader bounds the header that ParseSignature accepts.
const maxSignatureHeader = 1024

// Signature is the parsed value of an X-Rampart-Signature header:
//
//	keyId=<id>,algorithm=hmac-sha256,ts=<unix seconds>,nonce=<nonce>,signature=<base64>
//
// Parameters are separated by commas with optional spaces around them; each
// appears exactly once, in any order. The key ID is 1 to 128 visible ASCII
// characters other than comma and double quote; the nonce is 1 to 128 characters
// of the URL-safe base64 alphabet; ts is a decimal number of seconds since the
// Unix epoch; the signature is the standard, padded base64 of a 32-byte HMAC.
type Signature struct {
	KeyID     string
	Algorithm string // always [AlgorithmHMACSHA256]
	Timestamp time.Time
	Nonce     string
	MAC       []byte
}

// String formats s as a header value, the inverse of [ParseSignature].
func (s Signature) String() string {
	alg := s.Algorithm
	if alg == "" {
		alg = AlgorithmHMACSHA256
	}
	return "keyId=" + s.KeyID + ",algorithm=" + alg + ",ts=" + strconv.FormatInt(s.Timestamp.Unix(), 10) +
		",nonce=" + s.Nonce + ",signature=" + base64.StdEncoding.EncodeToString(s.MAC)
}

// ParseSignature parses an X-Rampart-Signature header value. Errors match
// [ErrMalformedSignature].
func ParseSignature(v string) (Signature, error) {
	var s Signature
	if len(v) > maxSignatureHeader {
		return s, malformed("header is longer than %d bytes", maxSignatureHeader)
	}
	var seen [5]bool
	for part := range strings.SplitSeq(v, ",") {
		part = strings.Trim(part, " \t")
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return Signature{}, malformed("parameter %q has no value", truncate(part))
		}
		var i int
		switch name {
		case "keyId":
			i = 0
			if !validKeyID(val) {
				return Signature{}, malformed("invalid keyId")
			}
			s.KeyID = val
		case "algorithm":
			i = 1
			if val != AlgorithmHMACSHA256 {
				return Signature{}, malformed("unsupported algorithm %q", truncate(val))
			}
			s.Algorithm = val
		case "ts":
			i = 2
			sec, ok := parseUnixSeconds(val)
			if !ok {
				return Signature{}, malformed("invalid ts")
			}
			s.Timestamp = time.Unix(sec, 0)
		case "nonce":
			i = 3
			if !validNonce(val) {
				return Signature{}, malformed("invalid nonce")
			}
			s.Nonce = val
		case "signature":
			i = 4
			mac, err := base64.StdEncoding.Strict().DecodeString(val)
			if err != nil || len(mac) != sha256.Size {
				return Signature{}, malformed("signature is not the base64 of %d bytes", sha256.Size)
			}
			s.MAC = mac
		default:
			return Signature{}, malformed("unknown parameter %q", truncate(name))
		}
		if seen[i] {
			return Signature{}, malformed("parameter %q repeated", name)
		}
		seen[i] = true
	}
	for i, name := range [...]string{"keyId", "algorithm", "ts", "nonce", "signature"} {
		if !seen[i] {
			return Signature{}, malformed("parameter %q missing", name)
		}
	}
	return s, nil
}

func malformed(format string, args ...any) error {
	detail := fmt.Sprintf(format, args...)
	return &SignatureError{Detail: detail, Err: reason(ErrMalformedSignature, nil, "%s", detail)}
}

// truncate shortens attacker-supplied text quoted in errors.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

func validKeyID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ',' || c == '"' {
			return false
		}
	}
	return true
}

func validNonce(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parseUnixSeconds parses 1 to 18 decimal digits.
func parseUnixSeconds(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// contentDigest returns the Content-Digest value of a body with the given SHA-256
// sum: "sha-256=:<base64>:".
func contentDigest(sum []byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// canonicalRequest returns the string that is signed; see the package
// documentation for its definition.
func canonicalRequest(keyID string, ts time.Time, nonce, method string, u *url.URL, digest string) (string, error) {
	query, err := canonicalQuery(u.RawQuery)
	if err != nil {
		return "", err
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.Grow(len(canonicalPrefix) + len(keyID) + len(nonce) + len(path) + len(query) + len(digest) + 40)
	for i, line := range [...]string{
		canonicalPrefix, keyID, strconv.FormatInt(ts.Unix(), 10), nonce,
		strings.ToUpper(method), path, query, digest,
	} {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
	}
	return b.String(), nil
}

// canonicalQuery decodes the query, encodes each name and value with RFC 3986
// percent-encoding (space as %20), and sorts the name=value pairs as byte strings.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return "", err
	}
	pairs := make([]string, 0, len(values))
	for name, vs := range values {
		for _, v := range vs {
			pairs = append(pairs, rfc3986Escape(name)+"="+rfc3986Escape(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&"), nil
}

func rfc3986Escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// computeMAC returns HMAC-SHA256(key, canonical).
func computeMAC(key []byte, canonical string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(canonical))
	return m.Sum(nil)
}
