package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/memory"
	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/resilience"
)

type OrderPlaced struct {
	OrderID string `json:"order_id"`
	Amount  int    `json:"amount"`
}

// fakeInbox is an exact in-memory inbox that logs each call, and whether its
// context had a deadline.
type fakeInbox struct {
	mu      sync.Mutex
	n       int
	log     []string
	entries map[idempotency.Key]fakeEntry
}

type fakeEntry struct {
	done    bool
	token   idempotency.Token
	expires time.Time
}

func newFakeInbox() *fakeInbox { return &fakeInbox{entries: map[idempotency.Key]fakeEntry{}} }

func (s *fakeInbox) record(op string, ctx context.Context) {
	if _, ok := ctx.Deadline(); ok {
		op += "(deadline)"
	}
	s.log = append(s.log, op)
}

func (s *fakeInbox) Claim(ctx context.Context, k idempotency.Key, lease time.Duration) (idempotency.Status, idempotency.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("claim", ctx)
	e, ok := s.entries[k]
	if ok && e.done {
		return idempotency.AlreadyDone, "", nil
	}
	if ok && time.Now().Before(e.expires) {
		return idempotency.InProgress, "", nil
	}
	s.n++
	tok := idempotency.Token(strconv.Itoa(s.n))
	s.entries[k] = fakeEntry{token: tok, expires: time.Now().Add(lease)}
	return idempotency.Claimed, tok, nil
}

func (s *fakeInbox) Done(ctx context.Context, k idempotency.Key, t idempotency.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("done", ctx)
	if e := s.entries[k]; e.token != t || e.done {
		return idempotency.ErrNotClaimed
	}
	s.entries[k] = fakeEntry{done: true}
	return nil
}

func (s *fakeInbox) Release(ctx context.Context, k idempotency.Key, t idempotency.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record("release", ctx)
	if e := s.entries[k]; e.token != t || e.done {
		return idempotency.ErrNotClaimed
	}
	delete(s.entries, k)
	return nil
}

func (s *fakeInbox) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// world is a bus on a memory transport, for tests that run inside a synctest
// bubble: every wait is synctest.Wait, and the clock is fake.
type world struct {
	t     *testing.T
	tr    *memory.Transport
	b     *bus.Bus
	mu    sync.Mutex
	log   []string
	settl []bus.Settlement
}

func newWorld(t *testing.T, opts bus.Options) *world {
	w := &world{t: t, tr: memory.New()}
	user := opts.OnSettle
	opts.OnSettle = func(s bus.Settlement) {
		w.mu.Lock()
		w.settl = append(w.settl, s)
		w.mu.Unlock()
		if user != nil {
			user(s)
		}
	}
	b, err := bus.New(w.tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	w.b = b
	t.Cleanup(func() {
		b.Close()
		w.tr.Close()
	})
	return w
}

func (w *world) logf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, fmt.Sprintf(format, args...))
}

func (w *world) logged() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.log...)
}

func (w *world) settlements() []bus.Settlement {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]bus.Settlement(nil), w.settl...)
}

func (w *world) start() {
	w.t.Helper()
	if err := w.b.Start(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) publish(ev any, opts ...bus.PublishOption) {
	w.t.Helper()
	if err := w.b.Publish(context.Background(), ev, opts...); err != nil {
		w.t.Fatal(err)
	}
}

func TestRedeliveryTiersThenDeadLetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, bus.Options{})
		start := time.Now()
		if err := bus.Handle(w.b, "tiers", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			w.logf("attempt %d at %s", m.Attempt, time.Since(start))
			return errors.New("payment provider down")
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		w.publish(OrderPlaced{OrderID: "o-1"})
		time.Sleep(time.Hour)
		synctest.Wait()
		want := []string{"attempt 1 at 0s", "attempt 2 at 1s", "attempt 3 at 11s", "attempt 4 at 1m11s", "attempt 5 at 2m11s"}
		if got := w.logged(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("attempts with the default tiers 1s, 10s, 1m and 5 attempts = %q, want %q", got, want)
		}
		dead, err := w.tr.DeadLetters(context.Background(), "tiers", 0)
		if err != nil || len(dead) != 1 {
			t.Fatalf("DeadLetters = %d messages, %v; want 1", len(dead), err)
		}
		dl, err := bus.ParseDeadLetter(dead[0].Headers)
		if err != nil {
			t.Fatal(err)
		}
		if dl.Reason != bus.ReasonMaxAttempts || dl.Attempts != 5 || dl.LastFailure.Sub(dl.FirstFailure) != 2*time.Minute+11*time.Second ||
			dl.Error != "payment provider down" || dl.Subscription != "tiers" {
			t.Errorf("dead letter = %+v, want max-attempts after 5 attempts, failures 2m11s apart", dl)
		}
		if s := w.tr.Stats("tiers"); s != (memory.Stats{DeadLetters: 1, Consumers: 1}) {
			t.Errorf("Stats = %+v, want only the dead letter left", s)
		}
	})
}

