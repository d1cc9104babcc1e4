package wiring_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine of the service outlives its
// Shutdown.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
