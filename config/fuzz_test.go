package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader: it may reject them, never panic,
// and what it accepts dumps to YAML that loads again without a panic.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"",
		"~",
		"- a\n- b\n",
		"clients: {a: {base_url: 'https://a.example', total_timeout: off}}",
		"pipelines: {p: {policies: [{retry: {max_attempts: 2}}, {timeout: 1s}, {breaker: {}}]}}",
		"pipelines: {p: {policies: [{timeout: {duration: 1s}, name: t}, 5, [1]]}}",
		"bus: {transport: jetstream, embedded: {data_dir: /tmp}, subscriptions: {s: {redelivery: [1s, 2s]}}}",
		"health: {http_checks: {a: {url: 'http://a', min_status: 500, max_status: 200}}}",
		"a: &x {b: *x}",
		"clients: {1: 2, true: [], ~: {}}",
		"bus: {max_body_size: 1e300, subscriptions: {s: {workers: 9223372036854775808}}}",
		"clients: {a: {auth: {bearer: {file: /dev/stdin}}}}",
		"health: {timeout: .nan, cache_for: 1e-9s}",
		"clients: {a: {<<: {base_url: 'https://a.example'}}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := LoadOptions{IgnoreEnv: true}.Parse("fuzz.yaml", data)
		if err != nil {
			if len(FieldErrors(err)) == 0 {
				t.Errorf("Parse error without a FieldError: %v", err)
			}
			return
		}
		out, err := cfg.YAML()
		if err != nil {
			t.Fatalf("YAML() = %v", err)
		}
		_, _ = LoadOptions{IgnoreEnv: true}.Parse("dump.yaml", out)
	})
}
