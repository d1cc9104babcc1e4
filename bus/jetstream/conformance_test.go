package jetstream

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/bustest"
)

// TestConformanceEmbedded runs the conformance suite on an embedded server per
// test, in a temporary data directory; the reconnection test stops the server
// and starts it again on the same directory.
func TestConformanceEmbedded(t *testing.T) {
	bustest.Run(t, bustest.Features{
		CutConnection: func(t *testing.T, tr bus.Transport) { restartEmbedded(t, tr.(*Transport), 200*time.Millisecond) },
		Republish:     republish,
		Timeout:       20 * time.Second,
	}, func(t *testing.T) bus.Transport {
		return newEmbedded(t, t.TempDir(), testOptions(""))
	})
}

// TestConformanceExternal runs the conformance suite on the local NATS server,
// each test with streams of its own (deleted at the end) and through a
// toxiproxy, which the reconnection test cuts.
func TestConformanceExternal(t *testing.T) {
	url := externalURL(t)
	upstream := upstreamOf(t, url)
	var mu sync.Mutex
	proxies := map[bus.Transport]*proxy{}
	bustest.Run(t, bustest.Features{
		CutConnection: func(t *testing.T, tr bus.Transport) {
			mu.Lock()
			p := proxies[tr]
			mu.Unlock()
			p.cut(t, 300*time.Millisecond)
		},
		Republish: republish,
		Timeout:   20 * time.Second,
	}, func(t *testing.T) bus.Transport {
		p := newProxy(t, upstream)
		prefix := uniquePrefix("conf")
		t.Cleanup(func() { deleteStreams(t, url, prefix) })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tr, err := Connect(ctx, p.url(), testOptions(prefix))
		if err != nil {
			t.Fatalf("Connect(%s): %v", p.url(), err)
		}
		mu.Lock()
		proxies[tr] = p
		mu.Unlock()
		return tr
	})
}
