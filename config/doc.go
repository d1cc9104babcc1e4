// Package config reads a service's configuration from one YAML file, overridden by
// environment variables, into the options of Rampart's packages: named HTTP
// clients ([httpx.Options]), named resilience pipelines ([resilience.Pipeline]),
// the event bus ([bus.Options]), health checks ([health.Config]) and telemetry.
//
//	cfg, err := config.Load("/etc/customers/config.yaml")
//	if err != nil {
//		return err // every problem, one per line: "config.yaml:14: clients.payments.retry.max_attempts: must be ≥ 1, got 0"
//	}
//	live, err := config.Build(cfg, config.BuildOptions{Observer: tel})
//	payments, _ := live.Client("payments")
//	pay, err := httpx.PostJSON[Payment](ctx, payments.JSON(), "/v1/payments", req)
//
// The file's schema, every key with its default, the program's own sections and
// the table of environment variables are in docs/configuration.md; `rampart config check FILE` validates a
// file and prints the effective configuration.
//
// # Loading
//
// [Load] parses the file with koanf (github.com/knadh/koanf/v2), merges the
// environment overrides, decodes the result into a [Config] whose parts start
// with their documented defaults, so that a key left out keeps its default, and
// validates it: each part's own rules, then the packages' own validation (httpx
// checks that the attempt timeout is below the total timeout, say), whose errors
// are reported at the key they are about.
//
// Decoding is strict. An unknown key is an error that suggests the closest known
// key ("did you mean max_attempts?"): a typo never falls back to a default. A
// value of the wrong type is an error, and so is a duration without a unit
// ("250ms" and "2s" are durations; 5 is not). A value written out must be valid as
// written: "max_attempts: 0" is an error, not "the default".
//
// # A program's own settings
//
// [LoadOptions.Sections] declares the program's own top-level sections of the
// file ("customers:"), each a struct whose field values are its defaults; Load
// decodes each into a copy by the same strict rules, with the same errors, and
// [Config.Section] returns it. A section's Validate method, if it has one, adds
// its own rules. [LoadOptions.Defaults] layers YAML under the file: what the
// file leaves out keeps the default, and the environment overrides both. With
// no sections declared (rampart config check), another program's section is
// left unchecked with a warning.
//
// # Errors
//
// Load reports every problem it finds, not just the first, each a [*FieldError]
// that names the setting's path and where it was set: the file and line, or the
// environment variable. They are joined with [errors.Join]; [FieldErrors] lists
// them and [errors.Is] matches [ErrInvalid]. A file that cannot be read is an
// error of its own, wrapping the [*os.PathError].
//
// # Environment
//
// A variable RAMPART_A__B__C overrides the key a.b.c: after the RAMPART_ prefix,
// "__" separates levels, so that a single '_' stays in a name, and names are
// lower-cased (RAMPART_CLIENTS__PAYMENTS_EU__RETRY__MAX_ATTEMPTS=5 sets
// clients.payments_eu.retry.max_attempts). A level matches an existing key
// whatever its case and with '-' taken for '_', so the same variable reaches a
// client named "payments-eu". A number addresses a list element
// (RAMPART_PIPELINES__ORDERS__POLICIES__0__RETRY__MAX_ATTEMPTS); a list is set as
// a whole with commas (RAMPART_BUS__SUBSCRIPTIONS__EMAILS__REDELIVERY=1s,10s,1m).
// Values are parsed as the setting's type. Variables without "__", such as
// RAMPART_TEST_AMQP_URL, are not overrides and are ignored. [EnvName] gives the
// variable of a path.
//
// # Secrets
//
// A [Secret] comes from an environment variable ({env: NAME}), a file ({file:
// PATH}) or the file itself (a warning: [Config.Warnings]). Load checks that it can
// be read; the credentials built from it read it again when they use it, so that
// rotation needs no restart. Secrets are never printed: the dump
// ([Config.WriteYAML]) shows where they come from, or "[REDACTED]", and no error
// contains one. Passwords in URLs ([URL]) are redacted too.
//
// # Reloading
//
// [Watch] polls the file and passes each version that loads to a callback, which
// usually hands it to [Live.Apply]. [Build] builds the pipelines (into a
// [resilience.Registry]) and the HTTP clients ([*Client]) of a configuration, and
// Apply changes them to match a new one without dropping the calls in flight:
// timeouts, rate limiters and chaos policies are updated in place; retries,
// breakers, bulkheads and hedging policies whose settings changed are rebuilt and
// their pipeline replaced in the registry (a breaker whose settings did not change
// is kept, with its state); a client whose settings changed gets a new transport
// over the same connections. The bus, health checks, telemetry, a client's base
// URL and TLS files need a restart, and Apply says so ([RestartRequired]).
//
// # Concurrency
//
// A [Config] is a value to read, not to change while others read it. [Live] and
// [Client] are safe for concurrent use. Nothing in this package starts a
// goroutine: [Watch] runs on its caller's.
package config
