package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
)

type OrderShipped struct {
	OrderID string `json:"order_id"`
}

// fakeSpan is a span of the recorder's fake tracer.
type fakeSpan struct{ trace, id string }

func (s fakeSpan) traceparent() string { return "00-" + s.trace + "-" + s.id + "-01" }

type spanKey struct{}

// op is one operation the recorder observed.
type op struct {
	kind       string // "publish" or "process"
	span       fakeSpan
	parent     string // the parent span's ID, "" for a root
	pub        bus.PublishInfo
	proc       bus.ProcessInfo
	ends       int
	err        error
	deadLetter *bus.DeadLetterInfo // seen while the operation ran
}

// recorder is an Observer with a fake tracer: every operation is a span, a child
// of the span in ctx (publish) or of the envelope's traceparent (process), and
// PropagateTrace gives the span in ctx.
type recorder struct {
	mu       sync.Mutex
	n        int
	ops      []*op
	dead     []bus.DeadLetterInfo
	deadSpan []string // the span in the context of each dead letter
}

var (
	_ bus.Observer        = (*recorder)(nil)
	_ bus.TracePropagator = (*recorder)(nil)
)

func (r *recorder) newSpan(trace string) fakeSpan {
	r.n++
	if trace == "" {
		trace = fmt.Sprintf("%032x", r.n)
	}
	return fakeSpan{trace: trace, id: fmt.Sprintf("%016x", r.n)}
}

// root returns a context with a root span, the caller's (an HTTP request's, say).
func (r *recorder) root(ctx context.Context) (context.Context, fakeSpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.newSpan("")
	return context.WithValue(ctx, spanKey{}, s), s
}

func (r *recorder) start(ctx context.Context, o *op, trace, parent string) (context.Context, func(error)) {
	r.mu.Lock()
	o.span, o.parent = r.newSpan(trace), parent
	r.ops = append(r.ops, o)
	r.mu.Unlock()
	return context.WithValue(ctx, spanKey{}, o.span), func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		o.ends++
		o.err = err
	}
}

func (r *recorder) ObservePublish(ctx context.Context, p bus.PublishInfo) (context.Context, func(error)) {
	parent, _ := ctx.Value(spanKey{}).(fakeSpan)
	return r.start(ctx, &op{kind: "publish", pub: p}, parent.trace, parent.id)
}

func (r *recorder) ObserveProcess(ctx context.Context, p bus.ProcessInfo) (context.Context, func(error)) {
	var trace, parent string
	if len(p.TraceParent) == 55 {
		trace, parent = p.TraceParent[3:35], p.TraceParent[36:52]
	}
	return r.start(ctx, &op{kind: "process", proc: p}, trace, parent)
}

func (r *recorder) ObserveDeadLetter(ctx context.Context, d bus.DeadLetterInfo) {
	s, _ := ctx.Value(spanKey{}).(fakeSpan)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dead = append(r.dead, d)
	r.deadSpan = append(r.deadSpan, s.id)
	for _, o := range r.ops {
		if o.span == s && o.ends == 0 {
			o.deadLetter = &d
		}
	}
}

func (r *recorder) PropagateTrace(ctx context.Context) (string, string) {
	s, ok := ctx.Value(spanKey{}).(fakeSpan)
	if !ok {
		return "", ""
	}
	return s.traceparent(), "rec=1"
}

// find returns the operations of kind on eventType, in the order they started.
func (r *recorder) find(kind, eventType string) []op {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []op
	for _, o := range r.ops {
		if o.kind == kind && (o.pub.EventType == eventType || o.proc.EventType == eventType) {
			out = append(out, *o)
		}
	}
	return out
}

func (r *recorder) deadLetters() ([]bus.DeadLetterInfo, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bus.DeadLetterInfo(nil), r.dead...), append([]string(nil), r.deadSpan...)
}

// one returns the only operation of list, failing the test otherwise.
func one(t *testing.T, what string, list []op) op {
	t.Helper()
	if len(list) != 1 {
		t.Fatalf("%s: %d operations, want 1: %+v", what, len(list), list)
	}
	if list[0].ends != 1 {
		t.Errorf("%s: ended %d times, want once", what, list[0].ends)
	}
	return list[0]
}

