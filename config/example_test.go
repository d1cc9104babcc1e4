package config_test

import (
	"context"
	"fmt"

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
