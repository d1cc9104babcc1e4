package jetstream

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/resilience"
)

// Publish publishes each message to "<prefix>.events.<type>" with its ID as
// Nats-Msg-Id, so that the server drops a message published again with the
// same ID within the duplicate window, and returns once the events stream has
// acknowledged every one. Messages go out without waiting for each other's
// acknowledgements, up to Options.MaxInFlight over all callers; beyond it they
// wait for room. The server drops an event that no subscription is bound to
// (the events stream keeps a message only for interested consumers), so Publish
// never returns [bus.ErrUnroutable]. Publish is safe for concurrent use.
//
// While the connection is lost or being re-established, Publish waits for it
// until ctx ends: a message whose attempt failed with a connection error (the
// connection dropped before the acknowledgement came, the stream did not answer
// during a server restart, the acknowledgement did not come within
// Options.PublishTimeout) is published again with the same Nats-Msg-Id after a
// backoff (a random wait of up to 50ms, doubling up to 1s), so that the
// duplicate window absorbs it if an earlier attempt was stored after all. It
// is published again only within Options.DuplicateWindow of the call (less a
// tenth, for the trip): after that, a copy already stored would no longer be
// recognised, and Publish gives up with an error that says so (publishing it
// again later may store it twice; the consumers' inbox absorbs that). When ctx
// ends first, the error wraps ctx.Err() and the last publish error; when the
// transport closes, it is [bus.ErrClosed]. Other errors — the stream refused
// the message, or it does not exist — end the call at once. A message with a
// header named Rampart-Ce or Rampart-Compact (the transport's envelope forms)
// fails the call before any of its messages is sent. A message of a multi-message call that is
// published again may be stored after later messages of the same call.
//
// An error may leave messages stored: publish them again with the same IDs.
func (t *Transport) Publish(ctx context.Context, msgs ...bus.Message) error {
	if t.closed.Load() {
		return bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range msgs {
		if err := checkType(msgs[i].Type); err != nil {
			return err
		}
		if err := checkReserved(msgs[i].Headers); err != nil {
			return fmt.Errorf("jetstream: publish %s %s: %w", msgs[i].Type, msgs[i].ID, err)
		}
	}
	began := time.Now()
	if len(msgs) == 1 {
		r := newPubReq(t.publishMsg(msgs[0]))
		err := t.enqueue(ctx, r)
		if err == nil {
			m := r.m // r goes back to the pool in wait
			if err = t.wait(ctx, r); transient(err) {
				_, err = t.republish(ctx, began, []failedPub{{0, m, err}})
			}
		}
		if err != nil {
			return fmt.Errorf("jetstream: publish %s %s: %w", msgs[0].Type, msgs[0].ID, err)
		}
		return nil
	}
	reqs := make([]*pubReq, len(msgs))
	for i, m := range msgs {
		reqs[i] = newPubReq(t.publishMsg(m))
		if err := t.enqueue(ctx, reqs[i]); err != nil {
			return fmt.Errorf("jetstream: publish %s %s: %w", m.Type, m.ID, err)
		}
	}
	var failed []failedPub
	for i, r := range reqs {
		m := r.m
		if err := t.wait(ctx, r); err != nil {
			if !transient(err) {
				if len(failed) > 0 {
					err = t.retryErr(err, failed[len(failed)-1].err) // ctx ended: say why earlier ones failed
				}
				return fmt.Errorf("jetstream: publish %s %s: %w", msgs[i].Type, msgs[i].ID, err)
			}
			failed = append(failed, failedPub{i, m, err})
		}
	}
	if len(failed) > 0 {
		if i, err := t.republish(ctx, began, failed); err != nil {
			return fmt.Errorf("jetstream: publish %s %s: %w", msgs[i].Type, msgs[i].ID, err)
		}
	}
	return nil
}

// failedPub is a message of a Publish call whose attempt failed with a
// transient error: its index in the call, its NATS message and the error.
type failedPub struct {
	i   int
	m   *nats.Msg
	err error
}

// publishBackoff spaces the attempts of a message whose publish failed with a
// transient error.
var publishBackoff = resilience.Backoff{Base: 50 * time.Millisecond, Max: time.Second}

// transient reports whether err, the outcome of one attempt to publish a
// message, comes from a connection being lost or re-established, so that the
// same message published again later may succeed:
//   - nats.ErrDisconnected: the connection dropped while the message waited for
//     its acknowledgement (the publisher fails every pending one when the
//     connection starts to reconnect, as nats.go's does);
//   - nats.ErrConnectionReconnecting, nats.ErrReconnectBufExceeded: the
//     connection is reconnecting (and its buffer for messages published
//     meanwhile is full);
//   - natsjs.ErrNoStreamResponse, nats.ErrNoResponders: nobody answered for the
//     stream, as while a server restarts or a cluster elects the stream's leader
//     (a stream that does not exist is told apart in republish);
//   - natsjs.ErrAsyncPublishTimeout: no acknowledgement within
//     Options.PublishTimeout, as when it was lost with the connection.
func transient(err error) bool {
	return err != nil && (errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, natsjs.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, natsjs.ErrAsyncPublishTimeout))
}

