package rabbitmq_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
)

// receive receives one delivery within 10s.
func receive(t *testing.T, c bus.Consumer) bus.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return d
}

func publish(t *testing.T, tr *rabbitmq.Transport, msgs ...bus.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Publish(ctx, msgs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// TestForeignHeaders publishes with amqp091-go directly, as another service
// might: headers of other types than strings become text where they have a text
// form, and are listed in rampart-invalid-headers where they have not. The
// broker's own headers are dropped.
func TestForeignHeaders(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	c := subscribe(t, tr, bus.Subscription{Name: "foreign", EventTypes: []string{typ}, Prefetch: 1, RedeliveryDelays: []time.Duration{50 * time.Millisecond}})
	m := rawMessage(t, typ, nil)
	h := amqp.Table{}
	for k, v := range m.Headers {
		h[k] = v
	}
	h[bus.HeaderAttempt] = int32(1)
	h["flag"] = true
	h["count"] = int64(42)
	h[bus.HeaderSubject] = amqp.Table{"nested": "no"}
	h["list"] = []any{"a", "b"}
	h["x-death"] = []any{amqp.Table{"queue": "somewhere"}}
	withChannel(t, func(ch *amqp.Channel) {
		err := ch.PublishWithContext(context.Background(), tr.Exchange(), typ, false, false, amqp.Publishing{
			Headers: h, MessageId: m.ID, Body: m.Body, DeliveryMode: amqp.Persistent,
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	d := receive(t, c)
	got := d.Message()
	for k, want := range map[string]string{
		bus.HeaderAttempt: "1", "flag": "true", "count": "42", bus.HeaderID: m.ID,
		bus.HeaderInvalid: "ce-subject:amqp091.Table,list:[]interface {}",
	} {
		if got.Headers[k] != want {
			t.Errorf("Headers[%q] = %q, want %q", k, got.Headers[k], want)
		}
	}
	if _, ok := got.Headers["x-death"]; ok {
		t.Errorf("Headers has the broker's x-death")
	}
	if got.ID != m.ID || got.Type != typ {
		t.Errorf("Message ID, Type = %s, %s; want %s, %s", got.ID, got.Type, m.ID, typ)
	}
	// The bus rejects it, naming the header.
	_, err := bus.DecodeEnvelope(got, bus.DecodeOptions{})
	if err == nil || !strings.Contains(err.Error(), `"ce-subject"`) {
		t.Errorf("DecodeEnvelope = %v, want an error naming ce-subject", err)
	}
	if err := d.Ack(context.Background()); err != nil {
		t.Errorf("Ack: %v", err)
	}
}

// TestDelayTiers redelivers one message after a long delay, then one after a
// short delay: the short one comes back first (each delay has its own queue).
// It also checks the headers of a redelivery and a dead letter, and reading
// dead letters.
func TestDelayTiers(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	delays := []time.Duration{100 * time.Millisecond, 3 * time.Second}
	c := subscribe(t, tr, bus.Subscription{Name: "tiers", EventTypes: []string{typ}, Prefetch: 4, RedeliveryDelays: delays})
	slow, fast := rawMessage(t, typ, map[string]string{"which": "slow"}), rawMessage(t, typ, map[string]string{"which": "fast"})
	publish(t, tr, slow)
	publish(t, tr, fast)
	ctx := context.Background()
	for _, want := range []struct {
		which string
		delay time.Duration
	}{{"slow", delays[1]}, {"fast", delays[0]}} {
		d := receive(t, c)
		if w := d.Message().Headers["which"]; w != want.which {
			t.Fatalf("received %q, want %q first", w, want.which)
		}
		err := d.Redeliver(ctx, bus.Redelivery{Delay: want.delay, Attempt: 2, Headers: map[string]string{bus.HeaderLastError: "boom"}})
		if err != nil {
			t.Fatalf("Redeliver: %v", err)
		}
		if err := d.Ack(ctx); !errors.Is(err, bus.ErrAlreadySettled) {
			t.Errorf("Ack after Redeliver = %v, want bus.ErrAlreadySettled", err)
		}
	}
	start := time.Now()
	d := receive(t, c)
	if w, since := d.Message().Headers["which"], time.Since(start); w != "fast" || since > delays[1]-time.Second {
		t.Fatalf("first back: %q after %s, want the fast one, well before the slow one's %s", w, since, delays[1])
	}
	h := d.Message().Headers
	if h[bus.HeaderAttempt] != "2" || h[bus.HeaderLastError] != "boom" || h["which"] != "fast" {
		t.Errorf("redelivered headers = %v, want rampart-attempt 2, rampart-last-error boom and the original ones", h)
	}
	if d.Redelivered() {
		t.Errorf("Redelivered() = true for a scheduled redelivery, want false (a new delivery)")
	}
	// Dead-letter it: the origin is the events exchange and the event type, not
	// the retry queue it came back from.
	if err := d.DeadLetter(ctx, bus.DeadLetter{Reason: bus.ReasonMaxAttempts, Error: "boom", Subscription: "tiers", Attempts: 2,
		FirstFailure: time.Now(), LastFailure: time.Now()}); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	dl := readDeadLetters(t, tr, "tiers", 1)
	want := "exchange=" + tr.Exchange() + " routing-key=" + typ + " queue=" + tr.Queues("tiers").Work
	if got := dl[0].Headers[bus.HeaderDLQOrigin]; got != want {
		t.Errorf("rampart-dlq-origin = %q, want %q", got, want)
	}
	for _, k := range []string{"rampart-amqp-exchange", "rampart-amqp-routing-key"} {
		if _, ok := dl[0].Headers[k]; ok {
			t.Errorf("dead letter has the transport's header %s", k)
		}
	}
	if dl[0].Headers[bus.HeaderDLQReason] != string(bus.ReasonMaxAttempts) || dl[0].ID != fast.ID {
		t.Errorf("dead letter = %+v, want %s with reason max-attempts", dl[0], fast.ID)
	}
	// Reading dead letters leaves them there.
	if again := readDeadLetters(t, tr, "tiers", 1); again[0].ID != fast.ID {
		t.Errorf("dead letters read again = %s, want %s", again[0].ID, fast.ID)
	}
}

// readDeadLetters reads a subscription's dead letters until there are want.
func readDeadLetters(t *testing.T, tr *rabbitmq.Transport, sub string, want int) []bus.Message {
	t.Helper()
	var msgs []bus.Message
	eventually(t, 10*time.Second, fmt.Sprintf("%d dead letters of %s", want, sub), func() bool {
		var err error
		msgs, err = tr.DeadLetters(context.Background(), sub, 0)
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		return len(msgs) >= want
	})
	return msgs
}

func TestDeadLettersOrderAndMax(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	c := subscribe(t, tr, bus.Subscription{Name: "dlq", EventTypes: []string{typ}, Prefetch: 10, RedeliveryDelays: []time.Duration{time.Second}})
	if msgs, err := tr.DeadLetters(context.Background(), "no-such-subscription", 0); err != nil || len(msgs) != 0 {
		t.Errorf("DeadLetters(unknown) = %v, %v; want none", msgs, err)
	}
	var ids []string
	for i := range 5 {
		m := rawMessage(t, typ, map[string]string{"i": fmt.Sprint(i)})
		ids = append(ids, m.ID)
		publish(t, tr, m)
		if err := receive(t, c).DeadLetter(context.Background(), bus.DeadLetter{Reason: bus.ReasonPermanent, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	all := readDeadLetters(t, tr, "dlq", 5)
	for i, m := range all {
		if m.ID != ids[i] {
			t.Errorf("dead letter %d = %s, want %s (oldest first)", i, m.ID, ids[i])
		}
	}
	two, err := tr.DeadLetters(context.Background(), "dlq", 2)
	if err != nil || len(two) != 2 || two[0].ID != ids[0] || two[1].ID != ids[1] {
		t.Errorf("DeadLetters(max 2) = %d messages, %v; want the 2 oldest", len(two), err)
	}
}

// TestConsumerClose closes a consumer holding a received delivery and others it
// fetched: the received one can still be settled, the others go back to the
// queue for the next consumer.
func TestConsumerClose(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	sub := bus.Subscription{Name: "close", EventTypes: []string{typ}, Prefetch: 10, RedeliveryDelays: []time.Duration{time.Second}}
	c := subscribe(t, tr, sub)
	var ids []string
	for range 5 {
		m := rawMessage(t, typ, nil)
		ids = append(ids, m.ID)
		publish(t, tr, m)
	}
	held := receive(t, c)
	// Let the broker send the others ahead (prefetch 10).
	time.Sleep(100 * time.Millisecond) // no signal for "the broker sent them": a short pause
	for i := range 2 {
		if err := c.Close(); err != nil {
			t.Errorf("Close #%d = %v", i+1, err)
		}
	}
	if _, err := c.Receive(context.Background()); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Receive after Close = %v, want bus.ErrClosed", err)
	}
	if err := held.Ack(context.Background()); err != nil {
		t.Errorf("Ack of a delivery received before Close = %v, want nil", err)
	}
	c2 := subscribe(t, tr, sub)
	got := map[string]bool{held.Message().ID: true}
	for range 4 {
		d := receive(t, c2)
		got[d.Message().ID] = true
		if err := d.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("message %s lost", id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if d, err := c2.Receive(ctx); err == nil {
		t.Errorf("received %s again: the held delivery was acked", d.Message().ID)
	}
}

// TestStaleAckAfterReconnect holds deliveries across a reconnect and settles them
// after it: the acks fail (their channel is gone) and never ack another message,
// as an ack of a stale delivery tag on a reopened channel would (amqp091-go's own
// recovery does that: it reopens the channel under a new tag sequence).
func TestStaleAckAfterReconnect(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	c := subscribe(t, tr, bus.Subscription{Name: "stale", EventTypes: []string{typ}, Prefetch: 10, RedeliveryDelays: []time.Duration{time.Second}})
	var ids []string
	for i := range 6 {
		m := rawMessage(t, typ, map[string]string{"i": fmt.Sprint(i)})
		ids = append(ids, m.ID)
		publish(t, tr, m)
	}
	var held []bus.Delivery
	for range 3 {
		held = append(held, receive(t, c))
	}
	// Handled before the cut: the first two.
	for _, d := range held[:2] {
		if err := d.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	rabbitmq.CutSockets(tr)
	eventually(t, 10*time.Second, "the consumer connection to reconnect", func() bool {
		_, cons := rabbitmq.Reconnects(tr)
		return cons > 0 && rabbitmq.Connected(tr)
	})
	// The handler of the third finishes late, after the reconnect.
	err := held[2].Ack(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the broker delivers the message again") {
		t.Errorf("Ack of a delivery from before the reconnect = %v, want an error saying the broker delivers it again", err)
	}
	// Every message not acked before the cut comes again, the third included, and
	// is acked once. (A delivery left over from the lost channel may still be
	// received; its ack fails like the one above.) The first two may come again
	// too: an ack is written to the socket after Ack returns, and the cut may
	// lose it, as any connection loss may (at-least-once: the inbox absorbs
	// the duplicate).
	before := map[string]bool{ids[0]: true, ids[1]: true}
	acked := map[string]int{}
	for len(acked) < 4 {
		d := receive(t, c)
		if err := d.Ack(context.Background()); err == nil && !before[d.Message().ID] {
			acked[d.Message().ID]++
		}
	}
	for i, id := range ids[2:] {
		if acked[id] != 1 {
			t.Errorf("message %d acked %d times after the reconnect, want once", i+2, acked[id])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for {
		d, err := c.Receive(ctx)
		if err != nil {
			break
		}
		if err := d.Ack(context.Background()); err == nil && !before[d.Message().ID] {
			t.Errorf("message %s delivered again after it was acked", d.Message().ID)
		}
	}
}

// TestMissingRetryAndDeadLetterQueues deletes the retry and dead-letter queues
// under a running consumer: redelivering and dead-lettering declare them again
// instead of failing (which would hand the message back to be handled again at
// once, over and over).
func TestMissingRetryAndDeadLetterQueues(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	delay := 50 * time.Millisecond
	c := subscribe(t, tr, bus.Subscription{Name: "missing", EventTypes: []string{typ}, Prefetch: 4, RedeliveryDelays: []time.Duration{delay}})
	q := tr.Queues("missing", delay)
	withChannel(t, func(ch *amqp.Channel) {
		for _, name := range []string{q.Retry[delay], q.DeadLetter} {
			if _, err := ch.QueueDelete(name, false, false, false); err != nil {
				t.Fatal(err)
			}
		}
	})
	m := rawMessage(t, typ, nil)
	publish(t, tr, m)
	if err := receive(t, c).Redeliver(context.Background(), bus.Redelivery{Delay: delay, Attempt: 2}); err != nil {
		t.Fatalf("Redeliver with the retry queue deleted = %v, want nil", err)
	}
	d := receive(t, c)
	if d.Message().ID != m.ID || d.Message().Headers[bus.HeaderAttempt] != "2" {
		t.Fatalf("after the redelivery: %s attempt %s, want %s attempt 2", d.Message().ID, d.Message().Headers[bus.HeaderAttempt], m.ID)
	}
	if err := d.DeadLetter(context.Background(), bus.DeadLetter{Reason: bus.ReasonPermanent, Attempts: 2}); err != nil {
		t.Fatalf("DeadLetter with the dead-letter queue deleted = %v, want nil", err)
	}
	if dl := readDeadLetters(t, tr, "missing", 1); dl[0].ID != m.ID {
		t.Errorf("dead letter = %s, want %s", dl[0].ID, m.ID)
	}
}

// TestEnvelopeInProperties checks the wire form on the broker: the envelope
// attributes that AMQP has a property for are in the properties, not in the
// header table; the consumer gives the bus the headers it published.
func TestEnvelopeInProperties(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	c := subscribe(t, tr, bus.Subscription{Name: "props", EventTypes: []string{typ}, Prefetch: 1, RedeliveryDelays: []time.Duration{time.Second}})
	if err := c.Close(); err != nil { // the message stays in the queue for basic.get
		t.Fatal(err)
	}
	m := rawMessage(t, typ, map[string]string{bus.HeaderCorrelationID: "corr-1"})
	publish(t, tr, m)
	withChannel(t, func(ch *amqp.Channel) {
		var d amqp.Delivery
		eventually(t, 10*time.Second, "the message in the work queue", func() bool {
			var ok bool
			var err error
			if d, ok, err = ch.Get(tr.Queues("props").Work, true); err != nil {
				t.Fatalf("basic.get: %v", err)
			}
			return ok
		})
		if d.MessageId != m.ID || d.Type != typ || d.ContentType != "application/json" || d.CorrelationId != "corr-1" || d.AppId != "rampart-test" {
			t.Errorf("properties message-id %q type %q content-type %q correlation-id %q app-id %q; want %q %q application/json corr-1 rampart-test",
				d.MessageId, d.Type, d.ContentType, d.CorrelationId, d.AppId, m.ID, typ)
		}
		for _, k := range []string{bus.HeaderID, bus.HeaderType, bus.HeaderContentType, bus.HeaderCorrelationID} {
			if _, ok := d.Headers[k]; ok {
				t.Errorf("header table has %s, want it in its property only", k)
			}
		}
		// bench/rabbitmq_test.go's envelope() builds this form by hand for the
		// raw+envelope benchmarks: change it with this.
		want := "source=" + m.Headers[bus.HeaderSource] + ",time=" + m.Headers[bus.HeaderTime]
		if got := d.Headers["rampart-ce"]; got != want {
			t.Errorf("header table has rampart-ce = %v, want %q", got, want)
		}
		for k := range d.Headers {
			if k != "rampart-ce" && k != "x-delivery-count" {
				t.Errorf("header table has %s, want rampart-ce alone (and the broker's own)", k)
			}
		}
	})
	c = subscribe(t, tr, bus.Subscription{Name: "props", EventTypes: []string{typ}, Prefetch: 1, RedeliveryDelays: []time.Duration{time.Second}})
	m2 := rawMessage(t, typ, map[string]string{bus.HeaderCorrelationID: "corr-2", bus.HeaderSubject: "s-1"})
	publish(t, tr, m2)
	d := receive(t, c)
	if got := d.Message(); got.ID != m2.ID || got.Type != typ || got.Key != "s-1" || !maps.Equal(got.Headers, m2.Headers) {
		t.Errorf("received %s %s key %q headers %v\nwant %s %s key s-1 headers %v", got.ID, got.Type, got.Key, got.Headers, m2.ID, typ, m2.Headers)
	}
	if err := d.Ack(context.Background()); err != nil {
		t.Errorf("Ack: %v", err)
	}
}

// TestDeadLettersOfBothForms lists and replays dead letters published before the
// envelope went into properties (every header in the table) beside new ones:
// both read the same, and both replay with their headers.
func TestDeadLettersOfBothForms(t *testing.T) {
	tr := newTransport(t, "", testOptions(t))
	typ := fmt.Sprintf("rt.%08x.v1", rand.Uint32())
	c := subscribe(t, tr, bus.Subscription{Name: "forms", EventTypes: []string{typ}, Prefetch: 1, RedeliveryDelays: []time.Duration{time.Second}})
	dlq := tr.Queues("forms").DeadLetter
	dead := map[string]string{bus.HeaderDLQReason: string(bus.ReasonPermanent), bus.HeaderCorrelationID: "corr-old",
		bus.HeaderDLQOrigin: "exchange=" + tr.Exchange() + " routing-key=" + typ + " queue=" + tr.Queues("forms").Work}
	old := rawMessage(t, typ, dead)
	withChannel(t, func(ch *amqp.Channel) {
		h := amqp.Table{}
		for k, v := range old.Headers {
			h[k] = v
		}
		// As the transport published before: every header in the table, and
		// message-id, type, content-type and app-id set too.
		err := ch.PublishWithContext(context.Background(), "", dlq, true, false, amqp.Publishing{
			Headers: h, ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: old.ID, Type: typ,
			AppId: "rampart-test", Timestamp: time.Now(), Body: old.Body,
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	m := rawMessage(t, typ, map[string]string{bus.HeaderCorrelationID: "corr-new"})
	publish(t, tr, m)
	if err := receive(t, c).DeadLetter(context.Background(), bus.DeadLetter{Reason: bus.ReasonPermanent, Attempts: 1, Subscription: "forms"}); err != nil {
		t.Fatal(err)
	}
	dls := readDeadLetters(t, tr, "forms", 2)
	if dls[0].ID != old.ID || !maps.Equal(dls[0].Headers, old.Headers) {
		t.Errorf("old-form dead letter read as %s %v\nwant %s %v", dls[0].ID, dls[0].Headers, old.ID, old.Headers)
	}
	if dls[1].ID != m.ID || dls[1].Headers[bus.HeaderCorrelationID] != "corr-new" || dls[1].Headers[bus.HeaderID] != m.ID ||
		dls[1].Headers[bus.HeaderType] != typ || dls[1].Headers[bus.HeaderContentType] != "application/json" ||
		dls[1].Headers[bus.HeaderDLQReason] != string(bus.ReasonPermanent) {
		t.Errorf("new-form dead letter read as %s %v, want %s with its envelope and the dead-letter headers", dls[1].ID, dls[1].Headers, m.ID)
	}
	res, err := tr.ReplayDeadLetters(context.Background(), "forms", bus.ReplayOptions{})
	if err != nil || len(res.Replayed) != 2 {
		t.Fatalf("ReplayDeadLetters = %d replayed, %v; want 2", len(res.Replayed), err)
	}
	for _, want := range []bus.Message{old, m} {
		d := receive(t, c)
		got := d.Message()
		wantHeaders := bus.ReplayMessage(want, time.Now()).Headers
		delete(wantHeaders, bus.HeaderReplayedAt)
		delete(got.Headers, bus.HeaderReplayedAt)
		if got.ID != want.ID || !maps.Equal(got.Headers, wantHeaders) {
			t.Errorf("replayed %s with %v\nwant %s with %v", got.ID, got.Headers, want.ID, wantHeaders)
		}
		if err := d.Ack(context.Background()); err != nil {
			t.Errorf("Ack: %v", err)
		}
	}
}
