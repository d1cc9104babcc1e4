package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/telemetry"
)

type OrderPlaced struct {
	OrderID string `json:"order_id"`
}

const orderType = "orders.order-placed.v1"

// auditFull is a handler's error with an error.type of its own.
type auditFull struct{}

func (auditFull) Error() string     { return "audit log full" }
func (auditFull) ErrorType() string { return "audit_full" }

// settled counts a bus's settlements, so that a test can wait for them.
type settled struct {
	mu   sync.Mutex
	list []bus.Settlement
	more chan struct{}
}

func newSettled() *settled { return &settled{more: make(chan struct{}, 100)} }

func (s *settled) add(st bus.Settlement) {
	s.mu.Lock()
	s.list = append(s.list, st)
	s.mu.Unlock()
	s.more <- struct{}{}
}

// await waits for n settlements in all.
func (s *settled) await(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.list)
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-s.more:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("%d settlements after 10s, want %d: %+v", len(s.list), n, s.list)
		}
	}
}

// One trace follows an order from the HTTP request that places it, through the
// event the request's handler publishes on the bus, to the event's handler and the
// HTTP call it makes to another service: server → publish → process → client
// attempt → downstream server, each the parent of the next. The bus's messaging
// metrics and dead letters are recorded with the names and attributes of the
// semantic conventions.
func TestBusTraceFromRequestToDownstreamCall(t *testing.T) {
	r := newRig(t, telemetry.Options{})
	downstream := newTracedServer(t, r.tp) // "GET /stock", a server span
	client := newClient(t, r.tel, httpx.Options{Name: "inventory"})

	tr := memory.New()
	t.Cleanup(func() { tr.Close() })
	reg := bus.NewRegistry()
	if err := bus.Register[OrderPlaced](reg, orderType); err != nil {
		t.Fatal(err)
	}
	settlements := newSettled()
	b, err := bus.New(tr, bus.Options{Source: "/orders", Registry: reg, Observer: r.tel, OnSettle: settlements.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() }) // before the transport: cleanups run last in, first out

	var (
		mu          sync.Mutex
		callErr     error
		handlerMeta bus.Meta
	)
	if err := bus.Handle(b, "inventory", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, downstream.URL+"/stock?order="+e.OrderID, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		mu.Lock()
		callErr, handlerMeta = err, m
		mu.Unlock()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Handle(b, "audit", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
		return bus.Permanent(auditFull{})
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The service's front door: a server span, continuing the caller's trace if
	// any, whose handler publishes the event.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := propagation.TraceContext{}.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		ctx, span := r.tp.Tracer("server").Start(ctx, "POST /orders", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		if err := b.Publish(bus.ContextWithCorrelationID(ctx, "req-1"), OrderPlaced{OrderID: "o-1"}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(front.Close)
	caller := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(caller.CloseIdleConnections)
	resp, err := caller.Post(front.URL+"/orders", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /orders = %d, want 202", resp.StatusCode)
	}

	// A message nobody can decode, dead-lettered by both subscriptions.
	broken := bus.Message{Type: orderType, Headers: map[string]string{bus.HeaderID: "not-an-event"}, Body: []byte("{}")}
	if err := tr.Publish(context.Background(), broken); err != nil {
		t.Fatal(err)
	}
	// inventory: ack, dead letter; audit: two dead letters.
	settlements.await(t, 4)
	// Shutdown waits for the workers, which end the process operations after settling.
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if callErr != nil {
		t.Fatalf("the handler's HTTP call: %v", callErr)
	}
	mu.Unlock()

	spans := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range r.spans.Ended() {
		spans[s.Name()] = append(spans[s.Name()], s)
	}
	one := func(name string) sdktrace.ReadOnlySpan {
		t.Helper()
		if len(spans[name]) != 1 {
			t.Fatalf("%d spans %q, want 1; spans: %v", len(spans[name]), name, keys(spans))
		}
		return spans[name][0]
	}
	server, publish := one("POST /orders"), one("publish "+orderType)
	client1, downstream1 := one("GET"), one("GET /stock")
	var process, auditProcess sdktrace.ReadOnlySpan
	for _, s := range spans["process "+orderType] {
		switch valueOf(s.Attributes(), "messaging.consumer.group.name") {
		case "inventory":
			process = s
		case "audit":
			auditProcess = s
		}
	}
	if process == nil || auditProcess == nil || len(spans["process "+orderType]) != 2 {
		t.Fatalf("process spans = %d, want one per subscription", len(spans["process "+orderType]))
	}
	if len(r.spans.Ended()) != 6 {
		t.Errorf("%d spans, want 6: %v", len(r.spans.Ended()), keys(spans))
	}

	// One trace, each span the parent of the next.
	traceID := server.SpanContext().TraceID()
	for _, link := range []struct {
		child, parent sdktrace.ReadOnlySpan
		kind          trace.SpanKind
		remote        bool
	}{
		{server, nil, trace.SpanKindServer, false},
		{publish, server, trace.SpanKindProducer, false},
		{process, publish, trace.SpanKindConsumer, true},
		{auditProcess, publish, trace.SpanKindConsumer, true},
		{client1, process, trace.SpanKindClient, false},
		{downstream1, client1, trace.SpanKindServer, true},
	} {
		c := link.child
		if c.SpanContext().TraceID() != traceID {
			t.Errorf("%s is in trace %v, want %v", c.Name(), c.SpanContext().TraceID(), traceID)
		}
		if c.SpanKind() != link.kind {
			t.Errorf("%s: kind = %v, want %v", c.Name(), c.SpanKind(), link.kind)
		}
		if link.parent == nil {
			if c.Parent().IsValid() {
				t.Errorf("%s: parent = %v, want none", c.Name(), c.Parent().SpanID())
			}
			continue
		}
		if c.Parent().SpanID() != link.parent.SpanContext().SpanID() || c.Parent().IsRemote() != link.remote {
			t.Errorf("%s: parent = %v (remote %v), want %s %v (remote %v)", c.Name(), c.Parent().SpanID(), c.Parent().IsRemote(),
				link.parent.Name(), link.parent.SpanContext().SpanID(), link.remote)
		}
	}

	// The envelope carried the publish span's trace context, and the bus its IDs.
	mu.Lock()
	m := handlerMeta
	mu.Unlock()
	if want := "00-" + traceID.String() + "-" + publish.SpanContext().SpanID().String() + "-01"; m.TraceParent != want {
		t.Errorf("envelope traceparent = %q, want the publish span's %q", m.TraceParent, want)
	}
	if m.CorrelationID != "req-1" {
		t.Errorf("envelope correlation ID = %q, want req-1", m.CorrelationID)
	}

	id := "messaging.message.id=" + m.ID
	for _, tt := range []struct {
		span  sdktrace.ReadOnlySpan
		attrs string
	}{
		{publish, "messaging.destination.name=" + orderType + "," + id + ",messaging.operation.name=publish,messaging.operation.type=send,messaging.system=memory"},
		{process, "messaging.consumer.group.name=inventory,messaging.destination.name=" + orderType + "," + id + ",messaging.operation.name=process,messaging.operation.type=process,messaging.system=memory"},
		{auditProcess, "error.type=audit_full,messaging.consumer.group.name=audit,messaging.destination.name=" + orderType + "," + id + ",messaging.operation.name=process,messaging.operation.type=process,messaging.system=memory"},
	} {
		if got := kvs(tt.span.Attributes()); got != tt.attrs {
			t.Errorf("%s attributes = %s\nwant %s", tt.span.Name(), got, tt.attrs)
		}
	}
	var dlEvents []string
	for _, ev := range auditProcess.Events() {
		if ev.Name == "messaging.dead_letter" {
			dlEvents = append(dlEvents, kvs(ev.Attributes))
		}
	}
	if fmt.Sprint(dlEvents) != "[messaging.dead_letter.reason=permanent-error]" {
		t.Errorf("audit process span's dead-letter events = %v, want one with reason permanent-error", dlEvents)
	}
	if len(process.Events()) != 0 {
		t.Errorf("inventory process span has events %v, want none", process.Events())
	}

	// The messaging metrics, with their exact names and attributes.
	const (
		dest   = "messaging.destination.name=" + orderType
		system = "messaging.system=memory"
	)
	sent := dest + ",messaging.operation.name=publish," + system
	inventory := "messaging.consumer.group.name=inventory," + dest + ",messaging.operation.name=process," + system
	audit := "error.type=audit_full,messaging.consumer.group.name=audit," + dest + ",messaging.operation.name=process," + system
	for _, tt := range []struct {
		name string
		want map[string]int64
	}{
		{telemetry.MetricMessagingSent, map[string]int64{sent: 1}},
		{telemetry.MetricMessagingConsumed, map[string]int64{inventory: 1, audit: 1}},
		{telemetry.MetricDeadLettered, map[string]int64{
			"messaging.consumer.group.name=audit,messaging.dead_letter.reason=permanent-error," + dest + "," + system: 1,
			// The broken message's envelope names no event type.
			"messaging.consumer.group.name=audit,messaging.dead_letter.reason=undecodable," + system:     1,
			"messaging.consumer.group.name=inventory,messaging.dead_letter.reason=undecodable," + system: 1,
		}},
	} {
		if got := sums(t, r.metric(t, tt.name)); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s =\n  %s\nwant\n  %s", tt.name, keys(got), keys(tt.want))
		}
	}
	for _, tt := range []struct {
		name string
		want []string
	}{
		{telemetry.MetricMessagingOperation, []string{sent}},
		{telemetry.MetricMessagingProcess, []string{audit, inventory}},
	} {
		h := histograms(t, r.metric(t, tt.name))
		if fmt.Sprint(sortedKeys(h)) != fmt.Sprint(tt.want) {
			t.Errorf("%s points:\n  %s\nwant\n  %v", tt.name, keys(h), tt.want)
		}
		for k, dp := range h {
			if dp.Count != 1 || dp.Sum <= 0 {
				t.Errorf("%s{%s} = count %d sum %v, want one duration", tt.name, k, dp.Count, dp.Sum)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	list := make([]string, 0, len(m))
	for k := range m {
		list = append(list, k)
	}
	sort.Strings(list)
	return list
}

// With telemetry off, the bus's hooks allocate nothing (a publish, a process
// without a traceparent, a dead letter), but for the non-recording span of the
// global tracer provider, which StartPublish and StartProcess cost too.
func TestBusObserverOffCostsNothing(t *testing.T) {
	off, err := telemetry.New(telemetry.Options{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()})
	if err != nil {
		t.Fatal(err)
	}
	global, err := telemetry.New(telemetry.Options{}) // nothing set globally in these tests
	if err != nil {
		t.Fatal(err)
	}
	var none *telemetry.Telemetry
	ctx := context.Background()
	pub := bus.PublishInfo{System: "rabbitmq", EventType: orderType, EventID: "id"}
	proc := bus.ProcessInfo{System: "rabbitmq", Subscription: "inventory", EventType: orderType, EventID: "id", Attempt: 1}
	dl := bus.DeadLetterInfo{System: "rabbitmq", Subscription: "inventory", EventType: orderType, Reason: bus.ReasonMaxAttempts, Err: errors.ErrUnsupported}
	dst := telemetry.Destination{System: "rabbitmq", Name: orderType, ConsumerGroup: "inventory"}
	globalSpan := testing.AllocsPerRun(100, func() {
		c, op := global.StartPublish(ctx, dst, "id")
		op.End(c, nil)
	})
	if globalSpan > 4 {
		t.Errorf("StartPublish+End with the global providers: %v allocations, want at most 4", globalSpan)
	}
	for _, tel := range []struct {
		name string
		tel  *telemetry.Telemetry
		span float64 // the cost of a span that does not record
	}{{"no-op providers", off, 0}, {"global providers", global, globalSpan}, {"nil", none, 0}} {
		for _, tt := range []struct {
			name string
			f    func(o bus.Observer)
			span bool
		}{
			{"ObservePublish", func(o bus.Observer) {
				c, end := o.ObservePublish(ctx, pub)
				_, _ = o.(bus.TracePropagator).PropagateTrace(c)
				end(nil)
			}, true},
			{"ObserveProcess", func(o bus.Observer) {
				_, end := o.ObserveProcess(ctx, proc)
				end(errors.ErrUnsupported)
			}, true},
			{"ObserveDeadLetter", func(o bus.Observer) { o.ObserveDeadLetter(ctx, dl) }, false},
		} {
			var o bus.Observer = tel.tel
			want := 0.0
			if tt.span {
				want = tel.span
			}
			if got := testing.AllocsPerRun(100, func() { tt.f(o) }); got != want {
				t.Errorf("%s with %s: %v allocations, want %v", tt.name, tel.name, got, want)
			}
		}
	}
}
