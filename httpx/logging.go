package httpx

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/rampart-go/rampart/resilience"
)

// logging writes the records of a Transport: one per attempt at Info, and its
// headers and bodies at Debug.
type logging struct {
	l       *slog.Logger
	red     *redactor
	maxBody int // 0 logs no bodies
}

// RoundTrip is the logging and observer stages: it sends r through the base
// transport, then tells the observer and the logger what happened.
func (s sender) RoundTrip(r *http.Request) (*http.Response, error) {
	t := s.t
	ctx := r.Context()
	if t.starter != nil {
		r = r.WithContext(ctx)
		r.Header = r.Header.Clone()
		if r.Header == nil {
			r.Header = make(http.Header)
		}
		ctx = t.starter.StartAttempt(ctx, r)
		r = r.WithContext(ctx)
	}
	debug := t.log != nil && t.log.l.Enabled(ctx, slog.LevelDebug)
	var reqBody []byte
	if debug {
		reqBody = t.log.requestBody(r)
	}
	attempt := resilience.AttemptFromContext(ctx)
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	end := time.Now()
	d := end.Sub(start)
	if t.observer != nil {
		t.observer.ObserveAttempt(ctx, AttemptInfo{
			Request: r, Response: resp, Err: err, Attempt: attempt, Start: start, Duration: d,
		})
	}
	if t.log != nil {
		t.log.attempt(ctx, end, r, resp, err, attempt, d)
		if debug {
			t.log.detail(ctx, r, reqBody, resp)
		}
	}
	return resp, err
}

// attempt logs the Info record of one attempt, which ended at end.
func (l *logging) attempt(ctx context.Context, end time.Time, r *http.Request, resp *http.Response, err error, attempt int, d time.Duration) {
	if !l.l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var buf [7]slog.Attr
	attrs := append(buf[:0],
		slog.String("method", methodOf(r)),
		slog.String("url", l.red.url(r.URL)),
	)
	if resp != nil {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
	}
	attrs = append(attrs, slog.Duration("duration", d), slog.Int("attempt", attempt))
	if id := requestIDOf(ctx, r); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	l.log(ctx, end, slog.LevelInfo, "http attempt", attrs)
}

// log hands a record to the logger's handler. It builds the record itself, without
// the caller's program counter, which Logger.LogAttrs would look up for every record
// at a cost larger than the rest of the record's (a source location would point into
// this package anyway).
func (l *logging) log(ctx context.Context, now time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	r := slog.NewRecord(now, level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.l.Handler().Handle(ctx, r)
}

// detail logs the Debug record of one attempt: redacted headers, and the start of
// the bodies. Reading the start of the response body waits for it.
func (l *logging) detail(ctx context.Context, r *http.Request, reqBody []byte, resp *http.Response) {
	attrs := []slog.Attr{
		slog.String("method", methodOf(r)),
		slog.String("url", l.red.url(r.URL)),
		slog.Any("request_headers", headerLog{r.Header, l.red}),
	}
	if reqBody != nil {
		attrs = append(attrs, slog.String("request_body", l.red.body(r.Header.Get("Content-Type"), reqBody)))
	}
	if resp != nil {
		attrs = append(attrs, slog.Int("status", resp.StatusCode),
			slog.Any("response_headers", headerLog{resp.Header, l.red}))
		if b := l.responseBody(resp); b != nil {
			attrs = append(attrs, slog.String("response_body", l.red.body(resp.Header.Get("Content-Type"), b)))
		}
	}
	l.log(ctx, time.Now(), slog.LevelDebug, "http attempt detail", attrs)
}

// requestBody returns the start of r's body, read from a copy through GetBody, or
// nil if there is none or it cannot be copied.
func (l *logging) requestBody(r *http.Request) []byte {
	if l.maxBody == 0 || r.Body == nil || r.Body == http.NoBody || r.GetBody == nil {
		return nil
	}
	b, err := r.GetBody()
	if err != nil {
		return nil
	}
	defer b.Close()
	data, _ := io.ReadAll(io.LimitReader(b, int64(l.maxBody)))
	return data
}

// responseBody reads the start of resp's body and puts it back in front of the rest.
func (l *logging) responseBody(resp *http.Response) []byte {
	if l.maxBody == 0 || resp.Body == nil || resp.Body == http.NoBody {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(l.maxBody)))
	rest := resp.Body
	var r io.Reader = bytes.NewReader(data)
	if err != nil {
		r = io.MultiReader(r, &errReader{err})
	} else {
		r = io.MultiReader(r, rest)
	}
	resp.Body = &peekedBody{Reader: r, Closer: rest}
	return data
}

// peekedBody is a response body whose start was read for a log record.
type peekedBody struct {
	io.Reader
	io.Closer
}

// errReader returns err, the error met while peeking at a body.
type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// methodOf returns r's method, "GET" when empty.
func methodOf(r *http.Request) string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

// requestIDOf returns the request ID of an attempt: from the context, or the
// request's own header.
func requestIDOf(ctx context.Context, r *http.Request) string {
	if id := RequestIDFromContext(ctx); id != "" {
		return id
	}
	if v := r.Header[HeaderRequestID]; len(v) > 0 {
		return v[0]
	}
	return ""
}
