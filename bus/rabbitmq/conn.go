package rabbitmq

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
)

// link is one supervised AMQP connection: a goroutine watches it, and when the
// broker or the network takes it away, dials again with backoff until it is back
// or the transport closes. Users ask for the live connection with get, which
// waits while the link is down; channels are theirs to reopen.
type link struct {
	t    *Transport
	role string // "publish" or "consume"

	mu      sync.Mutex
	cur     *session      // nil while down
	up      chan struct{} // closed when cur is set; replaced when cur is lost
	lastErr error         // why the link went down, or why the last dial failed

	reconnects atomic.Int64 // connections made after the first
}

// session is one connection of a link, from dial to loss.
type session struct {
	conn *amqp.Connection
	nc   net.Conn      // the socket, for tests that cut it
	lost chan struct{} // closed when the connection is gone

	blocked   atomic.Bool // fast path of waitUnblocked
	bmu       sync.Mutex
	reason    string        // why the broker blocked publishing
	since     time.Time     // when it did
	unblocked chan struct{} // closed when the broker unblocks; replaced when it blocks
}

func newLink(t *Transport, role string) *link {
	return &link{t: t, role: role, up: make(chan struct{})}
}

// start runs the supervisor of the link, beginning with the connection s.
func (l *link) start(s *session) {
	l.t.wg.Add(1)
	go l.run(s)
}

// get returns the live connection, waiting while the link reconnects.
func (l *link) get(ctx context.Context) (*session, error) {
	for {
		l.mu.Lock()
		s, up, lastErr := l.cur, l.up, l.lastErr
		l.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-up:
		case <-l.t.ctx.Done():
			return nil, bus.ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (the %s connection is reconnecting; last error: %v): %w", ErrNotConnected, l.role, lastErr, ctx.Err())
		}
	}
}

// run supervises the link until the transport closes.
func (l *link) run(s *session) {
	defer l.t.wg.Done()
	log := l.t.log.With("connection", l.role)
	flaps := 0 // connections in a row lost within a second: reconnect with backoff
	for {
		upAt := time.Now()
		closed := s.conn.NotifyClose(make(chan *amqp.Error, 1))
		blocks := s.conn.NotifyBlocked(make(chan amqp.Blocking, 4))
		l.mu.Lock()
		l.cur = s
		close(l.up)
		l.mu.Unlock()

		err := l.watch(s, closed, blocks)

		l.mu.Lock()
		l.cur, l.up, l.lastErr = nil, make(chan struct{}), err
		l.mu.Unlock()
		close(s.lost)
		if l.t.ctx.Err() != nil {
			return
		}
		log.Warn("rabbitmq: connection lost; reconnecting", "err", err)
		if time.Since(upAt) < time.Second {
			flaps++
		} else {
			flaps = 0
		}
		if s = l.reconnect(log, flaps); s == nil {
			return
		}
		l.reconnects.Add(1)
		log.Info("rabbitmq: reconnected")
	}
}

// watch waits until s is lost (returning why) or the transport closes (closing
// s and returning nil), and keeps track of the broker blocking publishing.
func (l *link) watch(s *session, closed chan *amqp.Error, blocks chan amqp.Blocking) error {
	for {
		select {
		case b, ok := <-blocks:
			if !ok {
				blocks = nil
				continue
			}
			s.setBlocked(b)
			if b.Active {
				l.t.log.Warn("rabbitmq: the broker blocked publishing", "connection", l.role, "reason", b.Reason)
			} else {
				l.t.log.Info("rabbitmq: the broker unblocked publishing", "connection", l.role)
			}
		case e, ok := <-closed:
			if ok && e != nil {
				return e
			}
			return amqp.ErrClosed
		case <-l.t.ctx.Done():
			_ = s.conn.CloseDeadline(time.Now().Add(time.Second))
			return nil
		}
	}
}

