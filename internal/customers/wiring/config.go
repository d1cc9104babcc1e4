package wiring

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rampart-go/rampart/config"
)

// DefaultConfig returns the built-in Rampart configuration of the service, for
// the data directory dataDir: the embedded JetStream server in
// dataDir/jetstream (unless RAMPART_BUS__URL names a broker, in getenv), four
// workers per subscription, the Prometheus metrics, and no clients, so that the
// providers' simulators stand in for them.
func DefaultConfig(dataDir string, getenv func(string) string) []byte {
	bus := "bus:\n  transport: jetstream\n  embedded:\n    data_dir: " + strconv.Quote(filepath.Join(dataDir, "jetstream")) + "\n"
	if getenv(config.EnvName("bus.url")) != "" {
		// A broker named in the environment replaces the embedded server; the
		// transport is jetstream unless RAMPART_BUS__TRANSPORT says rabbitmq.
		bus = "bus:\n  transport: jetstream\n"
	}
	return []byte(bus + `  source: /customers
  subscriptions:
    welcome-email: {workers: 4, timeout: 30s}
    vip-email: {workers: 2, timeout: 30s}
    reserve-inventory: {workers: 4, timeout: 30s}
health:
  service_id: customers
  description: the customers reference service
telemetry:
  service_name: customers
  prometheus: true
`)
}

// loadConfig returns the Rampart configuration of s: s.Config, the file
// s.ConfigFile, or the built-in defaults, with the RAMPART_ variables applied
// to either.
func (s *Settings) loadConfig() (*config.Config, error) {
	switch {
	case s.Config != nil:
		return s.Config, nil
	case s.ConfigFile != "":
		return config.Load(s.ConfigFile)
	}
	cfg, err := config.LoadOptions{}.Parse("built-in defaults", DefaultConfig(s.DataDir, os.Getenv))
	if err != nil {
		return nil, fmt.Errorf("customers: the built-in configuration with the RAMPART_ variables: %w", err)
	}
	return cfg, nil
}
