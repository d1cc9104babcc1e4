// Command soak publishes many messages through a Rampart bus on RabbitMQ while a
// typed handler consumes them, and samples the process's memory every second, to
// see whether it stays flat over a long run.
//
//	go run ./cmd/soak -n 1000000 -queue quorum -csv ../docs/soak-rabbitmq.csv
//
// Publishing: the bus (envelope, JSON, publisher confirms) from -publishers
// concurrent goroutines (256), persistent messages of about 120 bytes of JSON.
// Consuming, at the same time: one subscription with a typed handler, an
// in-memory inbox (idempotency.NewMemory, bounded to -inbox-max entries; 0 is
// idempotency.DefaultMaxEntries, 100,000), -workers workers and -prefetch.
//
// Every second it prints one line: elapsed seconds, messages published,
// messages handled, the resident set (VmRSS of /proc/self/status) and the Go
// heap in use (runtime.MemStats.HeapInuse), both in MiB. At the end it prints a
// summary: the RSS and heap range after the warm-up (-warmup), the handled count
// against the published one, duplicate handler runs (an event handled twice),
// settlements other than ack, and the rates. The exchange and the queues, named
// with a random prefix, are deleted at the end.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/rabbitmq"
	"github.com/rampart-go/rampart/idempotency"
)

// event is about 120 bytes of JSON, like the RabbitMQ benchmarks' event.
type event struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	Plan       string `json:"plan"`
	Seq        int    `json:"seq"`
}

func newEvent(i int) event {
	id := fmt.Sprintf("%06d", i%1_000_000)
	return event{CustomerID: "c-" + id, Email: "customer-" + id + "@example.com", Name: "Customer " + id, Plan: "gold", Seq: i}
}

type sample struct {
	elapsed            float64
	published, handled int64
	rss, heap          float64 // MiB
}

