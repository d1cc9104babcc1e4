package bus

import (
	"context"
	"errors"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// subscription is one subscription of a bus: its handlers, its consumer and its
// workers.
type subscription struct {
	b        *Bus
	name     string
	opts     SubscriptionOptions
	handlers map[string]*handler
	types    []string

	consumer    Consumer
	chain       stage
	fetchCtx    context.Context // cancelled to stop receiving
	fetchCancel context.CancelFunc
	slots       []atomic.Pointer[tracked] // the delivery each worker is handling
	queues      []chan *tracked           // per-worker queues when ordered
	done        chan struct{}             // closed when every worker has returned
}

// tracked is one delivery being handled. Whoever settles it first wins: the
// worker when the handler returns, or the shutdown when it hands the delivery back.
type tracked struct {
	d        Delivery
	received time.Duration // when it was received, as time.Since(epoch); 0 if unknown
	settled  atomic.Bool
	settleTO lazyTimeout // the context of settling it, made here to save an allocation
}

func (t *tracked) claim() bool { return t.settled.CompareAndSwap(false, true) }

// epoch is the origin of tracked.received: a monotonic reading in 8 bytes rather
// than a time.Time's 24.
var epoch = time.Now()

// subscribe declares the subscription on the transport and builds its middleware.
func (s *subscription) subscribe(ctx context.Context) error {
	c, err := s.b.tr.Subscribe(ctx, Subscription{
		Name:             s.name,
		EventTypes:       append([]string(nil), s.types...),
		Prefetch:         s.opts.Prefetch,
		RedeliveryDelays: s.opts.redeliveryDelays(),
		AckWait:          s.opts.InboxLease,
		Ordered:          s.opts.Ordered,
	})
	if err != nil {
		return err
	}
	s.consumer = c
	s.fetchCtx, s.fetchCancel = context.WithCancel(context.Background())
	s.slots = make([]atomic.Pointer[tracked], s.opts.Workers)
	if s.opts.Ordered {
		depth := max(1, s.opts.Prefetch/s.opts.Workers)
		s.queues = make([]chan *tracked, s.opts.Workers)
		for i := range s.queues {
			s.queues[i] = make(chan *tracked, depth)
		}
	}
	s.done = make(chan struct{})
	// The consumer middleware, outermost first (decoding comes before it).
	s.chain = s.recoverStage(s.inboxStage(s.timeoutStage(s.retryStage(callHandler))))
	return nil
}

// start starts the workers under a supervisor that closes done after them.
func (s *subscription) start() {
	s.b.wg.Add(1)
	go func() {
		defer s.b.wg.Done()
		defer close(s.done)
		var wg sync.WaitGroup
		for i := range s.opts.Workers {
			if s.opts.Ordered {
				wg.Go(func() { s.orderedWorker(i) })
			} else {
				wg.Go(func() { s.worker(i) })
			}
		}
		if s.opts.Ordered {
			s.dispatch()
		}
		wg.Wait()
	}()
}

// receive returns the next delivery, or false when the subscription stops.
func (s *subscription) receive() (*tracked, bool) {
	for {
		if s.fetchCtx.Err() != nil {
			return nil, false
		}
		d, err := s.consumer.Receive(s.fetchCtx)
		if err == nil {
			return &tracked{d: d, received: time.Since(epoch)}, true
		}
		if s.fetchCtx.Err() != nil {
			return nil, false
		}
		if errors.Is(err, ErrClosed) {
			s.b.log.Error("bus: consumer closed while the bus runs; subscription stopped", "subscription", s.name, "err", err)
			return nil, false
		}
		// Transports hide reconnects; an error here is unexpected. Back off and go on.
		s.b.log.Error("bus: receive", "subscription", s.name, "err", err)
		select {
		case <-time.After(time.Second):
		case <-s.fetchCtx.Done():
			return nil, false
		}
	}
}

// worker receives and handles deliveries one at a time.
func (s *subscription) worker(i int) {
	ctx, cancel := s.workerCtx()
	defer cancel()
	for {
		t, ok := s.receive()
		if !ok {
			return
		}
		s.run(ctx, i, t)
	}
}

// workerCtx returns the parent of the handler contexts of one worker: the
// handlers' context, through a cancel context of the worker's own, so that the
// per-message contexts derived from it (the timeout's) register with it rather
// than all with the bus's single handlers' context and its lock.
func (s *subscription) workerCtx() (context.Context, context.CancelFunc) {
	return context.WithCancel(s.b.hctx)
}

// run handles t on worker i, unless the subscription stopped receiving meanwhile.
func (s *subscription) run(ctx context.Context, i int, t *tracked) {
	s.slots[i].Store(t) // before the check: a shutdown that misses t here sees it in the slot
	if s.fetchCtx.Err() != nil {
		s.requeue(t)
	} else {
		s.process(ctx, t)
	}
	s.slots[i].Store(nil)
}

// dispatch receives deliveries and hands each to the worker of its ordering key.
func (s *subscription) dispatch() {
	defer func() {
		for _, q := range s.queues {
			close(q)
		}
	}()
	n := uint32(len(s.queues))
	var rr uint32
	for {
		t, ok := s.receive()
		if !ok {
			return
		}
		var i uint32
		if key := orderingKey(t.d.Message()); key != "" {
			i = fnv32a(key) % n
		} else {
			i = rr % n
			rr++
		}
		if s.fetchCtx.Err() != nil {
			s.requeue(t)
			return
		}
		select {
		case s.queues[i] <- t:
		case <-s.fetchCtx.Done():
			s.requeue(t)
			return
		}
	}
}

// orderedWorker handles the deliveries dispatched to worker i, in order.
func (s *subscription) orderedWorker(i int) {
	ctx, cancel := s.workerCtx()
	defer cancel()
	for t := range s.queues[i] {
		s.run(ctx, i, t)
	}
}

// fnv32a is the 32-bit FNV-1a hash of s.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// orderingKey returns the message's ordering key without decoding it.
func orderingKey(m Message) string {
	if m.Key != "" {
		return m.Key
	}
	if k := m.Headers[HeaderPartitionKey]; k != "" {
		return k
	}
	return m.Headers[HeaderSubject]
}

// handBack requeues the deliveries whose handlers are still running, and those
// waiting in the per-worker queues, at a shutdown's deadline.
func (s *subscription) handBack() {
	for i := range s.slots {
		if t := s.slots[i].Load(); t != nil {
			s.requeue(t)
		}
	}
	for _, q := range s.queues {
	drain:
		for {
			select {
			case t, ok := <-q:
				if !ok {
					break drain
				}
				s.requeue(t)
			default:
				break drain
			}
		}
	}
}

// requeue hands t back unhandled.
func (s *subscription) requeue(t *tracked) {
	m := t.d.Message()
	st := Settlement{Subscription: s.name, EventType: m.Headers[HeaderType], EventID: m.Headers[HeaderID], Action: ActionRequeue}
	if n, ok := parseAttempt(m.Headers[HeaderAttempt]); ok {
		st.Attempt = n
	} else {
		st.Attempt = 1
	}
	s.settle(t, &st, func(ctx context.Context) error { return t.d.Requeue(ctx) })
}

// job is one decoded delivery going through the middleware, with what the
// middleware makes for it, in one allocation with the event (see typedJob).
type job struct {
	h       *handler
	typed   any // the *typedJob[T] this job is part of (see Handle)
	meta    Meta
	ctx     metaCtx     // the context carrying meta
	timeout lazyTimeout // the handler's context, for timeoutStage
	settle  lazyTimeout // the context of the inbox's Done or Release
}

// metaCtx is context.WithValue(Context, metaKey{}, meta), without an allocation
// of its own. Contexts derived from it see the cancellation of Context as they
// would through a context.WithValue.
type metaCtx struct {
	context.Context
	meta *Meta
}

func (c *metaCtx) Value(key any) any {
	if _, ok := key.(metaKey); ok {
		return c.meta
	}
	return c.Context.Value(key)
}

func (c *metaCtx) String() string { return "bus.metaCtx" }

// stage is one layer of the consumer middleware.
type stage func(ctx context.Context, j *job) error

func callHandler(ctx context.Context, j *job) error { return j.h.call(ctx, j) }

// Results of the inbox that are not failures.
var (
	errAlreadyDone = errors.New("bus: inbox: already handled")
	errInProgress  = errors.New("bus: inbox: being handled by another worker")
)

// process runs one delivery through decoding, the middleware and the failure
// policy, and settles it. The observer, if any, sees it from the decoded envelope
// to the settlement. ctx is the worker's context (see workerCtx), cancelled with
// the handlers' context.
func (s *subscription) process(ctx context.Context, t *tracked) {
	msg := t.d.Message()
	env, err := DecodeEnvelope(msg, DecodeOptions{MaxBodySize: s.b.maxBody})
	if err != nil {
		s.deadLetterUndecodable(ctx, t, msg, Envelope{}, ReasonUndecodable, err)
		return
	}
	var end func(error)
	if obs := s.b.opts.Observer; obs != nil {
		ctx, end = obs.ObserveProcess(ctx, ProcessInfo{System: s.b.system, Subscription: s.name, EventType: env.Type,
			EventID: env.ID, Attempt: env.Attempt, TraceParent: env.TraceParent, TraceState: env.TraceState})
	}
	h, j, reason, err := s.decodeData(env, msg.Body)
	if err != nil {
		s.deadLetterUndecodable(ctx, t, msg, env, reason, err)
		if end != nil {
			end(err)
		}
		return
	}
	j.h = h
	j.meta = Meta{Envelope: env, Subscription: s.name, Redelivered: t.d.Redelivered(), Headers: msg.Headers}
	j.ctx = metaCtx{Context: ctx, meta: &j.meta}
	err = s.chain(&j.ctx, j)

	st := Settlement{Subscription: s.name, EventType: env.Type, EventID: env.ID, Attempt: env.Attempt}
	switch {
	case err == nil:
		st.Action = ActionAck
		s.settle(t, &st, func(ctx context.Context) error { return t.d.Ack(ctx) })
	case errors.Is(err, errAlreadyDone):
		st.Action = ActionSkip
		s.settle(t, &st, func(ctx context.Context) error { return t.d.Ack(ctx) })
	case errors.Is(err, errInProgress):
		st.Action, st.Delay = ActionRedeliver, s.opts.InProgressDelay
		r := Redelivery{Delay: st.Delay, Attempt: env.Attempt, Headers: map[string]string{HeaderAttempt: strconv.Itoa(env.Attempt)}}
		s.settle(t, &st, func(ctx context.Context) error { return t.d.Redeliver(ctx, r) })
	case s.b.hctx.Err() != nil:
		// The bus is closing: whatever failed, the handler did not finish.
		st.Action, st.Err = ActionRequeue, err
		s.settle(t, &st, func(ctx context.Context) error { return t.d.Requeue(ctx) })
	default:
		s.fail(ctx, t, msg, env, &st, err)
	}
	if end != nil {
		end(processErr(err, &st))
	}
}

// fail applies the failure policy to a failed attempt.
func (s *subscription) fail(ctx context.Context, t *tracked, msg Message, env Envelope, st *Settlement, err error) {
	now := time.Now()
	st.Err = err
	first := msg.Headers[HeaderFirstFailure]
	if _, perr := time.Parse(time.RFC3339Nano, first); perr != nil {
		first = now.UTC().Format(time.RFC3339Nano)
	}
	d := decide(s.opts, env.Attempt, err)
	if d.action == ActionRedeliver {
		st.Action, st.Delay = ActionRedeliver, d.delay
		r := Redelivery{Delay: d.delay, Attempt: env.Attempt + 1, Headers: map[string]string{
			HeaderAttempt:      strconv.Itoa(env.Attempt + 1),
			HeaderFirstFailure: first,
			HeaderLastError:    headerSafe(err.Error()),
		}}
		s.b.log.Info("bus: handler failed; redelivering", "subscription", s.name, "type", env.Type, "id", env.ID,
			"attempt", env.Attempt, "delay", d.delay, "err", err)
		s.settle(t, st, func(ctx context.Context) error { return t.d.Redeliver(ctx, r) })
		return
	}
	firstTime, _ := time.Parse(time.RFC3339Nano, first)
	dl := DeadLetter{
		Reason:       d.reason,
		Error:        headerSafe(err.Error()),
		ErrorType:    errorType(err),
		Subscription: s.name,
		Attempts:     env.Attempt,
		FirstFailure: firstTime,
		LastFailure:  now,
	}
	s.deadLetter(ctx, t, st, env, dl)
}

// deadLetterUndecodable dead-letters a message that could not be decoded or has
// no handler; env is zero if the envelope could not be decoded. ctx is the
// observer's.
func (s *subscription) deadLetterUndecodable(ctx context.Context, t *tracked, msg Message, env Envelope, reason DeadLetterReason, err error) {
	now := time.Now()
	attempt, ok := parseAttempt(msg.Headers[HeaderAttempt])
	if !ok {
		attempt = 1
	}
	st := Settlement{Subscription: s.name, EventType: msg.Headers[HeaderType], EventID: msg.Headers[HeaderID], Attempt: attempt, Err: err}
	if env.ID != "" {
		st.EventType, st.EventID = env.Type, env.ID
	}
	first, perr := time.Parse(time.RFC3339Nano, msg.Headers[HeaderFirstFailure])
	if perr != nil {
		first = now
	}
	s.deadLetter(ctx, t, &st, env, DeadLetter{
		Reason:       reason,
		Error:        headerSafe(err.Error()),
		ErrorType:    errorType(err),
		Subscription: s.name,
		Attempts:     attempt,
		FirstFailure: first,
		LastFailure:  now,
	})
}

// deadLetter moves t to the dead-letter queue with dl, and tells the observer
// once it is there; env is zero if the envelope could not be decoded.
func (s *subscription) deadLetter(ctx context.Context, t *tracked, st *Settlement, env Envelope, dl DeadLetter) {
	st.Action, st.Reason = ActionDeadLetter, dl.Reason
	s.b.log.Warn("bus: dead-lettering", "subscription", s.name, "type", st.EventType, "id", st.EventID,
		"reason", string(dl.Reason), "attempts", dl.Attempts, "err", dl.Error)
	settled := s.settle(t, st, func(ctx context.Context) error { return t.d.DeadLetter(ctx, dl) })
	if obs := s.b.opts.Observer; obs != nil && settled && st.SettleErr == nil {
		obs.ObserveDeadLetter(ctx, DeadLetterInfo{System: s.b.system, Subscription: s.name, EventType: env.Type,
			EventID: env.ID, Attempts: dl.Attempts, Reason: dl.Reason, Err: st.Err})
	}
}

// settle runs fn to settle t, unless a shutdown handed t back already (then it
// returns false), and reports the settlement.
func (s *subscription) settle(t *tracked, st *Settlement, fn func(ctx context.Context) error) bool {
	if !t.claim() {
		return false
	}
	ctx := s.b.settleCtx(&t.settleTO)
	st.SettleErr = fn(ctx)
	ctx.stop()
	if st.SettleErr != nil {
		// The broker keeps the message (or gets it back with the connection) and
		// delivers it again; the inbox absorbs a repeat of a handled one.
		s.b.log.Error("bus: settling delivery", "subscription", s.name, "action", st.Action.String(),
			"type", st.EventType, "id", st.EventID, "err", st.SettleErr)
	}
	if t.received != 0 {
		st.Elapsed = time.Since(epoch) - t.received
	}
	if s.b.opts.OnSettle != nil {
		s.b.opts.OnSettle(*st)
	}
	return true
}

// decodeData finds the handler of env's type and decodes the body with the
// codec of env's content type into a new job.
func (s *subscription) decodeData(env Envelope, body []byte) (h *handler, j *job, reason DeadLetterReason, err error) {
	defer func() {
		if r := recover(); r != nil {
			h, j, reason = nil, nil, ReasonUndecodable
			err = &DecodeError{Field: "data", Reason: "the codec panicked", Err: &PanicError{Value: r, Stack: debug.Stack()}}
		}
	}()
	h = s.handlers[env.Type]
	if h == nil {
		return nil, nil, ReasonUnknownType, &UnknownEventTypeError{Type: env.Type, Subscription: s.name}
	}
	codec, ok := s.b.codecs.lookup(env.DataContentType)
	if !ok {
		return nil, nil, ReasonUndecodable, &DecodeError{Field: HeaderContentType, Value: clip(env.DataContentType), Reason: "has no codec"}
	}
	j, err = h.decode(codec, body)
	if err != nil {
		return nil, nil, ReasonUndecodable, &DecodeError{Field: "data", Reason: "is not a valid " + env.Type, Err: err}
	}
	return h, j, "", nil
}

// headerSafe makes error text fit for a header: control characters become
// spaces, and it is cut to 1 KiB.
func headerSafe(s string) string {
	s = truncate(s, maxErrorText)
	if printable(s) {
		return s
	}
	b := []rune(s)
	for i, r := range b {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			b[i] = ' '
		}
	}
	return string(b)
}
