package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// shopSettings is a program's own section.
type shopSettings struct {
	Addr     string            `yaml:"addr"`
	Interval time.Duration     `yaml:"interval"`
	Grace    Duration          `yaml:"grace" config:"off"`
	Workers  uint16            `yaml:"workers"`
	Ratio    float32           `yaml:"ratio"`
	Token    Secret            `yaml:"token"`
	Tags     []string          `yaml:"tags,flow"`
	Labels   map[string]string `yaml:"labels"`
	DB       *shopDB           `yaml:"db"`
}

type shopDB struct {
	URL     URL `yaml:"url"`
	MaxConn int `yaml:"max_conn"`
}

// Validate is a section's own rules.
func (s *shopSettings) Validate() error {
	var errs []error
	if s.Interval < time.Second {
		errs = append(errs, &FieldError{Path: "interval", Msg: "must be ≥ 1s, got " + s.Interval.String()})
	}
	if s.DB != nil && s.DB.MaxConn > 100 {
		errs = append(errs, &FieldError{Path: "db.max_conn", Msg: "must be ≤ 100"})
	}
	if s.Addr == "forbidden" {
		errs = append(errs, errors.New("the shop is closed"))
	}
	return errors.Join(errs...)
}

func shopDefaults() *shopSettings {
	return &shopSettings{Addr: "127.0.0.1:8080", Interval: 5 * time.Second, Workers: 4,
		Labels: map[string]string{"team": "shop"}, DB: &shopDB{MaxConn: 10}}
}

// TestSections: a program's section is decoded over its defaults, with the
// environment, without changing the struct given; Rampart's sections load as
// before.
func TestSections(t *testing.T) {
	t.Setenv("SHOP_TOKEN", "s3cr3t-token")
	t.Setenv("RAMPART_SHOP__WORKERS", "9")
	given := shopDefaults()
	cfg, err := LoadOptions{Sections: map[string]any{"shop": given}}.Parse("t.yaml", []byte(`
health: {service_id: shop}
shop:
  interval: 2s
  grace: off
  ratio: 0.5
  token: {env: SHOP_TOKEN}
  tags: [a, b]
  labels: {tier: gold}
  db: {url: "postgres://app:pw@db:5432/shop"}
`))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	got, ok := cfg.Section("shop").(*shopSettings)
	if !ok {
		t.Fatalf("Section(shop) = %T, want *shopSettings", cfg.Section("shop"))
	}
	want := &shopSettings{Addr: "127.0.0.1:8080", Interval: 2 * time.Second, Grace: -1, Workers: 9, Ratio: 0.5,
		Token: Secret{Env: "SHOP_TOKEN"}, Tags: []string{"a", "b"}, Labels: map[string]string{"team": "shop", "tier": "gold"},
		DB: &shopDB{URL: "postgres://app:pw@db:5432/shop", MaxConn: 10}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Section(shop) = %+v (db %+v)\nwant %+v (db %+v)", got, got.DB, want, want.DB)
	}
	if !reflect.DeepEqual(given, shopDefaults()) {
		t.Errorf("the struct given was changed: %+v (db %+v)", given, given.DB)
	}
	if cfg.Health.ServiceID != "shop" {
		t.Errorf("Health.ServiceID = %q, want shop", cfg.Health.ServiceID)
	}
	if cfg.Section("other") != nil {
		t.Errorf("Section(other) = %v, want nil for a section not declared", cfg.Section("other"))
	}
	y, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shop:\n", "grace: \"off\"", "token:\n    env: SHOP_TOKEN", "postgres://app:[REDACTED]@db:5432/shop"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("YAML() lacks %q:\n%s", want, y)
		}
	}
	if strings.Contains(string(y), "s3cr3t") || strings.Contains(string(y), ":pw@") {
		t.Errorf("YAML() shows a secret:\n%s", y)
	}
}

// TestSectionErrors: a section's mistakes are reported like Rampart's, with the
// line, the path and a suggestion; so are its own rules and its secrets.
func TestSectionErrors(t *testing.T) {
	dir := t.TempDir()
	opts := LoadOptions{IgnoreEnv: true, Sections: map[string]any{"shop": shopDefaults()}}
	for _, tt := range []struct {
		name, src string
		want      []string
	}{
		{"unknown key", "shop:\n  adr: x\n", []string{"t.yaml:2: shop.adr: unknown key (did you mean addr?)"}},
		{"types", "shop:\n  interval: 5\n  workers: -1\n  tags: a\n  ratio: 1e300\n", []string{
			`t.yaml:2: shop.interval: must be a duration with a unit, such as "250ms" or "2s"; got the bare number 5`,
			"t.yaml:3: shop.workers: must not be negative, got -1",
			"t.yaml:4: shop.tags: must be a list, got the string \"a\"",
			"t.yaml:5: shop.ratio: is too large, got 1e+300",
		}},
		{"own rules", "shop:\n  interval: 10ms\n  db:\n    max_conn: 500\n", []string{
			"t.yaml:2: shop.interval: must be ≥ 1s, got 10ms",
			"t.yaml:4: shop.db.max_conn: must be ≤ 100",
		}},
		{"own error without a path", "shop:\n  addr: forbidden\n", []string{"t.yaml:1: shop: the shop is closed"}},
		{"secret file", "shop:\n  token: {file: " + filepath.Join(dir, "missing") + "}\n", []string{
			"t.yaml:2: shop.token.file: cannot read " + filepath.Join(dir, "missing") + ": no such file or directory"}},
		{"undeclared section", "shpo: {addr: x}\n", []string{"t.yaml:1: shpo: unknown key (did you mean shop?)"}},
		{"typo of a Rampart section", "helth: {}\n", []string{"t.yaml:1: helth: unknown key (did you mean health?)"}},
		{"not a mapping", "shop: 3\n", []string{"t.yaml:1: shop: must be a mapping of keys to values, got the number 3"}},
	} {
		_, err := opts.Parse("t.yaml", []byte(tt.src))
		if got := errorLines(err); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Parse() errors =\n%s\nwant\n%s", tt.name, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: errors.Is(err, ErrInvalid) = false", tt.name)
		}
	}
}

