package bustest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
)

// Events the suite publishes. Their type names are made unique per test, so that
// tests on a shared broker do not see each other's messages.
type (
	// Order is the suite's main event.
	Order struct {
		N    int    `json:"n"`
		Key  string `json:"key,omitempty"`
		Text string `json:"text,omitempty"`
	}
	// Note is a second event type, published from handlers of Order.
	Note struct {
		Text string `json:"text"`
	}
)

// env is one test's world: a transport, a registry with unique type names, and a
// probe that records settlements.
type env struct {
	t         *testing.T
	f         Features
	tr        bus.Transport
	reg       *bus.Registry
	id        string
	orderType string
	noteType  string
	p         *probe
}

func setup(t *testing.T, f Features, newTransport func(t *testing.T) bus.Transport) *env {
	t.Helper()
	id := fmt.Sprintf("%08x", rand.Uint32())
	e := &env{t: t, f: f, id: id, reg: bus.NewRegistry(), p: newProbe(t, f.Timeout)}
	e.orderType = "bustest." + id + ".order-placed.v1"
	e.noteType = "bustest." + id + ".note-added.v1"
	if err := bus.Register[Order](e.reg, e.orderType); err != nil {
		t.Fatal(err)
	}
	if err := bus.Register[Note](e.reg, e.noteType); err != nil {
		t.Fatal(err)
	}
	e.tr = newTransport(t)
	if e.tr == nil {
		t.Fatal("bustest: newTransport returned nil")
	}
	t.Cleanup(func() {
		if err := e.tr.Close(); err != nil {
			t.Errorf("bustest: closing the transport: %v", err)
		}
	})
	return e
}

// sub returns a subscription name unique to this test.
func (e *env) sub(name string) string { return "bt-" + e.id + "-" + name }

// opts fills in the suite's defaults: short redelivery delays, 3 attempts.
func (e *env) opts(so bus.SubscriptionOptions) bus.SubscriptionOptions {
	if so.RedeliveryDelays == nil {
		so.RedeliveryDelays = e.f.RedeliveryDelays
	}
	if so.MaxAttempts == 0 {
		so.MaxAttempts = 3
	}
	if so.Timeout == 0 {
		so.Timeout = e.f.Timeout
	}
	return so
}

// only configures the subscriptions of the short names with the suite's defaults.
func only(names ...string) map[string]bus.SubscriptionOptions {
	m := make(map[string]bus.SubscriptionOptions, len(names))
	for _, n := range names {
		m[n] = bus.SubscriptionOptions{}
	}
	return m
}

// newBus returns a bus on the test's transport, closed when the test ends (before
// the transport). subs configures subscriptions by their short names, with the
// suite's defaults for what they leave zero; every subscription the bus handles
// must be there.
func (e *env) newBus(o bus.Options, subs map[string]bus.SubscriptionOptions) *bus.Bus {
	e.t.Helper()
	if o.Source == "" {
		o.Source = "/bustest"
	}
	o.Registry = e.reg
	user := o.OnSettle
	o.OnSettle = func(s bus.Settlement) {
		e.p.settled(s)
		if user != nil {
			user(s)
		}
	}
	o.Subscriptions = make(map[string]bus.SubscriptionOptions)
	for name, so := range subs {
		o.Subscriptions[e.sub(name)] = e.opts(so)
	}
	b, err := bus.New(e.tr, o)
	if err != nil {
		e.t.Fatalf("bustest: bus.New: %v", err)
	}
	e.t.Cleanup(func() { b.Close() })
	return b
}

// start starts b, failing the test on error.
func (e *env) start(b *bus.Bus) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e.f.Timeout)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		e.t.Fatalf("bustest: Start: %v", err)
	}
}

// publish publishes ev, failing the test on error.
func (e *env) publish(b *bus.Bus, ctx context.Context, ev any, opts ...bus.PublishOption) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, e.f.Timeout)
	defer cancel()
	if err := b.Publish(ctx, ev, opts...); err != nil {
		e.t.Fatalf("bustest: Publish(%+v): %v", ev, err)
	}
}