// A trace follows an event from the caller's span through its publish, the
// envelope and its processing to the handler, and on through an event the handler
// publishes; the observer sees each operation with what it needs to name it.
func TestObserverTracesThroughTheEnvelope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		w := newWorld(t, bus.Options{Observer: rec})
		var (
			mu                sync.Mutex
			handlerTP         string
			orderMeta, shMeta bus.Meta
		)
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			tp, _ := rec.PropagateTrace(ctx)
			mu.Lock()
			handlerTP, orderMeta = tp, m
			mu.Unlock()
			return w.b.Publish(ctx, OrderShipped{OrderID: e.OrderID})
		}); err != nil {
			t.Fatal(err)
		}
		if err := bus.Handle(w.b, "shipping", func(ctx context.Context, e OrderShipped, m bus.Meta) error {
			mu.Lock()
			shMeta = m
			mu.Unlock()
			return bus.Permanent(errors.New("no courier"))
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		ctx, request := rec.root(context.Background())
		if err := w.b.Publish(bus.ContextWithCorrelationID(ctx, "req-1"), OrderPlaced{OrderID: "o-1"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()

		orderType, _ := w.b.Registry().Name(OrderPlaced{})
		shippedType, _ := w.b.Registry().Name(OrderShipped{})
		pubOrder := one(t, "publish order", rec.find("publish", orderType))
		procOrder := one(t, "process order", rec.find("process", orderType))
		pubShipped := one(t, "publish shipped", rec.find("publish", shippedType))
		procShipped := one(t, "process shipped", rec.find("process", shippedType))
		mu.Lock()
		defer mu.Unlock()

		if want := (bus.PublishInfo{System: "memory", EventType: orderType, EventID: orderMeta.ID}); pubOrder.pub != want {
			t.Errorf("publish info = %+v, want %+v", pubOrder.pub, want)
		}
		if pubOrder.parent != request.id || pubOrder.span.trace != request.trace {
			t.Errorf("publish span's parent = %s in trace %s, want the request's span %s in %s", pubOrder.parent, pubOrder.span.trace, request.id, request.trace)
		}
		// The envelope carries the publish span, not the caller's.
		if orderMeta.TraceParent != pubOrder.span.traceparent() || orderMeta.TraceState != "rec=1" {
			t.Errorf("envelope trace context = %q, %q; want the publish span's %q, %q", orderMeta.TraceParent, orderMeta.TraceState, pubOrder.span.traceparent(), "rec=1")
		}
		wantProc := bus.ProcessInfo{System: "memory", Subscription: "orders", EventType: orderType, EventID: orderMeta.ID,
			Attempt: 1, TraceParent: pubOrder.span.traceparent(), TraceState: "rec=1"}
		if procOrder.proc != wantProc {
			t.Errorf("process info = %+v, want %+v", procOrder.proc, wantProc)
		}
		if procOrder.parent != pubOrder.span.id || procOrder.span.trace != request.trace {
			t.Errorf("process span's parent = %s, want the publish span %s, in the request's trace", procOrder.parent, pubOrder.span.id)
		}
		// The handler runs in the observer's context, which has the Meta too.
		if handlerTP != procOrder.span.traceparent() {
			t.Errorf("handler's trace context = %q, want the process span's %q", handlerTP, procOrder.span.traceparent())
		}
		if pubShipped.parent != procOrder.span.id || pubShipped.span.trace != request.trace {
			t.Errorf("the handler's publish span's parent = %s, want the process span %s", pubShipped.parent, procOrder.span.id)
		}
		check := func(what, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("%s = %q, want %q", what, got, want)
			}
		}
		check("shipped TraceParent", shMeta.TraceParent, pubShipped.span.traceparent())
		check("shipped CausationID", shMeta.CausationID, orderMeta.ID)
		check("shipped CorrelationID", shMeta.CorrelationID, "req-1")
		check("order CorrelationID", orderMeta.CorrelationID, "req-1")
		check("shipped process parent", procShipped.parent, pubShipped.span.id)

		for _, o := range []op{pubOrder, procOrder, pubShipped} {
			if o.err != nil {
				t.Errorf("%s %s ended with %v, want nil", o.kind, o.span.id, o.err)
			}
		}
		if !bus.IsPermanent(procShipped.err) || procShipped.err.Error() != "no courier" {
			t.Errorf("shipped process ended with %v, want the handler's permanent error", procShipped.err)
		}
		dead, spans := rec.deadLetters()
		if len(dead) != 1 {
			t.Fatalf("dead letters = %+v, want 1", dead)
		}
		d := dead[0]
		if d.System != "memory" || d.Subscription != "shipping" || d.EventType != shippedType || d.EventID != shMeta.ID ||
			d.Attempts != 1 || d.Reason != bus.ReasonPermanent || d.Err != procShipped.err {
			t.Errorf("dead letter = %+v, want shipping's permanent error on attempt 1", d)
		}
		if spans[0] != procShipped.span.id || procShipped.deadLetter == nil {
			t.Errorf("dead letter seen in span %q (while it ran: %v), want inside the process span %q", spans[0], procShipped.deadLetter != nil, procShipped.span.id)
		}
	})
}

