package bustest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rampart-go/rampart/bus"
)

func testRoundTrip(t *testing.T, e *env) {
	const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	type traceKey struct{}
	var (
		orders []Order
		notes  []Note
		om, nm []bus.Meta
	)
	b := e.newBus(bus.Options{PropagateTrace: func(ctx context.Context) (string, string) {
		if m, ok := bus.MetaFrom(ctx); ok {
			return m.TraceParent, m.TraceState
		}
		if tp, ok := ctx.Value(traceKey{}).(string); ok {
			return tp, "vendor=1"
		}
		return "", ""
	}}, only("orders", "notes"))
	must(t, bus.Handle(b, e.sub("orders"), func(ctx context.Context, o Order, m bus.Meta) error {
		if err := b.Publish(ctx, Note{Text: "about " + o.Text}, bus.WithSubject(m.Subject)); err != nil {
			return err
		}
		e.p.update(func() { orders, om = append(orders, o), append(om, m) })
		return nil
	}))
	must(t, bus.Handle(b, e.sub("notes"), func(ctx context.Context, n Note, m bus.Meta) error {
		e.p.update(func() { notes, nm = append(notes, n), append(nm, m) })
		return nil
	}))
	e.start(b)

	ctx := bus.ContextWithCorrelationID(context.WithValue(context.Background(), traceKey{}, traceParent), "corr-42")
	before := time.Now()
	e.publish(b, ctx, Order{N: 1, Key: "k", Text: "hello"}, bus.WithSubject("customer-7"), bus.WithPartitionKey("p-7"))
	after := time.Now()
	e.p.await("the order and the note it caused", func() bool { return len(om) >= 1 && len(nm) >= 1 })

	e.p.mu.Lock()
	o, m, n, mn := orders[0], om[0], notes[0], nm[0]
	e.p.mu.Unlock()
	if o != (Order{N: 1, Key: "k", Text: "hello"}) {
		t.Errorf("order = %+v, want {N:1 Key:k Text:hello}", o)
	}
	if n.Text != "about hello" {
		t.Errorf("note.Text = %q, want %q", n.Text, "about hello")
	}
	for _, x := range []struct {
		what string
		id   string
	}{{"order", m.ID}, {"note", mn.ID}} {
		u, err := uuid.Parse(x.id)
		if err != nil || u.Version() != 7 || u.String() != x.id {
			t.Errorf("%s ID = %q, want a canonical UUIDv7 (%v)", x.what, x.id, err)
		}
	}
	if m.Time.Before(before.Add(-time.Second)) || m.Time.After(after.Add(time.Second)) {
		t.Errorf("order Time = %s, want between %s and %s", m.Time, before, after)
	}
	check(t, "order meta",
		"SpecVersion", m.SpecVersion, "1.0",
		"Source", m.Source, "/bustest",
		"Type", m.Type, e.orderType,
		"Subject", m.Subject, "customer-7",
		"DataContentType", m.DataContentType, "application/json",
		"CorrelationID", m.CorrelationID, "corr-42",
		"CausationID", m.CausationID, "",
		"PartitionKey", m.PartitionKey, "p-7",
		"TraceParent", m.TraceParent, traceParent,
		"TraceState", m.TraceState, "vendor=1",
		"Attempt", m.Attempt, 1,
		"Subscription", m.Subscription, e.sub("orders"),
		"Redelivered", m.Redelivered, false,
		"Headers[ce-id]", m.Headers[bus.HeaderID], m.ID,
		"Headers[ce-type]", m.Headers[bus.HeaderType], e.orderType,
	)
	check(t, "note meta (published by the order's handler)",
		"Type", mn.Type, e.noteType,
		"Source", mn.Source, "/bustest",
		"Subject", mn.Subject, "customer-7",
		"CausationID", mn.CausationID, m.ID,
		"CorrelationID", mn.CorrelationID, "corr-42",
		"TraceParent", mn.TraceParent, traceParent,
		"TraceState", mn.TraceState, "vendor=1",
		"PartitionKey", mn.PartitionKey, "",
		"Attempt", mn.Attempt, 1,
		"Subscription", mn.Subscription, e.sub("notes"),
	)
	if mn.ID == m.ID {
		t.Errorf("note ID = order ID = %s, want a new ID", m.ID)
	}
	if mn.Time.Before(m.Time) {
		t.Errorf("note Time %s is before its cause's %s", mn.Time, m.Time)
	}
	e.p.awaitSettled(e.sub("orders"), bus.ActionAck, 1)
	for _, s := range e.p.settledWith(e.sub("orders")) {
		if s.Action != bus.ActionAck || s.SettleErr != nil || s.EventID != m.ID || s.EventType != e.orderType {
			t.Errorf("settlement = %+v, want an ack of %s without error", s, m.ID)
		}
	}
}

