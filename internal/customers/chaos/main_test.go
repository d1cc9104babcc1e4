package chaos_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine of the rehearsal, the
// service or the simulators outlives Run.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