// Every way to the dead-letter queue is observed with its reason; a message whose
// envelope cannot be decoded has no process operation (nothing to name it by, no
// trace to continue), the others end theirs with the error.
func TestObserverSeesEveryDeadLetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		w := newWorld(t, bus.Options{Observer: rec, Subscriptions: map[string]bus.SubscriptionOptions{
			"orders": {MaxAttempts: 2, RedeliveryDelays: []time.Duration{time.Second}}}})
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			return errors.New("payment provider down")
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		ctx := context.Background()
		typ, _ := w.b.Registry().Name(OrderPlaced{})
		good, err := w.b.Encode(ctx, OrderPlaced{OrderID: "o-1"})
		if err != nil {
			t.Fatal(err)
		}
		badEnvelope := good.WithHeaders(map[string]string{bus.HeaderID: "not-a-uuid"})
		unknown := good.WithHeaders(map[string]string{bus.HeaderID: mustID(t), bus.HeaderType: "bus.other.v1"})
		badBody := good.WithHeaders(map[string]string{bus.HeaderID: mustID(t)})
		badBody.Body = []byte("{")
		if err := w.tr.Publish(ctx, badEnvelope, unknown, badBody, good); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()

		dead, _ := rec.deadLetters()
		byReason := map[string]bus.DeadLetterInfo{}
		for _, d := range dead {
			key := string(d.Reason)
			if d.Reason == bus.ReasonUndecodable && d.EventID != "" {
				key += " body"
			}
			byReason[key] = d
		}
		for _, tt := range []struct {
			key     string
			want    bus.DeadLetterInfo
			errType any
		}{
			{"undecodable", bus.DeadLetterInfo{System: "memory", Subscription: "orders", Attempts: 1, Reason: bus.ReasonUndecodable}, new(*bus.DecodeError)},
			{"unknown-type", bus.DeadLetterInfo{System: "memory", Subscription: "orders", EventType: "bus.other.v1", EventID: unknown.Headers[bus.HeaderID],
				Attempts: 1, Reason: bus.ReasonUnknownType}, new(*bus.UnknownEventTypeError)},
			{"undecodable body", bus.DeadLetterInfo{System: "memory", Subscription: "orders", EventType: typ, EventID: badBody.Headers[bus.HeaderID],
				Attempts: 1, Reason: bus.ReasonUndecodable}, new(*bus.DecodeError)},
			{"max-attempts", bus.DeadLetterInfo{System: "memory", Subscription: "orders", EventType: typ, EventID: good.ID,
				Attempts: 2, Reason: bus.ReasonMaxAttempts}, nil},
		} {
			got, ok := byReason[tt.key]
			if !ok {
				t.Errorf("no %s dead letter; got %+v", tt.key, dead)
				continue
			}
			err := got.Err
			got.Err = nil
			if got != tt.want {
				t.Errorf("%s dead letter = %+v, want %+v", tt.key, got, tt.want)
			}
			if tt.errType != nil && !errors.As(err, tt.errType) {
				t.Errorf("%s dead letter's Err = %T %v, want %T", tt.key, err, err, tt.errType)
			}
			if tt.errType == nil && (err == nil || err.Error() != "payment provider down") {
				t.Errorf("%s dead letter's Err = %v, want the handler's", tt.key, err)
			}
		}
		if len(dead) != 4 {
			t.Errorf("%d dead letters, want 4", len(dead))
		}

		// Process operations: none for the undecodable envelope; the others ended
		// with their errors, after their dead letter was observed.
		var got []string
		for _, typ := range []string{typ, "bus.other.v1"} {
			for _, o := range rec.find("process", typ) {
				s := fmt.Sprintf("%s attempt %d ends %d: %v", o.proc.EventID, o.proc.Attempt, o.ends, o.err)
				if o.deadLetter != nil {
					s += " (dead-lettered: " + string(o.deadLetter.Reason) + ")"
				}
				got = append(got, s)
			}
		}
		sort.Strings(got)
		bodyErr := "<no dead letter>"
		if d, ok := byReason["undecodable body"]; ok && d.Err != nil {
			bodyErr = d.Err.Error()
		}
		var want []string
		for _, s := range []string{
			unknown.Headers[bus.HeaderID] + ` attempt 1 ends 1: bus: subscription "orders" has no handler for event type "bus.other.v1" (dead-lettered: unknown-type)`,
			badBody.Headers[bus.HeaderID] + " attempt 1 ends 1: " + bodyErr + " (dead-lettered: undecodable)",
			good.ID + " attempt 1 ends 1: payment provider down",
			good.ID + " attempt 2 ends 1: payment provider down (dead-lettered: max-attempts)",
		} {
			want = append(want, s)
		}
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("process operations:\n%s\nwant\n%s", join(got), join(want))
		}
	})
}