func main() {
	var (
		url        = flag.String("url", envOr("RAMPART_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "broker URL")
		n          = flag.Int("n", 1_000_000, "messages to publish")
		queueType  = flag.String("queue", "quorum", "queue type: classic or quorum")
		publishers = flag.Int("publishers", 256, "concurrent publishers")
		workers    = flag.Int("workers", 16, "handler workers")
		prefetch   = flag.Int("prefetch", 256, "consumer prefetch")
		inboxMax   = flag.Int("inbox-max", 0, "in-memory inbox MaxEntries (0: idempotency.DefaultMaxEntries)")
		warmup     = flag.Duration("warmup", 10*time.Second, "samples before this are left out of the RSS range")
		csvPath    = flag.String("csv", "", "also write the samples to this file")
		timeout    = flag.Duration("timeout", 20*time.Minute, "give up after this long")
	)
	flag.Parse()
	if err := run(*url, *n, *queueType, *publishers, *workers, *prefetch, *inboxMax, *warmup, *csvPath, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(url string, n int, queueType string, publishers, workers, prefetch, inboxMax int, warmup time.Duration, csvPath string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	prefix := fmt.Sprintf("soak-%08x", rand.Uint32())
	typ := "soak." + prefix + ".customer-created.v1"
	delays := []time.Duration{time.Second, 10 * time.Second, time.Minute}

	tr, err := rabbitmq.New(ctx, url, rabbitmq.Options{Name: "soak", Prefix: prefix, QueueType: rabbitmq.QueueType(queueType)})
	if err != nil {
		return err
	}
	defer cleanup(url, tr.Exchange(), tr.Queues("sub", delays...))
	defer tr.Close()

	reg := bus.NewRegistry()
	if err := bus.Register[event](reg, typ); err != nil {
		return err
	}
	inbox := idempotency.NewMemory(idempotency.MemoryOptions{MaxEntries: inboxMax})
	var actions [8]atomic.Int64 // settlements by bus.Action
	var settleErrs atomic.Int64
	var firstErr sync.Map // bus.Action -> first error text
	b, err := bus.New(tr, bus.Options{
		Source: "/soak", Registry: reg, Inbox: inbox,
		Subscriptions: map[string]bus.SubscriptionOptions{"sub": {Workers: workers, Prefetch: prefetch, RedeliveryDelays: delays}},
		OnSettle: func(s bus.Settlement) {
			actions[int(s.Action)%len(actions)].Add(1)
			if s.Err != nil {
				firstErr.LoadOrStore(s.Action, s.Err.Error())
			}
			if s.SettleErr != nil {
				settleErrs.Add(1)
			}
		},
	})
	if err != nil {
		return err
	}
	defer b.Close()

	// runs[seq] counts the handler's runs for each event: more than one is a
	// duplicate. Allocated up front (4 bytes a message), so it is in the first
	// sample and constant afterwards.
	runs := make([]atomic.Uint32, n)
	var handled, dups atomic.Int64
	done := make(chan struct{})
	if err := bus.Handle(b, "sub", func(ctx context.Context, e event, m bus.Meta) error {
		if e.Seq < 0 || e.Seq >= n {
			return bus.Permanent(fmt.Errorf("seq %d out of range", e.Seq))
		}
		if runs[e.Seq].Add(1) > 1 {
			dups.Add(1)
			return nil
		}
		if handled.Add(1) == int64(n) {
			close(done)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}

	body, _ := json.Marshal(newEvent(123_456))
	fmt.Printf("# soak: %d messages (%d-byte JSON), queue=%s, prefix=%s, publishers=%d, workers=%d, prefetch=%d, inbox MaxEntries=%d, GOMAXPROCS=%d, %s\n",
		n, len(body), queueType, prefix, publishers, workers, prefetch, effectiveMax(inboxMax), runtime.GOMAXPROCS(0), runtime.Version())

	var out io.Writer = os.Stdout
	var csv *os.File
	if csvPath != "" {
		if csv, err = os.Create(csvPath); err != nil {
			return err
		}
		defer csv.Close()
		out = io.MultiWriter(os.Stdout, csv)
	}
	fmt.Fprintln(out, "elapsed_s,published,handled,rss_mib,heap_inuse_mib")

	start := time.Now()
	cpu0 := processCPU()
	var published atomic.Int64
	var pubErr atomic.Value
	var next atomic.Int64
	var wg sync.WaitGroup
	var pubDone atomic.Int64 // nanoseconds since start when the last publish returned
	for range min(publishers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := b.Publish(ctx, newEvent(i)); err != nil {
					pubErr.CompareAndSwap(nil, err)
					cancel()
					return
				}
				published.Add(1)
			}
		})
	}
	go func() {
		wg.Wait()
		pubDone.Store(int64(time.Since(start)))
	}()

	var samples []sample
	take := func() {
		s := sample{elapsed: time.Since(start).Seconds(), published: published.Load(), handled: handled.Load(), rss: rssMiB(), heap: heapMiB()}
		samples = append(samples, s)
		fmt.Fprintf(out, "%.0f,%d,%d,%.1f,%.1f\n", s.elapsed, s.published, s.handled, s.rss, s.heap)
	}
	take()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var failure error
loop:
	for {
		select {
		case <-tick.C:
			take()
		case <-done:
			break loop
		case <-ctx.Done():
			failure = fmt.Errorf("stopped after %s with %d published and %d handled of %d: %v", time.Since(start).Round(time.Second), published.Load(), handled.Load(), n, context.Cause(ctx))
			break loop
		}
	}
	wg.Wait()
	total := time.Since(start)
	cpu := processCPU() - cpu0
	take()
	if err, _ := pubErr.Load().(error); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if failure != nil {
		return failure
	}
	// Let stragglers (a redelivery, a duplicate) arrive before the counts are read.
	time.Sleep(2 * time.Second)

	var rssMin, rssMax, heapMin, heapMax float64
	first := true
	for _, s := range samples {
		if s.elapsed < warmup.Seconds() {
			continue
		}
		if first {
			rssMin, rssMax, heapMin, heapMax = s.rss, s.rss, s.heap, s.heap
			first = false
		}
		rssMin, rssMax = min(rssMin, s.rss), max(rssMax, s.rss)
		heapMin, heapMax = min(heapMin, s.heap), max(heapMax, s.heap)
	}
	last := samples[len(samples)-1]
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	pubTime := time.Duration(pubDone.Load())
	fmt.Printf("# summary: published=%d handled=%d duplicates=%d settle errors=%d\n",
		published.Load(), handled.Load(), dups.Load(), settleErrs.Load())
	var acts []string
	for a := bus.ActionAck; a <= bus.ActionRequeue; a++ {
		acts = append(acts, fmt.Sprintf("%s=%d", a, actions[a].Load()))
	}
	fmt.Printf("# settlements: %s\n", strings.Join(acts, " "))
	firstErr.Range(func(k, v any) bool {
		fmt.Printf("# first error of %s: %s\n", k, v)
		return true
	})
	fmt.Printf("# time: %s total, %.0f msg/s end to end, publishing done at %s (%.0f msg/s), cpu %.1f us/msg (publish+consume)\n",
		total.Round(time.Millisecond), float64(n)/total.Seconds(), pubTime.Round(time.Millisecond), float64(n)/pubTime.Seconds(), float64(cpu.Microseconds())/float64(n))
	fmt.Printf("# rss after %s warm-up: min %.1f MiB, max %.1f MiB, last %.1f MiB; heap in use: min %.1f, max %.1f, last %.1f MiB; %d samples\n",
		warmup, rssMin, rssMax, last.rss, heapMin, heapMax, last.heap, len(samples))
	fmt.Printf("# inbox entries at the end: %d (MaxEntries %d); goroutines: %d; GC cycles: %d; heap sys %.1f MiB, released %.1f MiB\n",
		inbox.Len(), effectiveMax(inboxMax), runtime.NumGoroutine(), ms.NumGC, float64(ms.HeapSys)/(1<<20), float64(ms.HeapReleased)/(1<<20))
	if handled.Load() != published.Load() || dups.Load() != 0 {
		return fmt.Errorf("handled %d of %d published, %d duplicates", handled.Load(), published.Load(), dups.Load())
	}
	return nil
}

func effectiveMax(m int) int {
	if m <= 0 {
		return idempotency.DefaultMaxEntries
	}
	return m
}

// cleanup deletes the soak's queues and exchange on a connection of its own.
func cleanup(url, exchange string, q rabbitmq.Queues) {
	conn, err := amqp.Dial(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak: cleanup:", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak: cleanup:", err)
		return
	}
	names := []string{q.Work, q.DeadLetter}
	for _, r := range q.Retry {
		names = append(names, r)
	}
	for _, name := range names {
		if _, err := ch.QueueDelete(name, false, false, false); err != nil {
			fmt.Fprintf(os.Stderr, "soak: delete queue %s: %v\n", name, err)
			if ch, err = conn.Channel(); err != nil {
				return
			}
		}
	}
	if err := ch.ExchangeDelete(exchange, false, false); err != nil {
		fmt.Fprintf(os.Stderr, "soak: delete exchange %s: %v\n", exchange, err)
	}
	fmt.Printf("# deleted %d queues and exchange %s\n", len(names), exchange)
}

// rssMiB returns VmRSS of /proc/self/status in MiB.
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) > 0 {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return -1
}

func heapMiB() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