// republish publishes the failed messages of a Publish call made at began
// again, after a backoff, with their Nats-Msg-Id, round after round, until
// every one is acknowledged. It stops at the first error that is not
// transient, when ctx ends (the error wraps ctx.Err() and the last publish
// error), when the transport closes (bus.ErrClosed), or when another round
// would start too late for the duplicate window to absorb a copy that an
// earlier attempt stored (every attempt was sent after began); it returns the
// index of the message the error is about.
//
// Each attempt publishes a new nats.Msg (sharing the header and data): the
// publisher sets the Reply of each attempt's message to a reply subject of its
// own, while an earlier attempt's message may still be sent again (the
// publisher's own retry after no responders).
func (t *Transport) republish(ctx context.Context, began time.Time, failed []failedPub) (int, error) {
	reqs := make([]*pubReq, len(failed))
	last := failed[len(failed)-1].err
	window := t.opts.DuplicateWindow
	until := began.Add(window - window/10)
	for n := 1; ; n++ {
		for _, f := range failed {
			if errors.Is(f.err, natsjs.ErrNoStreamResponse) || errors.Is(f.err, nats.ErrNoResponders) {
				if t.noStreamFor(ctx, f.m.Subject) {
					return f.i, fmt.Errorf("%w (no stream takes %s: stream %s does not exist or does not cover it)", f.err, f.m.Subject, t.names.events)
				}
				break
			}
		}
		if err := t.sleep(ctx, publishBackoff.Delay(n, 0)); err != nil {
			return failed[0].i, t.retryErr(err, last)
		}
		if time.Now().After(until) {
			return failed[0].i, fmt.Errorf("%w (gave up publishing again %s after the call: the stream's duplicate window of %s would no longer absorb a copy already stored; publishing it again may store it twice)",
				last, time.Since(began).Round(time.Millisecond), window)
		}
		for j := range failed {
			f := &failed[j]
			f.m = &nats.Msg{Subject: f.m.Subject, Header: f.m.Header, Data: f.m.Data}
			reqs[j] = newPubReq(f.m)
			if err := t.enqueue(ctx, reqs[j]); err != nil {
				return f.i, t.retryErr(err, last)
			}
		}
		next := failed[:0]
		for j, f := range failed {
			err := t.wait(ctx, reqs[j])
			switch {
			case err == nil:
			case transient(err):
				f.err, last = err, err
				next = append(next, f)
			default:
				return f.i, t.retryErr(err, last)
			}
		}
		if len(next) == 0 {
			return 0, nil
		}
		failed, reqs = next, reqs[:len(next)]
	}
}

