package wiring

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/config"
)

// settingsOf returns the settings the service would run with: args and env
// parsed as by main, then the config file and the defaults.
func settingsOf(t *testing.T, args []string, env map[string]string) (Settings, *config.Config) {
	t.Helper()
	var out strings.Builder
	s, err := ParseSettings(args, func(k string) string { return env[k] }, &out)
	if err != nil {
		t.Fatalf("ParseSettings(%q) = %v\n%s", args, err, &out)
	}
	cfg, sec, err := s.loadConfig()
	if err != nil {
		t.Fatalf("loadConfig() = %v", err)
	}
	s.applySection(sec)
	s.normalize()
	return s, cfg
}

// TestSettingsFromTheConfigFile: the service's own settings come from the
// file's customers section, over the defaults; RAMPART_CUSTOMERS__ variables
// override the file, flags and CUSTOMERS_ variables override both.
func TestSettingsFromTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "customers.yaml")
	if err := os.WriteFile(path, []byte(`customers:
  data_dir: `+filepath.Join(dir, "state")+`
  jwt_audience: aud-from-file
  charge_interval: 7s
  log_level: debug
bus:
  subscriptions:
    welcome-email: {workers: 9}
health: {drain_delay: 2s}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	s, cfg := settingsOf(t, []string{"-config", path}, nil)
	if s.DataDir != filepath.Join(dir, "state") || s.JWTAudience != "aud-from-file" || s.ChargeInterval != 7*time.Second ||
		s.LogLevel != slog.LevelDebug || s.Addr != "127.0.0.1:8080" || s.ShutdownTimeout != 20*time.Second {
		t.Errorf("settings from the file = %+v; want its data_dir, aud-from-file, 7s, debug, and the defaults for the rest", s)
	}
	if cfg.Bus.Embedded == nil || cfg.Bus.Embedded.DataDir != filepath.Join(dir, "state", "jetstream") {
		t.Errorf("bus.embedded = %+v; want the built-in server in the file's data directory", cfg.Bus.Embedded)
	}
	if w, v := cfg.Bus.Subscriptions["welcome-email"].Workers, cfg.Bus.Subscriptions["vip-email"].Workers; w != 9 || v != 2 {
		t.Errorf("subscription workers = %d, %d; want the file's 9 and the default 2", w, v)
	}
	if cfg.Health.ServiceID != "customers" || cfg.Health.DrainDelay.D() != 2*time.Second {
		t.Errorf("health = %+v; want the default service_id and the file's drain_delay", cfg.Health)
	}
	if len(cfg.Warnings()) != 0 {
		t.Errorf("warnings = %v; want none", cfg.Warnings())
	}

	t.Setenv("RAMPART_CUSTOMERS__CHARGE_INTERVAL", "9s")
	s, _ = settingsOf(t, []string{"-config", path, "-jwt-audience", "aud-from-flag", "-data", filepath.Join(dir, "other")},
		map[string]string{"CUSTOMERS_LOG_LEVEL": "warn"})
	if s.JWTAudience != "aud-from-flag" || s.LogLevel != slog.LevelWarn || s.ChargeInterval != 9*time.Second || s.DataDir != filepath.Join(dir, "other") {
		t.Errorf("settings with flags and variables = %+v; want aud-from-flag, warn, 9s, the flag's data directory", s)
	}
	s, _ = settingsOf(t, []string{"-config", path, "-log-level", "info"}, nil)
	if s.LogLevel != slog.LevelInfo {
		t.Errorf("-log-level info over the file's debug: LogLevel = %v, want INFO", s.LogLevel)
	}
}

// TestConfigFileSectionErrors: mistakes in the customers section are reported
// with the file's line, as those of Rampart's sections are.
func TestConfigFileSectionErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "customers.yaml")
	if err := os.WriteFile(path, []byte("customers:\n  adr: 0.0.0.0:80\n  charge_interval: 5\n  log_level: loud\nbus: {transport: kafka}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errorsOf := func() []string {
		t.Helper()
		_, _, err := (&Settings{ConfigFile: path}).loadConfig()
		var got []string
		for _, e := range config.FieldErrors(err) {
			got = append(got, strings.TrimPrefix(e.Error(), path))
		}
		return got
	}
	// The section's own rules (log_level) wait for its values to decode.
	want := []string{
		":2: customers.adr: unknown key (did you mean addr?)",
		`:3: customers.charge_interval: must be a duration with a unit, such as "250ms" or "2s"; got the bare number 5`,
		":5: bus.transport: must be one of jetstream, memory, rabbitmq, got \"kafka\"",
	}
	if got := errorsOf(); !slices.Equal(got, want) {
		t.Errorf("loadConfig() errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := os.WriteFile(path, []byte("customers:\n  charge_interval: 5s\n  log_level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want = []string{`:3: customers.log_level: must be debug, info, warn or error, got "loud"`}
	if got := errorsOf(); !slices.Equal(got, want) {
		t.Errorf("loadConfig() errors = %q, want %q", got, want)
	}
}

// TestBuiltInDefaultsGiveWayToABroker: without a file, RAMPART_BUS__ variables
// that name a broker replace the built-in embedded server.
func TestBuiltInDefaultsGiveWayToABroker(t *testing.T) {
	t.Setenv("RAMPART_BUS__TRANSPORT", "rabbitmq")
	t.Setenv("RAMPART_BUS__URL", "amqp://guest:guest@127.0.0.1:5672/")
	cfg, sec, err := (&Settings{DataDir: t.TempDir()}).loadConfig()
	if err != nil {
		t.Fatalf("loadConfig() = %v", err)
	}
	if cfg.Bus.Transport != "rabbitmq" || cfg.Bus.Embedded != nil || len(cfg.Bus.Subscriptions) != 3 || sec.Addr != "127.0.0.1:8080" {
		t.Errorf("bus = %+v, section %+v; want rabbitmq without the embedded server, the default subscriptions and addr", cfg.Bus, sec)
	}
}

// TestDatabaseURLErrorHidesTheValue: a database_url that is not a postgres://
// URL, such as a libpq key=value string, is refused without printing it, so
// that its password does not reach the terminal or the logs.
func TestDatabaseURLErrorHidesTheValue(t *testing.T) {
	const dsn = "host=db user=app password=s3cret dbname=x"
	sec := defaultSection()
	sec.DatabaseURL = config.URL(dsn)
	err := sec.Validate()
	if err == nil || !strings.Contains(err.Error(), "database_url") || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("Validate() = %v; want an error about database_url", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Validate() = %q; shows the password", err)
	}

	path := filepath.Join(t.TempDir(), "customers.yaml")
	if err := os.WriteFile(path, []byte("customers:\n  database_url: \""+dsn+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Settings{ConfigFile: path, DataDir: t.TempDir()}
	if _, _, err := s.loadConfig(); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("loading %s = %v; want an error without the password", path, err)
	}
}
