package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/health"
)

// The transport reports its connection to health checks.
var _ health.ConnectionState = (*Transport)(nil)

const testType = "test.thing-done.v1"

// testMessage returns a valid message of testType with body {"n":n}.
func testMessage(t testing.TB, n int) bus.Message {
	t.Helper()
	id, err := bus.NewID()
	if err != nil {
		t.Fatal(err)
	}
	m, err := bus.EncodeEnvelope(bus.Envelope{ID: id, Source: "/test", Type: testType, Time: time.Now(),
		DataContentType: "application/json"}, []byte(`{"n":`+strconv.Itoa(n)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func subscribe(t testing.TB, tr *Transport, sub bus.Subscription) bus.Consumer {
	t.Helper()
	if sub.EventTypes == nil {
		sub.EventTypes = []string{testType}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tr.Subscribe(ctx, sub)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", sub.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func publish(t testing.TB, tr *Transport, msgs ...bus.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Publish(ctx, msgs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func receive(t testing.TB, c bus.Consumer, within time.Duration) bus.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	d, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: no delivery within %s: %v", within, err)
	}
	return d
}

// receiveNone checks that c gets nothing within d.
func receiveNone(t testing.TB, c bus.Consumer, d time.Duration, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if got, err := c.Receive(ctx); err == nil {
		t.Fatalf("Receive got %s (attempt %s), want nothing within %s: %s", got.Message().ID, got.Message().Headers[bus.HeaderAttempt], d, why)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive = %v, want context.DeadlineExceeded", err)
	}
}

func settle(t testing.TB, what string, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fn(ctx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestPublishSetsMsgIDForServerDeduplication(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	c := subscribe(t, tr, bus.Subscription{Name: "dedup", Prefetch: 4})
	m := testMessage(t, 1)
	publish(t, tr, m)
	publish(t, tr, m) // a producer's retry within the duplicate window
	d := receive(t, c, 5*time.Second)
	if d.Message().ID != m.ID {
		t.Fatalf("received %s, want %s", d.Message().ID, m.ID)
	}
	receiveNone(t, c, 300*time.Millisecond, "the server drops a message published again with the same Nats-Msg-Id")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := tr.js.Stream(ctx, tr.names.events)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("events stream holds %d messages after publishing one twice, want 1", n)
	}
	settle(t, "Ack", d.Ack)
}

func TestHeadersArriveExactly(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	c := subscribe(t, tr, bus.Subscription{Name: "headers"})
	m := testMessage(t, 1).WithHeaders(map[string]string{"x-lower": "a: b; c=d", "X-Mixed-Case": "kept", bus.HeaderSubject: "customer-7"})
	publish(t, tr, m)
	d := receive(t, c, 5*time.Second)
	got := d.Message()
	if fmt.Sprint(got.Headers) != fmt.Sprint(m.Headers) {
		t.Errorf("headers =\n%v\nwant\n%v", got.Headers, m.Headers)
	}
	if got.ID != m.ID || got.Type != testType || got.Key != "customer-7" || string(got.Body) != string(m.Body) {
		t.Errorf("message = {ID %s Type %s Key %s Body %s}, want {%s %s customer-7 %s}", got.ID, got.Type, got.Key, got.Body, m.ID, testType, m.Body)
	}
	if d.Redelivered() {
		t.Error("Redelivered() = true on a first delivery")
	}
	settle(t, "Ack", d.Ack)
	if err := d.Ack(context.Background()); !errors.Is(err, bus.ErrAlreadySettled) {
		t.Errorf("second Ack = %v, want bus.ErrAlreadySettled", err)
	}
}

// TestInProgressKeepsLongHandler holds a delivery for four times AckWait, its
// consumer closed meanwhile: the in-progress acks keep it from the other
// consumer of the subscription.
func TestInProgressKeepsLongHandler(t *testing.T) {
	opts := testOptions("")
	opts.AckWait = 500 * time.Millisecond
	tr := newEmbedded(t, t.TempDir(), opts)
	a := subscribe(t, tr, bus.Subscription{Name: "long", Prefetch: 1, AckWait: time.Minute})
	publish(t, tr, testMessage(t, 1))
	d := receive(t, a, 5*time.Second)
	a.Close() // a delivery received stays valid, and alive, after its consumer closes
	b := subscribe(t, tr, bus.Subscription{Name: "long", Prefetch: 1, AckWait: time.Minute})
	receiveNone(t, b, 4*opts.AckWait, "the delivery held by the first consumer is kept alive with +WPI")
	settle(t, "Ack", d.Ack)
	receiveNone(t, b, 2*opts.AckWait, "the acked message is gone")
}

// TestHandBackAtClose closes a consumer that holds messages fetched ahead: they
// go to the other consumer at once, not after AckWait; the one being handled
// stays valid.
func TestHandBackAtClose(t *testing.T) {
	opts := testOptions("")
	opts.AckWait = time.Minute
	tr := newEmbedded(t, t.TempDir(), opts)
	a := subscribe(t, tr, bus.Subscription{Name: "handback", Prefetch: 10})
	for i := range 10 {
		publish(t, tr, testMessage(t, i))
	}
	first := receive(t, a, 5*time.Second)
	waitFor(t, "10 messages held by the first consumer", func() bool { return heldBy(a) == 10 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := subscribe(t, tr, bus.Subscription{Name: "handback", Prefetch: 10})
	for i := range 9 {
		d := receive(t, b, 3*time.Second) // well within AckWait
		if !d.Redelivered() {
			t.Errorf("message %d handed back at Close: Redelivered() = false, want true (it may have been seen)", i)
		}
		settle(t, "Ack", d.Ack)
	}
	if _, err := a.Receive(context.Background()); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Receive after Close = %v, want bus.ErrClosed", err)
	}
	settle(t, "Ack of a delivery received before Close", first.Ack)
	receiveNone(t, b, 300*time.Millisecond, "every message was handled once")
}

// TestPrefetchBound: a consumer holds at most Prefetch messages, queued or
// being handled.
func TestPrefetchBound(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	a := subscribe(t, tr, bus.Subscription{Name: "bound", Prefetch: 3})
	for i := range 10 {
		publish(t, tr, testMessage(t, i))
	}
	waitFor(t, "3 messages held", func() bool { return heldBy(a) == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := tr.js.Consumer(ctx, tr.names.events, "bound")
	if err != nil {
		t.Fatal(err)
	}
	if n := cons.CachedInfo().NumAckPending; n != 3 {
		t.Errorf("server: %d messages outstanding for a consumer with Prefetch 3, want 3", n)
	}
	d := receive(t, a, time.Second)
	settle(t, "Ack", d.Ack)
	waitFor(t, "the freed room filled again", func() bool { return heldBy(a) == 3 })
}

func heldBy(c bus.Consumer) int {
	cc := c.(*consumer)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.held
}

// waitFor polls cond every 5ms for up to 5s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 5s waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling state without a notification, with a deadline
	}
}

// TestRedeliveryRecordSurvivesRestart schedules a redelivery, restarts the
// embedded server and the transport on the same data directory, and checks the
// next delivery's attempt and headers; then requeues (no new attempt) and
// dead-letters it, and finds it in the dead-letter stream.
func TestRedeliveryRecordSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	tr := newEmbedded(t, dir, testOptions(""))
	c := subscribe(t, tr, bus.Subscription{Name: "survivor", RedeliveryDelays: []time.Duration{300 * time.Millisecond}})
	m := testMessage(t, 1)
	publish(t, tr, m)
	d := receive(t, c, 5*time.Second)
	first := time.Now().UTC().Format(time.RFC3339Nano)
	settle(t, "Redeliver", func(ctx context.Context) error {
		return d.Redeliver(ctx, bus.Redelivery{Delay: 300 * time.Millisecond, Attempt: 2, Headers: map[string]string{
			bus.HeaderAttempt: "2", bus.HeaderFirstFailure: first, bus.HeaderLastError: "boom"}})
	})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	tr = newEmbedded(t, dir, testOptions(""))
	c = subscribe(t, tr, bus.Subscription{Name: "survivor"})
	d = receive(t, c, 5*time.Second)
	h := d.Message().Headers
	check := func(when string, attempt string, redelivered bool) {
		t.Helper()
		if h[bus.HeaderAttempt] != attempt || h[bus.HeaderLastError] != "boom" || h[bus.HeaderFirstFailure] != first || d.Redelivered() != redelivered {
			t.Errorf("%s: attempt %q, last error %q, first failure %q, redelivered %v; want %s, boom, %s, %v",
				when, h[bus.HeaderAttempt], h[bus.HeaderLastError], h[bus.HeaderFirstFailure], d.Redelivered(), attempt, first, redelivered)
		}
	}
	check("the scheduled redelivery, after a restart", "2", false)
	if _, err := bus.DecodeEnvelope(d.Message(), bus.DecodeOptions{}); err != nil {
		t.Errorf("the redelivered message does not decode: %v", err)
	}
	settle(t, "Requeue", d.Requeue)
	d = receive(t, c, 5*time.Second)
	h = d.Message().Headers
	check("after a requeue", "2", true)
	settle(t, "DeadLetter", func(ctx context.Context) error {
		return d.DeadLetter(ctx, bus.DeadLetter{Reason: bus.ReasonMaxAttempts, Error: "boom", ErrorType: "*errors.errorString",
			Subscription: "survivor", Attempts: 2, FirstFailure: time.Now(), LastFailure: time.Now()})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dead, err := tr.DeadLetters(ctx, "survivor", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].ID != m.ID || dead[0].Type != testType {
		t.Fatalf("DeadLetters = %d messages (%v), want %s", len(dead), dead, m.ID)
	}
	origin := dead[0].Headers[bus.HeaderDLQOrigin]
	if want := "stream=" + tr.names.events + " consumer=survivor subject=" + tr.names.eventSubject(testType) + " sequence=1"; origin != want {
		t.Errorf("origin = %q, want %q", origin, want)
	}
	if n, err := tr.readNote(ctx, "survivor", 1); err != nil || n != nil {
		t.Errorf("redelivery record after the dead-lettering = %v, %v; want none", n, err)
	}
	receiveNone(t, c, 300*time.Millisecond, "a dead-lettered message is terminated")
}

// TestEmbeddedKeepsMessagesAcrossRestart publishes while no consumer runs,
// restarts, and consumes everything.
func TestEmbeddedKeepsMessagesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	tr := newEmbedded(t, dir, testOptions(""))
	subscribe(t, tr, bus.Subscription{Name: "later"}).Close() // declares the durable consumer
	want := map[string]bool{}
	for i := range 100 {
		m := testMessage(t, i)
		want[m.ID] = true
		publish(t, tr, m)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr = newEmbedded(t, dir, testOptions(""))
	c := subscribe(t, tr, bus.Subscription{Name: "later", Prefetch: 16})
	for range 100 {
		d := receive(t, c, 5*time.Second)
		if !want[d.Message().ID] {
			t.Fatalf("received %s, which was not published or came twice", d.Message().ID)
		}
		delete(want, d.Message().ID)
		settle(t, "Ack", d.Ack)
	}
}

func TestHealth(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	if !tr.Connected() || tr.Blocked() || tr.ConsumersRunning() != 0 || tr.LastError() != nil {
		t.Fatalf("new transport: connected %v blocked %v consumers %d last error %v; want true false 0 nil",
			tr.Connected(), tr.Blocked(), tr.ConsumersRunning(), tr.LastError())
	}
	c := subscribe(t, tr, bus.Subscription{Name: "health"})
	if n := tr.ConsumersRunning(); n != 1 {
		t.Errorf("ConsumersRunning() = %d with one consumer, want 1", n)
	}
	tr.embedded.shutdown()
	waitFor(t, "Connected() to turn false", func() bool { return !tr.Connected() })
	waitFor(t, "LastError() to report the disconnection", func() bool { return tr.LastError() != nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.embedded.start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Connected() to turn true after the restart", tr.Connected)
	t.Logf("%s reconnected", time.Now().Format("15:04:05.000"))
	publish(t, tr, testMessage(t, 1))
	t.Logf("%s published", time.Now().Format("15:04:05.000"))
	settle(t, "Ack", receive(t, c, 5*time.Second).Ack)
	t.Logf("%s received", time.Now().Format("15:04:05.000"))
	c.Close()
	if n := tr.ConsumersRunning(); n != 0 {
		t.Errorf("ConsumersRunning() = %d after Close, want 0", n)
	}
	tr.Close()
	if tr.Connected() {
		t.Error("Connected() = true after Close")
	}
}

func TestClosed(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	c := subscribe(t, tr, bus.Subscription{Name: "closed"})
	publish(t, tr, testMessage(t, 1))
	d := receive(t, c, 5*time.Second)
	tr.Close()
	ctx := context.Background()
	for name, err := range map[string]error{
		"Publish": tr.Publish(ctx, testMessage(t, 2)),
		"Receive": func() error { _, err := c.Receive(ctx); return err }(),
		"Subscribe": func() error {
			_, err := tr.Subscribe(ctx, bus.Subscription{Name: "x", EventTypes: []string{testType}})
			return err
		}(),
		"Ack":         d.Ack(ctx),
		"DeadLetters": func() error { _, err := tr.DeadLetters(ctx, "closed", 0); return err }(),
	} {
		if !errors.Is(err, bus.ErrClosed) {
			t.Errorf("%s after Close = %v, want bus.ErrClosed", name, err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestOptionsErrorsNameTheField(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		opts  Options
		field string
	}{
		{Options{Prefix: "a.b"}, "Options.Prefix"},
		{Options{Replicas: -1}, "Options.Replicas"},
		{Options{DuplicateWindow: -time.Second}, "Options.DuplicateWindow"},
		{Options{MaxAge: time.Minute}, "Options.DuplicateWindow"}, // the 2m default is longer
		{Options{MaxInFlight: -1}, "Options.MaxInFlight"},
		{Options{AckWait: -1}, "Options.AckWait"},
		{Options{MaxDeliver: -1}, "Options.MaxDeliver"},
	} {
		if _, err := Connect(ctx, "nats://127.0.0.1:1", c.opts); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("Connect(%+v) = %v, want an error naming %s", c.opts, err, c.field)
		}
	}
	if _, err := Embedded(ctx, EmbeddedOptions{}); err == nil || !strings.Contains(err.Error(), "DataDir") {
		t.Errorf("Embedded without DataDir = %v, want an error naming DataDir", err)
	}
	if _, err := Embedded(ctx, EmbeddedOptions{DataDir: t.TempDir(), Listen: "localhost"}); err == nil || !strings.Contains(err.Error(), "Listen") {
		t.Errorf("Embedded with Listen \"localhost\" = %v, want an error naming Listen", err)
	}
}

func TestPublishRejectsBadTypes(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	for _, typ := range []string{"", "a..b", ".a", "a.", "a b", "a.*", "a.>"} {
		m := testMessage(t, 1)
		m.Type = typ
		if err := tr.Publish(context.Background(), m); err == nil {
			t.Errorf("Publish of type %q = nil, want an error", typ)
		}
	}
}

func TestConnectErrorRedactsCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Connect(ctx, "nats://alice:s3cret@127.0.0.1:1,nats://tok3n@127.0.0.1:2", Options{})
	if err == nil {
		t.Fatal("Connect to closed ports = nil, want an error")
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "tok3n") {
		t.Errorf("error = %q, want the credentials redacted", err)
	}
}

// TestHeaderForms publishes one message in the compact form (the default) and
// one in the full form (Options.FullHeaders, and as stored before the compact
// form existed): the compact one is stored without ce-specversion, ce-id and
// ce-type, and both arrive with exactly the headers published.
func TestHeaderForms(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("FullHeaders=%v", full), func(t *testing.T) {
			opts := testOptions("")
			opts.FullHeaders = full
			tr := newEmbedded(t, t.TempDir(), opts)
			c := subscribe(t, tr, bus.Subscription{Name: "forms", Prefetch: 4})
			m := testMessage(t, 1).WithHeaders(map[string]string{bus.HeaderSubject: "customer-7", "x-extra": "kept"})
			m.Key = "customer-7"
			publish(t, tr, m)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := tr.js.Stream(ctx, tr.names.events)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := s.GetMsg(ctx, 1)
			if err != nil {
				t.Fatalf("reading the stored message: %v", err)
			}
			if got := raw.Header.Get("Nats-Msg-Id"); got != m.ID {
				t.Errorf("stored Nats-Msg-Id = %q, want %q", got, m.ID)
			}
			for _, k := range []string{bus.HeaderSpecVersion, bus.HeaderID, bus.HeaderType} {
				if _, sent := raw.Header[k]; sent == full {
					continue
				}
				t.Errorf("stored header %s present = %v, want %v (FullHeaders %v)", k, !full, full, full)
			}
			if _, marked := raw.Header[ceHeader]; marked == full {
				t.Errorf("stored header %s present = %v, want %v (FullHeaders %v)", ceHeader, marked, !full, full)
			}

			// A message in the full form, as a transport without the compact form
			// stored it (and as the full form of this one looks).
			old := testMessage(t, 2)
			if _, err := tr.js.PublishMsg(ctx, tr.eventMsg(old)); err != nil {
				t.Fatal(err)
			}
			for _, want := range []bus.Message{m, old} {
				d := receive(t, c, 5*time.Second)
				got := d.Message()
				if fmt.Sprint(got.Headers) != fmt.Sprint(want.Headers) {
					t.Errorf("headers of %s =\n%v\nwant\n%v", want.ID, got.Headers, want.Headers)
				}
				if got.ID != want.ID || got.Type != want.Type || got.Key != want.Key {
					t.Errorf("message = {ID %s Type %s Key %s}, want {%s %s %s}", got.ID, got.Type, got.Key, want.ID, want.Type, want.Key)
				}
				settle(t, "Ack", d.Ack)
			}
		})
	}
}