// reconnect dials until it succeeds (returning the new session) or the transport
// closes (returning nil). The first attempt is immediate, unless the connection
// keeps being lost at once (flaps > 0).
func (l *link) reconnect(log *slog.Logger, flaps int) *session {
	var prev time.Duration
	for n := flaps; ; n++ {
		if n > 0 {
			prev = l.t.opts.Reconnect.Delay(n, prev)
			if !l.t.sleep(prev) {
				return nil
			}
		}
		s, err := l.t.dial(l.t.ctx, l.role)
		if err == nil {
			return s
		}
		if l.t.ctx.Err() != nil {
			return nil
		}
		l.mu.Lock()
		l.lastErr = err
		l.mu.Unlock()
		log.Warn("rabbitmq: reconnecting failed", "attempt", n-flaps+1, "err", err)
	}
}

// setBlocked records a connection.blocked or connection.unblocked.
func (s *session) setBlocked(b amqp.Blocking) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	switch {
	case b.Active && !s.blocked.Load():
		s.reason, s.since, s.unblocked = b.Reason, time.Now(), make(chan struct{})
		s.blocked.Store(true)
	case !b.Active && s.blocked.Load():
		s.blocked.Store(false)
		close(s.unblocked)
	}
}

// waitUnblocked returns at once unless the broker blocked publishing on s; then
// it waits until the broker unblocks it, s is lost, or ctx ends (a
// *BlockedError).
func (s *session) waitUnblocked(ctx context.Context, closing <-chan struct{}) error {
	if !s.blocked.Load() {
		return nil
	}
	s.bmu.Lock()
	blocked, reason, since, unblocked := s.blocked.Load(), s.reason, s.since, s.unblocked
	s.bmu.Unlock()
	if !blocked {
		return nil
	}
	select {
	case <-unblocked:
		return nil
	case <-s.lost:
		return nil
	case <-closing:
		return bus.ErrClosed
	case <-ctx.Done():
		return &BlockedError{Reason: reason, For: time.Since(since), Err: ctx.Err()}
	}
}

// blockedErr wraps err (a context's error) in a *BlockedError if the broker is
// blocking publishing on s.
func (s *session) blockedErr(err error) error {
	if !s.blocked.Load() {
		return err
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if !s.blocked.Load() {
		return err
	}
	return &BlockedError{Reason: s.reason, For: time.Since(s.since), Err: err}
}

// dial opens a connection for role ("publish" or "consume"), named after the
// service, within ctx and Options.DialTimeout.
func (t *Transport) dial(ctx context.Context, role string) (*session, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(t.opts.Name + " (" + role + ")")
	var (
		mu sync.Mutex
		nc net.Conn
	)
	cfg := amqp.Config{
		Heartbeat:  t.opts.Heartbeat,
		Locale:     "en_US",
		Properties: props,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: t.opts.DialTimeout}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// A deadline for TLS and the AMQP handshake; amqp091-go clears it after.
			deadline := time.Now().Add(t.opts.DialTimeout)
			if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
				deadline = dl
			}
			if err := c.SetDeadline(deadline); err != nil {
				c.Close()
				return nil, err
			}
			cc := newCoalescingConn(c)
			mu.Lock()
			nc = cc
			mu.Unlock()
			return cc, nil
		},
	}
	if t.opts.TLS != nil {
		cfg.TLSClientConfig = t.opts.TLS.Clone() // amqp091-go sets its ServerName
	}
	// Abort the handshake if ctx ends: an expired deadline fails the pending read.
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if nc != nil {
			_ = nc.SetDeadline(time.Unix(1, 0))
		}
	})
	conn, err := amqp.DialConfig(t.url, cfg)
	stop()
	mu.Lock()
	c := nc
	mu.Unlock()
	if err != nil {
		if c != nil {
			c.Close()
		}
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w: %w", cerr, err)
		} else if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			// The socket's deadline (ctx's) fired a moment before ctx's timer.
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return nil, newDialError(t.url, err)
	}
	return &session{conn: conn, nc: c, lost: make(chan struct{})}, nil
}

// sleep waits for d, or returns false if the transport closes first.
func (t *Transport) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// sleepCtx waits for d, or returns false if ctx ends or the transport closes
// first.
func (t *Transport) sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-t.ctx.Done():
		return false
	}
}
