package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"

	yamlparser "github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
)

// Config is the configuration of a service: its HTTP clients, its resilience
// pipelines, its event bus, its health checks and its telemetry. [Load] returns it
// validated, with every default filled in, so that what it holds is what the
// service runs with. The builder methods of its parts turn it into the options of
// the packages ([ClientConfig.HTTPXOptions], [PipelineConfig.Build],
// [BusConfig.Options], [HealthConfig.Config]); [Build] builds them all at once
// and [Live.Apply] applies a reloaded file to them.
//
// A Config is a plain value: read it from any goroutine, but do not change it
// while another reads it.
type Config struct {
	Clients   map[string]ClientConfig   `yaml:"clients"`
	Pipelines map[string]PipelineConfig `yaml:"pipelines"`
	Bus       BusConfig                 `yaml:"bus"`
	Health    HealthConfig              `yaml:"health"`
	Telemetry TelemetryConfig           `yaml:"telemetry"`

	file     string
	stamp    fileStamp
	warnings []*FieldError
	sections map[string]any // the program's own sections, decoded: name → pointer
}

func (c *Config) setDefaults() {
	c.Clients = map[string]ClientConfig{}
	c.Pipelines = map[string]PipelineConfig{}
	c.Bus.setDefaults()
	c.Health.setDefaults()
	c.Telemetry.setDefaults()
}

// File returns the name of the file the configuration was loaded from.
func (c *Config) File() string { return c.file }

// Warnings returns the problems that are not errors, such as a secret written in
// the file, each located like an error.
func (c *Config) Warnings() []*FieldError { return c.warnings }

// LoadOptions configure [LoadOptions.Load]. The zero value reads the file and the
// environment.
type LoadOptions struct {
	// IgnoreEnv ignores the environment: no RAMPART_ variable overrides a setting,
	// and secrets read from environment variables ({env: NAME}) are not checked.
	IgnoreEnv bool

	// Defaults is YAML in the schema of the file, layered under it: a key the file
	// leaves out takes its value from Defaults, and the environment overrides
	// both. Mappings are merged key by key; a list or a value in the file replaces
	// the one in Defaults. A bus.embedded that comes from Defaults alone is dropped
	// when the file or the environment chooses another transport or sets bus.url,
	// and a client's auth kind that comes from Defaults alone when the file or the
	// environment gives that client another kind.
	// Problems in Defaults are reported at their line, as DefaultsName:LINE. Nil
	// means no defaults besides Rampart's own.
	Defaults []byte
	// DefaultsName names Defaults in messages. Empty means "defaults".
	DefaultsName string

	// Sections are the program's own top-level sections of the file, by name
	// (such as "customers"), each a pointer to a struct whose fields hold the
	// section's defaults. Load decodes each section into a copy of its struct,
	// which [Config.Section] returns; the struct given is never changed, so that
	// the same LoadOptions can load again (see [WatchOptions]).
	//
	// A section is decoded by the same rules as Rampart's: keys are the fields'
	// yaml tags, unknown keys are errors that suggest the closest key, values
	// must have the field's type, durations ([Duration] or [time.Duration]) need
	// a unit, a [Secret] is checked and never printed, [URL] passwords are
	// redacted, RAMPART_<SECTION>__<KEY> variables override keys, and every error
	// is a [*FieldError] with the file's line. After decoding, a section whose
	// pointer has a method Validate() error is validated: a [*FieldError] it
	// returns (alone or joined with [errors.Join]) is reported at its Path within
	// the section, other errors at the section itself.
	//
	// With Sections nil, as for a tool that checks any service's file (rampart
	// config check), a top-level mapping that is not Rampart's and not close to a
	// Rampart section's name is left unchecked, with a warning; with Sections set,
	// any other top-level key is an error.
	Sections map[string]any
}

// Load reads the configuration from the YAML file at path and the RAMPART_
// environment variables, and validates it; it is LoadOptions{}.Load(path).
func Load(path string) (*Config, error) { return LoadOptions{}.Load(path) }