// The middleware order is decode → recover → inbox → timeout → retry → handler.
// Each test below pins one adjacency by what can be observed.

func TestMiddlewareDecodeBeforeInbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := newFakeInbox()
		w := newWorld(t, bus.Options{Inbox: inbox})
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error { return nil }); err != nil {
			t.Fatal(err)
		}
		w.start()
		typ, _ := w.b.Registry().Name(OrderPlaced{})
		msg, err := w.b.Encode(context.Background(), OrderPlaced{})
		if err != nil {
			t.Fatal(err)
		}
		bad := msg.WithHeaders(map[string]string{bus.HeaderID: "not-a-uuid"})
		if err := w.tr.Publish(context.Background(), bad, bus.Message{Type: typ, Headers: msg.Headers, Body: []byte("{")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := inbox.calls(); len(got) != 0 {
			t.Errorf("inbox calls for undecodable messages = %v, want none (decode comes first)", got)
		}
		for _, s := range w.settlements() {
			if s.Action != bus.ActionDeadLetter || s.Reason != bus.ReasonUndecodable || !errors.Is(s.Err, bus.ErrDecode) {
				t.Errorf("settlement = %+v, want a dead letter for an undecodable message", s)
			}
		}
		if n := len(w.settlements()); n != 2 {
			t.Errorf("%d settlements, want 2", n)
		}
	})
}

func TestMiddlewareRecoverOutsideInbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := newFakeInbox()
		w := newWorld(t, bus.Options{Inbox: inbox, Subscriptions: map[string]bus.SubscriptionOptions{
			"orders": {RedeliveryDelays: []time.Duration{time.Second}}}})
		calls := 0
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			calls++
			if calls == 1 {
				panic("nil map")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		w.publish(OrderPlaced{OrderID: "o-1"})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		// The panic unwinds through the inbox, which releases its claim, so that the
		// redelivery runs the handler again; then recover turns it into a failure.
		if got, want := inbox.calls(), []string{"claim", "release(deadline)", "claim", "done(deadline)"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("inbox calls = %v, want %v", got, want)
		}
		st := w.settlements()
		if len(st) != 2 || st[0].Action != bus.ActionRedeliver || !errors.Is(st[0].Err, bus.ErrPanic) || st[1].Action != bus.ActionAck {
			t.Fatalf("settlements = %+v, want a redelivery after the panic, then an ack", st)
		}
		var pe *bus.PanicError
		if !errors.As(st[0].Err, &pe) || pe.Value != "nil map" || !strings.Contains(string(pe.Stack), "bus_test") {
			t.Errorf("panic error = %#v, want the panic value and the handler's stack", st[0].Err)
		}
	})
}

