package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

func TestScanPubAck(t *testing.T) {
	cases := []struct {
		in                  string
		stream, domain      string
		seq                 uint64
		duplicate, accepted bool
	}{
		{in: `{"stream":"rampart_EVENTS","seq":42}`, stream: "rampart_EVENTS", seq: 42, accepted: true},
		{in: `{"stream":"S","seq":7,"duplicate":true}`, stream: "S", seq: 7, duplicate: true, accepted: true},
		{in: `{"stream":"S","seq":7,"duplicate":false}`, stream: "S", seq: 7, accepted: true},
		{in: `{"stream":"S","domain":"hub","seq":18446744073709551615}`, stream: "S", domain: "hub", seq: 1<<64 - 1, accepted: true},
		{in: " {\n \"seq\" : 0 , \"stream\" : \"S\" }\r\n", stream: "S", accepted: true},
		{in: `{}`, accepted: true},
		// Left to encoding/json.
		{in: `{"stream":"S","seq":18446744073709551616}`},
		{in: `{"stream":"S","seq":01}`},
		{in: `{"stream":"S","seq":-1}`},
		{in: `{"stream":"S","seq":1.5}`},
		{in: `{"stream":"S","seq":1e3}`},
		{in: `{"stream":"S\"x","seq":1}`},
		{in: `{"stream":"S\u0041","seq":1}`},
		{in: "{\"stream\":\"S\xff\",\"seq\":1}"},
		{in: `{"stream":"S","seq":1,"val":"3"}`},
		{in: `{"Stream":"S","seq":1}`},
		{in: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}`},
		{in: `{"stream":"S","seq":1,}`},
		{in: `{"stream":"S","seq":1}x`},
		{in: `{"stream":"S","seq":1`},
		{in: `{"stream":"S","duplicate":tru}`},
		{in: `{"stream":"S","duplicate":truex}`},
		{in: `{"stream":S}`},
		{in: `[]`},
		{in: ``},
	}
	for _, tc := range cases {
		a, ok := scanPubAck([]byte(tc.in))
		if ok != tc.accepted {
			t.Errorf("scanPubAck(%q) ok = %v, want %v", tc.in, ok, tc.accepted)
			continue
		}
		if !ok {
			continue
		}
		if string(a.stream) != tc.stream || string(a.domain) != tc.domain || a.seq != tc.seq || a.duplicate != tc.duplicate {
			t.Errorf("scanPubAck(%q) = stream %q domain %q seq %d duplicate %v, want %q %q %d %v",
				tc.in, a.stream, a.domain, a.seq, a.duplicate, tc.stream, tc.domain, tc.seq, tc.duplicate)
		}
	}
}

func TestParsePubAck(t *testing.T) {
	cases := []struct {
		in       string
		want     error // nil, natsjs.ErrInvalidJSAck, or an *natsjs.APIError compared field by field
		apiError *natsjs.APIError
	}{
		{in: `{"stream":"S","seq":1}`},
		{in: `{"stream":"S","seq":2,"duplicate":true}`},
		{in: `{"stream":"S","seq":3,"domain":"hub"}`},
		{in: `{"stream":"S","seq":4,"val":"10"}`}, // a counter's: decoded
		{in: `{"stream":"S\u0041","seq":5}`},      // an escape: decoded
		{in: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}`,
			apiError: &natsjs.APIError{Code: 503, ErrorCode: 10077, Description: "maximum messages exceeded"}},
		{in: `{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}`,
			apiError: &natsjs.APIError{Code: 400, ErrorCode: 10060, Description: "expected stream does not match"}},
		{in: `{"stream":"","seq":1}`, want: natsjs.ErrInvalidJSAck},
		{in: `{"seq":1}`, want: natsjs.ErrInvalidJSAck},
		{in: `{}`, want: natsjs.ErrInvalidJSAck},
		{in: ``, want: natsjs.ErrInvalidJSAck},
		{in: `not json`, want: natsjs.ErrInvalidJSAck},
		{in: `{"stream":"S","seq":1`, want: natsjs.ErrInvalidJSAck},
		{in: `null`, want: natsjs.ErrInvalidJSAck},
	}
	for _, tc := range cases {
		err := parsePubAck([]byte(tc.in))
		if tc.apiError != nil {
			var got *natsjs.APIError
			if !errors.As(err, &got) || *got != *tc.apiError {
				t.Errorf("parsePubAck(%q) = %v, want %v", tc.in, err, tc.apiError)
			}
			continue
		}
		if err != tc.want {
			t.Errorf("parsePubAck(%q) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

// An error acknowledgement is the *natsjs.APIError that the code branches on
// with errors.Is against nats.go's sentinel errors.
func TestParsePubAckErrorMatchesSentinels(t *testing.T) {
	err := parsePubAck([]byte(`{"error":{"code":503,"err_code":10076,"description":"jetstream not enabled"}}`))
	if !errors.Is(err, natsjs.ErrJetStreamNotEnabled) {
		t.Errorf("parsePubAck(JetStream not enabled) = %v, want it to match %v", err, natsjs.ErrJetStreamNotEnabled)
	}
}

// What scanPubAck accepts, encoding/json decodes to the same acknowledgement,
// and parsePubAck never panics.
func FuzzScanPubAck(f *testing.F) {
	for _, s := range []string{
		`{"stream":"S","seq":1}`, `{"stream":"S","seq":2,"duplicate":true,"domain":"d"}`,
		`{"error":{"code":503,"err_code":10077,"description":"x"}}`, ` { } `, `{"seq":01}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parsePubAck(data)
		a, ok := scanPubAck(data)
		if !ok {
			return
		}
		var want natsjs.PubAck
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("scanPubAck(%q) accepted it; json.Unmarshal = %v", data, err)
		}
		if string(a.stream) != want.Stream || string(a.domain) != want.Domain || a.seq != want.Sequence || a.duplicate != want.Duplicate {
			t.Fatalf("scanPubAck(%q) = %q %q %d %v; json.Unmarshal = %+v", data, a.stream, a.domain, a.seq, a.duplicate, want)
		}
	})
}

func BenchmarkParsePubAck(b *testing.B) {
	data := []byte(`{"stream":"rampart_EVENTS","seq":123456,"duplicate":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := parsePubAck(data); err != nil {
			b.Fatal(err)
		}
	}
}

// The server's own acknowledgements, stored and duplicate, take the scan,
// not encoding/json.
func TestServerAcksAreScanned(t *testing.T) {
	tr := newEmbedded(t, t.TempDir(), testOptions(""))
	subscribe(t, tr, bus.Subscription{Name: "scan"})
	m := tr.publishMsg(testMessage(t, 1))
	for _, dup := range []bool{false, true} {
		reply, err := tr.nc.RequestMsg(&nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		a, ok := scanPubAck(reply.Data)
		if !ok || string(a.stream) != tr.names.events || a.seq != 1 || a.duplicate != dup {
			t.Errorf("scanPubAck(%s) = %+v, %v; want stream %s, seq 1, duplicate %v", reply.Data, a, ok, tr.names.events, dup)
		}
	}
}

// The sweeper fails a message whose acknowledgement does not come within
// PublishTimeout with natsjs.ErrAsyncPublishTimeout, and Publish publishes it
// again: here the server's replies go to an inbox nobody subscribes to, so
// the caller's context ends with that error.
func TestPublishTimesOutWithoutAck(t *testing.T) {
	o := testOptions("")
	o.PublishTimeout = 50 * time.Millisecond
	tr := newEmbedded(t, t.TempDir(), o)
	subscribe(t, tr, bus.Subscription{Name: "noack"})
	// Replies to another inbox: nobody takes them.
	tr.pub.prefix = tr.nc.NewInbox() + "."
	tr.pub.reply = append(tr.pub.reply[:0], tr.pub.prefix...)
	// No race with the pump: it reads prefix and reply only when it has a
	// message, and it has had none; the channel send below orders them.
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	m := testMessage(t, 1)
	began := time.Now()
	err := tr.Publish(ctx, m)
	if !errors.Is(err, natsjs.ErrAsyncPublishTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish with no acknowledgement = %v; want it to wrap %v and %v", err, natsjs.ErrAsyncPublishTimeout, context.DeadlineExceeded)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("Publish returned after %s; want about its 400ms deadline", d)
	}
	if n := storedEvents(t, tr); n != 1 {
		t.Errorf("the stream holds %d messages; want 1 (every attempt with the same Nats-Msg-Id)", n)
	}
	waitFor(t, "no message waiting for an acknowledgement", func() bool { return tr.pub.inFlight() == 0 })
}

// expire fails only the messages past their deadline, and frees their room.
func TestExpire(t *testing.T) {
	p := newAsyncPublisher(2, time.Second)
	p.stalled = true
	reqs := []*pubReq{
		{done: make(chan error, 1), deadline: time.Second},
		{done: make(chan error, 1), deadline: 3 * time.Second},
	}
	for i, r := range reqs {
		p.pending[uint64(i+1)] = r
	}
	p.expire(2 * time.Second)
	select {
	case err := <-reqs[0].done:
		if !errors.Is(err, natsjs.ErrAsyncPublishTimeout) {
			t.Errorf("expire(2s) gave the request due at 1s %v, want %v", err, natsjs.ErrAsyncPublishTimeout)
		}
	default:
		t.Error("expire(2s) left the request due at 1s pending")
	}
	select {
	case err := <-reqs[1].done:
		t.Errorf("expire(2s) gave the request due at 3s %v, want nothing", err)
	default:
	}
	if got := p.inFlight(); got != 1 {
		t.Errorf("inFlight() after expire = %d, want 1", got)
	}
	select {
	case <-p.room:
	default:
		t.Error("expire did not wake the stalled pump")
	}
}

// Every pending message fails with nats.ErrDisconnected when the connection
// starts to reconnect, and a retry scheduled for one of them is dropped.
func TestDisconnectedFailsPending(t *testing.T) {
	p := newAsyncPublisher(4, time.Second)
	reqs := []*pubReq{{done: make(chan error, 1)}, {done: make(chan error, 1)}}
	for i, r := range reqs {
		p.pending[uint64(i+1)] = r
	}
	p.retries = append(p.retries, pubRetry{1, 0})
	p.disconnected()
	for i, r := range reqs {
		select {
		case err := <-r.done:
			if !errors.Is(err, nats.ErrDisconnected) {
				t.Errorf("request %d after disconnected() = %v, want %v", i, err, nats.ErrDisconnected)
			}
		default:
			t.Errorf("request %d still pending after disconnected()", i)
		}
	}
	if next, ok := p.retryDue(time.Hour); ok || len(p.retries) != 0 {
		t.Errorf("retryDue after disconnected() = %s, %v with %d retries; want none", next, ok, len(p.retries))
	}
}

func TestSweepInterval(t *testing.T) {
	for _, tc := range []struct{ timeout, want time.Duration }{
		{time.Millisecond, 5 * time.Millisecond},
		{100 * time.Millisecond, 25 * time.Millisecond},
		{30 * time.Second, time.Second},
	} {
		if got := sweepInterval(tc.timeout); got != tc.want {
			t.Errorf("sweepInterval(%s) = %s, want %s", tc.timeout, got, tc.want)
		}
	}
}
