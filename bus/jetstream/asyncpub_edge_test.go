package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// The wait for a retry after no responders does not count against the
// attempt's PublishTimeout: nats.go stops the attempt's timer when the
// no-responders reply comes and starts it again when it publishes the message
// again. Otherwise a PublishTimeout shorter than the retry wait (250ms) turns
// every no-responders reply into natsjs.ErrAsyncPublishTimeout.
func TestNoStreamRetryOutlivesTheAttemptDeadline(t *testing.T) {
	p := newAsyncPublisher(4, 100*time.Millisecond)
	r := &pubReq{m: &nats.Msg{Subject: "x"}, done: make(chan error, 1), deadline: p.now() + 100*time.Millisecond}
	p.pending[1] = r
	p.noStream(1)                            // published again pubRetryWait (250ms) from now
	p.expire(p.now() + 200*time.Millisecond) // past the first attempt's deadline, before the retry
	select {
	case err := <-r.done:
		t.Fatalf("a message waiting for its retry after no responders failed with %v; want it published again first", err)
	default:
	}
}

// A retry after no responders that cannot be sent fails its request at once
// with the publish error, as nats.go's retry does (it hands the error to the
// error handler), rather than leaving it to time out.
func TestRetryPublishErrorIsReported(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	nc := tr.nc
	tr.Close() // nc is closed: PublishMsg fails with nats.ErrConnectionClosed
	p := newAsyncPublisher(4, time.Hour)
	p.nc = nc
	r := &pubReq{m: &nats.Msg{Subject: "x", Reply: "_INBOX.x.1"}, done: make(chan error, 1), deadline: time.Hour}
	p.pending[1] = r
	p.retries = append(p.retries, pubRetry{1, 0})
	p.retryDue(p.now())
	select {
	case err := <-r.done:
		if !errors.Is(err, nats.ErrConnectionClosed) {
			t.Errorf("a retry that could not be sent failed with %v; want %v", err, nats.ErrConnectionClosed)
		}
	default:
		t.Error("a retry that could not be sent left its request waiting for its deadline")
	}
	if n := p.inFlight(); n != 0 {
		t.Errorf("inFlight() = %d after the failed retry; want 0", n)
	}
}

// natsGoPubAckResponse is the shape nats.go's handleAsyncReply decodes an
// acknowledgement into (jetstream.pubAckResponse: apiResponse and *PubAck).
type natsGoPubAckResponse struct {
	natsGoAPIResponse
	*natsjs.PubAck
}

type natsGoAPIResponse struct {
	Type  string           `json:"type"`
	Error *natsjs.APIError `json:"error,omitempty"`
}

// natsGoParse is the outcome nats.go's asynchronous publisher gives data.
func natsGoParse(data []byte) error {
	var pa natsGoPubAckResponse
	if err := json.Unmarshal(data, &pa); err != nil {
		return natsjs.ErrInvalidJSAck
	}
	if pa.Error != nil {
		return pa.Error
	}
	if pa.PubAck == nil || pa.PubAck.Stream == "" {
		return natsjs.ErrInvalidJSAck
	}
	return nil
}

func sameOutcome(a, b error) bool {
	var ea, eb *natsjs.APIError
	if errors.As(a, &ea) && errors.As(b, &eb) {
		return *ea == *eb
	}
	return a == b
}

func TestParsePubAckAsNatsGo(t *testing.T) {
	for _, in := range []string{
		`{"type":1,"stream":"S","seq":1}`,
		`{"type":"io.nats.jetstream.api.v1.pub_ack","stream":"S","seq":1}`,
		`{"TYPE":[],"stream":"S","seq":1}`,
		`{"stream":"S","seq":1}`,
		`{"error":null,"stream":"S","seq":1}`,
		`{"error":{"code":503,"err_code":10077,"description":"x"}}`,
	} {
		if got, want := parsePubAck([]byte(in)), natsGoParse([]byte(in)); !sameOutcome(got, want) {
			t.Errorf("parsePubAck(%s) = %v; nats.go's publisher gives %v", in, got, want)
		}
	}
}