func TestMiddlewareTimeoutInsideInboxAroundRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := newFakeInbox()
		// A three-attempt retry written as a custom policy, so that this test does not
		// depend on resilience.Retry's backoff.
		retry, err := resilience.NewCustom("retry", func(ctx context.Context, next func(context.Context) error) error {
			var err error
			for range 3 {
				if err = next(ctx); err == nil || bus.IsPermanent(err) {
					return err
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		pipeline, err := resilience.NewPipeline(resilience.PipelineOptions{Name: "in-process"}, retry)
		if err != nil {
			t.Fatal(err)
		}
		w := newWorld(t, bus.Options{Inbox: inbox, Subscriptions: map[string]bus.SubscriptionOptions{
			"orders": {Timeout: 5 * time.Second, Retry: pipeline}}})
		start := time.Now()
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			dl, _ := ctx.Deadline()
			w.logf("handler, deadline in %s", dl.Sub(start))
			if len(w.logged()) < 3 {
				time.Sleep(time.Second)
				return errors.New("flaky")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		w.publish(OrderPlaced{OrderID: "o-1"})
		time.Sleep(time.Minute)
		synctest.Wait()
		// One deadline for all in-process attempts: the timeout is outside the retry.
		want := []string{"handler, deadline in 5s", "handler, deadline in 5s", "handler, deadline in 5s"}
		if got := w.logged(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("handler calls = %q, want %q", got, want)
		}
		// One claim for three attempts (retry inside the inbox); the claim is made
		// before the timeout starts (timeout inside the inbox).
		if got, want := inbox.calls(), []string{"claim", "done(deadline)"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("inbox calls = %v, want %v", got, want)
		}
		if st := w.settlements(); len(st) != 1 || st[0].Action != bus.ActionAck || st[0].Attempt != 1 {
			t.Errorf("settlements = %+v, want one ack of attempt 1", st)
		}
	})
}

func TestTimeoutFailsTheAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, bus.Options{Subscriptions: map[string]bus.SubscriptionOptions{
			"slow": {Timeout: 2 * time.Second, MaxAttempts: 1}}})
		if err := bus.Handle(w.b, "slow", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			<-ctx.Done()
			return fmt.Errorf("calling the warehouse: %w", ctx.Err())
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		w.publish(OrderPlaced{})
		time.Sleep(time.Minute)
		synctest.Wait()
		st := w.settlements()
		if len(st) != 1 {
			t.Fatalf("settlements = %+v, want 1", st)
		}
		var te *resilience.TimeoutError
		if st[0].Action != bus.ActionDeadLetter || !errors.As(st[0].Err, &te) || te.Timeout != 2*time.Second ||
			!errors.Is(st[0].Err, context.DeadlineExceeded) || st[0].Elapsed != 2*time.Second {
			t.Errorf("settlement = %+v, want a dead letter after a 2s *resilience.TimeoutError", st[0])
		}
		dead, _ := w.tr.DeadLetters(context.Background(), "slow", 0)
		if len(dead) != 1 || dead[0].Headers[bus.HeaderDLQErrorType] != "*resilience.TimeoutError" {
			t.Errorf("dead letters = %v, want one of error type *resilience.TimeoutError", dead)
		}
	})
}

// A handler that never waits on its context still has the timeout: Err reports
// the deadline once it has passed, which fails the attempt; and the context of a
// handler that returned is cancelled, with its deadline and Meta as they were.
func TestTimeoutOfAnUnwatchedContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, bus.Options{Subscriptions: map[string]bus.SubscriptionOptions{
			"busy": {Timeout: 2 * time.Second, MaxAttempts: 1}}})
		var mu sync.Mutex
		var kept []context.Context
		var deadlines []time.Duration
		if err := bus.Handle(w.b, "busy", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			d, _ := ctx.Deadline()
			mu.Lock()
			kept, deadlines = append(kept, ctx), append(deadlines, time.Until(d))
			mu.Unlock()
			if e.Amount == 0 {
				return nil // quick
			}
			time.Sleep(3 * time.Second) // busy past the timeout, never looking at ctx.Done
			return ctx.Err()
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		w.publish(OrderPlaced{OrderID: "quick"})
		synctest.Wait()
		w.publish(OrderPlaced{OrderID: "busy", Amount: 1})
		time.Sleep(time.Minute)
		synctest.Wait()
		st := w.settlements()
		if len(st) != 2 || st[0].Action != bus.ActionAck {
			t.Fatalf("settlements = %+v, want an ack, then a dead letter", st)
		}
		var te *resilience.TimeoutError
		if st[1].Action != bus.ActionDeadLetter || !errors.As(st[1].Err, &te) || !errors.Is(st[1].Err, context.DeadlineExceeded) {
			t.Errorf("settlement = %+v, want a dead letter with a *resilience.TimeoutError", st[1])
		}
		for i, ctx := range kept {
			if deadlines[i] != 2*time.Second {
				t.Errorf("handler %d: deadline in %v, want the 2s timeout", i, deadlines[i])
			}
			select {
			case <-ctx.Done():
			default:
				t.Errorf("handler %d: context not done after the handler returned", i)
			}
			if ctx.Err() == nil {
				t.Errorf("handler %d: Err() = nil after the handler returned", i)
			}
			if m, ok := bus.MetaFrom(ctx); !ok || m.Subscription != "busy" {
				t.Errorf("handler %d: MetaFrom = %+v, %t; want the Meta of subscription busy", i, m, ok)
			}
		}
		if err := kept[0].Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("quick handler's context: Err() = %v, want Canceled", err)
		}
	})
}

