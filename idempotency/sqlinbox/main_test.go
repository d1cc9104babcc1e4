package sqlinbox_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the tests, or the child's part of a crash test when the test
// binary is re-executed (see crash_test.go). The store starts no goroutine, and
// the tests close every pool and handle.
func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	goleak.VerifyTestMain(m)
}
