package httpx_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rampart-go/rampart/resilience"
)

// TestMain fails the package's tests if any goroutine outlives them. The pipes of
// toxiproxy's links may outlive a stopped proxy, blocked on a send that nobody reads
// any more: they are the peer's goroutines, not ours.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).write"),
	)
}

// fastBackoff keeps retries against real servers quick: 1ms, 2ms, 4ms, capped at
// 5ms, without jitter.
var fastBackoff = resilience.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond, Jitter: resilience.JitterNone}
