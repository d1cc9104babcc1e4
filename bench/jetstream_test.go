package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/jetstream"
	"github.com/rampart-go/rampart/idempotency"
)

// NATS JetStream, on an embedded server (in-process connection, file storage
// in a temporary directory) and on the local server (RAMPART_TEST_NATS_URL,
// default nats://127.0.0.1:4222), every library in one process, each run on a
// server of its own (see jsKind), into the same kind of stream (Rampart's events stream: interest retention, file storage,
// a durable consumer bound so that messages are kept) with messages of about
// 120 bytes of JSON, each with a Nats-Msg-Id:
//
//   - publishing: raw nats.go synchronous (one PublishMsg at a time), raw
//     nats.go asynchronous with 256 in flight (PublishMsgAsync,
//     PublishAsyncMaxPending 256), the same with Rampart's envelope headers in
//     full (+envelope) and in the transport's compact form (+compact:
//     Nats-Msg-Id, and the envelope's other headers as the entries of one
//     Rampart-Ce header), and Rampart's bus (envelope, JSON, each Publish
//     waiting for its ack) from 256 concurrent publishers with MaxInFlight 256,
//     and its PublishBatch (rampart-batch: 4 publishers, each with a batch of
//     64 events awaiting its acks);
//   - consuming a stream filled beforehand through Rampart's transport with the
//     same messages (Rampart's envelope in headers, as its publishers store
//     it): raw nats.go Consume with 256 messages pulled ahead and one ack per
//     message; the same doing the bus's work by hand in its callback
//     (+decode+inbox: the bus's JSON codec into the event type, the in-memory
//     inbox's claim and mark, the ack); Rampart's bus through a typed handler
//     (envelope checks, decode, an in-memory inbox, ack; 16 workers, prefetch
//     256), and the same without the inbox (rampart-noinbox: no duplicate
//     detection, as the raw consumer).
//
// lib=rampart-transport publishes messages with the envelope encoded beforehand
// through the transport alone, from 256 publishers: the transport's share of
// the bus's cost. One op is one message: ns/op is the time per message, msg/s
// the rate, and cpu-ns/msg the CPU time of the whole process per message (with
// the embedded server, the server's too), which the machine's other load
// disturbs less than the rate. Rampart's publishers take events made beforehand
// (jsEvents), as the raw ones take a body encoded beforehand; the bus still
// encodes each event (JSON, envelope, ID) in the measured part. BENCH_REVERSE
// set (to any value) runs each server's sub-benchmarks in the reverse order
// (see jsRunAll). BENCH_PUBS sets the number of Rampart publishers,
// BENCH_WORKERS the number of workers of Rampart's consuming bus;
// BENCH_EMB_TCP=1 adds an embedded server reached over loopback TCP instead of
// the in-process connection.

const (
	jsInFlight = 256
	jsPrefetch = 256
	jsWorkers  = 16
)

// jsEvent is the event of the JetStream benchmarks: about 120 bytes of JSON.
type jsEvent struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	Plan       string `json:"plan"`
	Seq        int    `json:"seq"`
}

func newJSEvent(i int) jsEvent {
	id := fmt.Sprintf("%06d", i%1_000_000)
	return jsEvent{CustomerID: "c-" + id, Email: "customer-" + id + "@example.com", Name: "Customer " + id, Plan: "gold", Seq: i}
}

// jsEvents are the events Rampart's publishers publish, 1024 of them, made
// beforehand as the raw publishers' body is: the benchmarks measure publishing,
// not the making of events (with fmt.Sprintf, about 2 µs of CPU each here).
var jsEvents = func() []jsEvent {
	es := make([]jsEvent, 1024)
	for i := range es {
		es[i] = newJSEvent(i)
	}
	return es
}()

var jsEventBody = func() []byte {
	b, err := json.Marshal(newJSEvent(123))
	if err != nil {
		panic(err)
	}
	return b
}()

// jsServer is the server of one run of a sub-benchmark: a Rampart transport
// with streams of a prefix of its own, and a raw nats.go connection to the
// same server (on the embedded server, the transport's own in-process
// connection).
type jsServer struct {
	prefix string
	tr     *jetstream.Transport
	nc     *nats.Conn
}

