package wiring

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-go/rampart/config"
)

// SectionName is the service's own section of the config file.
const SectionName = "customers"

// Section is the service's own section of the config file, "customers": the
// settings of [Settings] a file may hold, with the same meaning. Every key is
// optional; the defaults are those of Settings. In YAML:
//
//	customers:
//	  addr: 0.0.0.0:8080
//	  data_dir: /var/lib/customers
//	  database_url: postgres://customers:password@db:5432/customers
//	  jwks_url: https://idp.example/.well-known/jwks.json
//	  jwt_issuer: https://idp.example
//	  charge_interval: 10s
//
// A flag or a CUSTOMERS_ variable overrides a key, and so does a RAMPART_
// variable (RAMPART_CUSTOMERS__ADDR=:9090). The file is checked as strictly as
// Rampart's sections: an unknown key, a duration without a unit or an unknown
// log level is an error that names its line.
type Section struct {
	Addr            string          `yaml:"addr"`             // HTTP listen address
	DataDir         string          `yaml:"data_dir"`         // SQLite, embedded JetStream, development token
	DatabaseURL     config.URL      `yaml:"database_url"`     // postgres://; empty means SQLite in data_dir
	JWKSURL         string          `yaml:"jwks_url"`         // the token issuer's keys; empty means a development key
	JWTIssuer       string          `yaml:"jwt_issuer"`       // required "iss"; required with jwks_url
	JWTAudience     string          `yaml:"jwt_audience"`     // required "aud"
	JWTScope        string          `yaml:"jwt_scope"`        // scope the write endpoints need
	DevTokenTTL     config.Duration `yaml:"dev_token_ttl"`    // lifetime of the development token
	ShutdownTimeout config.Duration `yaml:"shutdown_timeout"` // bound on a graceful shutdown
	ChargeInterval  config.Duration `yaml:"charge_interval"`  // how often pending payments are charged again
	LogLevel        string          `yaml:"log_level"`        // debug, info, warn or error
}

// defaultSection returns the defaults of the service's settings.
func defaultSection() *Section {
	return &Section{
		Addr:            "127.0.0.1:8080",
		DataDir:         "data",
		JWTAudience:     "customers",
		JWTScope:        "customers:write",
		DevTokenTTL:     config.Duration(time.Hour),
		ShutdownTimeout: config.Duration(20 * time.Second),
		ChargeInterval:  config.Duration(5 * time.Second),
		LogLevel:        "info",
	}
}

// Validate checks the section's own rules; package config reports each
// problem at its line.
func (s *Section) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &config.FieldError{Path: key, Msg: fmt.Sprintf(format, args...)})
	}
	for key, v := range map[string]string{"addr": s.Addr, "data_dir": s.DataDir, "jwt_audience": s.JWTAudience, "jwt_scope": s.JWTScope} {
		if strings.TrimSpace(v) == "" {
			bad(key, "must not be empty (leave the key out for the default)")
		}
	}
	if s.DatabaseURL != "" && !isPostgresURL(string(s.DatabaseURL)) {
		// Never the value: a key=value DSN holds its password in plain sight.
		bad("database_url", "must be a postgres:// URL (got a value without that scheme)")
	}
	if s.JWKSURL != "" && !strings.HasPrefix(s.JWKSURL, "https://") && !strings.HasPrefix(s.JWKSURL, "http://") {
		bad("jwks_url", "must be an http or https URL, got %s", strconv.Quote(s.JWKSURL))
	}
	for key, d := range map[string]config.Duration{"dev_token_ttl": s.DevTokenTTL, "shutdown_timeout": s.ShutdownTimeout, "charge_interval": s.ChargeInterval} {
		if d <= 0 {
			bad(key, "must be above zero, got %s", d)
		}
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s.LogLevel)); err != nil {
		bad("log_level", "must be debug, info, warn or error, got %s", strconv.Quote(s.LogLevel))
	}
	return errors.Join(errs...)
}

