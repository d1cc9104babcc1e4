package jetstream

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
)

// Transport is a [bus.Transport] on NATS JetStream: one connection, the events,
// dead-letter and redelivery streams of its prefix, and the consumers of the
// subscriptions it serves. Build it with [Connect] for a NATS server or cluster,
// or with [Embedded] for a server in the process. A Transport is safe for
// concurrent use and may be shared by several buses. It reconnects by itself;
// [Transport.Close] closes it.
//
// It implements [bus.DeadLetterReader], and the ConnectionState interface of
// package health (Connected, Blocked, ConsumersRunning, LastError).
type Transport struct {
	opts        Options
	names       names
	nc          *nats.Conn
	js          natsjs.JetStream
	notes       natsjs.Stream   // the redelivery stream
	embedded    *embeddedServer // nil when connected to an external server
	multiFilter bool            // the server takes several filter subjects per consumer (2.10+)

	closed    atomic.Bool
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // the progress loop, the publish pump, its sweeper and the ack pump

	acks chan string     // reply subjects for the ack pump
	pubq chan *pubReq    // messages for the publish pump
	pub  *asyncPublisher // publishes them and waits for their acknowledgements

	mu        sync.Mutex
	consumers map[*consumer]struct{}
	minWait   time.Duration // the shortest AckWait of the subscriptions
	wake      chan struct{} // tells the progress loop that minWait changed

	lastErr atomic.Pointer[errorBox]
}

type errorBox struct{ err error }

var (
	_ bus.Transport        = (*Transport)(nil)
	_ bus.DeadLetterReader = (*Transport)(nil)
)

// Connect connects to the NATS server (or cluster) at urls — a comma-separated
// list of nats:// URLs, credentials in them redacted from errors — declares the events, dead-letter and redelivery streams
// of opts.Prefix if they do not exist, and returns the transport. A stream that
// exists with a configuration the transport cannot use is a [*ConfigError]
// naming the field. ctx bounds connecting and declaring. The server must have
// JetStream enabled; consumers that bind several event types need NATS 2.10 or
// later.
func Connect(ctx context.Context, urls string, opts Options) (*Transport, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := newTransportShell(o)
	nopts := t.natsOptions(ctx)
	nc, err := nats.Connect(urls, nopts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: connect to %s: %w", redactURLs(urls), err)
	}
	if err := t.start(ctx, nc, nil); err != nil {
		nc.Close()
		return nil, err
	}
	return t, nil
}

// redactURLs hides the passwords and tokens of a comma-separated list of URLs.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			p = u.String()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

func newTransportShell(o Options) *Transport {
	return &Transport{
		opts:      o,
		names:     newNames(o.Prefix),
		done:      make(chan struct{}),
		consumers: make(map[*consumer]struct{}),
		wake:      make(chan struct{}, 1),
		pubq:      make(chan *pubReq, o.MaxInFlight),
		acks:      make(chan string, ackQueueSize),
		pub:       newAsyncPublisher(o.MaxInFlight, o.PublishTimeout),
	}
}

// natsOptions are the connection options: reconnect forever, report connection
// events to the log and to LastError, then the user's options.
func (t *Transport) natsOptions(ctx context.Context) []nats.Option {
	log := t.opts.Logger
	o := []nats.Option{
		nats.Name(t.opts.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(t.opts.ReconnectWait),
		nats.PingInterval(t.opts.PingInterval),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if t.closed.Load() {
				return
			}
			if err == nil {
				err = errors.New("the server closed the connection")
			}
			t.setErr(fmt.Errorf("jetstream: disconnected: %w", err))
			log.Warn("jetstream: disconnected; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("jetstream: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			t.setErr(err)
			log.Error("jetstream: asynchronous error", "err", err)
		}),
	}
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			o = append(o, nats.Timeout(d))
		}
	}
	return append(o, t.opts.NATSOptions...)
}

// start sets up JetStream on nc and declares the streams.
func (t *Transport) start(ctx context.Context, nc *nats.Conn, e *embeddedServer) error {
	t.nc, t.embedded = nc, e
	t.multiFilter = versionAtLeast(nc.ConnectedServerVersion(), 2, 10)
	js, err := natsjs.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	t.js = js
	if err := t.declareStreams(ctx); err != nil {
		return err
	}
	if err := t.pub.start(nc); err != nil {
		return fmt.Errorf("jetstream: subscribe to publish acknowledgements: %w", err)
	}
	t.wg.Add(4)
	go t.progressLoop()
	go t.publishPump()
	go func() {
		defer t.wg.Done()
		t.pub.sweep(t.done)
	}()
	go t.ackPump()
	return nil
}

// versionAtLeast reports whether the server version v ("2.10.4") is at least
// major.minor.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// Conn returns the transport's NATS connection, for what the transport does not
// do (key-value buckets, request-reply). Closing it breaks the transport.
func (t *Transport) Conn() *nats.Conn { return t.nc }

// mapErr turns the errors of a closed connection into bus.ErrClosed once the
// transport is closed.
func (t *Transport) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if t.closed.Load() && (errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, natsjs.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionDraining)) {
		return fmt.Errorf("%w (%v)", bus.ErrClosed, err)
	}
	return err
}

// Close hands back what the consumers fetched and nobody received, closes the
// connection, and in embedded mode shuts the server down (its data stays in the
// data directory). Deliveries not settled go back to their streams when their
// AckWait passes. Close is idempotent.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		cs := make([]*consumer, 0, len(t.consumers))
		for c := range t.consumers {
			cs = append(cs, c)
		}
		t.mu.Unlock()
		for _, c := range cs {
			c.Close()
		}
		t.closed.Store(true)
		close(t.done)
		t.wg.Wait()
		if t.nc != nil {
			t.nc.FlushTimeout(time.Second) // the last acks and naks
			t.nc.Close()
		}
		if t.embedded != nil {
			t.embedded.shutdown()
		}
	})
	return nil
}

// Connected reports whether the connection to the server is up.
func (t *Transport) Connected() bool { return !t.closed.Load() && t.nc.IsConnected() }

// Blocked reports false: a NATS server does not hold publishers back the way
// RabbitMQ's connection.blocked does (a full stream rejects a publish instead).
func (t *Transport) Blocked() bool { return false }

// ConsumersRunning returns how many consumers are receiving messages: those not
// closed, and not waiting to be declared again after their server-side consumer
// went away.
func (t *Transport) ConsumersRunning() int {
	if t.closed.Load() {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for c := range t.consumers {
		if c.running.Load() {
			n++
		}
	}
	return n
}

// LastError returns the latest connection or consumer error, nil if none.
func (t *Transport) LastError() error {
	if b := t.lastErr.Load(); b != nil {
		return b.err
	}
	return nil
}

func (t *Transport) setErr(err error) { t.lastErr.Store(&errorBox{err}) }