func testManyMessages(t *testing.T, e *env) {
	n := e.f.Messages
	subA, subB := e.sub("load-a"), e.sub("load-b")
	seen := map[string]map[int]int{subA: {}, subB: {}}
	record := func(sub string) func(context.Context, Order, bus.Meta) error {
		return func(ctx context.Context, o Order, m bus.Meta) error {
			e.p.update(func() { seen[sub][o.N]++ })
			return nil
		}
	}
	var buses []*bus.Bus
	for range 3 { // three instances of service A, competing
		b := e.newBus(bus.Options{}, map[string]bus.SubscriptionOptions{"load-a": {Workers: 4, Prefetch: 16}})
		must(t, bus.Handle(b, subA, record(subA)))
		buses = append(buses, b)
	}
	bB := e.newBus(bus.Options{}, map[string]bus.SubscriptionOptions{"load-b": {Workers: 8, Prefetch: 32}})
	must(t, bus.Handle(bB, subB, record(subB)))
	buses = append(buses, bB)
	for _, b := range buses {
		e.start(b)
	}

	const publishers = 8
	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), e.f.Timeout)
			defer cancel()
			b := buses[p%len(buses)]
			for i := p; i < n; i += publishers {
				if err := b.Publish(ctx, Order{N: i}); err != nil {
					errs <- fmt.Errorf("publisher %d, message %d: %w", p, i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range publishers {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(e.f.Timeout):
			t.Fatalf("publishers still running after %s", e.f.Timeout)
		}
	}
	e.p.await(fmt.Sprintf("%d messages in each of 2 subscriptions", n), func() bool {
		return len(seen[subA]) == n && len(seen[subB]) == n
	})
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	for sub, got := range seen {
		for i, c := range got {
			if c != 1 || i < 0 || i >= n {
				t.Errorf("%s: message %d handled %d times, want 1", sub, i, c)
			}
		}
	}
}

func testCompetingConsumers(t *testing.T, e *env) {
	const instances, n = 3, 30
	sub := e.sub("compete")
	var (
		started [instances]int
		handled = map[int][]int{}
	)
	all := func() bool { return started[0] > 0 && started[1] > 0 && started[2] > 0 }
	var buses []*bus.Bus
	for i := range instances {
		b := e.newBus(bus.Options{}, map[string]bus.SubscriptionOptions{"compete": {Workers: 1, Prefetch: 1}})
		must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
			first := false
			e.p.update(func() {
				started[i]++
				first = started[i] == 1
				handled[o.N] = append(handled[o.N], i)
			})
			// Hold the first message until every instance holds one: with a prefetch
			// of 1, the others can only get theirs if the consumers compete.
			if first && !e.p.waitFor(all) {
				t.Errorf("instance %d held a message for %s and the other instances got none: consumers do not compete", i, e.f.Timeout)
			}
			return nil
		}))
		e.start(b)
		buses = append(buses, b)
	}
	for i := range n {
		e.publish(buses[0], context.Background(), Order{N: i})
	}
	e.p.await(fmt.Sprintf("%d messages handled", n), func() bool { return len(handled) == n })
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	for i, by := range handled {
		if len(by) != 1 {
			t.Errorf("message %d handled by instances %v, want exactly one", i, by)
		}
	}
	for i, c := range started {
		if c == 0 {
			t.Errorf("instance %d handled no message", i)
		}
	}
}

func testFanOut(t *testing.T, e *env) {
	const n = 20
	names := []string{"fan-a", "fan-b", "fan-c"}
	seen := map[string]map[int]int{}
	var pub *bus.Bus
	for _, name := range names {
		sub := e.sub(name)
		seen[sub] = map[int]int{}
		b := e.newBus(bus.Options{}, only(name))
		must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
			e.p.update(func() { seen[sub][o.N]++ })
			return nil
		}))
		e.start(b)
		pub = b
	}
	for i := range n {
		e.publish(pub, context.Background(), Order{N: i})
	}
	e.p.await(fmt.Sprintf("%d messages in each of %d subscriptions", n, len(names)), func() bool {
		for _, s := range seen {
			if len(s) < n {
				return false
			}
		}
		return true
	})
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	for sub, got := range seen {
		for i, c := range got {
			if c != 1 {
				t.Errorf("%s: message %d handled %d times, want 1", sub, i, c)
			}
		}
	}
}

func testOrderPerKey(t *testing.T, e *env) {
	if e.f.Unordered {
		t.Skip("bustest: the transport does not deliver a queue in order (Features.Unordered)")
	}
	const keys, per = 8, 30
	sub := e.sub("ordered")
	seqs := map[string][]int{}
	total := 0
	b := e.newBus(bus.Options{}, map[string]bus.SubscriptionOptions{"ordered": {Workers: 4, Prefetch: 16, Ordered: true}})
	must(t, bus.Handle(b, sub, func(ctx context.Context, o Order, m bus.Meta) error {
		if m.PartitionKey != o.Key {
			t.Errorf("message %s/%d: PartitionKey = %q, want %q", o.Key, o.N, m.PartitionKey, o.Key)
		}
		e.p.update(func() { seqs[o.Key] = append(seqs[o.Key], o.N); total++ })
		return nil
	}))
	e.start(b)
	for i := range per {
		for k := range keys {
			key := fmt.Sprintf("customer-%d", k)
			e.publish(b, context.Background(), Order{N: i, Key: key}, bus.WithPartitionKey(key))
		}
	}
	e.p.await(fmt.Sprintf("%d messages", keys*per), func() bool { return total >= keys*per })
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	for key, seq := range seqs {
		if !sort.IntsAreSorted(seq) || len(seq) != per {
			t.Errorf("key %s handled in order %v, want 0..%d in order", key, seq, per-1)
		}
	}
}
