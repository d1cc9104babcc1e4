package idempotency_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Memory starts no goroutine, and Redis none that outlives its client: the tests
// check both.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
