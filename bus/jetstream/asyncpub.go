package jetstream

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// asyncPublisher publishes messages to JetStream on plain NATS core without
// waiting for their acknowledgements, and hands each acknowledgement (or error)
// to its pubReq. It does what nats.go's PublishMsgAsync does, with the same
// errors, for less per message: one reply subscription on a wildcard inbox, a
// reply subject made of a counter, no timer per message (one sweeper fails the
// overdue ones), and acknowledgements scanned rather than decoded with
// encoding/json.
//
//   - An acknowledgement is nil, the stream's *natsjs.APIError, or
//     natsjs.ErrInvalidJSAck.
//   - A no-responders reply (no stream took the message) makes it publish the
//     message again, pubRetries times pubRetryWait apart, before it fails it
//     with natsjs.ErrNoStreamResponse.
//   - A message not acknowledged within the timeout fails with
//     natsjs.ErrAsyncPublishTimeout.
//   - When the connection starts to reconnect, every pending message fails
//     with nats.ErrDisconnected: its acknowledgement, if the server sent one,
//     went with the connection.
//
// publish is for one goroutine at a time (the publish pump); the rest is safe
// for concurrent use. Each request gets at most one outcome, from whoever
// takes it out of pending.
type asyncPublisher struct {
	nc      *nats.Conn
	prefix  string        // the reply subjects' prefix: "<inbox>."
	max     int           // Options.MaxInFlight
	timeout time.Duration // Options.PublishTimeout
	epoch   time.Time     // the origin of pubReq.deadline and retry times

	// Owned by the publish pump.
	next  uint64 // the last token handed out
	reply []byte // prefix and the token being built

	status chan nats.Status // the connection's RECONNECTING events, for the sweeper

	mu      sync.Mutex
	pending map[uint64]*pubReq // published, waiting for the acknowledgement, by token
	retries []pubRetry         // no-responders replies, to publish again
	stalled bool               // the pump waits on room for pending to shrink
	room    chan struct{}      // tells the stalled pump there is room; buffered
	wake    chan struct{}      // tells the sweeper a retry was scheduled; buffered
}

// pubRetries and pubRetryWait are nats.go's DefaultPubRetryAttempts and
// DefaultPubRetryWait: how many times, and how far apart, a message that found
// no stream is published again before it fails (the stream's leader may be
// elected meanwhile).
const (
	pubRetries   = natsjs.DefaultPubRetryAttempts
	pubRetryWait = natsjs.DefaultPubRetryWait
)

// pubRetry is a message to publish again at at (since epoch).
type pubRetry struct {
	token uint64
	at    time.Duration
}

func newAsyncPublisher(max int, timeout time.Duration) *asyncPublisher {
	return &asyncPublisher{
		max:     max,
		timeout: timeout,
		epoch:   time.Now(),
		pending: make(map[uint64]*pubReq, max),
		room:    make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
	}
}

// start subscribes to the replies on nc, and to its status for sweep. The
// subscription lasts as long as the connection, across reconnections.
func (p *asyncPublisher) start(nc *nats.Conn) error {
	p.nc = nc
	p.prefix = nc.NewInbox() + "."
	p.reply = append(make([]byte, 0, len(p.prefix)+20), p.prefix...)
	if _, err := nc.Subscribe(p.prefix+"*", p.handle); err != nil {
		return err
	}
	p.status = nc.StatusChanged(nats.RECONNECTING)
	return nil
}

// now is the time since epoch, in the clock of deadlines and retries.
func (p *asyncPublisher) now() time.Duration { return time.Since(p.epoch) }

// publish sends r's message with a reply subject of its own, once fewer than
// max messages wait for their acknowledgement (or, if done closes first, not
// at all: r gets no outcome). The outcome goes to r.done: from here if the
// message cannot be sent, or else from handle, noStream, retryDue, expire or
// disconnected.
func (p *asyncPublisher) publish(r *pubReq, done <-chan struct{}) {
	p.next++
	tok := p.next
	p.reply = strconv.AppendUint(p.reply[:len(p.prefix)], tok, 10)
	m := r.m // r is not ours once pending: its outcome may come any time
	m.Reply = string(p.reply)
	r.retries = 0
	r.deadline = p.now() + p.timeout
	p.mu.Lock()
	for len(p.pending) >= p.max {
		p.stalled = true
		p.mu.Unlock()
		select {
		case <-p.room:
		case <-done:
			p.mu.Lock()
			p.stalled = false
			p.mu.Unlock()
			return
		}
		r.deadline = p.now() + p.timeout // the wait for the acknowledgement starts now
		p.mu.Lock()
	}
	p.pending[tok] = r // before publishing: the acknowledgement may come first
	p.mu.Unlock()
	if err := p.nc.PublishMsg(m); err != nil {
		if r := p.take(tok); r != nil {
			r.done <- err
		}
	}
}