func FuzzParsePubAckAsNatsGo(f *testing.F) {
	for _, s := range []string{
		`{"stream":"S","seq":1}`, `{"stream":"S","seq":2,"duplicate":true,"domain":"d"}`,
		`{"error":{"code":503,"err_code":10077,"description":"x"}}`, `{"type":1,"stream":"S","seq":1}`,
		`{"stream":"S","seq":1,"val":"2"}`, `{"Stream":"S"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := parsePubAck(data), natsGoParse(data); !sameOutcome(got, want) {
			t.Fatalf("parsePubAck(%q) = %v; nats.go's publisher gives %v", data, got, want)
		}
	})
}

// Every request gets exactly one outcome however its acknowledgement, a
// no-responders reply, the sweeper's expiry and a reconnection race for it.
func TestOneOutcomeUnderRaces(t *testing.T) {
	const n = 2000
	p := newAsyncPublisher(n, time.Millisecond)
	reqs := make([]*pubReq, n)
	for i := range reqs {
		// Room for two outcomes, so that a second one shows instead of blocking.
		reqs[i] = &pubReq{m: &nats.Msg{Subject: "x"}, done: make(chan error, 2), deadline: time.Duration(i%3) * time.Millisecond}
		p.pending[uint64(i+1)] = reqs[i]
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for tok := uint64(1); tok <= n; tok++ {
			if r := p.take(tok); r != nil {
				r.done <- nil
			}
		}
	})
	wg.Go(func() {
		for tok := uint64(n); tok >= 1; tok-- {
			p.mu.Lock()
			r := p.pending[tok]
			p.mu.Unlock()
			if r != nil && tok%2 == 0 {
				// Three no-responders replies: the third fails it.
				for range pubRetries + 1 {
					p.noStream(tok)
				}
			}
		}
	})
	wg.Go(func() { p.expire(2 * time.Millisecond) })
	wg.Go(func() { p.disconnected() })
	wg.Wait()
	p.disconnected() // whatever is left
	for i, r := range reqs {
		if got := len(r.done); got != 1 {
			t.Errorf("request %d got %d outcomes; want 1", i, got)
		}
	}
}

// The publish pump waiting for room returns when the transport closes, the
// request without an outcome.
func TestStalledPumpReturnsAtClose(t *testing.T) {
	p := newAsyncPublisher(1, time.Hour)
	p.pending[1000] = &pubReq{done: make(chan error, 1), deadline: time.Hour}
	p.reply = []byte(p.prefix)
	r := &pubReq{m: &nats.Msg{Subject: "x"}, done: make(chan error, 1)}
	done := make(chan struct{})
	returned := make(chan struct{})
	go func() { defer close(returned); p.publish(r, done) }()
	waitFor(t, "the pump to stall", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.stalled })
	close(done)
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled pump did not return at close")
	}
	if len(r.done) != 0 || p.inFlight() != 1 {
		t.Errorf("after close: %d outcomes, %d in flight; want 0 and 1", len(r.done), p.inFlight())
	}
}

// Receive with a context that has ended returns its error: it does not take
// every queued redelivery, fail to read its record for want of a context,
// report that as the transport's error and hand it back for a second. (The
// fast path takes a queued message without looking at ctx; reading a
// redelivery's record then fails with ctx's error, message after message.)
func TestReceiveWithEndedContextKeepsTheQueue(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	bc := subscribe(t, tr, bus.Subscription{Name: "ended", Prefetch: 8})
	c := bc.(*consumer)
	const n = 5
	for i := range n {
		publish(t, tr, testMessage(t, i))
	}
	for range n {
		d := receive(t, bc, 5*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := d.Requeue(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	waitFor(t, "the redeliveries queued", func() bool { return len(c.queue) == n })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := bc.Receive(ctx)
	if err == nil {
		// Allowed: it was queued. It must still be a good delivery.
		if err := d.Requeue(context.Background()); err != nil {
			t.Fatal(err)
		}
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive(cancelled) = %v; want %v or a delivery", err, context.Canceled)
	}
	if got := len(c.queue); got < n-1 {
		t.Errorf("Receive(cancelled) left %d of %d queued redeliveries; want at least %d (it handed the others back)", got, n, n-1)
	}
	if err := tr.LastError(); err != nil && errors.Is(err, context.Canceled) {
		t.Errorf("LastError() = %v after a Receive whose context was cancelled; want no context error", err)
	}
}
