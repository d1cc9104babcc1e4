package httpx

import (
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces a secret in logs and errors.
const Redacted = "REDACTED"

// redactor knows which headers and query parameters hold secrets.
type redactor struct {
	headers map[string]bool // canonical header names
	query   map[string]bool // lower-case parameter names
	// jsonSecret matches, in JSON text (even cut short), a member named like a
	// secret parameter and its string value.
	jsonSecret *regexp.Regexp
}

// defaultRedactor redacts the default headers and parameters only.
var defaultRedactor = newRedactor(nil, nil)

func newRedactor(headers, query []string) *redactor {
	r := &redactor{headers: map[string]bool{}, query: map[string]bool{}}
	for _, h := range slices.Concat(defaultRedactedHeaders, headers) {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	names := make([]string, 0, len(DefaultRedactedQuery)+len(query))
	for _, q := range slices.Concat(DefaultRedactedQuery, query) {
		r.query[strings.ToLower(q)] = true
		names = append(names, regexp.QuoteMeta(q))
	}
	r.jsonSecret = regexp.MustCompile(`(?i)("(?:` + strings.Join(names, "|") + `)"\s*:\s*)"(?:[^"\\]|\\.)*"?`)
	return r
}

// body returns a body for a log record, with the values of secret parameters (in a
// form) or members (in JSON) redacted.
func (r *redactor) body(contentType string, data []byte) string {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" {
		return r.redactQuery(string(data))
	}
	return r.jsonSecret.ReplaceAllString(string(data), `$1"`+Redacted+`"`)
}

// url returns u as a string with its user information and secret query values
// replaced by [Redacted].
func (r *redactor) url(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.User == nil && !r.secretQuery(u.RawQuery) {
		return u.String()
	}
	v := *u
	if v.User != nil {
		v.User = url.User(Redacted)
	}
	v.RawQuery = r.redactQuery(u.RawQuery)
	return v.String()
}

// urlString is url for a URL given as a string; one that does not parse is
// replaced whole.
func (r *redactor) urlString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URL>"
	}
	return r.url(u)
}

// rawURL returns s, a URL or a reference as written, which may not parse, with its
// user information and the values of its secret query (and fragment) parameters
// replaced by [Redacted], and the rest kept as is.
func (r *redactor) rawURL(s string) string {
	rest, frag, hasFrag := strings.Cut(s, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	// The authority follows "//", at the start or after a scheme, and ends at the
	// next "/"; its user information ends at its last "@".
	if i := strings.Index(rest, "//"); i >= 0 && !strings.Contains(rest[:i], "/") {
		authority := rest[i+2:]
		if j := strings.IndexByte(authority, '/'); j >= 0 {
			authority = authority[:j]
		}
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			rest = rest[:i+2] + Redacted + rest[i+2+at:]
		}
	}
	if hasQuery {
		rest += "?" + r.redactQuery(query)
	}
	if hasFrag {
		rest += "#" + r.redactQuery(frag)
	}
	return rest
}

// redactURLString redacts the URL s with r, or with the default redactor if r is nil.
func redactURLString(s string, r *redactor) string {
	if r == nil {
		r = defaultRedactor
	}
	return r.urlString(s)
}

// secretQuery reports whether the raw query has a parameter to redact.
func (r *redactor) secretQuery(raw string) bool {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if r.secretParam(part) {
			return true
		}
	}
	return false
}

// secretParam reports whether the query part "key=value" has a secret key.
func (r *redactor) secretParam(part string) bool {
	key, _, _ := strings.Cut(part, "=")
	if key == "" {
		return false
	}
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	return r.query[strings.ToLower(key)]
}

// redactQuery returns the raw query with the values of secret parameters replaced.
func (r *redactor) redactQuery(raw string) string {
	if !r.secretQuery(raw) {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		if r.secretParam(p) {
			key, _, _ := strings.Cut(p, "=")
			parts[i] = key + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// secretHeader reports whether the header named name holds a secret.
func (r *redactor) secretHeader(name string) bool {
	return r.headers[http.CanonicalHeaderKey(name)]
}

// headerLog logs a header with its secret values redacted.
type headerLog struct {
	h   http.Header
	red *redactor
}

// LogValue returns the header as a group, one attribute per name, sorted.
func (h headerLog) LogValue() slog.Value {
	keys := make([]string, 0, len(h.h))
	for k := range h.h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		v := Redacted
		if !h.red.secretHeader(k) {
			v = strings.Join(h.h[k], ", ")
		}
		attrs = append(attrs, slog.String(k, v))
	}
	return slog.GroupValue(attrs...)
}
