package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
)

// Transport is a [bus.Transport] on RabbitMQ. It keeps two connections, one to
// publish and one to consume (so that a broker blocking publishers never holds up
// acks), reconnects them by itself, and declares the topology it needs. A
// Transport is safe for concurrent use, and may be shared by several buses.
type Transport struct {
	url  string
	opts Options
	log  *slog.Logger

	pubLink *link
	cons    *link
	pub     *publisher

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the transport

	mu       sync.Mutex
	declared map[string]struct{} // queues declared, for tests

	consuming atomic.Int64 // consumers whose channel is delivering now
}

var (
	_ bus.Transport        = (*Transport)(nil)
	_ bus.DeadLetterReader = (*Transport)(nil)
	_ bus.SystemNamer      = (*Transport)(nil)
)

// New connects to the broker at url (amqp://user:password@host:port/vhost, or
// amqps://) and declares the events exchange. It fails, with a [*DialError] that
// says which, if the URL is invalid ([ErrInvalidURL]), the broker cannot be
// reached ([ErrUnreachable]), refuses the credentials ([ErrAccessRefused]) or the
// virtual host ([ErrVhost]); with a [*ConflictError] if the exchange exists with
// another type; or with an error naming the option that is invalid. ctx bounds
// connecting only. After New, the transport reconnects by itself.
func New(ctx context.Context, url string, opts Options) (*Transport, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if uri, err := amqp.ParseURI(url); err != nil {
		return nil, &DialError{URL: redact(url), Reason: ErrInvalidURL, Err: err}
	} else if uri.Host == "" {
		return nil, &DialError{URL: redact(url), Reason: ErrInvalidURL, Err: errors.New("no host")}
	} else if uri.Port < 1 || uri.Port > 65535 {
		return nil, &DialError{URL: redact(url), Reason: ErrInvalidURL, Err: fmt.Errorf("port %d out of range", uri.Port)}
	}
	t := &Transport{url: url, opts: o, log: o.Logger, declared: make(map[string]struct{})}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	ps, err := t.dial(ctx, "publish")
	if err != nil {
		t.cancel()
		return nil, err
	}
	if err := t.declareOn(ps, t.declareExchange); err != nil {
		_ = ps.conn.Close()
		t.cancel()
		return nil, err
	}
	cs, err := t.dial(ctx, "consume")
	if err != nil {
		_ = ps.conn.Close()
		t.cancel()
		return nil, err
	}
	t.pubLink = newLink(t, "publish")
	t.cons = newLink(t, "consume")
	t.pub = newPublisher(t, t.pubLink)
	t.pubLink.start(ps)
	t.cons.start(cs)
	return t, nil
}

// declareOn runs fn on a channel of its own on s.
func (t *Transport) declareOn(s *session, fn func(ch *amqp.Channel) error) error {
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	defer ch.Close()
	return fn(ch)
}

// Close closes both connections, which hands every unsettled delivery back to
// the broker, stops the consumers and waits for every goroutine of the
// transport. Publishing afterwards returns [bus.ErrClosed]. Close is idempotent.
func (t *Transport) Close() error {
	t.cancel()
	t.wg.Wait()
	return nil
}

// DeadLetters returns up to max messages (all if max <= 0) of the subscription's
// dead-letter queue, oldest first, without removing them: it fetches them with
// basic.get and hands them all back (nack with requeue) before returning; while
// it reads, they are invisible to other readers. A subscription without a
// dead-letter queue has none.
func (t *Transport) DeadLetters(ctx context.Context, subscription string, max int) ([]bus.Message, error) {
	if t.ctx.Err() != nil {
		return nil, bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := t.cons.get(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	defer ch.Close()
	name := t.Queues(subscription).DeadLetter
	q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
	if err != nil {
		var aerr *amqp.Error
		if errors.As(err, &aerr) && aerr.Code == amqp.NotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("rabbitmq: dead letters of %q: %w", subscription, err)
	}
	msgs := make([]bus.Message, 0, q.Messages)
	var last uint64
	for (max <= 0 || len(msgs) < max) && ctx.Err() == nil {
		d, ok, err := ch.Get(name, false)
		if err != nil {
			return nil, fmt.Errorf("rabbitmq: dead letters of %q: basic.get: %w", subscription, err)
		}
		if !ok {
			break
		}
		last = d.DeliveryTag
		m, _ := message(&d)
		msgs = append(msgs, m)
	}
	if last > 0 {
		if err := ch.Nack(last, true, true); err != nil {
			return nil, fmt.Errorf("rabbitmq: dead letters of %q: handing them back: %w", subscription, err)
		}
		// The broker puts them back asynchronously (a quorum queue through its
		// log): wait a moment for them, so that a reader right after this one sees
		// them too.
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			q2, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
			if err != nil || q2.Messages >= q.Messages {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return msgs, nil
}

// System returns "rabbitmq", the messaging system's name in OpenTelemetry's
// semantic conventions.
func (t *Transport) System() string { return "rabbitmq" }

// Name returns the name of the transport's connections in the management UI,
// without the " (publish)" or " (consume)" suffix.
func (t *Transport) Name() string { return t.opts.Name }

// Exchange returns the name of the events exchange.
func (t *Transport) Exchange() string { return t.opts.Exchange }

// reconnectPause is how long a consumer waits before consuming anew after the
// broker cancelled it (a deleted queue), to not spin.
const reconnectPause = 10 * time.Millisecond
