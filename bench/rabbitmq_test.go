package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	rtmetrics "runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/idempotency"
)

// RabbitMQ, measured on the local broker (RAMPART_TEST_AMQP_URL, default
// amqp://guest:guest@127.0.0.1:5672/), every library in the same run, with
// persistent messages of about 120 bytes of JSON:
//
//   - publishing: raw amqp091-go with confirms pipelined 512 deep on one channel,
//     with the body only and (+envelope) with Rampart's envelope encoded
//     beforehand as Rampart's transport sends it (properties and headers);
//     Rampart's bus (envelope, JSON, confirms) from 256 concurrent publishers;
//     watermill-amqp (durable queue config, confirms on, a pool of 16 channels)
//     from 16 concurrent publishers;
//   - consuming a queue filled beforehand with the same messages for every
//     library (Rampart's envelope as its transport sends it): raw amqp091-go
//     with prefetch 256 and one ack per message; Rampart's bus through a typed
//     handler (decode, an in-memory inbox, ack; 16 workers, prefetch 256);
//     watermill-amqp with its durable queue config (prefetch 1) and with
//     prefetch 256, acking each message;
//   - latency from publish to handler at 1,000 msg/s (p50, p99).
//
// One op is one message: ns/op is the time per message, msg/s the rate,
// cpu-ns/msg the CPU time of this process per message (the client's cost, which
// the broker and the machine's other load move much less than the rate),
// writes/msg its write system calls per message, wakeups/msg how often its
// goroutines were woken per message (an estimate from the runtime's samples:
// hand-offs between goroutines cost CPU) and, when the broker runs on this
// machine, broker-cpu-ns/msg the broker's CPU time per message.
// Classic queues compare the three libraries (watermill declares classic queues);
// quorum queues (Rampart's default) compare Rampart with raw amqp091-go.

// benchEvent is the event of the RabbitMQ benchmarks: about 120 bytes of JSON.
type benchEvent struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	Plan       string `json:"plan"`
	Seq        int    `json:"seq"`
}

func newBenchEvent(i int) benchEvent {
	id := fmt.Sprintf("%06d", i%1_000_000)
	return benchEvent{CustomerID: "c-" + id, Email: "customer-" + id + "@example.com", Name: "Customer " + id, Plan: "gold", Seq: i}
}

var benchEventBody = func() []byte {
	b, err := json.Marshal(newBenchEvent(123))
	if err != nil {
		panic(err)
	}
	return b
}()

const (
	rawPipelineDepth  = 512
	rampartPublishers = 256
	watermillPubs     = 16
	consumePrefetch   = 256
	latencyRate       = 1000 // messages per second
	latencyMessages   = 2000
)

// amqpURL returns the broker's URL, or skips the benchmark if nobody listens.
func amqpURL(b *testing.B) string {
	raw := os.Getenv("RAMPART_TEST_AMQP_URL")
	if raw == "" {
		raw = "amqp://guest:guest@127.0.0.1:5672/"
	}
	u, err := url.Parse(raw)
	if err != nil {
		b.Fatalf("RAMPART_TEST_AMQP_URL=%q: %v", raw, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		b.Skipf("RabbitMQ not reachable at %s (set RAMPART_TEST_AMQP_URL): %v", u.Host, err)
	}
	c.Close()
	return raw
}

// rabbitBench is one benchmark's names on the broker: a topic exchange and a
// queue bound to it by the event type, deleted when the benchmark ends.
type rabbitBench struct {
	url, prefix, exchange, queue, typ string
	queueType                         string
	conn                              *amqp.Connection
	ch                                *amqp.Channel
}

func newRabbitBench(b *testing.B, queueType string) *rabbitBench {
	b.Helper()
	r := &rabbitBench{url: amqpURL(b), prefix: fmt.Sprintf("bench-%08x", rand.Uint32()), queueType: queueType}
	r.exchange = r.prefix + ".events"
	r.queue = r.prefix + ".sub"
	r.typ = "bench." + r.prefix + ".customer-created.v1"
	var err error
	if r.conn, err = amqp.Dial(r.url); err != nil {
		b.Fatal(err)
	}
	if r.ch, err = r.conn.Channel(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		// The queues Rampart declares for "sub" with the bus's default delays, or
		// the one queue of the other libraries.
		for _, q := range []string{r.queue, r.queue + ".dlq", r.queue + ".retry.1s", r.queue + ".retry.10s", r.queue + ".retry.1m"} {
			r.ch.QueueDelete(q, false, false, false)
		}
		r.ch.ExchangeDelete(r.exchange, false, false)
		r.conn.Close()
	})
	return r
}