// retryErr is the error of republish when an attempt ends with err: err itself
// if the transport closed or the message was refused, or else, when ctx ended,
// ctx's error with the last publish error.
func (t *Transport) retryErr(err, last error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (publishing again after: %w)", err, last)
	}
	return err
}

// sleep waits d, or until ctx ends (its error) or the transport closes
// (bus.ErrClosed).
func (t *Transport) sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.done:
		return bus.ErrClosed
	}
}

// noStreamFor reports whether the server says that no stream takes subject
// (the events stream was deleted, or no longer covers it), which no-responders
// errors do not tell apart from a stream that is not reachable yet.
func (t *Transport) noStreamFor(ctx context.Context, subject string) bool {
	if !t.nc.IsConnected() {
		return false // the request would wait for the connection
	}
	_, err := t.js.StreamNameBySubject(ctx, subject)
	return errors.Is(err, natsjs.ErrStreamNotFound)
}

// pubReq is one message for the publish pump, and its outcome. Requests are
// pooled: one whose outcome its caller received goes back to the pool; one
// whose caller gave up waiting does not, since its outcome may still come.
type pubReq struct {
	m    *nats.Msg
	done chan error // the acknowledgement (nil) or the error; buffered

	// The asyncPublisher's, under its lock while the request is pending.
	deadline time.Duration // when the attempt times out, since the publisher's epoch
	retries  int           // how many times it was published again after no responders
}

var pubReqs = sync.Pool{New: func() any { return &pubReq{done: make(chan error, 1)} }}

func newPubReq(m *nats.Msg) *pubReq {
	r := pubReqs.Get().(*pubReq)
	r.m = m
	return r
}

// compactHeader marks a message on the events stream in the compact form of
// earlier versions (its value is "1"): every envelope header a NATS header of
// its own, but ce-specversion ("1.0"), ce-id (the Nats-Msg-Id) and ce-type (the
// end of the subject). [Transport.toMessage] still reads it, for the messages
// those versions stored; Publish sends the form of [ceHeader].
const compactHeader = "Rampart-Compact"

