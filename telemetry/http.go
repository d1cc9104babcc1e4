package telemetry

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// httpKey identifies the attribute set of an http.client.request.duration
// measurement.
type httpKey struct {
	method  string
	address string
	port    int
	status  int
	errType string
	resend  int
}

// attemptSpanKey is the context key of the span StartAttempt started.
type attemptSpanKey struct{}

// clientKind is the start option of attempt spans, built once.
var clientKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// StartAttempt starts the client span of one HTTP attempt, a child of the span in
// ctx, and writes its trace context into req's headers (traceparent, with the
// default propagator), so that the server continues the trace. When ctx has no span
// but req already carries a traceparent (from [httpx.WithTraceparent], say), the
// attempt span continues that trace. It implements [httpx.AttemptStarter]: the
// [httpx.Transport] calls it before each attempt, with the attempt's own copy of the
// request.
//
// The span is named after the method ("GET") and carries http.request.method,
// server.address, server.port, url.full (without user information, and with the
// values of [httpx.DefaultRedactedQuery] redacted) and http.request.resend_count
// from the second attempt on. These attributes are set once the span is known to
// be recording, so that nothing is built for a span that is not: a sampler does not
// see them.
func (t *Telemetry) StartAttempt(ctx context.Context, req *http.Request) context.Context {
	if t == nil || !t.tracing {
		return ctx
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	carrier := propagation.HeaderCarrier(req.Header)
	if !trace.SpanContextFromContext(ctx).IsValid() && t.mayCarry(req.Header) {
		ctx = t.prop.Extract(ctx, carrier)
	}
	method, known := normalizeMethod(req.Method)
	name := method
	if !known {
		name = "HTTP"
	}
	ctx, span := t.tracer.Start(ctx, name, clientKind...)
	if span.IsRecording() {
		address, port := serverOf(req.URL)
		attrs := make([]attribute.KeyValue, 0, 6)
		attrs = append(attrs,
			semconv.HTTPRequestMethodKey.String(method),
			semconv.ServerAddress(address),
			semconv.ServerPort(port),
			semconv.URLFull(redactedURL(req.URL)),
		)
		if !known {
			attrs = append(attrs, semconv.HTTPRequestMethodOriginal(req.Method))
		}
		if n := resilience.AttemptFromContext(ctx) - 1; n > 0 {
			attrs = append(attrs, semconv.HTTPRequestResendCount(n))
		}
		span.SetAttributes(attrs...)
		ctx = context.WithValue(ctx, attemptSpanKey{}, span)
	}
	t.prop.Inject(ctx, carrier)
	return ctx
}

// mayCarry reports whether h may carry a trace context for the propagator: with
// the default one, whether it has a traceparent (a map lookup, where Extract would
// canonicalise the name each time).
func (t *Telemetry) mayCarry(h http.Header) bool {
	if _, ok := t.prop.(propagation.TraceContext); ok {
		return len(h[httpx.HeaderTraceparent]) > 0
	}
	return true
}

// ObserveAttempt records one HTTP attempt in http.client.request.duration and ends
// the span [Telemetry.StartAttempt] started for it, with its status code and, for an
// error or a status of 400 or more, error.type and an error status. It implements
// [httpx.Observer].
//
// The histogram's attributes are http.request.method, server.address, server.port,
// http.response.status_code (when a response arrived), error.type (the status code
// for a status of 400 or more, else the Go type of the error) and
// http.request.resend_count (from the second attempt on).
func (t *Telemetry) ObserveAttempt(ctx context.Context, a httpx.AttemptInfo) {
	if t == nil {
		return
	}
	span, _ := ctx.Value(attemptSpanKey{}).(trace.Span)
	timing := t.httpDur.Enabled(ctx)
	if span == nil && !timing {
		return
	}
	status := 0
	if a.Response != nil {
		status = a.Response.StatusCode
	}
	var errType string
	switch {
	case a.Err != nil:
		errType = errorType(a.Err)
	case status >= 400:
		errType = strconv.Itoa(status)
	}
	if timing && a.Request != nil {
		k := httpKey{status: status, errType: errType, resend: max(a.Attempt-1, 0)}
		k.method, _ = normalizeMethod(a.Request.Method)
		k.address, k.port = serverOf(a.Request.URL)
		t.httpDur.Record(ctx, a.Duration.Seconds(), metric.WithAttributeSet(t.httpSets.get(k, httpSet)))
	}
	if span != nil {
		if status != 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		}
		if errType != "" {
			span.SetAttributes(semconv.ErrorTypeKey.String(errType))
			span.SetStatus(codes.Error, errType)
		}
		if a.Err != nil {
			span.RecordError(a.Err)
		}
		if !a.Start.IsZero() {
			span.End(trace.WithTimestamp(a.Start.Add(a.Duration)))
		} else {
			span.End()
		}
	}
}

// httpSet builds the attributes of http.client.request.duration.
func httpSet(k httpKey) attribute.Set {
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(k.method),
		semconv.ServerAddress(k.address),
		semconv.ServerPort(k.port),
	)
	if k.status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(k.status))
	}
	if k.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
	}
	if k.resend > 0 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(k.resend))
	}
	return attribute.NewSet(attrs...)
}

// normalizeMethod returns method as http.request.method reports it, and whether it
// is a method the semantic conventions know: others are "_OTHER", so that a client
// that sends made-up methods cannot blow up the metrics' cardinality.
func normalizeMethod(method string) (string, bool) {
	switch method {
	case "":
		return http.MethodGet, true
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "QUERY":
		return method, true
	}
	return "_OTHER", false
}

// serverOf returns server.address and server.port of u: its host, and its port or
// the scheme's default.
func serverOf(u *url.URL) (string, int) {
	if u == nil {
		return "", 0
	}
	host := u.Hostname()
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			return host, n
		}
	}
	switch u.Scheme {
	case "https", "wss":
		return host, 443
	case "http", "ws":
		return host, 80
	}
	return host, 0
}

// redactedURL returns u as url.full: without user information nor fragment, and
// with the values of the query parameters of [httpx.DefaultRedactedQuery] replaced
// by "REDACTED".
func redactedURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		parts := strings.Split(c.RawQuery, "&")
		for i, p := range parts {
			raw, _, hasValue := strings.Cut(p, "=")
			name := raw
			if n, err := url.QueryUnescape(raw); err == nil {
				name = n
			}
			if hasValue && sensitiveQuery(name) {
				parts[i] = raw + "=REDACTED"
			}
		}
		c.RawQuery = strings.Join(parts, "&")
	}
	return c.String()
}

// sensitiveQuery reports whether the value of the query parameter name must not be
// recorded.
func sensitiveQuery(name string) bool {
	for _, s := range httpx.DefaultRedactedQuery {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}