func TestInProgressIsRedeliveredWithoutCountingAnAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inbox := newFakeInbox()
		w := newWorld(t, bus.Options{Inbox: inbox, Subscriptions: map[string]bus.SubscriptionOptions{
			"orders": {Workers: 2, InProgressDelay: 3 * time.Second}}})
		start := time.Now()
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			w.logf("run attempt %d at %s", m.Attempt, time.Since(start))
			time.Sleep(5 * time.Second)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		id, _ := bus.NewID()
		w.publish(OrderPlaced{}, bus.WithID(id))
		w.publish(OrderPlaced{}, bus.WithID(id))
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := w.logged(); fmt.Sprint(got) != "[run attempt 1 at 0s]" {
			t.Errorf("handler runs = %q, want one", got)
		}
		var got []string
		for _, s := range w.settlements() {
			got = append(got, fmt.Sprintf("%s/%d/%s", s.Action, s.Attempt, s.Delay))
		}
		// The copy held elsewhere comes back after 3s (still held), 6s (done by then).
		if want := "[redeliver/1/3s redeliver/1/3s ack/1/0s skip/1/0s]"; fmt.Sprint(got) != want {
			t.Errorf("settlements = %v, want %s", got, want)
		}
	})
}

func TestPublishErrors(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	b, err := bus.New(tr, bus.Options{MaxBodySize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := bus.Handle(b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
		is   error
		text string
	}{
		{"nil event", b.Publish(ctx, nil), nil, "event is nil"},
		{"unnamed type", b.Publish(ctx, struct{ A int }{}), bus.ErrUnknownEventType, "has no event type name"},
		{"no subscription", b.Publish(ctx, CustomerCreated{}), bus.ErrUnroutable, "bus.customer-created.v1"},
		{"body too large", b.Publish(ctx, OrderPlaced{OrderID: strings.Repeat("x", 100)}), bus.ErrDecode, `"data"`},
		{"bad ID", b.Publish(ctx, OrderPlaced{}, bus.WithID("ORDER-1")), bus.ErrDecode, `"ce-id"`},
		{"bad subject", b.Publish(ctx, OrderPlaced{}, bus.WithSubject("a\nb")), bus.ErrDecode, `"ce-subject"`},
		{"generic type without a name", b.Publish(ctx, Generic[chan int]{}), nil, "register it by name"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.HasPrefix(tt.err.Error(), "bus: ") || !strings.Contains(tt.err.Error(), tt.text) ||
			(tt.is != nil && !errors.Is(tt.err, tt.is)) {
			t.Errorf("Publish(%s) = %v, want an error saying %s (matching %v)", tt.name, tt.err, tt.text, tt.is)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Publish(cancelled, OrderPlaced{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestPublishEnvelope(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b, err := bus.New(tr, bus.Options{Source: "/shop", PropagateTrace: func(ctx context.Context) (string, string) {
		return tp, "a=1"
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := bus.ContextWithCorrelationID(context.Background(), "req-9")
	m, err := b.Encode(ctx, &OrderPlaced{OrderID: "o-1", Amount: 5}, bus.WithSubject("c-1"), bus.WithPartitionKey("p"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := bus.DecodeEnvelope(m, bus.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%d|%s", e.Source, e.Type, e.Subject, e.PartitionKey, e.CorrelationID,
		e.CausationID, e.TraceParent, e.DataContentType, e.Attempt, m.Body)
	want := `/shop|bus.order-placed.v1|c-1|p|req-9||` + tp + `|application/json|1|{"order_id":"o-1","amount":5}`
	if got != want {
		t.Errorf("Encode = %s, want %s", got, want)
	}
	if m.Key != "p" || m.ID != e.ID || m.Type != e.Type {
		t.Errorf("message routing = {ID:%s Type:%s Key:%s}, want the envelope's", m.ID, m.Type, m.Key)
	}
	// Without a correlation ID in ctx, an event starts its own conversation.
	m2, _ := b.Encode(context.Background(), OrderPlaced{})
	if m2.Headers[bus.HeaderCorrelationID] != m2.ID {
		t.Errorf("correlation ID = %q, want the event's own ID %q", m2.Headers[bus.HeaderCorrelationID], m2.ID)
	}
	// A broken trace hook does not stop publishing.
	b2, _ := bus.New(tr, bus.Options{PropagateTrace: func(context.Context) (string, string) { return "junk", "x" }})
	m3, err := b2.Encode(context.Background(), OrderPlaced{})
	if err != nil || m3.Headers[bus.HeaderTraceParent] != "" || m3.Headers[bus.HeaderTraceState] != "" {
		t.Errorf("Encode with a bad trace hook = %v, %v; want no trace headers and no error", m3.Headers, err)
	}
}

func TestCodecByContentType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, bus.Options{Codecs: []bus.Codec{bus.JSON{DisallowUnknownFields: true}, upperCodec{}}})
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			w.logf("%s %s", m.DataContentType, e.OrderID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		msg, _ := w.b.Encode(context.Background(), OrderPlaced{OrderID: "json"})
		upper := msg.WithHeaders(map[string]string{bus.HeaderContentType: "text/x-upper; v=1", bus.HeaderID: mustID(t)})
		upper.Body = []byte("upper")
		strict := msg.WithHeaders(map[string]string{bus.HeaderID: mustID(t)})
		strict.Body = []byte(`{"order_id":"x","coupon":"FREE"}`)
		if err := w.tr.Publish(context.Background(), msg, upper, strict); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := w.logged(), []string{"application/json json", "text/x-upper; v=1 UPPER"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("handled = %q, want %q", got, want)
		}
		st := w.settlements()
		var ce *bus.CodecError
		if len(st) != 3 || st[2].Action != bus.ActionDeadLetter || !errors.As(st[2].Err, &ce) || ce.Field != "coupon" {
			t.Errorf("settlements = %+v, want the unknown field \"coupon\" dead-lettered by the strict JSON codec", st)
		}
	})
}

func mustID(t *testing.T) string {
	id, err := bus.NewID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type upperCodec struct{}

func (upperCodec) ContentType() string           { return "text/x-upper" }
func (upperCodec) Marshal(v any) ([]byte, error) { return nil, errors.New("not for publishing") }
func (upperCodec) Unmarshal(data []byte, v any) error {
	v.(*OrderPlaced).OrderID = strings.ToUpper(string(data))
	return nil
}

func TestHandleAndStartErrors(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	h := func(ctx context.Context, e OrderPlaced, m bus.Meta) error { return nil }
	if _, err := bus.New(nil, bus.Options{}); err == nil {
		t.Errorf("New(nil transport) error = nil")
	}
	if _, err := bus.New(tr, bus.Options{Subscriptions: map[string]bus.SubscriptionOptions{"a": {Workers: -1}}}); err == nil ||
		!strings.Contains(err.Error(), "Workers") {
		t.Errorf("New(Workers -1) error = %v, want it to name Workers", err)
	}
	if _, err := bus.New(tr, bus.Options{Subscriptions: map[string]bus.SubscriptionOptions{"a.b": {}}}); err == nil {
		t.Errorf("New(subscription name with a dot) error = nil")
	}
	b, err := bus.New(tr, bus.Options{Subscriptions: map[string]bus.SubscriptionOptions{"typo": {}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"nil handler", bus.Handle[OrderPlaced](b, "orders", nil)},
		{"empty name", bus.Handle(b, "", h)},
		{"name with a space", bus.Handle(b, "welcome email", h)},
		{"unnamed type", bus.Handle(b, "orders", func(context.Context, struct{}, bus.Meta) error { return nil })},
	} {
		if tt.err == nil || !strings.HasPrefix(tt.err.Error(), "bus: ") {
			t.Errorf("Handle(%s) = %v, want an error", tt.name, tt.err)
		}
	}
	if err := bus.Handle(b, "orders", h); err != nil {
		t.Fatal(err)
	}
	if err := bus.Handle(b, "orders", h); err == nil || !strings.Contains(err.Error(), "already has a handler") {
		t.Errorf("Handle(same type twice) = %v, want an error", err)
	}
	if err := b.Start(context.Background()); err == nil || !strings.Contains(err.Error(), `"typo"`) {
		t.Errorf("Start with options for a subscription without handlers = %v, want an error naming it", err)
	}
	b2, _ := bus.New(tr, bus.Options{})
	defer b2.Close()
	if err := bus.Handle(b2, "orders", h); err != nil {
		t.Fatal(err)
	}
	if err := b2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b2.Start(context.Background()); !errors.Is(err, bus.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	if err := bus.Handle(b2, "other", h); !errors.Is(err, bus.ErrStarted) {
		t.Errorf("Handle after Start = %v, want ErrStarted", err)
	}
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	tr := memory.New()
	defer tr.Close()
	b, _ := bus.New(tr, bus.Options{})
	if err := b.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before Start = %v, want nil", err)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v, want nil", err)
	}
	if err := b.Publish(context.Background(), OrderPlaced{}); !errors.Is(err, bus.ErrUnroutable) {
		t.Errorf("Publish after Shutdown = %v, want it to still publish (ErrUnroutable here: nothing subscribed)", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := b.Publish(context.Background(), OrderPlaced{}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

func TestCloseHandsBackAndCancelsRunningHandlers(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) { testCloseHandsBack(t, ordered) })
	}
}

func testCloseHandsBack(t *testing.T, ordered bool) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, bus.Options{Subscriptions: map[string]bus.SubscriptionOptions{"orders": {Workers: 2, Prefetch: 4, Ordered: ordered}}})
		if err := bus.Handle(w.b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
			<-ctx.Done()
			w.logf("cancelled")
			return ctx.Err()
		}); err != nil {
			t.Fatal(err)
		}
		w.start()
		for range 6 {
			w.publish(OrderPlaced{})
		}
		synctest.Wait()
		if err := w.b.Close(); err != nil {
			t.Fatal(err)
		}
		if got := w.logged(); len(got) != 2 {
			t.Errorf("handlers cancelled = %d, want 2 (one per worker)", len(got))
		}
		for _, s := range w.settlements() {
			if s.Action != bus.ActionRequeue {
				t.Errorf("settlement = %+v, want a requeue", s)
			}
		}
		if s := w.tr.Stats("orders"); s.Ready != 6 || s.Unacked != 0 || s.Consumers != 0 {
			t.Errorf("Stats after Close = %+v, want all 6 messages ready again", s)
		}
	})
}

func TestPublishBatch(t *testing.T) {
	mem := memory.New()
	defer mem.Close()
	tr := &countingTransport{Transport: mem}
	b, err := bus.New(tr, bus.Options{MaxBodySize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	got := map[string]bus.Meta{} // by order ID
	handled := make(chan struct{}, 16)
	if err := bus.Handle(b, "orders", func(ctx context.Context, e OrderPlaced, m bus.Meta) error {
		mu.Lock()
		got[e.OrderID] = m
		mu.Unlock()
		handled <- struct{}{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := bus.ContextWithCorrelationID(context.Background(), "req-7")
	events := []any{OrderPlaced{OrderID: "o-1"}, &OrderPlaced{OrderID: "o-2"}, OrderPlaced{OrderID: "o-3"}}
	if err := b.PublishBatch(ctx, events, bus.WithSubject("c-1")); err != nil {
		t.Fatalf("PublishBatch = %v", err)
	}
	for range events {
		select {
		case <-handled:
		case <-time.After(5 * time.Second):
			t.Fatalf("handled %d of %d events", len(got), len(events))
		}
	}
	mu.Lock()
	ids := map[string]bool{}
	for _, o := range []string{"o-1", "o-2", "o-3"} {
		m, ok := got[o]
		if !ok {
			t.Errorf("event %s not handled", o)
			continue
		}
		if m.CorrelationID != "req-7" || m.Subject != "c-1" {
			t.Errorf("event %s: correlation %q subject %q, want req-7 and c-1", o, m.CorrelationID, m.Subject)
		}
		ids[m.ID] = true
	}
	mu.Unlock()
	if len(ids) != len(events) {
		t.Errorf("%d distinct IDs for %d events", len(ids), len(events))
	}

	// Refused before anything is sent: one ID for several events, an event that
	// cannot be encoded (too large) among good ones.
	if err := b.PublishBatch(ctx, events, bus.WithID("0191e3c4-7d2a-7000-8000-000000000001")); err == nil ||
		!strings.Contains(err.Error(), "WithID given for 3 events") {
		t.Errorf("PublishBatch(WithID, 3 events) = %v, want a refusal", err)
	}
	bad := []any{OrderPlaced{OrderID: "o-4"}, OrderPlaced{OrderID: strings.Repeat("x", 100)}}
	if err := b.PublishBatch(ctx, bad); !errors.Is(err, bus.ErrDecode) || !strings.Contains(err.Error(), "event 1") {
		t.Errorf("PublishBatch(too large event) = %v, want ErrDecode naming event 1", err)
	}
	if n := tr.messages.Load(); n != int64(len(events)) {
		t.Errorf("the transport was handed %d messages, want the %d of the first batch alone", n, len(events))
	}
	if err := b.PublishBatch(ctx, nil); err != nil {
		t.Errorf("PublishBatch(no events) = %v, want nil", err)
	}
}

// countingTransport counts the messages handed to its Publish.
type countingTransport struct {
	bus.Transport
	messages atomic.Int64
}

func (c *countingTransport) Publish(ctx context.Context, msgs ...bus.Message) error {
	c.messages.Add(int64(len(msgs)))
	return c.Transport.Publish(ctx, msgs...)
}