// take removes the request of tok from pending and returns it; nil if it has
// had its outcome already.
func (p *asyncPublisher) take(tok uint64) *pubReq {
	p.mu.Lock()
	r := p.pending[tok]
	if r != nil {
		delete(p.pending, tok)
		p.roomLocked()
	}
	p.mu.Unlock()
	return r
}

// roomLocked wakes the stalled pump if pending has room. p.mu is held.
func (p *asyncPublisher) roomLocked() {
	if p.stalled && len(p.pending) < p.max {
		p.stalled = false
		select {
		case p.room <- struct{}{}:
		default:
		}
	}
}

// inFlight returns how many messages wait for their acknowledgement.
func (p *asyncPublisher) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// handle takes a reply: the acknowledgement of a message, or the server's
// no-responders status. It runs on the subscription's goroutine.
func (p *asyncPublisher) handle(m *nats.Msg) {
	if len(m.Subject) <= len(p.prefix) {
		return
	}
	tok, err := strconv.ParseUint(m.Subject[len(p.prefix):], 10, 64)
	if err != nil {
		return
	}
	if len(m.Data) == 0 && m.Header.Get(statusHeader) == statusNoResponders {
		p.noStream(tok)
		return
	}
	err = parsePubAck(m.Data)
	if r := p.take(tok); r != nil {
		r.done <- err
	}
}

// The header of the server's reply when no stream took a message, and its value.
const (
	statusHeader       = "Status"
	statusNoResponders = "503"
)

// noStream schedules the message of tok to be published again, or fails
// it with natsjs.ErrNoStreamResponse once it has been published again
// pubRetries times.
func (p *asyncPublisher) noStream(tok uint64) {
	p.mu.Lock()
	r := p.pending[tok]
	switch {
	case r == nil:
		p.mu.Unlock()
		return
	case r.retries < pubRetries:
		r.retries++
		at := p.now() + pubRetryWait
		p.retries = append(p.retries, pubRetry{tok, at})
		// The wait for the retry does not count against the timeout (nats.go
		// stops the attempt's timer until it publishes again): retryDue gives
		// the retry a deadline of its own.
		r.deadline = at + p.timeout
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
		return
	}
	delete(p.pending, tok)
	p.roomLocked()
	p.mu.Unlock()
	r.done <- natsjs.ErrNoStreamResponse
}

// sweep fails the messages not acknowledged within the timeout, publishes
// again those whose retry is due, and fails every pending message when the
// connection starts to reconnect, until done closes.
func (p *asyncPublisher) sweep(done <-chan struct{}) {
	status := p.status
	defer p.nc.RemoveStatusListener(status)
	tick := time.NewTicker(sweepInterval(p.timeout))
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-done:
			return
		case _, ok := <-status:
			if !ok {
				status = nil // removed: never again
				continue
			}
			p.disconnected()
		case <-tick.C:
			p.expire(p.now())
		case <-p.wake:
		case <-retry.C:
		}
		if next, ok := p.retryDue(p.now()); ok {
			retry.Reset(next)
		}
	}
}

// sweepInterval is how often the sweeper looks for overdue messages: a quarter
// of the timeout, within 5ms and 1s. A message fails at most that late.
func sweepInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 5*time.Millisecond), time.Second)
}

// expire fails with natsjs.ErrAsyncPublishTimeout the messages whose deadline
// is before now.
func (p *asyncPublisher) expire(now time.Duration) {
	var late []*pubReq
	p.mu.Lock()
	for tok, r := range p.pending {
		if r.deadline < now {
			delete(p.pending, tok)
			late = append(late, r)
		}
	}
	if len(late) > 0 {
		p.roomLocked()
	}
	p.mu.Unlock()
	for _, r := range late {
		r.done <- natsjs.ErrAsyncPublishTimeout
	}
}

// disconnected fails every pending message with nats.ErrDisconnected.
func (p *asyncPublisher) disconnected() {
	p.mu.Lock()
	lost := make([]*pubReq, 0, len(p.pending))
	for _, r := range p.pending {
		lost = append(lost, r)
	}
	clear(p.pending)
	p.retries = p.retries[:0]
	p.roomLocked()
	p.mu.Unlock()
	for _, r := range lost {
		r.done <- nats.ErrDisconnected
	}
}

