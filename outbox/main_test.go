package outbox_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the tests, or, when the test binary is re-executed by a crash
// test, the child's part (see crash_test.go). Every test leaves no goroutine
// behind: relays, pools and database handles are closed.
func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	goleak.VerifyTestMain(m)
}