// TestSectionsWrongDeclaration: a declaration the decoder cannot serve is the
// program's error, not a FieldError.
func TestSectionsWrongDeclaration(t *testing.T) {
	for _, tt := range []struct {
		name     string
		sections map[string]any
		want     string
	}{
		{"not a pointer", map[string]any{"shop": shopSettings{}}, `config: LoadOptions.Sections["shop"]: must be a non-nil pointer to a struct, got config.shopSettings`},
		{"Rampart's", map[string]any{"bus": &shopSettings{}}, `config: LoadOptions.Sections["bus"]: the section is Rampart's`},
		{"bad field", map[string]any{"x": &struct {
			F chan int `yaml:"f"`
		}{}}, `config: LoadOptions.Sections["x"]: field F: cannot decode into chan int`},
	} {
		_, err := LoadOptions{Sections: tt.sections}.Parse("t.yaml", nil)
		if err == nil || err.Error() != tt.want || errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Parse() = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestUndeclaredSectionsAreLeftToTheirProgram: with no sections declared (a
// tool that checks any file), a program's section is not checked but warned
// about; a scalar or a typo of Rampart's is still an error.
func TestUndeclaredSectionsAreLeftToTheirProgram(t *testing.T) {
	cfg, err := LoadOptions{IgnoreEnv: true}.Parse("t.yaml", []byte("shop:\n  anything: [1, 2]\nhealth: {service_id: x}\n"))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	if len(cfg.Warnings()) != 1 || !strings.HasPrefix(cfg.Warnings()[0].Error(), "t.yaml:1: shop: is not a section of Rampart's") {
		t.Errorf("Warnings() = %v; want one about shop at line 1", cfg.Warnings())
	}
	cfg, err = LoadOptions{IgnoreEnv: true}.Parse("t.yaml", []byte("shop:\n"))
	if err != nil || len(cfg.Warnings()) != 1 {
		t.Errorf("Parse(an empty section of a program's) = %v, warnings %v; want nil and one warning", err, cfg.Warnings())
	}
	_, err = LoadOptions{IgnoreEnv: true}.Parse("t.yaml", []byte("shop: 1\npipeline: {}\n"))
	want := []string{"t.yaml:1: shop: unknown key (known: bus, clients, health, pipelines, telemetry)", "t.yaml:2: pipeline: unknown key (did you mean pipelines?)"}
	if got := errorLines(err); !slices.Equal(got, want) {
		t.Errorf("Parse() errors = %q, want %q", got, want)
	}
}

// TestLayeredDefaults: the defaults are under the file and the environment;
// their errors name their own lines; their embedded server gives way to a
// broker the file chooses.
func TestLayeredDefaults(t *testing.T) {
	defaults := []byte(`bus:
  transport: jetstream
  embedded: {data_dir: /var/lib/shop}
  subscriptions:
    emails: {workers: 4, timeout: 30s}
health: {service_id: shop}
shop:
  addr: 0.0.0.0:80
  interval: 3s
`)
	opts := LoadOptions{Defaults: defaults, DefaultsName: "built-in", Sections: map[string]any{"shop": shopDefaults()}}

	t.Setenv("RAMPART_HEALTH__SERVICE_ID", "from-env")
	cfg, err := opts.Parse("t.yaml", []byte("bus:\n  subscriptions:\n    emails: {workers: 8}\nshop: {interval: 7s}\n"))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	sub := cfg.Bus.Subscriptions["emails"]
	shop := cfg.Section("shop").(*shopSettings)
	if cfg.Bus.Transport != "jetstream" || cfg.Bus.Embedded == nil || cfg.Bus.Embedded.DataDir != "/var/lib/shop" ||
		sub.Workers != 8 || sub.Timeout.D() != 30*time.Second || cfg.Health.ServiceID != "from-env" ||
		shop.Addr != "0.0.0.0:80" || shop.Interval != 7*time.Second {
		t.Errorf("layered: bus %+v emails %+v health %q shop %+v; want jetstream embedded /var/lib/shop, 8 workers 30s, from-env, 0.0.0.0:80 7s",
			cfg.Bus, sub, cfg.Health.ServiceID, shop)
	}

	for _, file := range []string{
		"bus: {transport: rabbitmq, url: amqp://guest:guest@localhost:5672/}\n",
		"bus: {url: nats://localhost:4222}\n",
	} {
		cfg, err := opts.Parse("t.yaml", []byte(file))
		if err != nil {
			t.Fatalf("Parse(%q) = %v", file, err)
		}
		if cfg.Bus.Embedded != nil || cfg.Bus.URL == "" || cfg.Bus.Subscriptions["emails"].Workers != 4 {
			t.Errorf("Parse(%q): bus %+v; want the file's broker, no embedded server, the defaults' subscription", file, cfg.Bus)
		}
	}
	// An embedded server the file asks for too is not dropped: its conflict is reported.
	_, err = opts.Parse("t.yaml", []byte("bus:\n  url: nats://localhost:4222\n  embedded: {data_dir: /tmp/x}\n"))
	if got := errorLines(err); len(got) != 1 || got[0] != "t.yaml:2: bus.url: cannot be given with embedded: the transport connects to its embedded server" {
		t.Errorf("url and embedded both in the file: errors %q", got)
	}

	bad := LoadOptions{IgnoreEnv: true, Defaults: []byte("bus:\n  subscriptions:\n    emails: {workers: 0}\n"), DefaultsName: "built-in"}
	_, err = bad.Parse("t.yaml", []byte("health: {service_id: x}\n"))
	if got := errorLines(err); !slices.Equal(got, []string{"built-in:3: bus.subscriptions.emails.workers: must be ≥ 1, got 0"}) {
		t.Errorf("an error in the defaults: %q; want it at built-in:3", got)
	}
	_, err = LoadOptions{Defaults: []byte("bus: [\n")}.Parse("t.yaml", nil)
	if fe := FieldErrors(err); len(fe) != 1 || fe[0].File != "defaults" {
		t.Errorf("a syntax error in the defaults: %v; want one at the file \"defaults\"", err)
	}
}

// TestSectionsReload: loading a file again with the same options gives a new
// section value, so that a watcher's reload never writes what others read.
func TestSectionsReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	opts := LoadOptions{IgnoreEnv: true, Sections: map[string]any{"shop": shopDefaults()}}
	if err := os.WriteFile(path, []byte("shop: {addr: one}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := opts.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("shop: {addr: two, labels: {x: y}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := opts.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := a.Section("shop").(*shopSettings), b.Section("shop").(*shopSettings)
	if sa.Addr != "one" || sb.Addr != "two" || len(sa.Labels) != 1 || len(sb.Labels) != 2 {
		t.Errorf("first load %+v, second %+v; want one (1 label) and two (2 labels)", sa, sb)
	}
}

// TestDefaultsGiveWayToTheFilesAuthKind: credentials of one kind in the
// defaults give way to another kind the file chooses (a client's auth holds one
// kind), while two kinds written in the file itself are still an error.
func TestDefaultsGiveWayToTheFilesAuthKind(t *testing.T) {
	t.Setenv("RAMPART_CONFIG_TEST_TOKEN", "default-token")
	t.Setenv("RAMPART_CONFIG_TEST_KEY", "file-key")
	opts := LoadOptions{DefaultsName: "built-in", Defaults: []byte(`clients:
  pay:
    base_url: https://pay.example
    auth:
      bearer: {env: RAMPART_CONFIG_TEST_TOKEN}
`)}
	cfg, err := opts.Parse("t.yaml", []byte("clients:\n  pay:\n    auth:\n      api_key: {env: RAMPART_CONFIG_TEST_KEY}\n"))
	if err != nil {
		t.Fatalf("Parse(api_key over the defaults' bearer) = %v", err)
	}
	if a := cfg.Clients["pay"].Auth; a == nil || a.Kind() != "api_key" || a.Bearer != nil {
		t.Errorf("auth = %+v; want the file's api_key alone", a)
	}
	// Without a file, the defaults' bearer stands.
	cfg, err = opts.Parse("t.yaml", nil)
	if err != nil || cfg.Clients["pay"].Auth == nil || cfg.Clients["pay"].Auth.Kind() != "bearer" {
		t.Errorf("Parse(no file) = %v; want the defaults' bearer", err)
	}
	_, err = opts.Parse("t.yaml", []byte("clients:\n  pay:\n    auth:\n      api_key: {env: RAMPART_CONFIG_TEST_KEY}\n      hmac: {key_id: k1, key: {env: RAMPART_CONFIG_TEST_KEY}}\n"))
	if got := errorLines(err); len(got) != 1 || !strings.Contains(got[0], "has 2 kinds of credentials (api_key, hmac)") {
		t.Errorf("two kinds in the file: errors %q; want one saying so", got)
	}
}