// jsKind is a kind of server the benchmarks run on. open gives each run of a
// sub-benchmark a server of its own: a new embedded server, or new streams on
// the local one (deleted after the run). A server that earlier runs used holds
// what they left — above all the event IDs of its duplicate window (two
// minutes), which with the embedded server the process's garbage collector
// scans at every cycle — and would favour whichever library runs first.
type jsKind struct {
	name string
	open func(b *testing.B) jsServer
}

// jsKinds returns the embedded server and, if it answers, the local one.
func jsKinds(b *testing.B) []jsKind {
	b.Helper()
	opts := func() jetstream.Options {
		return jetstream.Options{Prefix: fmt.Sprintf("bench%08x", rand.Uint32()), MaxInFlight: jsInFlight}
	}
	embedded := func(b *testing.B, listen string, o jetstream.Options) *jetstream.Transport {
		b.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		emb, err := jetstream.Embedded(ctx, jetstream.EmbeddedOptions{DataDir: b.TempDir(), Listen: listen, Options: o})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { emb.Close() })
		return emb
	}
	kinds := []jsKind{{name: "embedded", open: func(b *testing.B) jsServer {
		o := opts()
		emb := embedded(b, "", o)
		return jsServer{prefix: o.Prefix, tr: emb, nc: emb.Conn()}
	}}}
	// connect connects a transport and a raw connection to url, with streams of
	// their own that go after the run.
	connect := func(b *testing.B, url string, o jetstream.Options) jsServer {
		b.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tr, err := jetstream.Connect(ctx, url, o)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		nc, err := nats.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { // before tr.Close
			js, _ := natsjs.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, s := range []string{"_EVENTS", "_DLQ", "_REDELIVERY"} {
				js.DeleteStream(ctx, o.Prefix+s)
			}
			nc.Close()
		})
		return jsServer{prefix: o.Prefix, tr: tr, nc: nc}
	}
	if os.Getenv("BENCH_EMB_TCP") != "" {
		kinds = append(kinds, jsKind{name: "embedded-tcp", open: func(b *testing.B) jsServer {
			o := opts()
			return connect(b, embedded(b, "127.0.0.1:0", o).ClientURL(), o)
		}})
	}
	raw := os.Getenv("RAMPART_TEST_NATS_URL")
	if raw == "" {
		raw = "nats://127.0.0.1:4222"
	}
	if u, err := url.Parse(raw); err == nil {
		if c, err := net.DialTimeout("tcp", u.Host, 2*time.Second); err == nil {
			c.Close()
			kinds = append(kinds, jsKind{name: "external", open: func(b *testing.B) jsServer { return connect(b, raw, opts()) }})
		} else {
			b.Logf("NATS not reachable at %s (set RAMPART_TEST_NATS_URL): external server skipped", u.Host)
		}
	}
	return kinds
}

// jsRound is one run of a sub-benchmark: an event type and a subscription of its
// own, whose durable consumer exists (and keeps the messages) before anything is
// published.
type jsRound struct {
	s       jsServer
	typ     string
	subject string
	sub     string
}

func newJSRound(b *testing.B, s jsServer) *jsRound {
	b.Helper()
	id := fmt.Sprintf("r%08x", rand.Uint32())
	r := &jsRound{s: s, typ: "bench." + id + ".customer-created.v1", sub: id}
	r.subject = jsSubject(s, r.typ)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := s.tr.Subscribe(ctx, bus.Subscription{Name: r.sub, EventTypes: []string{r.typ}, Prefetch: 1, AckWait: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	c.Close() // the consumer, and the messages it keeps, go with the run's server
	return r
}

// jsSubject and jsEventsStream follow the transport's naming: stream
// "<prefix>_EVENTS", subjects "<prefix>.events.<type>".
func jsSubject(s jsServer, typ string) string { return s.prefix + ".events." + typ }
func jsEventsStream(s jsServer) string        { return s.prefix + "_EVENTS" }

// jsBus returns a bus on the server's transport, with the round's event type
// registered and its subscription configured like the RabbitMQ benchmarks'.
func jsBus(b *testing.B, r *jsRound, inbox bool) *bus.Bus {
	b.Helper()
	reg := bus.NewRegistry()
	if err := bus.Register[jsEvent](reg, r.typ); err != nil {
		b.Fatal(err)
	}
	o := bus.Options{Source: "/bench", Registry: reg,
		Subscriptions: map[string]bus.SubscriptionOptions{r.sub: {Workers: envInt("BENCH_WORKERS", jsWorkers), Prefetch: jsPrefetch}}}
	if inbox {
		o.Inbox = idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 1 << 20})
	}
	bb, err := bus.New(r.s.tr, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bb.Close() })
	return bb
}

