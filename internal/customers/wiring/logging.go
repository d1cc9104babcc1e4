package wiring

import (
	"context"
	"log/slog"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/httpx"
)

// ContextHandler adds to each record the IDs its context carries: in an event
// handler, the event's correlation_id, event_id, event_type, subscription and
// attempt; in an HTTP request, its ID as correlation_id. The same correlation
// ID thus ties the request, the events it produced, their handlers and the
// handlers' calls to the providers.
type ContextHandler struct{ slog.Handler }

// Handle adds the IDs and passes the record on.
func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if m, ok := bus.MetaFrom(ctx); ok {
		r.AddAttrs(slog.String("correlation_id", m.CorrelationID), slog.String("event_id", m.ID),
			slog.String("event_type", m.Type), slog.String("subscription", m.Subscription), slog.Int("attempt", m.Attempt))
	} else if id := httpx.RequestIDFromContext(ctx); id != "" {
		r.AddAttrs(slog.String("correlation_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the handler a ContextHandler.
func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the handler a ContextHandler.
func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(name)}
}