// publishMsg returns the NATS message of Publish for m: the compact form of
// [ceHeader] if m's envelope headers allow it (ce-id is m.ID, ce-type m.Type,
// ce-specversion "1.0": always, for messages of the bus) and
// Options.FullHeaders is not set, or else the full form of eventMsg.
func (t *Transport) publishMsg(m bus.Message) *nats.Msg {
	h := m.Headers
	if t.opts.FullHeaders || m.ID == "" || h[bus.HeaderID] != m.ID || h[bus.HeaderType] != m.Type ||
		h[bus.HeaderSpecVersion] != bus.SpecVersion {
		return t.eventMsg(m)
	}
	// One pass over h: the entries of ceHeader, and the headers that stay
	// NATS headers of their own, as long as they are few (else a second pass).
	var ce ceValues
	var own [8][2]string
	n := 0
	for k, v := range h {
		switch i := ceIndex(k); {
		case i >= 0:
			ce.vals[i] = v
			ce.has |= 1 << i
		case i == ceImplied:
		default:
			if n < len(own) {
				own[n] = [2]string{k, v}
			}
			n++
		}
	}
	// One backing array for every value: the headers of their own, then
	// Nats-Msg-Id and ceHeader; allocated with the message while it is small
	// (traceparent, say, and no other header of its own).
	nh := make(nats.Header, n+2)
	var msg *nats.Msg
	var vals []string
	if n <= 1 {
		mv := new(msgValues)
		msg, vals = &mv.msg, mv.vals[:0:n+2]
	} else {
		msg, vals = new(nats.Msg), make([]string, 0, n+2)
	}
	add := func(k, v string) {
		vals = append(vals, v)
		nh[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if n <= len(own) {
		for _, kv := range own[:n] {
			add(kv[0], kv[1])
		}
	} else {
		for k, v := range h {
			if ceIndex(k) == ceOwn {
				add(k, v)
			}
		}
	}
	add(natsjs.MsgIDHeader, m.ID)
	add(ceHeader, ce.value(m.ID))
	msg.Subject, msg.Header, msg.Data = t.names.eventSubject(m.Type), nh, m.Body
	return msg
}

// checkReserved fails for headers that name a header of the transport's own
// forms: a message that carried ceHeader or compactHeader would be read back as
// that form (or, in the compact form, lose it), so Publish refuses it.
func checkReserved(h map[string]string) error {
	for _, k := range [...]string{ceHeader, compactHeader} {
		if _, ok := h[k]; ok {
			return fmt.Errorf("header %q is reserved by the JetStream transport for its envelope form", k)
		}
	}
	return nil
}

// msgValues is a NATS message of publishMsg and the values of its header.
type msgValues struct {
	msg  nats.Msg
	vals [3]string
}

// eventMsg returns the NATS message that carries m on the events stream in the
// full form (every header of m), with its ID as Nats-Msg-Id.
func (t *Transport) eventMsg(m bus.Message) *nats.Msg {
	h := natsHeader(m.Headers, 1)
	if m.ID != "" {
		h[natsjs.MsgIDHeader] = []string{m.ID}
	}
	return &nats.Msg{Subject: t.names.eventSubject(m.Type), Header: h, Data: m.Body}
}

// natsHeader copies h into a NATS header with room for extra more entries.
func natsHeader(h map[string]string, extra int) nats.Header {
	nh := make(nats.Header, len(h)+extra)
	vals := make([]string, 0, len(h))
	for k, v := range h {
		vals = append(vals, v)
		nh[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return nh
}

func (t *Transport) enqueue(ctx context.Context, r *pubReq) error {
	select {
	case t.pubq <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.done:
		return bus.ErrClosed
	}
}

func (t *Transport) wait(ctx context.Context, r *pubReq) error {
	select {
	case err := <-r.done:
		r.m = nil
		pubReqs.Put(r)
		return t.mapErr(err)
	case <-ctx.Done():
		return ctx.Err()
	case <-t.done:
		return bus.ErrClosed
	}
}

// publishPump sends the queued messages one after the other without waiting
// for their acknowledgements (at most Options.MaxInFlight waiting; see
// asyncPublisher), and the publisher hands each outcome to its caller.
// Funnelling every caller through one goroutine keeps them from contending for
// the connection's lock, which nats.go holds while it writes to the socket:
// with hundreds of concurrent publishers that contention, not the server, sets
// the pace.
func (t *Transport) publishPump() {
	defer t.wg.Done()
	for {
		r := t.nextPub()
		if r == nil {
			return
		}
		t.send(r)
	}
}

// pumpYields is how many times the publish pump, finding no message queued,
// lets other goroutines run and looks again before it sleeps. Under load the
// next message is queued meanwhile, so the caller that queues it need not wake
// the pump, and the pump hands nats.go's flusher several messages per socket
// write instead of about two: with 256 concurrent publishers, about one
// goroutine wake-up per message (the caller's own, for its ack) instead of two,
// a third of the writes, and a tenth less CPU per message. A message that
// finds the pump idle is not held back: the pump yields only when it has
// nothing to send, and a yield with nothing else to run returns at once.
// Not with an embedded server: its connection writes to a pipe, not a socket,
// and its goroutines share the scheduler with the pump, so the yields cost
// more than they save (about 5% more CPU per message).
const pumpYields = 2

// nextPub returns the next queued message, or nil once the transport is closed.
func (t *Transport) nextPub() *pubReq {
	for i := 0; i < pumpYields && t.embedded == nil; i++ {
		select {
		case r := <-t.pubq:
			return r
		default:
		}
		runtime.Gosched()
	}
	select {
	case r := <-t.pubq:
		return r
	case <-t.done:
		return nil
	}
}

// send publishes r's message asynchronously; its outcome goes to r.done (see
// asyncPublisher.publish).
func (t *Transport) send(r *pubReq) { t.pub.publish(r, t.done) }