// isPostgresURL reports whether dsn is a postgres:// or postgresql:// URL.
func isPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// DefaultConfig returns the built-in configuration of the service, for the data
// directory dataDir, in the schema of the config file: the embedded JetStream
// server in dataDir/jetstream (which gives way to a broker the file or
// RAMPART_BUS__URL names), four workers per subscription, the Prometheus
// metrics, and no clients, so that the providers' simulators stand in for them.
// A config file is layered over it ([ConfigOptions]).
func DefaultConfig(dataDir string) []byte {
	return []byte(`bus:
  transport: jetstream
  embedded:
    data_dir: ` + strconv.Quote(filepath.Join(dataDir, "jetstream")) + `
  source: /customers
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

// ConfigOptions returns how the service loads its config file, for the data
// directory dataDir: over the built-in defaults ([DefaultConfig]), with its
// own section "customers" ([Section]), which [config.Config.Section] returns.
func ConfigOptions(dataDir string) config.LoadOptions {
	return config.LoadOptions{
		Defaults:     DefaultConfig(dataDir),
		DefaultsName: "built-in defaults",
		Sections:     map[string]any{SectionName: defaultSection()},
	}
}

// loadConfig returns the configuration of s: s.Config, or the file
// s.ConfigFile over the built-in defaults, or the defaults alone, with the
// RAMPART_ variables applied; and the service's section of it.
func (s *Settings) loadConfig() (*config.Config, *Section, error) {
	if s.Config != nil {
		sec, ok := s.Config.Section(SectionName).(*Section)
		if !ok {
			sec = defaultSection()
		}
		return s.Config, sec, nil
	}
	load := func(dataDir string) (*config.Config, *Section, error) {
		opts := ConfigOptions(dataDir)
		var cfg *config.Config
		var err error
		if s.ConfigFile != "" {
			cfg, err = opts.Load(s.ConfigFile)
		} else {
			cfg, err = opts.Parse("built-in defaults", nil)
		}
		if err != nil {
			if len(config.FieldErrors(err)) > 0 {
				return nil, nil, err // each names the file (or the defaults) and the line
			}
			return nil, nil, fmt.Errorf("customers: configuration: %w", err)
		}
		return cfg, cfg.Section(SectionName).(*Section), nil
	}
	dataDir := cmp.Or(s.DataDir, defaultSection().DataDir)
	cfg, sec, err := load(dataDir)
	if err == nil && s.DataDir == "" && sec.DataDir != dataDir {
		// The built-in bus keeps its streams in the data directory, which the
		// file names: read it again with that one.
		cfg, sec, err = load(sec.DataDir)
	}
	return cfg, sec, err
}

// applySection fills the service's settings left zero from sec.
func (s *Settings) applySection(sec *Section) {
	s.Addr = cmp.Or(s.Addr, sec.Addr)
	s.DataDir = cmp.Or(s.DataDir, sec.DataDir)
	s.DatabaseURL = cmp.Or(s.DatabaseURL, string(sec.DatabaseURL))
	s.JWKSURL = cmp.Or(s.JWKSURL, sec.JWKSURL)
	s.JWTIssuer = cmp.Or(s.JWTIssuer, sec.JWTIssuer)
	s.JWTAudience = cmp.Or(s.JWTAudience, sec.JWTAudience)
	s.JWTScope = cmp.Or(s.JWTScope, sec.JWTScope)
	s.DevTokenTTL = cmp.Or(s.DevTokenTTL, sec.DevTokenTTL.D())
	s.ShutdownTimeout = cmp.Or(s.ShutdownTimeout, sec.ShutdownTimeout.D())
	s.ChargeInterval = cmp.Or(s.ChargeInterval, sec.ChargeInterval.D())
	if !s.logLevelSet && s.LogLevel == 0 {
		_ = s.LogLevel.UnmarshalText([]byte(sec.LogLevel)) // checked by Section.Validate
	}
}
