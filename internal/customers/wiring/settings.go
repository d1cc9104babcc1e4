package wiring

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rampart-go/rampart/config"
)

// Settings are what the service is started with: the settings of the service
// itself (from flags and CUSTOMERS_ environment variables, see
// [ParseSettings]), and the configuration of Rampart's parts (the providers'
// clients, the bus, health checks, telemetry) from a config file or the
// built-in defaults, both overridden by RAMPART_ environment variables.
//
// The zero value, with DataDir set, is the embedded default: SQLite and
// JetStream in DataDir, the providers' simulators, a development signing key.
type Settings struct {
	// Addr is the HTTP listen address. Empty means 127.0.0.1:8080; port 0 picks
	// a free port ([Server.URL] tells which).
	Addr string
	// DataDir holds the SQLite database, the embedded JetStream's streams and the
	// development token. Empty means ./data.
	DataDir string
	// DatabaseURL is a postgres:// URL for PostgreSQL. Empty means SQLite in
	// DataDir/customers.db.
	DatabaseURL string
	// ConfigFile is a Rampart configuration file (package config): clients
	// "payments", "inventory" and "email" (each replaces its simulator), bus,
	// health, telemetry. Empty means the built-in defaults ([DefaultConfig]).
	ConfigFile string
	// Config, if set, is used instead of ConfigFile and the defaults (tests).
	Config *config.Config

	// JWKSURL is where the keys that sign the tokens of the write endpoints are
	// published. Empty means development mode: the service makes a signing key
	// at start and prints a token signed with it.
	JWKSURL string
	// JWTIssuer and JWTAudience are the "iss" and "aud" tokens must have.
	// Empty means "customers-dev" in development mode (JWTIssuer is required
	// with JWKSURL) and "customers".
	JWTIssuer, JWTAudience string
	// JWTScope is the scope a token needs to write. Empty means
	// "customers:write".
	JWTScope string
	// DevTokenTTL is the lifetime of the development token. Zero means 1h.
	DevTokenTTL time.Duration

	// ShutdownTimeout bounds a graceful shutdown in [Run]. Zero means 20s.
	ShutdownTimeout time.Duration
	// ChargeInterval is how often orders whose payment is pending are charged
	// again. Zero means 5s.
	ChargeInterval time.Duration

	// Simulators configure the built-in simulators (faults, stock, declines),
	// for tests and rehearsals.
	Simulators SimulatorOptions

	// LogLevel is the level of the JSON logs written to LogOutput. Zero means
	// Info.
	LogLevel slog.Level
	// LogOutput receives the logs. Nil means standard error.
	LogOutput io.Writer
	// Logger, if set, replaces LogLevel and LogOutput (wrap its handler with
	// [ContextHandler] to get the correlation IDs).
	Logger *slog.Logger
}

// ParseSettings reads the service's settings from command-line flags, whose
// defaults come from the environment (getenv, os.Getenv in main):
//
//	-addr       CUSTOMERS_ADDR          listen address (127.0.0.1:8080)
//	-data       CUSTOMERS_DATA_DIR      data directory (./data)
//	-database   CUSTOMERS_DATABASE_URL  postgres:// URL (SQLite in the data directory)
//	-config     CUSTOMERS_CONFIG        Rampart config file (built-in defaults)
//	-jwks-url   CUSTOMERS_JWKS_URL      JWKS of the token issuer (development key)
//	-jwt-issuer CUSTOMERS_JWT_ISSUER    required "iss"
//	-jwt-audience CUSTOMERS_JWT_AUDIENCE required "aud" (customers)
//	-log-level  CUSTOMERS_LOG_LEVEL     debug, info, warn or error (info)
//
// Usage and errors go to out. flag.ErrHelp is returned for -h.
func ParseSettings(args []string, getenv func(string) string, out io.Writer) (Settings, error) {
	var s Settings
	fs := flag.NewFlagSet("customers", flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&s.Addr, "addr", env("CUSTOMERS_ADDR", "127.0.0.1:8080"), "HTTP listen address (CUSTOMERS_ADDR)")
	fs.StringVar(&s.DataDir, "data", env("CUSTOMERS_DATA_DIR", "data"), "data directory: SQLite, embedded JetStream, development token (CUSTOMERS_DATA_DIR)")
	fs.StringVar(&s.DatabaseURL, "database", env("CUSTOMERS_DATABASE_URL", ""), "PostgreSQL URL, postgres://...; empty means SQLite in the data directory (CUSTOMERS_DATABASE_URL)")
	fs.StringVar(&s.ConfigFile, "config", env("CUSTOMERS_CONFIG", ""), "Rampart config file: clients, bus, health, telemetry; empty means the built-in defaults (CUSTOMERS_CONFIG)")
	fs.StringVar(&s.JWKSURL, "jwks-url", env("CUSTOMERS_JWKS_URL", ""), "JWKS URL of the token issuer; empty means a development key and token (CUSTOMERS_JWKS_URL)")
	fs.StringVar(&s.JWTIssuer, "jwt-issuer", env("CUSTOMERS_JWT_ISSUER", ""), "required token issuer (CUSTOMERS_JWT_ISSUER)")
	fs.StringVar(&s.JWTAudience, "jwt-audience", env("CUSTOMERS_JWT_AUDIENCE", ""), "required token audience, default customers (CUSTOMERS_JWT_AUDIENCE)")
	level := fs.String("log-level", env("CUSTOMERS_LOG_LEVEL", "info"), "log level: debug, info, warn or error (CUSTOMERS_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: customers [flags]\n\nThe customers reference service. With no settings it runs on embedded defaults:\nSQLite and JetStream in the data directory, and simulators of its providers.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprintln(out, "\nThe config file and RAMPART_* variables configure Rampart's parts; see docs/customers.md.")
	}
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("customers: unexpected arguments %q", fs.Args())
	}
	if err := s.LogLevel.UnmarshalText([]byte(strings.TrimSpace(*level))); err != nil {
		return s, fmt.Errorf("customers: -log-level: %q is not debug, info, warn or error", *level)
	}
	if s.JWKSURL != "" && s.JWTIssuer == "" {
		return s, errors.New("customers: -jwt-issuer (CUSTOMERS_JWT_ISSUER) is required with -jwks-url")
	}
	return s, nil
}

// normalize fills in the defaults.
func (s *Settings) normalize() {
	if s.Addr == "" {
		s.Addr = "127.0.0.1:8080"
	}
	if s.DataDir == "" {
		s.DataDir = "data"
	}
	if s.JWTAudience == "" {
		s.JWTAudience = "customers"
	}
	if s.JWTScope == "" {
		s.JWTScope = "customers:write"
	}
	if s.DevTokenTTL == 0 {
		s.DevTokenTTL = time.Hour
	}
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = 20 * time.Second
	}
	if s.ChargeInterval == 0 {
		s.ChargeInterval = 5 * time.Second
	}
}

// logger returns s.Logger, or a JSON logger at s.LogLevel on s.LogOutput
// (standard error by default) that adds the correlation IDs.
func (s Settings) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	out := s.LogOutput
	if out == nil {
		out = os.Stderr
	}
	return slog.New(ContextHandler{slog.NewJSONHandler(out, &slog.HandlerOptions{Level: s.LogLevel})})
}

// configSource says where the Rampart configuration comes from, for the log.
func (s Settings) configSource() string {
	switch {
	case s.Config != nil:
		return "given by the caller"
	case s.ConfigFile != "":
		return s.ConfigFile
	}
	return "built-in defaults"
}
