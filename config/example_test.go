package config_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/resilience"
)

// A configuration with mistakes: every one is reported, with its line.
func ExampleLoadOptions_Parse_errors() {
	_, err := config.LoadOptions{IgnoreEnv: true}.Parse("config.yaml", []byte(`
clients:
  payments:
    base_url: https://api.payments.example.com
    total_timeout: 2s
    attempt_timeout: 2s
    retry:
      max_atempts: 5
pipelines:
  orders:
    policies:
      - retry: {max_attempts: 0}
      - timeout: 500
`))
	for _, e := range config.FieldErrors(err) {
		fmt.Println(e)
	}
	// Output:
	// config.yaml:6: clients.payments.attempt_timeout: must be below total_timeout (2s), got 2s
	// config.yaml:8: clients.payments.retry.max_atempts: unknown key (did you mean max_attempts?)
	// config.yaml:12: pipelines.orders.policies[0].retry.max_attempts: must be ≥ 1, got 0
	// config.yaml:13: pipelines.orders.policies[1].timeout: must be a duration with a unit, such as "250ms" or "2s"; got the bare number 500
}

// A pipeline from the file, reloaded with a shorter timeout.
func ExampleLive_Apply() {
	load := func(timeout string) *config.Config {
		cfg, err := config.LoadOptions{IgnoreEnv: true}.Parse("config.yaml", []byte(`
pipelines:
  inventory:
    policies:
      - retry: {max_attempts: 3, backoff: {base: 10ms}}
      - timeout: `+timeout+`
`))
		if err != nil {
			panic(err)
		}
		return cfg
	}
	live, err := config.Build(load("2s"), config.BuildOptions{})
	if err != nil {
		panic(err)
	}
	p, _ := live.Pipeline("inventory")
	err = p.Run(context.Background(), func(ctx context.Context) error {
		deadline, _ := ctx.Deadline()
		_ = deadline // each attempt has 2s
		return nil
	})
	fmt.Println("call:", err)

	changes, err := live.Apply(load("500ms"))
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Println(c)
	}
	p, _ = live.Pipeline("inventory")
	fmt.Println("timeout now:", p.Policies()[1].(*resilience.Timeout).Duration())
	// Output:
	// call: <nil>
	// pipelines.inventory.policies[1].timeout: updated: calls that start from now on use 500ms
	// timeout now: 500ms
}

// ShopSettings is a program's own section of the file.
type ShopSettings struct {
	Addr          string          `yaml:"addr"`
	CheckInterval config.Duration `yaml:"check_interval"`
	APIKey        config.Secret   `yaml:"api_key"`
}

// Validate is the section's own rules; a FieldError names the key.
func (s *ShopSettings) Validate() error {
	if s.CheckInterval.D() < time.Second {
		return &config.FieldError{Path: "check_interval", Msg: "must be ≥ 1s, got " + s.CheckInterval.String()}
	}
	return nil
}

// A program's own settings in the same file as Rampart's, over built-in
// defaults, with the same checks.
func ExampleLoadOptions_sections() {
	opts := config.LoadOptions{
		IgnoreEnv:    true, // RAMPART_SHOP__ADDR would override shop.addr
		Defaults:     []byte("health: {service_id: shop}\nshop: {check_interval: 5s}\n"),
		DefaultsName: "built-in defaults",
		Sections:     map[string]any{"shop": &ShopSettings{Addr: "127.0.0.1:8080"}},
	}
	cfg, err := opts.Parse("shop.yaml", []byte(`
shop:
  api_key: {env: HOME}
telemetry: {service_name: shop}
`))
	if err != nil {
		panic(err)
	}
	shop := cfg.Section("shop").(*ShopSettings)
	fmt.Println(shop.Addr, shop.CheckInterval, shop.APIKey.Env, cfg.Health.ServiceID, cfg.Telemetry.ServiceName)

	_, err = opts.Parse("shop.yaml", []byte(`
shop:
  adr: 0.0.0.0:80
  check_interval: 10ms
`))
	for _, e := range config.FieldErrors(err) {
		fmt.Println(e)
	}
	// Output:
	// 127.0.0.1:8080 5s HOME shop shop
	// shop.yaml:3: shop.adr: unknown key (did you mean addr?)
	// shop.yaml:4: shop.check_interval: must be ≥ 1s, got 10ms
}
