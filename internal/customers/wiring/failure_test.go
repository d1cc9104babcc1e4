package wiring_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/internal/customers/wiring"
)

// TestStartFailures: a start that fails says why, and stops what it started
// (TestMain checks that no goroutine is left).
func TestStartFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	unreachable, err := config.LoadOptions{IgnoreEnv: true}.Parse("test", []byte("bus:\n  transport: rabbitmq\n  url: amqp://guest:guest@127.0.0.1:1/\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		settings wiring.Settings
		want     string
	}{
		{"port in use", wiring.Settings{Addr: busy.Addr().String()}, "listen"},
		{"broker unreachable", wiring.Settings{Addr: "127.0.0.1:0", Config: unreachable}, "bus"},
		{"database unreachable", wiring.Settings{Addr: "127.0.0.1:0", DatabaseURL: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}, "store"},
		{"config file missing", wiring.Settings{Addr: "127.0.0.1:0", ConfigFile: "/nonexistent/customers.yaml"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.settings.DataDir = filepath.Join(t.TempDir(), "data")
			var logs logBuffer
			tc.settings.LogOutput = &logs
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			srv, err := wiring.New(ctx, tc.settings)
			if err == nil {
				srv.Close()
				t.Fatal("New() = nil error; want one")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New() = %v; want an error about %q", err, tc.want)
			}
			if tc.name == "port in use" {
				if _, err := os.Stat(tc.settings.DataDir); !os.IsNotExist(err) {
					t.Errorf("the data directory was created (%v) by an instance that could not listen", err)
				}
			}
		})
	}
}