// Load reads the configuration from the YAML file at path, overridden by the
// RAMPART_ environment variables unless o.IgnoreEnv, fills in the defaults and
// validates it. A file that cannot be read is an error that wraps the
// [*os.PathError]; an invalid configuration returns every problem found, each a
// [*FieldError] that names the setting and the line or the variable that set it,
// joined with [errors.Join] (use [FieldErrors] to list them). Errors never contain
// the value of a secret.
func (o LoadOptions) Load(path string) (*Config, error) {
	stamp, _ := stampOf(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := o.Parse(path, data)
	if err != nil {
		return nil, err
	}
	cfg.stamp = stamp
	return cfg, nil
}

// Parse is Load for a file's contents; name is the file's name in messages.
func (o LoadOptions) Parse(name string, data []byte) (*Config, error) {
	sections, err := checkSections(o.Sections)
	if err != nil {
		return nil, err
	}
	st := newLoadState(name, o.IgnoreEnv)
	st.sections = sections
	st.defaultsName = o.DefaultsName
	if st.defaultsName == "" {
		st.defaultsName = "defaults"
	}
	cfg, err := st.parse(o.Defaults, data)
	if err != nil {
		return nil, err
	}
	cfg.file = name
	cfg.warnings = st.warns
	sortFieldErrors(cfg.warnings)
	return cfg, nil
}

// parse runs the loader over data, layered over defaults.
func (st *loadState) parse(defaults, data []byte) (*Config, error) {
	k := koanf.New(".")
	if defaults != nil {
		if !st.parseNodes(st.defaultsName, defaults, st.defaultLines) {
			return nil, st.result()
		}
		if err := k.Load(rawbytes.Provider(defaults), yamlparser.Parser()); err != nil {
			st.syntaxErrorIn(st.defaultsName, err)
			return nil, st.result()
		}
	}
	if !st.parseNodes(st.file, data, st.lines) {
		return nil, st.result()
	}
	if err := k.Load(rawbytes.Provider(data), yamlparser.Parser()); err != nil {
		st.syntaxError(err)
		return nil, st.result()
	}
	tree := k.Raw()
	if !st.ignoreEnv {
		st.applyEnv(tree)
	}
	cfg := &Config{}
	cfg.setDefaults()
	others := st.splitSections(tree)
	st.decodeStruct("", tree, reflect.ValueOf(cfg).Elem())
	cfg.validate(st)
	cfg.sections = st.decodeSections(others)
	if err := st.result(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// result returns the errors found, sorted and joined, or nil.
func (st *loadState) result() error {
	if len(st.errs) == 0 {
		return nil
	}
	sortFieldErrors(st.errs)
	errs := make([]error, len(st.errs))
	for i, e := range st.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// validate checks every part, fills in the defaults that depend on other settings
// and, for the parts without errors, runs the packages' own validation.
func (c *Config) validate(st *loadState) {
	for _, name := range sortedKeys(c.Clients) {
		path := join("clients", name)
		cl := c.Clients[name]
		st.checkName(path, name)
		cl.name = name
		cl.validate(st, path)
		c.Clients[name] = cl
	}
	for _, name := range sortedKeys(c.Pipelines) {
		path := join("pipelines", name)
		p := c.Pipelines[name]
		st.checkName(path, name)
		p.validate(st, path, name)
		c.Pipelines[name] = p
	}
	c.Bus.validate(st, "bus", c.Pipelines)
	c.Health.validate(st, "health")
	c.Telemetry.validate(st, "telemetry")
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$`)

// checkName checks the name of a client, a pipeline, a subscription or a check:
// it appears in metrics, health checks and queue names.
func (st *loadState) checkName(path, name string) {
	if !nameRE.MatchString(name) {
		st.fail(path, "name %s must be 1 to 200 letters, digits, '-' and '_', starting with a letter or digit", quoteShort(name))
	}
}
