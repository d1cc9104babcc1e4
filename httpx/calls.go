package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMaxResponseBytes is the largest body a typed call decodes when
// Client.MaxResponseBytes is zero.
const DefaultMaxResponseBytes = 10 << 20

// Client makes typed JSON calls to one service: [GetJSON], [PostJSON], [PutJSON],
// [DoJSON] and [Delete] build the URL from BaseURL, a path and query values, encode
// and decode JSON with a size limit, and turn a non-2xx response into a
// [*StatusError]. Build one with [NewClient], or fill the fields; a Client is safe
// for concurrent use once its fields are set.
//
// Over a [Transport], a typed call reads the whole response body inside the
// attempt, so a connection reset in the middle of a body is retried like any
// transport error.
type Client struct {
	// HTTP sends the calls. Nil means http.DefaultClient.
	HTTP *http.Client
	// BaseURL is the URL that paths are relative to; required.
	BaseURL *url.URL
	// Header holds headers sent with every call (User-Agent, say).
	Header http.Header
	// MaxResponseBytes is the largest response body decoded. Zero means 10 MiB.
	MaxResponseBytes int64
	// DisallowUnknownFields makes a response with a field that the target type
	// lacks a [*DecodeError].
	DisallowUnknownFields bool

	red *redactor // nil: the Transport's, or the default
}

// NewClient returns a Client for the service at opts.BaseURL (required) whose calls
// go through a new [Transport] configured by opts, over a transport of its own from
// [NewBaseTransport] unless Options.Base is set.
func NewClient(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("httpx: Options.BaseURL: required by NewClient")
	}
	if opts.Base == nil {
		opts.Base = NewBaseTransport()
	}
	t, err := NewTransport(opts)
	if err != nil {
		return nil, err
	}
	return &Client{HTTP: t.Client(), BaseURL: t.s.base, red: t.red}, nil
}

// CloseIdleConnections closes the idle connections of the client's transport.
func (c *Client) CloseIdleConnections() { c.httpClient().CloseIdleConnections() }

// GetJSON sends GET BaseURL/path?query and decodes the JSON response into a T.
func GetJSON[T any](ctx context.Context, c *Client, path string, query url.Values) (T, error) {
	return DoJSON[T](ctx, c, http.MethodGet, path, query, nil)
}

// PostJSON sends body as JSON in a POST to BaseURL/path and decodes the JSON
// response into a T. Use T = struct{} to ignore the response body. A POST is
// retried only with an Idempotency-Key (see Options.IdempotencyKeys).
func PostJSON[T any](ctx context.Context, c *Client, path string, body any) (T, error) {
	return DoJSON[T](ctx, c, http.MethodPost, path, nil, body)
}

// PutJSON sends body as JSON in a PUT to BaseURL/path and decodes the JSON response
// into a T. Use T = struct{} to ignore the response body.
func PutJSON[T any](ctx context.Context, c *Client, path string, body any) (T, error) {
	return DoJSON[T](ctx, c, http.MethodPut, path, nil, body)
}

// Delete sends DELETE BaseURL/path, and returns nil for a 2xx response, whose body
// is discarded.
func Delete(ctx context.Context, c *Client, path string) error {
	_, err := DoJSON[struct{}](ctx, c, http.MethodDelete, path, nil, nil)
	return err
}

// DoJSON sends a request with method to BaseURL/path?query, with body encoded as
// JSON unless it is nil, and decodes the JSON response into a T.
//
// The path is relative to BaseURL's path and may carry a query of its own; build
// paths with parameters with [Path]. A response other than 2xx is a [*StatusError];
// a body that is not JSON (by its Content-Type: JSON types, text/plain and
// application/octet-stream are decoded), is malformed, does not fit T, or is larger
// than MaxResponseBytes is a [*DecodeError]. A 204 or 205 response, or T = struct{},
// decodes to the zero T without reading the body. Any other error is a *url.Error
// whose URL is redacted.
func DoJSON[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any) (T, error) {
	var zero T
	u, err := c.resolve(path, query)
	if err != nil {
		return zero, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return zero, fmt.Errorf("httpx: %s %s: encoding request body: %w", method, c.redactor().url(u), err)
		}
		rd = bytes.NewReader(b)
	}
	limit := c.maxBytes()
	req, err := http.NewRequestWithContext(withBuffering(ctx, limit), method, u.String(), rd)
	if err != nil {
		return zero, fmt.Errorf("httpx: %s %s: %w", method, c.redactor().url(u), err)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json, application/problem+json")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = c.redactor().urlString(ue.URL)
		}
		return zero, err
	}
	if err := checkResponse(resp, c.redactor()); err != nil {
		return zero, err
	}
	defer drainAndClose(resp.Body)
	return decodeJSON[T](resp, limit, c.DisallowUnknownFields, c.redactor())
}