func join(list []string) string {
	s := ""
	for _, l := range list {
		s += "  " + l + "\n"
	}
	return s
}

// A duplicate the inbox absorbs is processed without error: the handler did not
// fail, and the message was acked.
func TestObserverDuplicateEndsWithoutError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		w := newWorld(t, bus.Options{Observer: rec, Inbox: newFakeInbox()})
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error { return nil }); err != nil {
			t.Fatal(err)
		}
		w.start()
		id := mustID(t)
		w.publish(OrderPlaced{OrderID: "o-1"}, bus.WithID(id))
		synctest.Wait()
		w.publish(OrderPlaced{OrderID: "o-1"}, bus.WithID(id))
		synctest.Wait()
		typ, _ := w.b.Registry().Name(OrderPlaced{})
		procs := rec.find("process", typ)
		if len(procs) != 2 || procs[0].err != nil || procs[1].err != nil || procs[0].ends != 1 || procs[1].ends != 1 {
			t.Errorf("process operations = %+v, want two, ended once without error", procs)
		}
		if st := w.settlements(); len(st) != 2 || st[0].Action != bus.ActionAck || st[1].Action != bus.ActionSkip {
			t.Errorf("settlements = %+v, want ack then skip", st)
		}
		if pubs := rec.find("publish", typ); len(pubs) != 2 || pubs[0].pub.EventID != id || pubs[1].pub.EventID != id {
			t.Errorf("publish operations = %+v, want two with the ID %s", pubs, id)
		}
	})
}

// metricsOnly is an Observer that does not trace (no TracePropagator).
type metricsOnly struct{}

func (metricsOnly) ObservePublish(ctx context.Context, _ bus.PublishInfo) (context.Context, func(error)) {
	return ctx, func(error) {}
}
func (metricsOnly) ObserveProcess(ctx context.Context, _ bus.ProcessInfo) (context.Context, func(error)) {
	return ctx, func(error) {}
}
func (metricsOnly) ObserveDeadLetter(context.Context, bus.DeadLetterInfo) {}

// The trace context an event published from a handler carries: the trace hook's
// (Options.PropagateTrace first, else the observer's), or the handled event's when
// there is no hook or it finds no span.
func TestTraceContextFromHandler(t *testing.T) {
	const (
		handled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		hooked  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	)
	rec := &recorder{}
	for _, tt := range []struct {
		name string
		opts bus.Options
		want string
	}{
		{"no hook", bus.Options{}, handled + "|st=1"},
		{"hook finds no span", bus.Options{PropagateTrace: func(context.Context) (string, string) { return "", "" }}, handled + "|st=1"},
		{"broken hook", bus.Options{PropagateTrace: func(context.Context) (string, string) { return "junk", "x" }}, handled + "|st=1"},
		{"hook", bus.Options{PropagateTrace: func(context.Context) (string, string) { return hooked, "h=1" }}, hooked + "|h=1"},
		{"observer without propagator", bus.Options{Observer: metricsOnly{}}, handled + "|st=1"},
		{"hook before observer", bus.Options{Observer: rec, PropagateTrace: func(context.Context) (string, string) { return hooked, "h=1" }}, hooked + "|h=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, tt.opts)
				var got string
				if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
					out, err := w.b.Encode(ctx, OrderShipped{})
					got = out.Headers[bus.HeaderTraceParent] + "|" + out.Headers[bus.HeaderTraceState]
					return err
				}); err != nil {
					t.Fatal(err)
				}
				w.start()
				msg, err := w.b.Encode(context.Background(), OrderPlaced{})
				if err != nil {
					t.Fatal(err)
				}
				msg = msg.WithHeaders(map[string]string{bus.HeaderTraceParent: handled, bus.HeaderTraceState: "st=1"})
				if err := w.tr.Publish(context.Background(), msg); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if got != tt.want {
					t.Errorf("trace context of an event published from a handler = %s, want %s", got, tt.want)
				}
			})
		})
	}
	// With the observer alone, it is the observer's: the handler's process span.
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		w := newWorld(t, bus.Options{Observer: rec})
		var got, handler string
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			handler, _ = rec.PropagateTrace(ctx)
			out, err := w.b.Encode(ctx, OrderShipped{})
			got = out.Headers[bus.HeaderTraceParent]
			return err
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		w.publish(OrderPlaced{})
		synctest.Wait()
		if got == "" || got != handler {
			t.Errorf("Encode in a handler: traceparent %q, want the process span's %q", got, handler)
		}
	})
}

