package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/internal/customers/wiring"
	"github.com/rampart-go/rampart/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type syncBuffer = testenv.LogBuffer

func noEnv(string) string { return "" }

// TestRun starts the command on embedded defaults and stops it as a signal
// does: it exits 0 once stopped.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, noEnv, &out) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), `"msg":"customers: ready"`) {
		select {
		case c := <-code:
			t.Fatalf("run() = %d before it was ready\n%s", c, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30s\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"payments: no client configured; using the built-in simulator", "bus: embedded JetStream", "database: SQLite", "development mode"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the start's logs do not say %q", want)
		}
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("run() = %d after the signal; want 0\n%s", c, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run() did not return within 30s of the signal")
	}
	if !strings.Contains(out.String(), `"msg":"customers: stopped"`) {
		t.Errorf("no \"customers: stopped\" in the logs:\n%s", out.String())
	}
}

func TestRunArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-h"}, 0, "Usage: customers"},
		{[]string{"-nope"}, 2, "flag provided but not defined"},
		{[]string{"-log-level", "loud"}, 2, "-log-level"},
		{[]string{"-jwks-url", "https://idp.example/jwks"}, 2, "-jwt-issuer"},
		{[]string{"extra"}, 2, "unexpected arguments"},
	} {
		var out syncBuffer
		if got := run(context.Background(), tc.args, noEnv, &out); got != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tc.args, got, out.String(), tc.code, tc.out)
		}
	}
}

// TestExampleConfig keeps customers.example.yaml valid: as the service loads
// it, with its own section, and as `rampart config check` does, which leaves
// the customers section to the service.
func TestExampleConfig(t *testing.T) {
	opts := wiring.ConfigOptions(t.TempDir())
	opts.IgnoreEnv = true
	cfg, err := opts.Load("customers.example.yaml")
	if err != nil {
		t.Fatalf("customers.example.yaml: %v", err)
	}
	for _, name := range []string{"payments", "inventory", "email"} {
		if _, ok := cfg.Clients[name]; !ok {
			t.Errorf("customers.example.yaml has no client %q", name)
		}
	}
	sec := cfg.Section(wiring.SectionName).(*wiring.Section)
	if sec.Addr != "0.0.0.0:8080" || sec.JWTIssuer != "https://idp.example" || sec.JWTScope != "customers:write" {
		t.Errorf("customers section = %+v; want the file's addr and jwt_issuer, the default jwt_scope", sec)
	}
	if cfg.Bus.Transport != "rabbitmq" || cfg.Bus.Embedded != nil {
		t.Errorf("bus = %+v; want the file's RabbitMQ, not the built-in embedded server", cfg.Bus)
	}
	if len(cfg.Warnings()) != 0 {
		t.Errorf("warnings = %v; want none", cfg.Warnings())
	}

	checked, err := config.LoadOptions{IgnoreEnv: true}.Load("customers.example.yaml") // rampart config check
	if err != nil {
		t.Fatalf("customers.example.yaml, as rampart config check loads it: %v", err)
	}
	if w := checked.Warnings(); len(w) != 1 || w[0].Path != "customers" {
		t.Errorf("rampart config check warnings = %v; want one, that the customers section is not checked", w)
	}
}
