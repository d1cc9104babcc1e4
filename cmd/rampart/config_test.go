package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runConfig runs rampart with args in-process and returns its error, stdout and
// stderr.
func runConfig(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheckValid(t *testing.T) {
	t.Setenv("CHECK_TEST_SECRET", "env-s3cret-value")
	t.Setenv("RAMPART_CLIENTS__PAYMENTS__RETRY__MAX_ATTEMPTS", "6")
	path := writeConfig(t, `
clients:
  payments:
    base_url: https://pay.example
    auth:
      oauth2:
        token_url: https://idp.example/token
        client_id: customers
        client_secret: {env: CHECK_TEST_SECRET}
  legacy:
    base_url: https://legacy.example
    auth: {bearer: literal-s3cret-value}
bus:
  transport: rabbitmq
  url: amqp://guest:url-s3cret-value@localhost:5672/
`)
	stdout, stderr, err := runConfig(t, "config", "check", path)
	if err != nil {
		t.Fatalf("rampart config check = %v; stderr:\n%s", err, stderr)
	}
	for _, want := range []string{
		"# " + path + " is valid. The effective configuration from the file and the environment,",
		"max_attempts: 6",      // the override
		"attempt_timeout: 10s", // a default filled in
		"cache_for: 1s",        // in a section the file leaves out
		"env: CHECK_TEST_SECRET",
		"bearer: '[REDACTED]'",
		"url: amqp://guest:[REDACTED]@localhost:5672/",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, secret := range []string{"env-s3cret-value", "literal-s3cret-value", "url-s3cret-value"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("the output shows the secret %q", secret)
		}
	}
	wantWarning := "warning: " + path + ":12: clients.legacy.auth.bearer: the secret is written in the file; prefer {env: NAME} or {file: PATH}\n"
	if stderr != wantWarning {
		t.Errorf("stderr = %q; want %q", stderr, wantWarning)
	}

	// --env=false: no override, and the secret's variable is not looked up.
	t.Setenv("CHECK_TEST_SECRET", "")
	stdout, stderr, err = runConfig(t, "config", "check", "--env=false", path)
	if err != nil {
		t.Fatalf("rampart config check --env=false = %v; stderr:\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "from the file alone") || !strings.Contains(stdout, "max_attempts: 4") {
		t.Errorf("--env=false applied the environment:\n%s", stdout)
	}
}

func TestConfigCheckInvalid(t *testing.T) {
	t.Setenv("RAMPART_HEALTH__TIMEOUT", "5")
	path := writeConfig(t, `clients:
  payments:
    base_url: https://pay.example
    retry:
      max_attempts: 0
      backof: {base: 1s}
pipelines:
  orders:
    policies:
      - retry: {}
      - breakr: {}
`)
	stdout, stderr, err := runConfig(t, "config", "check", path)
	if err == nil {
		t.Fatalf("rampart config check = nil; want an error (exit status 1); stdout:\n%s", stdout)
	}
	if want := "config check: " + path + ": 4 problems"; err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
	want := strings.Join([]string{
		path + ":5: clients.payments.retry.max_attempts: must be ≥ 1, got 0",
		path + ":6: clients.payments.retry.backof: unknown key (did you mean backoff?)",
		path + ":11: pipelines.orders.policies[1].breakr: unknown policy kind (did you mean breaker?)",
		`env RAMPART_HEALTH__TIMEOUT: health.timeout: must be a duration with a unit, such as "250ms" or "2s"; got the bare number 5`,
	}, "\n") + "\n"
	if stderr != want {
		t.Errorf("stderr =\n%s\nwant\n%s", stderr, want)
	}
	if stdout != "" {
		t.Errorf("stdout = %q; want nothing on failure", stdout)
	}

	// Without the environment, the variable's problem is gone.
	_, stderr, err = runConfig(t, "config", "check", "--env=false", path)
	if err == nil || strings.Contains(stderr, "RAMPART_HEALTH__TIMEOUT") || !strings.Contains(err.Error(), "3 problems") {
		t.Errorf("--env=false: error %v, stderr:\n%s", err, stderr)
	}
}

func TestConfigCheckUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"config", "check"}, "rampart config check takes one FILE, got 0 arguments"},
		{[]string{"config", "check", "a", "b"}, "rampart config check takes one FILE, got 2 arguments"},
		{[]string{"config", "check", missing}, "config: open " + missing + ": no such file or directory"},
		{[]string{"config", "check", "--env=maybe", "x"}, `invalid argument "maybe" for "--env"`},
		{[]string{"config", "chek"}, `unknown command "chek" for "rampart config" (did you mean check?)`},
	} {
		_, _, err := runConfig(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("rampart %s = %v; want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	out, _, err := runConfig(t, "config", "check", "--help")
	if err != nil || !strings.Contains(out, "--env") || !strings.Contains(out, "rampart config check FILE") {
		t.Errorf("rampart config check --help = %v:\n%s", err, out)
	}
}