// jsEnvelopeHeader returns a function that builds the NATS header of Rampart's
// envelope, with a new event ID (also the Nats-Msg-Id and the correlation ID)
// each time: every header (the full form), or as the transport sends it by
// default (compact: Nats-Msg-Id and one Rampart-Ce header whose entries are
// the envelope headers but ce-specversion, ce-id and ce-type, the correlation
// ID a bare entry since it is the event ID; none of the values here needs
// escaping).
func jsEnvelopeHeader(b *testing.B, typ string, compact bool) func() nats.Header {
	b.Helper()
	m := jsEnvelope(b, typ)
	return func() nats.Header {
		id, _ := bus.NewID()
		if compact {
			ce := "source=" + m.Headers[bus.HeaderSource] + ",time=" + m.Headers[bus.HeaderTime] +
				",datacontenttype=" + m.Headers[bus.HeaderContentType] + ",correlationid,subject=" + m.Headers[bus.HeaderSubject]
			return nats.Header{natsjs.MsgIDHeader: {id}, "Rampart-Ce": {ce}}
		}
		h := make(nats.Header, len(m.Headers)+1)
		for k, v := range m.Headers {
			h[k] = []string{v}
		}
		h[bus.HeaderID] = []string{id}
		h[bus.HeaderCorrelationID] = []string{id}
		h[natsjs.MsgIDHeader] = []string{id}
		return h
	}
}

