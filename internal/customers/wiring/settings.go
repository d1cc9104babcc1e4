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
// itself, and the configuration of Rampart's parts (the providers' clients, the
// bus, health checks, telemetry) from a config file or the built-in defaults.
// A field of the service's own left zero takes its value from the file's
// "customers" section ([Section]), or its default; flags and CUSTOMERS_
// variables ([ParseSettings]) set the fields, so they override the file, and
// RAMPART_ variables override the file (RAMPART_CUSTOMERS__ADDR,
// RAMPART_BUS__URL).
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
	// ConfigFile is the configuration file (package config): the service's own
	// section "customers" ([Section]), clients "payments", "inventory" and
	// "email" (each replaces its simulator), bus, health, telemetry, layered
	// over the built-in defaults ([DefaultConfig]). Empty means the built-in
	// defaults alone.
	ConfigFile string
	// Config, if set, is used instead of ConfigFile and the defaults (tests); its
	// "customers" section is used if it was loaded with [ConfigOptions].
	Config *config.Config

	// JWKSURL is where the keys that sign the tokens of the write endpoints are
	// published. Empty means development mode: the service makes a signing key
	// at start and prints a token signed with it.
	JWKSURL string
	// JWTIssuer and JWTAudience are the "iss" and "aud" tokens must have.
	// Empty means "customers-dev" in development mode and "customers".
	// JWTIssuer and JWKSURL go together: one without the other is an error.
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
	// DevTokenOutput receives, in development mode, the development token in
	// plain text for the person who started the service; the logs name only
	// the file it is written to (DataDir/dev-token). Nil means standard error
	// if it is a terminal, else nowhere.
	DevTokenOutput io.Writer
	// Logger, if set, replaces LogLevel and LogOutput (wrap its handler with
	// [ContextHandler] to get the correlation IDs).
	Logger *slog.Logger

	logLevelSet bool // LogLevel was given (by ParseSettings), even as Info
}

// ParseSettings reads the service's settings from command-line flags, whose
// defaults come from the environment (getenv, os.Getenv in main):
//
//	-addr       CUSTOMERS_ADDR          listen address (127.0.0.1:8080)
//	-data       CUSTOMERS_DATA_DIR      data directory (./data)
//	-database   CUSTOMERS_DATABASE_URL  postgres:// URL (SQLite in the data directory)
//	-config     CUSTOMERS_CONFIG        config file (built-in defaults)
//	-jwks-url   CUSTOMERS_JWKS_URL      JWKS of the token issuer (development key)
//	-jwt-issuer CUSTOMERS_JWT_ISSUER    required "iss"
//	-jwt-audience CUSTOMERS_JWT_AUDIENCE required "aud" (customers)
//	-log-level  CUSTOMERS_LOG_LEVEL     debug, info, warn or error (info)
//
// A setting given neither as a flag nor in the environment is left empty, so
// that [New] takes it from the config file's "customers" section ([Section])
// or, failing that, the built-in default in parentheses. Usage and errors go to
// out. flag.ErrHelp is returned for -h.
func ParseSettings(args []string, getenv func(string) string, out io.Writer) (Settings, error) {
	var s Settings
	fs := flag.NewFlagSet("customers", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&s.Addr, "addr", getenv("CUSTOMERS_ADDR"), "HTTP listen address; default customers.addr in the config file, or 127.0.0.1:8080 (CUSTOMERS_ADDR)")
	fs.StringVar(&s.DataDir, "data", getenv("CUSTOMERS_DATA_DIR"), "data directory: SQLite, embedded JetStream, development token; default customers.data_dir, or ./data (CUSTOMERS_DATA_DIR)")
	fs.StringVar(&s.DatabaseURL, "database", getenv("CUSTOMERS_DATABASE_URL"), "PostgreSQL URL, postgres://...; default customers.database_url, or SQLite in the data directory (CUSTOMERS_DATABASE_URL)")
	fs.StringVar(&s.ConfigFile, "config", getenv("CUSTOMERS_CONFIG"), "config file: the customers section, clients, bus, health, telemetry; empty means the built-in defaults (CUSTOMERS_CONFIG)")
	fs.StringVar(&s.JWKSURL, "jwks-url", getenv("CUSTOMERS_JWKS_URL"), "JWKS URL of the token issuer; default customers.jwks_url, or a development key and token (CUSTOMERS_JWKS_URL)")
	fs.StringVar(&s.JWTIssuer, "jwt-issuer", getenv("CUSTOMERS_JWT_ISSUER"), "required token issuer; default customers.jwt_issuer (CUSTOMERS_JWT_ISSUER)")
	fs.StringVar(&s.JWTAudience, "jwt-audience", getenv("CUSTOMERS_JWT_AUDIENCE"), "required token audience; default customers.jwt_audience, or customers (CUSTOMERS_JWT_AUDIENCE)")
	level := fs.String("log-level", getenv("CUSTOMERS_LOG_LEVEL"), "log level: debug, info, warn or error; default customers.log_level, or info (CUSTOMERS_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: customers [flags]\n\nThe customers reference service. With no settings it runs on embedded defaults:\nSQLite and JetStream in the data directory, and simulators of its providers.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprintln(out, "\nFlags and CUSTOMERS_* variables override the config file's customers section; the file\nand RAMPART_* variables (RAMPART_CUSTOMERS__ADDR, RAMPART_BUS__URL) configure the rest; see docs/customers.md.")
	}
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("customers: unexpected arguments %q", fs.Args())
	}
	if *level != "" {
		if err := s.LogLevel.UnmarshalText([]byte(strings.TrimSpace(*level))); err != nil {
			return s, fmt.Errorf("customers: -log-level: %q is not debug, info, warn or error", *level)
		}
		s.logLevelSet = true
	}
	if s.ConfigFile == "" {
		if err := s.check(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// check checks what the settings' sources (flags, environment, file) cannot
// check alone: that a database URL is a postgres:// URL (a flag or variable is
// not checked by the file's section), that a JWKS URL comes with the issuer its
// tokens must name, and that an issuer comes with the JWKS URL of its keys: a
// configuration that names a real issuer but forgot its keys is a mistake, not
// development mode.
func (s *Settings) check() error {
	if s.DatabaseURL != "" && !isPostgresURL(s.DatabaseURL) {
		// Never the value: a key=value connection string holds its password in clear.
		return errors.New("customers: -database (CUSTOMERS_DATABASE_URL, customers.database_url) must be a postgres:// URL (got a value without that scheme)")
	}
	if s.JWKSURL != "" && s.JWTIssuer == "" {
		return errors.New("customers: -jwt-issuer (CUSTOMERS_JWT_ISSUER, customers.jwt_issuer) is required with -jwks-url")
	}
	if s.JWTIssuer != "" && s.JWKSURL == "" {
		return errors.New("customers: -jwt-issuer (CUSTOMERS_JWT_ISSUER, customers.jwt_issuer) is set but -jwks-url (CUSTOMERS_JWKS_URL, customers.jwks_url) is not: " +
			"set jwks_url to the issuer's keys, or leave both out for development mode")
	}
	return nil
}

// normalize fills in the defaults: the settings left zero from the built-in
// section (whose log level, info, is the zero level).
func (s *Settings) normalize() { s.applySection(defaultSection()) }

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
