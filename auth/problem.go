package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
)

// problem is an RFC 9457 problem details object with the OAuth error code (RFC
// 6750 §3.1) as an extension member.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ProblemContentType is the media type of the bodies of rejected requests.
const ProblemContentType = "application/problem+json"

// rejection is how a middleware answers a request it refuses.
type rejection struct {
	status    int
	scheme    string      // WWW-Authenticate scheme; empty for none
	params    [][2]string // WWW-Authenticate auth-params, in order
	code      string      // OAuth-style error code, also in the body
	detail    string      // for the client; never a secret
	logReason string
}

// write sends the rejection: WWW-Authenticate (for 401 and 403 with a scheme), and
// a problem+json body.
func (rj rejection) write(w http.ResponseWriter) {
	h := w.Header()
	if rj.scheme != "" {
		h.Set("WWW-Authenticate", challenge(rj.scheme, rj.params))
	}
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rj.status)
	_ = json.NewEncoder(w).Encode(problem{
		Type:   "about:blank",
		Title:  http.StatusText(rj.status),
		Status: rj.status,
		Detail: rj.detail,
		Error:  rj.code,
	})
}

// log records the rejection at info level; nothing is logged with a nil logger.
func (rj rejection) log(ctx context.Context, logger *slog.Logger, r *http.Request, attrs ...slog.Attr) {
	if logger == nil {
		return
	}
	attrs = append(attrs,
		slog.Int("status", rj.status),
		slog.String("reason", rj.logReason),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("remote", r.RemoteAddr),
	)
	logger.LogAttrs(ctx, slog.LevelInfo, "auth: request rejected", attrs...)
}

// challenge formats a WWW-Authenticate value: scheme followed by auth-params
// whose values are quoted strings.
func challenge(scheme string, params [][2]string) string {
	var b strings.Builder
	b.WriteString(scheme)
	for i, p := range params {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(p[0])
		b.WriteString(`="`)
		b.WriteString(quoteParam(p[1]))
		b.WriteByte('"')
	}
	return b.String()
}

// quoteParam escapes a quoted-string's content: backslash and double quote are
// escaped, control characters become spaces.
func quoteParam(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		case r >= 0x80:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