// declareRaw declares the exchange and the queue for the raw and watermill runs.
func (r *rabbitBench) declareRaw(b *testing.B) {
	b.Helper()
	if err := r.ch.ExchangeDeclare(r.exchange, "topic", true, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := r.ch.QueueDeclare(r.queue, true, false, false, false, amqp.Table{"x-queue-type": r.queueType}); err != nil {
		b.Fatal(err)
	}
	if err := r.ch.QueueBind(r.queue, r.typ, r.exchange, false, nil); err != nil {
		b.Fatal(err)
	}
}

func (r *rabbitBench) purge(b *testing.B) {
	b.Helper()
	if _, err := r.ch.QueuePurge(r.queue, false); err != nil {
		b.Fatal(err)
	}
}

// fill publishes n messages to the queue (through the exchange) with raw
// amqp091-go, pipelined, message i being msg(i).
func (r *rabbitBench) fill(b *testing.B, exchange, key string, n int, msg func(i int) amqp.Publishing) {
	b.Helper()
	ch, err := r.conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	pending := make([]*amqp.DeferredConfirmation, 0, rawPipelineDepth)
	for i := range n {
		if len(pending) == rawPipelineDepth {
			if !pending[0].Wait() {
				b.Fatal("fill: nacked")
			}
			pending = pending[1:]
		}
		dc, err := ch.PublishWithDeferredConfirm(exchange, key, false, false, msg(i))
		if err != nil {
			b.Fatal(err)
		}
		pending = append(pending, dc)
	}
	for _, dc := range pending {
		if !dc.Wait() {
			b.Fatal("fill: nacked")
		}
	}
}

// clock is the start of a measurement: wall time, the process's CPU time and the
// local broker's (its pid empty if the broker does not run on this machine).
type clock struct {
	wall      time.Time
	cpu       time.Duration
	brokerPID string
	broker    time.Duration
	writes    int64 // -1 where /proc/self/io is missing
	wakeups   uint64
}

// writeCalls returns the write system calls this process made so far (Linux's
// /proc/self/io), or -1.
func writeCalls() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

func startClock() clock {
	c := clock{wall: time.Now(), cpu: processCPU(), brokerPID: brokerPID(), writes: writeCalls(), wakeups: wakeups()}
	c.broker = brokerCPU(c.brokerPID)
	return c
}

// wakeups estimates how often goroutines of this process went from runnable to
// running so far: the runtime samples the scheduling latency of every 8th such
// transition of a goroutine (/sched/latencies:seconds).
func wakeups() uint64 {
	s := []rtmetrics.Sample{{Name: "/sched/latencies:seconds"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindFloat64Histogram {
		return 0
	}
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return 8 * n
}

// processCPU returns the CPU time (user and system) this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// brokerCPU returns the CPU time (user and system) the local RabbitMQ (process
// pid) used so far, or -1 if pid is empty or gone: with the broker on the same
// cores, its CPU per message tells what a client's choices (headers, channels,
// frames) cost the broker.
func brokerCPU(pid string) time.Duration {
	if pid == "" {
		return -1
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	// The fields after the command (which may hold spaces): the state is the
	// first, utime the 12th and stime the 13th, in clock ticks of 1/100 s.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(u+st) * 10 * time.Millisecond
}

// brokerPID returns the pid of the local RabbitMQ (the beam.smp process), or ""
// if there is none.
func brokerPID() string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if comm, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "beam.smp" {
			return e.Name()
		}
	}
	return ""
}

// reportRate reports n messages since c as msg/s, the client's CPU time per
// message (cpu-ns/msg), which the broker's and the machine's noise do not move,
// its write system calls per message (writes/msg, on Linux), its goroutine
// wake-ups per message (wakeups/msg) and, with a local
// broker, the broker's CPU time per message (broker-cpu-ns/msg, which other
// clients of the broker move).
func reportRate(b *testing.B, n int, c clock) {
	b.ReportMetric(float64(n)/time.Since(c.wall).Seconds(), "msg/s")
	b.ReportMetric(float64(processCPU()-c.cpu)/float64(n), "cpu-ns/msg")
	if end := writeCalls(); c.writes >= 0 && end >= 0 {
		b.ReportMetric(float64(end-c.writes)/float64(n), "writes/msg")
	}
	b.ReportMetric(float64(wakeups()-c.wakeups)/float64(n), "wakeups/msg")
	if end := brokerCPU(c.brokerPID); c.broker >= 0 && end >= 0 {
		b.ReportMetric(float64(end-c.broker)/float64(n), "broker-cpu-ns/msg")
	}
}

// rampartSetup returns a Rampart transport and bus for r, with the subscription
// "sub" declared (and its consumer closed, so that nothing consumes).
func rampartSetup(b *testing.B, r *rabbitBench, inbox bool) (*rabbitmq.Transport, *bus.Bus) {
	b.Helper()
	ctx := context.Background()
	tr, err := rabbitmq.New(ctx, r.url, rabbitmq.Options{Name: "bench", Prefix: r.prefix, QueueType: rabbitmq.QueueType(r.queueType)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	reg := bus.NewRegistry()
	if err := bus.Register[benchEvent](reg, r.typ); err != nil {
		b.Fatal(err)
	}
	o := bus.Options{Source: "/bench", Registry: reg,
		Subscriptions: map[string]bus.SubscriptionOptions{"sub": {Workers: 16, Prefetch: consumePrefetch}}}
	if inbox {
		o.Inbox = idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 1 << 20})
	}
	bb, err := bus.New(tr, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bb.Close() })
	c, err := tr.Subscribe(ctx, bus.Subscription{Name: "sub", EventTypes: []string{r.typ}, Prefetch: 1,
		RedeliveryDelays: []time.Duration{time.Second, 10 * time.Second, time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	c.Close()
	return tr, bb
}

func BenchmarkRabbitPublish(b *testing.B) {
	for _, qt := range []string{"classic", "quorum"} {
		b.Run("queue="+qt+"/lib=amqp091-raw", func(b *testing.B) {
			rawPublish(b, qt, rawPipelineDepth, false)
		})
		b.Run("queue="+qt+"/lib=amqp091-raw+envelope", func(b *testing.B) {
			rawPublish(b, qt, rawPipelineDepth, true)
		})
		b.Run("queue="+qt+"/lib=rampart", func(b *testing.B) {
			r := newRabbitBench(b, qt)
			_, bb := rampartSetup(b, r, false)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := startClock()
			for range min(rampartPublishers, b.N) {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						if err := bb.Publish(ctx, newBenchEvent(i)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			reportRate(b, b.N, start)
		})
		if qt != "classic" {
			continue
		}
		b.Run("queue="+qt+"/lib=watermill-amqp", func(b *testing.B) {
			watermillPublish(b, qt)
		})
	}
}

// rawPublish publishes b.N messages with raw amqp091-go, confirms pipelined depth
// deep on one channel; withEnvelope, each carries Rampart's envelope as its
// transport sends it (encoded beforehand), to tell the broker's cost of the
// envelope from Rampart's own.
func rawPublish(b *testing.B, qt string, depth int, withEnvelope bool) {
	r := newRabbitBench(b, qt)
	msg := func(i int) amqp.Publishing {
		return amqp.Publishing{DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: strconv.Itoa(i), Body: benchEventBody}
	}
	if withEnvelope {
		env := envelope(b, r.typ)
		msgs := make([]amqp.Publishing, b.N)
		for i := range msgs {
			msgs[i] = env(i)
		}
		msg = func(i int) amqp.Publishing { return msgs[i] }
	}
	rawPublishMsgs(b, r, depth, msg)
}

// rawPublishMsgs publishes msg(0) to msg(b.N-1) with raw amqp091-go to r's
// queue (declared here), confirms pipelined depth deep on one channel.
func rawPublishMsgs(b *testing.B, r *rabbitBench, depth int, msg func(i int) amqp.Publishing) {
	r.declareRaw(b)
	ch, err := r.conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	pending := make([]*amqp.DeferredConfirmation, 0, depth)
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	for i := range b.N {
		if len(pending) == depth {
			if !pending[0].Wait() {
				b.Fatal("nacked")
			}
			pending = pending[1:]
		}
		dc, err := ch.PublishWithDeferredConfirm(r.exchange, r.typ, false, false, msg(i))
		if err != nil {
			b.Fatal(err)
		}
		pending = append(pending, dc)
	}
	for _, dc := range pending {
		if !dc.Wait() {
			b.Fatal("nacked")
		}
	}
	reportRate(b, b.N, start)
}

// watermillPublish publishes b.N messages with watermill-amqp from 16
// goroutines over a pool of 16 confirm-mode channels.
func watermillPublish(b *testing.B, qt string) {
	r := newRabbitBench(b, qt)
	r.declareRaw(b)
	cfg := wamqp.NewDurableQueueConfig(r.url)
	cfg.Exchange.GenerateName = wamqp.GenerateExchangeNameConstant(r.exchange)
	cfg.Exchange.Type = "topic"
	cfg.Exchange.Durable = true
	cfg.Publish.GenerateRoutingKey = func(string) string { return r.typ }
	cfg.Publish.ChannelPoolSize = watermillPubs
	cfg.Publish.ConfirmDelivery = true
	pub, err := wamqp.NewPublisher(cfg, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	for range min(watermillPubs, b.N) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := pub.Publish(r.queue, message.NewMessage(watermill.NewUUID(), benchEventBody)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	reportRate(b, b.N, start)
}

func BenchmarkRabbitConsume(b *testing.B) {
	for _, qt := range []string{"classic", "quorum"} {
		b.Run("queue="+qt+"/lib=amqp091-raw", func(b *testing.B) {
			r := newRabbitBench(b, qt)
			r.declareRaw(b)
			r.fill(b, r.exchange, r.typ, b.N, envelope(b, r.typ))
			ch, err := r.conn.Channel()
			if err != nil {
				b.Fatal(err)
			}
			defer ch.Close()
			if err := ch.Qos(consumePrefetch, 0, false); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := startClock()
			deliveries, err := ch.Consume(r.queue, "", false, false, false, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				d := <-deliveries
				if err := d.Ack(false); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N, start)
		})
		b.Run("queue="+qt+"/lib=rampart", func(b *testing.B) {
			r := newRabbitBench(b, qt)
			_, bb := rampartSetup(b, r, true)
			r.fill(b, r.exchange, r.typ, b.N, envelope(b, r.typ))
			handled := countHandled[benchEvent](b, bb, "sub", b.N)
			b.ReportAllocs()
			b.ResetTimer()
			start := startClock()
			if err := bb.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			handled.wait(b, 2*time.Minute)
			reportRate(b, b.N, start)
			b.StopTimer()
			bb.Close()
		})
		if qt != "classic" {
			continue
		}
		b.Run("queue="+qt+"/lib=watermill-amqp", func(b *testing.B) {
			watermillConsume(b, qt, 0) // the durable queue config's prefetch: 1
		})
		b.Run("queue="+qt+"/lib=watermill-amqp-prefetch256", func(b *testing.B) {
			watermillConsume(b, qt, consumePrefetch)
		})
	}
}

// watermillConsume consumes b.N messages with watermill-amqp's durable queue
// config, with its prefetch (1) or the given one, acking each.
func watermillConsume(b *testing.B, qt string, prefetch int) {
	r := newRabbitBench(b, qt)
	r.declareRaw(b)
	env := envelope(b, r.typ)
	r.fill(b, "", r.queue, b.N, func(i int) amqp.Publishing {
		p := env(i)
		p.Headers["_watermill_message_uuid"] = watermill.NewUUID()
		return p
	})
	cfg := wamqp.NewDurableQueueConfig(r.url)
	if prefetch > 0 {
		cfg.Consume.Qos.PrefetchCount = prefetch
	}
	sub, err := wamqp.NewSubscriber(cfg, watermill.NopLogger{})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	start := startClock()
	msgs, err := sub.Subscribe(ctx, r.queue)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		m := <-msgs
		m.Ack()
	}
	reportRate(b, b.N, start)
}

// envelope returns message i as Rampart's transport publishes it: the envelope
// attributes that AMQP has a basic property for (ce-id, ce-type, content-type) in
// the properties, the others in the one header rampart-ce, persistent. It is
// made by hand: bus/rabbitmq's TestEnvelopeInProperties checks the same form on
// the broker, so a change of the form fails there and is to be made here too.
func envelope(b *testing.B, typ string) func(i int) amqp.Publishing {
	return func(i int) amqp.Publishing {
		id, err := bus.NewID()
		if err != nil {
			b.Fatal(err)
		}
		m, err := bus.EncodeEnvelope(bus.Envelope{ID: id, Source: "/bench", Type: typ, Time: time.Now(), DataContentType: "application/json"}, benchEventBody)
		if err != nil {
			b.Fatal(err)
		}
		// The compact form: ID, type and content type in properties, source and
		// time in the one header rampart-ce (specversion 1.0
		// implied, no attempt on the first delivery).
		return amqp.Publishing{DeliveryMode: amqp.Persistent, MessageId: m.ID, Type: m.Type, ContentType: m.Headers[bus.HeaderContentType],
			AppId: "bench", Body: m.Body,
			Headers: amqp.Table{"rampart-ce": "source=" + m.Headers[bus.HeaderSource] + ",time=" + m.Headers[bus.HeaderTime]}}
	}
}

// BenchmarkRabbitLatency publishes latencyMessages messages at latencyRate and
// reports the time from the call to publish to the handler (p50, p99). The count
// is fixed: ns/op is meaningless.
func BenchmarkRabbitLatency(b *testing.B) {
	b.Run("queue=quorum/lib=rampart", func(b *testing.B) {
		r := newRabbitBench(b, "quorum")
		_, bb := rampartSetup(b, r, true)
		lat := make([]time.Duration, latencyMessages)
		var got atomic.Int64
		done := make(chan struct{})
		sent := make([]time.Time, latencyMessages)
		if err := bus.Handle(bb, "sub", func(ctx context.Context, e benchEvent, m bus.Meta) error {
			lat[e.Seq] = time.Since(sent[e.Seq])
			if got.Add(1) == latencyMessages {
				close(done)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if err := bb.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			paced(b, latencyMessages, func(i int) {
				sent[i] = time.Now()
				if err := bb.Publish(context.Background(), newBenchEvent(i)); err != nil {
					b.Error(err)
				}
			})
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatalf("handled %d of %d messages in a minute", got.Load(), latencyMessages)
			}
		}
		reportLatency(b, lat)
	})
	b.Run("queue=quorum/lib=amqp091-raw", func(b *testing.B) {
		r := newRabbitBench(b, "quorum")
		r.declareRaw(b)
		lat := make([]time.Duration, latencyMessages)
		sent := make([]time.Time, latencyMessages)
		cch, err := r.conn.Channel()
		if err != nil {
			b.Fatal(err)
		}
		if err := cch.Qos(consumePrefetch, 0, false); err != nil {
			b.Fatal(err)
		}
		deliveries, err := cch.Consume(r.queue, "", false, false, false, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for n := 0; n < latencyMessages; n++ {
				d := <-deliveries
				var e benchEvent
				if err := json.Unmarshal(d.Body, &e); err != nil {
					b.Error(err)
					return
				}
				lat[e.Seq] = time.Since(sent[e.Seq])
				d.Ack(false)
			}
		}()
		pconn, err := amqp.Dial(r.url)
		if err != nil {
			b.Fatal(err)
		}
		defer pconn.Close()
		pch, err := pconn.Channel()
		if err != nil {
			b.Fatal(err)
		}
		if err := pch.Confirm(false); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			paced(b, latencyMessages, func(i int) {
				body, _ := json.Marshal(newBenchEvent(i))
				sent[i] = time.Now()
				dc, err := pch.PublishWithDeferredConfirm(r.exchange, r.typ, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: body})
				if err != nil || !dc.Wait() {
					b.Error("publish failed", err)
				}
			})
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatal("raw consumer did not get every message in a minute")
			}
		}
		reportLatency(b, lat)
	})
}

// paced calls publish(i) for i in [0, n) at latencyRate, each on its own
// goroutine (an open loop: a slow publish does not delay the next), and waits for
// them all.
func paced(b *testing.B, n int, publish func(i int)) {
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / latencyRate)); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() { publish(i) })
	}
	wg.Wait()
}

func reportLatency(b *testing.B, lat []time.Duration) {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(p float64) float64 { return float64(s[int(p*float64(len(s)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
}

// BenchmarkRabbitHeaderCost publishes the same 120-byte body with raw amqp091-go
// (confirms pipelined 512 deep, one channel, messages made beforehand) and
// different content headers, to tell what a message's properties and header
// table cost the broker: bare (message-id and content-type only, as the other
// raw benchmarks), +props (the basic properties Rampart sets: a 36-byte
// message-id, type, content-type, app-id), then +props with one
// header of 10, 45 and 120 bytes, with the envelope as one header per attribute
// (Rampart's form before the compact one) and in the compact form.
func BenchmarkRabbitHeaderCost(b *testing.B) {
	const id = "0192f7a0-1234-7abc-8def-0123456789ab"
	props := func(h amqp.Table) amqp.Publishing {
		return amqp.Publishing{DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: id,
			Type: "bench.customers.customer-created.v1", AppId: "bench", Body: benchEventBody, Headers: h}
	}
	ts := "2026-11-27T14:55:00.123456789Z"
	variants := []struct {
		name string
		p    amqp.Publishing
	}{
		{"bare", amqp.Publishing{DeliveryMode: amqp.Persistent, ContentType: "application/json", MessageId: "12345", Body: benchEventBody}},
		{"props", props(nil)},
		{"props+header10", props(amqp.Table{"rampart-ce": strings.Repeat("x", 10)})},
		{"props+header45", props(amqp.Table{"rampart-ce": strings.Repeat("x", 45)})},
		{"props+header120", props(amqp.Table{"rampart-ce": strings.Repeat("x", 120)})},
		{"props+envelope-headers", props(amqp.Table{"ce-specversion": "1.0", "ce-source": "/bench", "ce-time": ts, "rampart-attempt": "1",
			"rampart-amqp-props": "ce-id,ce-type,content-type"})},
		{"props+compact", props(amqp.Table{"rampart-ce": "source=/bench,time=" + ts})},
	}
	for _, qt := range []string{"classic", "quorum"} {
		for _, v := range variants {
			b.Run("queue="+qt+"/headers="+v.name, func(b *testing.B) {
				rawPublishMsgs(b, newRabbitBench(b, qt), rawPipelineDepth, func(int) amqp.Publishing { return v.p })
			})
		}
	}
}
