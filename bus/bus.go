package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Bus publishes events and runs their handlers over a [Transport]. Build it with
// [New], register handlers with [Handle], then [Bus.Start] consuming; publishing
// needs no Start. [Bus.Shutdown] stops consuming gracefully and [Bus.Close] at once.
// A Bus is safe for concurrent use. It does not close its transport, which may be
// shared by several buses.
type Bus struct {
	tr         Transport
	reg        *Registry
	codecs     codecs
	source     string
	maxBody    int
	opts       Options
	log        *slog.Logger
	settleTO   time.Duration
	system     string          // the transport's SystemNamer name, for the observer
	propagator TracePropagator // the observer's, if it has one

	mu    sync.Mutex
	state busState
	subs  map[string]*subscription
	order []string // subscription names in the order of their first handler

	hctx    context.Context // handlers' context, cancelled when the bus stops hard
	hcancel context.CancelFunc
	wg      sync.WaitGroup // every goroutine the bus started

	stopOnce sync.Once
	stopped  chan struct{} // closed when the first stop has finished
	stopErr  error
	force    chan struct{} // closed by Close: stop waiting for in-flight handlers
	forceMu  sync.Once
	closed   chan struct{} // closed by Close: no more publishing
}

type busState uint8

const (
	stateNew busState = iota
	stateRunning
	stateStopped
)

// settleTimeout bounds one call to the transport or the inbox after a handler
// returned (ack, redeliver, dead-letter, inbox done/release). These calls do not
// use the handler's context, which may be cancelled by then.
const settleTimeout = 30 * time.Second

// New returns a bus over tr, or an error naming the option that is invalid.
func New(tr Transport, opts Options) (*Bus, error) {
	if tr == nil {
		return nil, errors.New("bus: New: transport is nil")
	}
	cs, err := newCodecs(opts.Codecs)
	if err != nil {
		return nil, err
	}
	b := &Bus{
		tr:       tr,
		reg:      opts.Registry,
		codecs:   cs,
		source:   opts.Source,
		maxBody:  opts.MaxBodySize,
		opts:     opts,
		log:      opts.Logger,
		settleTO: settleTimeout,
		subs:     make(map[string]*subscription),
		stopped:  make(chan struct{}),
		force:    make(chan struct{}),
		closed:   make(chan struct{}),
	}
	if b.reg == nil {
		b.reg = NewRegistry()
	}
	if b.source == "" {
		b.source = defaultSource()
	}
	if err := checkText("Options.Source", b.source, maxTextLen); err != nil {
		return nil, fmt.Errorf("bus: Options.Source: %w", err)
	}
	if b.maxBody == 0 {
		b.maxBody = DefaultMaxBodySize
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if n, ok := tr.(SystemNamer); ok {
		b.system = n.System()
	}
	if p, ok := opts.Observer.(TracePropagator); ok {
		b.propagator = p
	}
	for name, so := range opts.Subscriptions {
		if err := validateSubscriptionName(name); err != nil {
			return nil, err
		}
		if _, err := so.normalize(name); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Registry returns the bus's registry.
func (b *Bus) Registry() *Registry { return b.reg }

// validateSubscriptionName accepts 1 to 200 letters, digits, '-' and '_': a queue
// name on RabbitMQ and a durable consumer name on JetStream.
func validateSubscriptionName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("bus: subscription name %q must have 1 to 200 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("bus: subscription name %q has %q; only letters, digits, '-' and '_' are allowed", name, c)
		}
	}
	return nil
}

// Start subscribes every subscription that has handlers and starts their workers.
// ctx bounds the subscribing only; the workers run until Shutdown or Close. If a
// subscription fails, the ones already subscribed are closed and the error names
// it. Start may be called once.
func (b *Bus) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateRunning:
		return ErrStarted
	case stateStopped:
		return ErrClosed
	}
	for name := range b.opts.Subscriptions {
		if _, ok := b.subs[name]; !ok {
			return fmt.Errorf("bus: Options.Subscriptions[%q] has no handler (misspelt?)", name)
		}
	}
	b.hctx, b.hcancel = context.WithCancel(context.Background())
	started := make([]*subscription, 0, len(b.order))
	for _, name := range b.order {
		s := b.subs[name]
		if err := s.subscribe(ctx); err != nil {
			for _, s := range started {
				s.fetchCancel()
				s.consumer.Close()
			}
			b.hcancel()
			return fmt.Errorf("bus: subscribe %q: %w", name, err)
		}
		started = append(started, s)
	}
	for _, s := range started {
		s.start()
	}
	b.state = stateRunning
	return nil
}

// Shutdown stops consuming gracefully: it stops receiving, lets the handlers
// that are running finish, and hands back to the broker every message that was
// received and not handled, so that nothing is acked that was not handled. If ctx
// ends first, it hands back the messages whose handlers are still running,
// cancels those handlers' contexts and returns ctx.Err() without waiting for them
// (Close waits). Then it closes the consumers. Publishing still works after
// Shutdown, until Close. Calling Shutdown again waits for the first call to end
// and returns its result ([ErrClosed] if Close cut it short). Shutdown must not be
// called from a handler, which it would wait for.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.stopOnce.Do(func() {
		b.stopErr = b.stop(ctx)
		close(b.stopped)
	})
	select {
	case <-b.stopped:
		return b.stopErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the bus at once: messages being handled are handed back to the
// broker, their handlers' contexts are cancelled, and Close waits for the handlers
// to return and every goroutine of the bus to end. Then Publish returns
// [ErrClosed]. Close is idempotent and may follow Shutdown; it must not be called
// from a handler or from OnSettle, which it would wait for.
func (b *Bus) Close() error {
	b.forceMu.Do(func() { close(b.force); close(b.closed) })
	b.stopOnce.Do(func() {
		b.stopErr = b.stop(context.Background())
		close(b.stopped)
	})
	<-b.stopped
	b.wg.Wait()
	return nil
}

// stop runs once: see Shutdown.
func (b *Bus) stop(ctx context.Context) error {
	b.mu.Lock()
	prev := b.state
	b.state = stateStopped
	subs := make([]*subscription, 0, len(b.order))
	for _, name := range b.order {
		subs = append(subs, b.subs[name])
	}
	b.mu.Unlock()
	if prev != stateRunning {
		return nil
	}
	for _, s := range subs {
		s.fetchCancel()
	}
	var err error
wait:
	for _, s := range subs {
		select {
		case <-s.done:
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		case <-b.force:
			err = ErrClosed
			break wait
		}
	}
	for _, s := range subs {
		select {
		case <-s.done:
		default:
			s.handBack() // handlers still running: give their messages back first
		}
	}
	b.hcancel()
	for _, s := range subs {
		if cerr := s.consumer.Close(); cerr != nil && !errors.Is(cerr, ErrClosed) {
			b.log.Warn("bus: closing consumer", "subscription", s.name, "err", cerr)
		}
	}
	return err
}

// settleCtx makes c, a zero lazyTimeout, the context of a call to the transport
// or the inbox after the handler returned, and returns it; the caller stops it.
// Its timer starts only if the call waits on it.
func (b *Bus) settleCtx(c *lazyTimeout) *lazyTimeout {
	return c.init(context.Background(), time.Now(), b.settleTO)
}