// republish publishes ev again with the event ID id, so that the consumers get
// it a second time (see Features.Republish).
func (e *env) republish(b *bus.Bus, ev any, id string) {
	e.t.Helper()
	if e.f.Republish == nil {
		e.publish(b, context.Background(), ev, bus.WithID(id))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.f.Timeout)
	defer cancel()
	m, err := b.Encode(ctx, ev, bus.WithID(id))
	if err != nil {
		e.t.Fatalf("bustest: Encode(%+v): %v", ev, err)
	}
	if err := e.f.Republish(ctx, e.tr, m); err != nil {
		e.t.Fatalf("bustest: Republish(%+v): %v", ev, err)
	}
}

// deadLetters reads a subscription's dead-letter queue until it holds want
// messages, polling (a broker may show a stored message a moment later).
func (e *env) deadLetters(sub string, want int) []bus.Message {
	e.t.Helper()
	r, ok := e.tr.(bus.DeadLetterReader)
	if !ok {
		e.t.Fatalf("bustest: transport %T does not implement bus.DeadLetterReader", e.tr)
	}
	deadline := time.Now().Add(e.f.Timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), e.f.Timeout)
		msgs, err := r.DeadLetters(ctx, sub, 0)
		cancel()
		if err != nil {
			e.t.Fatalf("bustest: DeadLetters(%q): %v", sub, err)
		}
		if len(msgs) >= want {
			return msgs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("bustest: dead-letter queue of %q has %d messages after %s, want %d", sub, len(msgs), e.f.Timeout, want)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline: the DLQ has no notification
	}
}

// raw returns a valid message of type typ (routing and ce-type) with body, with
// the headers of set applied ("" removes one); it is for publishing bad messages
// with the transport directly.
func (e *env) raw(typ string, body []byte, set map[string]string) bus.Message {
	e.t.Helper()
	id, err := bus.NewID()
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := bus.EncodeEnvelope(bus.Envelope{ID: id, Source: "/bustest", Type: typ, Time: time.Now(),
		DataContentType: "application/json", CorrelationID: id}, body)
	if err != nil {
		e.t.Fatalf("bustest: EncodeEnvelope: %v", err)
	}
	return m.WithHeaders(set)
}

// probe records what happens on the buses' goroutines and lets the test wait for
// a condition on it without sleeping: every change wakes the waiters.
type probe struct {
	t       *testing.T
	timeout time.Duration

	mu          sync.Mutex
	changed     chan struct{}
	settlements []bus.Settlement
}

func newProbe(t *testing.T, timeout time.Duration) *probe {
	return &probe{t: t, timeout: timeout, changed: make(chan struct{})}
}

// update runs fn under the probe's lock and wakes the waiters.
func (p *probe) update(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn()
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *probe) settled(s bus.Settlement) {
	p.update(func() { p.settlements = append(p.settlements, s) })
}

// await waits until check, run under the probe's lock, returns true; it fails the
// test after the suite's timeout, saying what it waited for and what it saw.
func (p *probe) await(what string, check func() bool) {
	p.t.Helper()
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok, ch := check(), p.changed
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			p.mu.Lock()
			summary := p.summaryLocked()
			p.mu.Unlock()
			p.t.Fatalf("bustest: timed out after %s waiting for %s; settlements so far: %s", p.timeout, what, summary)
		}
	}
}

// waitFor is await for the buses' goroutines: it reports false after the timeout
// instead of failing the test.
func (p *probe) waitFor(check func() bool) bool {
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok, ch := check(), p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

// countLocked returns the number of settlements with the action (under the lock).
func (p *probe) countLocked(sub string, a bus.Action) int {
	n := 0
	for _, s := range p.settlements {
		if s.Action == a && (sub == "" || s.Subscription == sub) {
			n++
		}
	}
	return n
}

// awaitSettled waits until sub has n settlements with action a.
func (p *probe) awaitSettled(sub string, a bus.Action, n int) {
	p.t.Helper()
	p.await(fmt.Sprintf("%d settlement(s) %q of %s", n, a, sub), func() bool { return p.countLocked(sub, a) >= n })
}

// settledWith returns the settlements of sub (a copy).
func (p *probe) settledWith(sub string) []bus.Settlement {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []bus.Settlement
	for _, s := range p.settlements {
		if s.Subscription == sub {
			out = append(out, s)
		}
	}
	return out
}

func (p *probe) summaryLocked() string {
	counts := map[string]int{}
	for _, s := range p.settlements {
		counts[s.Subscription+" "+s.Action.String()]++
	}
	parts := make([]string, 0, len(counts))
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