// nopTransport confirms every message at once, allocating nothing.
type nopTransport struct{}

func (nopTransport) Publish(context.Context, ...bus.Message) error { return nil }
func (nopTransport) Subscribe(context.Context, bus.Subscription) (bus.Consumer, error) {
	return nil, errors.ErrUnsupported
}
func (nopTransport) Close() error { return nil }

// anyTransport is a Transport the compiler cannot see through, as the bus's.
var anyTransport bus.Transport = nopTransport{}

// nopObserver observes nothing, without allocating.
type nopObserver struct{}

func nopEnd(error) {}

func (nopObserver) ObservePublish(ctx context.Context, _ bus.PublishInfo) (context.Context, func(error)) {
	return ctx, nopEnd
}
func (nopObserver) ObserveProcess(ctx context.Context, _ bus.ProcessInfo) (context.Context, func(error)) {
	return ctx, nopEnd
}
func (nopObserver) ObserveDeadLetter(context.Context, bus.DeadLetterInfo) {}

// Without an observer, Publish costs what encoding and sending cost; an observer
// that does nothing adds nothing either.
func TestNilObserverCostsNothing(t *testing.T) {
	tr := anyTransport
	ctx := context.Background()
	ev := &OrderPlaced{OrderID: "o-1", Amount: 5}
	plain, err := bus.New(tr, bus.Options{Source: "/shop"})
	if err != nil {
		t.Fatal(err)
	}
	observed, err := bus.New(tr, bus.Options{Source: "/shop", Observer: nopObserver{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*bus.Bus{plain, observed} {
		if err := b.Publish(ctx, ev); err != nil { // registers the type
			t.Fatal(err)
		}
	}
	base := testing.AllocsPerRun(200, func() {
		m, err := plain.Encode(ctx, ev)
		if err == nil {
			err = tr.Publish(ctx, m)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	for _, tt := range []struct {
		name string
		b    *bus.Bus
	}{{"no observer", plain}, {"a no-op observer", observed}} {
		got := testing.AllocsPerRun(200, func() {
			if err := tt.b.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		})
		if got != base {
			t.Errorf("Publish with %s: %v allocations, want %v (Encode and send)", tt.name, got, base)
		}
	}
}

// The memory transport names its system.
func TestMemorySystem(t *testing.T) {
	var tr bus.Transport = memory.New()
	defer tr.Close()
	if n, ok := tr.(bus.SystemNamer); !ok || n.System() != "memory" {
		t.Errorf("memory transport's System() = %v (%v), want memory", n, ok)
	}
}

// A publish that fails ends its operation with Publish's error; one that cannot
// start (no type name) is not observed.
func TestObserverPublishFailure(t *testing.T) {
	rec := &recorder{}
	tr := memory.New() // nothing bound: every publish is unroutable
	defer tr.Close()
	b, err := bus.New(tr, bus.Options{Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Publish(context.Background(), OrderPlaced{OrderID: "o-1"}, bus.WithID("00000000-0000-7000-8000-000000000001"))
	if !errors.Is(err, bus.ErrUnroutable) {
		t.Fatalf("Publish = %v, want ErrUnroutable", err)
	}
	typ, _ := b.Registry().Name(OrderPlaced{})
	pub := one(t, "publish", rec.find("publish", typ))
	if pub.err != err || pub.pub.EventID != "00000000-0000-7000-8000-000000000001" {
		t.Errorf("publish operation = %+v, want ended with Publish's error %v", pub, err)
	}
	if err := b.Publish(context.Background(), nil); err == nil {
		t.Error("Publish(nil) succeeded")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ops) != 1 {
		t.Errorf("%d operations, want 1 (none for a nil event)", len(rec.ops))
	}
}
