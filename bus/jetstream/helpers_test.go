package jetstream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/internal/testenv"
)

// testOptions are fast-reconnecting transport options for tests.
func testOptions(prefix string) Options {
	return Options{Prefix: prefix, ReconnectWait: 50 * time.Millisecond, PingInterval: time.Second, AckWait: 5 * time.Second}
}

// newEmbedded returns a transport on an embedded server in dir, closed when the
// test ends.
func newEmbedded(t testing.TB, dir string, opts Options) *Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := Embedded(ctx, EmbeddedOptions{DataDir: dir, Options: opts})
	if err != nil {
		t.Fatalf("Embedded(%s): %v", dir, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// restartEmbedded stops tr's embedded server and starts it again on the same
// data directory after downtime, in the background; the test waits for it at
// cleanup. Restarts are serialised as [Transport.RestartServer] serialises them
// (a second call waits until the first has started its server): two overlapping
// restarts would each start a server and leave one running, unreachable.
func restartEmbedded(t testing.TB, tr *Transport, downtime time.Duration) {
	t.Helper()
	e := tr.embedded
	if e == nil {
		t.Fatal("restartEmbedded: the transport has no embedded server")
	}
	e.restarting.Lock() // unlocked by the goroutine below, once the server runs
	e.shutdown()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer e.restarting.Unlock()
		time.Sleep(downtime) // the outage
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if tr.closed.Load() {
			return
		}
		if err := e.start(ctx); err != nil {
			t.Errorf("restarting the embedded server: %v", err)
			return
		}
		if tr.closed.Load() {
			e.shutdown() // Close ran while the server started: do not leave it running
		}
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("the embedded server did not restart within 15s")
		}
	})
}

// republish publishes m again without its Nats-Msg-Id, so that the server does
// not recognise it as a duplicate: bustest.Features.Republish.
func republish(ctx context.Context, tr bus.Transport, m bus.Message) error {
	t := tr.(*Transport)
	nm := t.eventMsg(m)
	delete(nm.Header, "Nats-Msg-Id")
	r := newPubReq(nm)
	if err := t.enqueue(ctx, r); err != nil {
		return err
	}
	return t.wait(ctx, r)
}

// uniquePrefix returns a stream prefix unique to this run.
func uniquePrefix(name string) string {
	return fmt.Sprintf("rt_%s_%08x", name, rand.Uint32())
}

// externalURL returns the URL of the local NATS server, or skips the test.
func externalURL(t testing.TB) string {
	t.Helper()
	return testenv.URL(t, testenv.NATS)
}

// deleteStreams deletes the streams of prefix on the server at url.
func deleteStreams(t testing.TB, url, prefix string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("deleting the streams of %s: %v", prefix, err)
		return
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Errorf("deleting the streams of %s: %v", prefix, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := newNames(prefix)
	for _, s := range []string{n.events, n.dlq, n.redelivery} {
		if err := js.DeleteStream(ctx, s); err != nil && err != natsjs.ErrStreamNotFound {
			t.Errorf("deleting stream %s: %v", s, err)
		}
	}
}

// proxy is a toxiproxy in front of the external server.
type proxy struct {
	p *toxiproxy.Proxy
}

var (
	toxiOnce sync.Once
	toxiSrv  *toxiproxy.ApiServer
)

// newProxy starts a proxy to upstream (host:port) on a free loopback port,
// stopped when the test ends.
func newProxy(t testing.TB, upstream string) *proxy {
	t.Helper()
	toxiOnce.Do(func() {
		toxiSrv = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	})
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + fmt.Sprintf("_%08x", rand.Uint32())
	p := toxiproxy.NewProxy(toxiSrv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return &proxy{p: p}
}

// url is the proxy's nats:// URL.
func (p *proxy) url() string { return "nats://" + p.p.Listen }

// cut closes every connection through the proxy and refuses new ones for
// downtime, in the background; the test waits for the proxy to be back at
// cleanup.
func (p *proxy) cut(t testing.TB, downtime time.Duration) {
	t.Helper()
	p.p.Stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(downtime) // the outage
		for i := 0; ; i++ {
			err := p.p.Start()
			if err == nil {
				return
			}
			if i == 50 {
				t.Errorf("toxiproxy: restarting the proxy: %v", err)
				return
			}
			time.Sleep(20 * time.Millisecond) // the port may still be held: retry, bounded
		}
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("toxiproxy: the proxy did not come back within 5s")
		}
	})
}

// upstreamOf returns the host:port of a nats:// URL.
func upstreamOf(t testing.TB, url string) string {
	t.Helper()
	host := strings.TrimPrefix(url, "nats://")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		t.Fatalf("NATS URL %q: %v", url, err)
	}
	return host
}