// retryDue publishes again the messages whose retry is due at now, with their
// reply subjects and a new deadline (failing those that cannot be sent with
// the error); it returns how long until the next retry is due, if one is
// scheduled.
func (p *asyncPublisher) retryDue(now time.Duration) (next time.Duration, ok bool) {
	type send struct {
		token uint64
		m     *nats.Msg // read-only while its request is pending
	}
	var due []send
	p.mu.Lock()
	keep := p.retries[:0]
	for _, rt := range p.retries {
		r := p.pending[rt.token]
		switch {
		case r == nil: // had its outcome meanwhile
		case rt.at <= now:
			r.deadline = now + p.timeout
			due = append(due, send{rt.token, r.m})
		default:
			keep = append(keep, rt)
			if !ok || rt.at-now < next {
				next, ok = rt.at-now, true
			}
		}
	}
	p.retries = keep
	p.mu.Unlock()
	for _, d := range due {
		// A message that cannot be sent fails with the error at once, as
		// nats.go's retry hands it to the error handler.
		if err := p.nc.PublishMsg(d.m); err != nil {
			if r := p.take(d.token); r != nil {
				r.done <- err
			}
		}
	}
	return next, ok
}

// parsePubAck returns the outcome that the acknowledgement data of a publish
// reports: nil if the stream stored the message (or had it already), the
// stream's *natsjs.APIError if it refused it, natsjs.ErrInvalidJSAck if data
// is not an acknowledgement. The common acknowledgement is scanned; anything
// else is decoded with encoding/json, as nats.go decodes it.
func parsePubAck(data []byte) error {
	if a, ok := scanPubAck(data); ok && len(a.stream) > 0 {
		return nil
	}
	// nats.go's pubAckResponse: with its "type", which fails the decoding
	// when it is not a string.
	var resp struct {
		Type  string           `json:"type"`
		Error *natsjs.APIError `json:"error,omitempty"`
		*natsjs.PubAck
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return natsjs.ErrInvalidJSAck
	}
	if resp.Error != nil {
		return resp.Error
	}
	if resp.PubAck == nil || resp.PubAck.Stream == "" {
		return natsjs.ErrInvalidJSAck
	}
	return nil
}

// scannedAck is a successful acknowledgement as scanPubAck reads it: its
// strings are slices of the data.
type scannedAck struct {
	stream, domain []byte
	seq            uint64
	duplicate      bool
}

// scanPubAck reads a JSON object of the fields "stream" and "domain" (strings
// of printable ASCII without escapes), "seq" (an unsigned integer) and
// "duplicate" (a boolean), each optional and in any order, with optional white
// space: the acknowledgements of stored messages. It reports false for
// anything else (another field, an error, an escape, malformed JSON), which
// the caller decodes with encoding/json. What it accepts, encoding/json
// decodes to the same values.
func scanPubAck(data []byte) (a scannedAck, ok bool) {
	s := ackScanner{data: data}
	if !s.byte('{') {
		return a, false
	}
	if s.byte('}') {
		return a, s.end()
	}
	for {
		key, ok := s.str()
		if !ok || !s.byte(':') {
			return a, false
		}
		switch string(key) {
		case "stream":
			a.stream, ok = s.str()
		case "domain":
			a.domain, ok = s.str()
		case "seq":
			a.seq, ok = s.uint()
		case "duplicate":
			a.duplicate, ok = s.bool()
		default:
			return a, false
		}
		if !ok {
			return a, false
		}
		if s.byte('}') {
			return a, s.end()
		}
		if !s.byte(',') {
			return a, false
		}
	}
}

// ackScanner reads the tokens of scanPubAck from data, skipping white space
// before each.
type ackScanner struct {
	data []byte
	i    int
}

func (s *ackScanner) skip() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte consumes c if it comes next.
func (s *ackScanner) byte(c byte) bool {
	s.skip()
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *ackScanner) end() bool {
	s.skip()
	return s.i == len(s.data)
}

// str reads a string of printable ASCII without escapes.
func (s *ackScanner) str() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.data); s.i++ {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			return s.data[start : s.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// uint reads an unsigned integer without leading zeros that fits in 64 bits.
func (s *ackScanner) uint() (uint64, bool) {
	s.skip()
	start := s.i
	var n uint64
	for ; s.i < len(s.data) && s.data[s.i] >= '0' && s.data[s.i] <= '9'; s.i++ {
		d := uint64(s.data[s.i] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	switch digits := s.i - start; {
	case digits == 0, digits > 1 && s.data[start] == '0':
		return 0, false
	}
	// A number goes on with a fraction or an exponent: not ours.
	if s.i < len(s.data) && (s.data[s.i] == '.' || s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		return 0, false
	}
	return n, true
}

// bool reads true or false.
func (s *ackScanner) bool() (bool, bool) {
	s.skip()
	rest := s.data[s.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		s.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}
