package httpx

import "context"

// Context keys of the values a [Transport] propagates as headers.
type (
	requestIDKey      struct{}
	traceparentKey    struct{}
	idempotencyKeyKey struct{}
)

// Header names the Transport reads and writes.
const (
	// HeaderRequestID carries the request ID set with [WithRequestID].
	HeaderRequestID = "X-Request-Id"
	// HeaderTraceparent carries the W3C trace context set with [WithTraceparent].
	HeaderTraceparent = "Traceparent"
	// HeaderIdempotencyKey makes a POST or PATCH retryable; see
	// Options.IdempotencyKeys.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// WithRequestID returns a copy of ctx that carries the request ID id. A [Transport]
// sends it as X-Request-ID on requests that have none, and logs it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request ID carried by ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithTraceparent returns a copy of ctx that carries a W3C traceparent value
// ("00-<trace-id>-<span-id>-<flags>"). A [Transport] sends it as the traceparent
// header on requests that have none. A tracing [Observer] may set the header itself
// instead.
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	return context.WithValue(ctx, traceparentKey{}, traceparent)
}

// TraceparentFromContext returns the traceparent carried by ctx, or "".
func TraceparentFromContext(ctx context.Context) string {
	tp, _ := ctx.Value(traceparentKey{}).(string)
	return tp
}

// WithIdempotencyKey returns a copy of ctx that carries the idempotency key of one
// business operation (an order ID, say). With Options.IdempotencyKeys, a
// [Transport] sends it as the Idempotency-Key of a POST or PATCH that has none, so
// that a call repeated by the caller after a crash is recognised by the server too.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyKey{}, key)
}

// IdempotencyKeyFromContext returns the idempotency key carried by ctx, or "".
func IdempotencyKeyFromContext(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKeyKey{}).(string)
	return k
}