// jsFill publishes n messages with Rampart's envelope to the round's subject
// through the transport, from 256 publishers: the stream then holds what
// Rampart's publishers store (the transport's compact header form), and both
// consumers, raw and Rampart's, read the same messages.
func jsFill(b *testing.B, r *jsRound, n int) {
	b.Helper()
	tmpl := jsEnvelope(b, r.typ)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(jsInFlight, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				id, _ := bus.NewID()
				m := tmpl.WithHeaders(map[string]string{bus.HeaderID: id, bus.HeaderCorrelationID: id})
				m.ID = id
				if err := r.s.tr.Publish(ctx, m); err != nil {
					b.Errorf("fill: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// jsEnvelope returns a message with Rampart's envelope of type typ, for a
// template: give each copy an ID of its own.
func jsEnvelope(b *testing.B, typ string) bus.Message {
	b.Helper()
	id, _ := bus.NewID()
	m, err := bus.EncodeEnvelope(bus.Envelope{ID: id, Source: "/bench", Type: typ, Time: time.Now(),
		DataContentType: "application/json", CorrelationID: id, Subject: "c-000123"}, jsEventBody)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// jsReportRate reports the rate, and the CPU time of the whole process (client,
// and the embedded server if any) per message since cpu0 (from jsCPU): it
// depends less than the rate on what else runs on the machine.
func jsReportRate(b *testing.B, n int, elapsed, cpu0 time.Duration) {
	if os.Getenv("BENCH_PROFILE_DIR") != "" {
		pprof.StopCPUProfile()
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msg/s")
	b.ReportMetric(float64((jsCPU(b)-cpu0).Nanoseconds())/float64(n), "cpu-ns/msg")
}

// jsStart returns the time and the CPU time (jsCPU) at the start of the
// measured part of a benchmark. With BENCH_PROFILE_DIR set (and no
// -cpuprofile), it also starts a CPU profile of that part alone, which
// jsReportRate stops: <dir>/<benchmark name>.prof.
func jsStart(b *testing.B) (time.Time, time.Duration) {
	if dir := os.Getenv("BENCH_PROFILE_DIR"); dir != "" {
		name := strings.NewReplacer("/", "_", "=", "-").Replace(b.Name())
		f, err := os.Create(filepath.Join(dir, name+".prof"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
	}
	return time.Now(), jsCPU(b)
}

// envInt returns the integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// jsCPU returns the CPU time (user and system) the process has used so far.
func jsCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkJetStreamPublish(b *testing.B) {
	for _, k := range jsKinds(b) {
		var runs []jsRun
		runs = append(runs, jsRun{"nats-sync", func(b *testing.B) {
			s := k.open(b)
			r := newJSRound(b, s)
			js, err := natsjs.New(s.nc)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := jsStart(b)
			for i := range b.N {
				if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: r.subject, Data: jsEventBody},
					natsjs.WithMsgID(fmt.Sprintf("%s-%d", r.sub, i))); err != nil {
					b.Fatal(err)
				}
			}
			jsReportRate(b, b.N, time.Since(start), cpu0)
		}})
		for _, envelope := range []string{"", "+envelope", "+compact"} {
			runs = append(runs, jsRun{"nats-async" + envelope, func(b *testing.B) {
				s := k.open(b)
				r := newJSRound(b, s)
				js, err := natsjs.New(s.nc, natsjs.WithPublishAsyncMaxPending(jsInFlight))
				if err != nil {
					b.Fatal(err)
				}
				header := jsEnvelopeHeader(b, r.typ, envelope == "+compact")
				b.ReportAllocs()
				b.ResetTimer()
				start, cpu0 := jsStart(b)
				for i := range b.N {
					m := &nats.Msg{Subject: r.subject, Data: jsEventBody}
					var opts []natsjs.PublishOpt
					if envelope != "" {
						m.Header = header()
					} else {
						opts = []natsjs.PublishOpt{natsjs.WithMsgID(fmt.Sprintf("%s-%d", r.sub, i))}
					}
					opts = append(opts, natsjs.WithStallWait(time.Minute))
					if _, err := js.PublishMsgAsync(m, opts...); err != nil {
						b.Fatal(err)
					}
				}
				select {
				case <-js.PublishAsyncComplete():
				case <-time.After(time.Minute):
					b.Fatalf("%d publishes not acknowledged after a minute", js.PublishAsyncPending())
				}
				jsReportRate(b, b.N, time.Since(start), cpu0)
			}})
		}
		runs = append(runs, jsRun{"rampart-transport", func(b *testing.B) {
			s := k.open(b)
			// The transport alone: messages with Rampart's envelope, encoded
			// beforehand but for a new ID each, from 256 concurrent publishers.
			r := newJSRound(b, s)
			tmpl := jsEnvelope(b, r.typ)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := jsStart(b)
			for range min(jsInFlight, b.N) {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						id, _ := bus.NewID()
						m := tmpl.WithHeaders(map[string]string{bus.HeaderID: id, bus.HeaderCorrelationID: id})
						m.ID = id
						if err := s.tr.Publish(ctx, m); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			jsReportRate(b, b.N, time.Since(start), cpu0)
		}})
		runs = append(runs, jsRun{"rampart", func(b *testing.B) {
			s := k.open(b)
			r := newJSRound(b, s)
			bb := jsBus(b, r, false)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := jsStart(b)
			for range min(envInt("BENCH_PUBS", jsInFlight), b.N) {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						if err := bb.Publish(ctx, jsEvents[i%len(jsEvents)]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			jsReportRate(b, b.N, time.Since(start), cpu0)
		}})
		runs = append(runs, jsRun{"rampart-batch", func(b *testing.B) {
			s := k.open(b)
			// Bus.PublishBatch: the same in-flight bound as the raw asynchronous
			// publisher (256), as 4 publishers each with a batch of 64 events
			// awaiting its confirmations.
			const publishers, batch = 4, jsInFlight / 4
			r := newJSRound(b, s)
			bb := jsBus(b, r, false)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := jsStart(b)
			for range publishers {
				wg.Go(func() {
					events := make([]any, 0, batch)
					for {
						first := int(next.Add(batch)) - batch
						if first >= b.N {
							return
						}
						events = events[:0]
						for i := first; i < min(first+batch, b.N); i++ {
							events = append(events, jsEvents[i%len(jsEvents)])
						}
						if err := bb.PublishBatch(ctx, events); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			jsReportRate(b, b.N, time.Since(start), cpu0)
		}})
		jsRunAll(b, k, runs)
	}
}

func BenchmarkJetStreamConsume(b *testing.B) {
	for _, k := range jsKinds(b) {
		var runs []jsRun
		for _, work := range []bool{false, true} {
			name := "nats"
			if work {
				// A hand-written consumer doing the bus's work but its envelope
				// checks: JSON into the event type (the bus's codec), the same
				// in-memory inbox claimed and marked with the event ID, then the
				// ack, all in nats.go's callback.
				name = "nats+decode+inbox"
			}
			runs = append(runs, jsConsumeRaw(k, name, work))
		}
		for _, lib := range []string{"rampart", "rampart-noinbox"} {
			runs = append(runs, jsRun{lib, func(b *testing.B) {
				s := k.open(b)
				r := newJSRound(b, s)
				bb := jsBus(b, r, lib == "rampart")
				jsFill(b, r, b.N)
				handled := countHandled[jsEvent](b, bb, r.sub, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				start, cpu0 := jsStart(b)
				if err := bb.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				handled.wait(b, 2*time.Minute)
				jsReportRate(b, b.N, time.Since(start), cpu0)
				b.StopTimer()
			}})
		}
		jsRunAll(b, k, runs)
	}
}

// jsConsumeRaw is the raw nats.go consumer of BenchmarkJetStreamConsume: with
// work, it also does what the bus does for a message but the envelope's checks.
func jsConsumeRaw(k jsKind, name string, work bool) jsRun {
	return jsRun{name, func(b *testing.B) {
		s := k.open(b)
		r := newJSRound(b, s)
		jsFill(b, r, b.N)
		inbox := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: 1 << 20})
		js, err := natsjs.New(s.nc)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cons, err := js.Consumer(ctx, jsEventsStream(s), r.sub)
		if err != nil {
			b.Fatal(err)
		}
		var handled atomic.Int64
		done := make(chan struct{})
		n := int64(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		start, cpu0 := jsStart(b)
		cc, err := cons.Consume(func(m natsjs.Msg) {
			if work {
				var e jsEvent
				if err := (bus.JSON{}).Unmarshal(m.Data(), &e); err != nil {
					b.Error(err)
				}
				k := idempotency.Key{Consumer: r.sub, MessageID: m.Headers().Get(natsjs.MsgIDHeader)}
				st, tok, err := inbox.Claim(context.Background(), k, time.Minute)
				if err != nil || st != idempotency.Claimed {
					b.Errorf("claim %v: %v, %v", k, st, err)
				}
				if err := inbox.Done(context.Background(), k, tok); err != nil {
					b.Error(err)
				}
			}
			if err := m.Ack(); err != nil {
				b.Error(err)
			}
			if handled.Add(1) == n {
				close(done)
			}
		}, natsjs.PullMaxMessages(jsPrefetch))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Stop()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			b.Fatalf("%d of %d messages consumed after 2 minutes", handled.Load(), n)
		}
		jsReportRate(b, b.N, time.Since(start), cpu0)
	}}
}

// jsRun is one sub-benchmark of a server: the library (lib=) and its function.
type jsRun struct {
	lib string
	fn  func(b *testing.B)
}

// jsRunAll runs the sub-benchmarks of a kind of server in the order given, or
// in the reverse order with BENCH_REVERSE set. Each has a server of its own
// (see jsKind), but runs in the process that those before it used: the runs
// recorded alternate the two orders rather than always favour the first.
func jsRunAll(b *testing.B, k jsKind, runs []jsRun) {
	if os.Getenv("BENCH_REVERSE") != "" {
		slices.Reverse(runs)
	}
	for _, r := range runs {
		b.Run("server="+k.name+"/lib="+r.lib, r.fn)
	}
}