// maybeJSON reports whether a body of Content-Type ct may be JSON: a JSON type,
// or one that servers commonly put on JSON (text/plain, application/octet-stream,
// none). An HTML error page from a proxy, say, is refused before decoding.
func maybeJSON(ct string) bool {
	if ct == "" || isJSON(ct) {
		return true
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "text/plain" || mt == "application/octet-stream"
}

// errEmptyBody is the error in a DecodeError for a response without a body.
var errEmptyBody = errors.New("httpx: empty body")

// decodeJSON decodes resp's body, of at most limit bytes, into a T.
func decodeJSON[T any](resp *http.Response, limit int64, strict bool, red *redactor) (T, error) {
	var v T
	if _, ignore := any(&v).(*struct{}); ignore ||
		resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusResetContent {
		return v, nil
	}
	ct := resp.Header.Get("Content-Type")
	fail := func(err error) (T, error) {
		e := &DecodeError{StatusCode: resp.StatusCode, ContentType: ct, Err: err}
		if req := resp.Request; req != nil {
			e.Method, e.URL = methodOf(req), red.url(req.URL)
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			e.Offset = se.Offset
		case errors.As(err, &te):
			e.Field, e.Offset = te.Field, te.Offset
		default:
			// encoding/json reports an unknown field only in its message.
			if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				e.Field = strings.Trim(f, `"`)
			}
		}
		var zero T
		return zero, e
	}
	if !maybeJSON(ct) {
		return fail(fmt.Errorf("Content-Type %q is not JSON", ct))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return v, fmt.Errorf("httpx: %s %s: reading response body: %w", methodOf(resp.Request), red.url(resp.Request.URL), err)
	}
	switch {
	case int64(len(data)) > limit:
		return fail(fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit))
	case len(bytes.TrimSpace(data)) == 0:
		return fail(errEmptyBody)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&v); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(fmt.Errorf("trailing data after the JSON value at offset %d", dec.InputOffset()))
	}
	return v, nil
}

// resolve returns BaseURL joined with path (escaped, with an optional query) and
// query.
func (c *Client) resolve(path string, query url.Values) (*url.URL, error) {
	if c.BaseURL == nil {
		return nil, errors.New("httpx: Client.BaseURL is nil")
	}
	if strings.IndexByte(path, missingParam) >= 0 {
		return nil, c.pathError(path, errors.New("a path parameter is empty or missing, or one is extra"))
	}
	ref, err := url.Parse(path)
	if err != nil {
		return nil, c.pathError(path, err)
	}
	if ref.Scheme != "" || ref.Host != "" || ref.User != nil {
		return nil, c.pathError(path, errors.New("must be relative to the base URL"))
	}
	u := *c.BaseURL
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	if p := ref.EscapedPath(); p != "" {
		joined := strings.TrimSuffix(u.EscapedPath(), "/") + "/" + strings.TrimPrefix(p, "/")
		pu, err := url.Parse(joined)
		if err != nil {
			return nil, c.pathError(path, err)
		}
		u.Path, u.RawPath = pu.Path, pu.RawPath
	}
	var qs []string
	for _, q := range []string{u.RawQuery, ref.RawQuery, query.Encode()} {
		if q != "" {
			qs = append(qs, q)
		}
	}
	u.RawQuery = strings.Join(qs, "&")
	return &u, nil
}

// pathError returns the error of a path that cannot be used: "httpx: path
// "PATH": err", with the path's secrets redacted, as it may hold a query, and its
// missing parameters shown as "{?}".
func (c *Client) pathError(path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Parse's error quotes the path whole
	}
	p := strings.ReplaceAll(c.redactor().rawURL(path), string(missingParam), "{?}")
	return fmt.Errorf("httpx: path %q: %w", p, err)
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

func (c *Client) maxBytes() int64 {
	if c.MaxResponseBytes <= 0 {
		return DefaultMaxResponseBytes
	}
	return c.MaxResponseBytes
}

// redactor returns the redactor of the Client's Transport, or the default one.
func (c *Client) redactor() *redactor {
	if c.red != nil {
		return c.red
	}
	if t, ok := c.httpClient().Transport.(*Transport); ok {
		return t.red
	}
	return defaultRedactor
}

// missingParam marks, in a path built by Path, a parameter that is empty, missing
// or extra; a Client refuses such a path. A NUL byte cannot come from a parameter,
// which Path escapes.
const missingParam = '\x00'

// Path fills the {name} placeholders of pattern, in order, with params, each
// formatted with fmt.Sprint and escaped as one path segment: Path("/payments/{id}",
// "a/b") is "/payments/a%2Fb", and "." and ".." cannot climb the path. Path never
// panics: an empty, missing or extra parameter makes the call that uses the path fail
// with an error naming the pattern, before anything is sent.
func Path(pattern string, params ...any) string {
	var b strings.Builder
	b.Grow(len(pattern) + 16*len(params))
	i := 0
	for {
		open := strings.IndexByte(pattern, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(pattern[open:], '}')
		if end < 0 {
			break
		}
		b.WriteString(pattern[:open])
		if i < len(params) {
			s := escapeSegment(fmt.Sprint(params[i]))
			if s == "" {
				s = string(missingParam)
			}
			b.WriteString(s)
		} else {
			b.WriteByte(missingParam)
		}
		i++
		pattern = pattern[open+end+1:]
	}
	b.WriteString(pattern)
	if i < len(params) {
		b.WriteByte(missingParam)
	}
	return b.String()
}

// escapeSegment escapes s as one path segment.
func escapeSegment(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

// bufferingKey is the context key of the body limit under which a Transport reads a
// response's body inside the attempt.
type bufferingKey struct{}

// withBuffering returns a copy of ctx that asks a Transport to read response bodies
// of up to limit bytes inside the attempt.
func withBuffering(ctx context.Context, limit int64) context.Context {
	return context.WithValue(ctx, bufferingKey{}, limit)
}

// bufferingLimit returns the limit set by withBuffering, or 0.
func bufferingLimit(ctx context.Context) int64 {
	n, _ := ctx.Value(bufferingKey{}).(int64)
	return n
}
