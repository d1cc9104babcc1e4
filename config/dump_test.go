package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The secret values of TestDumpRedactsSecrets: none may appear in any output.
var secretValues = []string{"file-literal-s3cret", "env-literal-s3cret", "env-var-s3cret", "file-s3cret", "url-passw0rd", "hmac-key-0123456789-0123456789-0123"}

func TestDumpRedactsSecrets(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte("file-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONFIG_TEST_SECRET", "env-var-s3cret")
	t.Setenv("RAMPART_CLIENTS__B__AUTH__API_KEY", "env-literal-s3cret")
	t.Setenv("RAMPART_CLIENTS__E__AUTH__HMAC__KEY", "hmac-key-0123456789-0123456789-0123")
	src := `
clients:
  a:
    base_url: https://a.example
    auth: {bearer: file-literal-s3cret}
  b:
    base_url: https://b.example
    auth: {api_key: {env: UNUSED}}
  c:
    base_url: https://c.example
    auth:
      oauth2: {token_url: "https://idp.example/token", client_id: c, client_secret: {env: CONFIG_TEST_SECRET}}
  d:
    base_url: https://d.example
    auth:
      header: {name: X-Token, secret: {file: ` + secretFile + `}}
  e:
    base_url: https://e.example
    auth:
      hmac: {key_id: k1}
bus:
  transport: rabbitmq
  url: amqp://guest:url-passw0rd@localhost:5672/
`
	cfg, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	dump := string(out)
	printed := fmt.Sprintf("%v %+v %#v", cfg, *cfg, *cfg) + fmt.Sprint(cfg.Clients["a"].Auth.Bearer, cfg.Bus.URL)
	var warnings []string
	for _, w := range cfg.Warnings() {
		warnings = append(warnings, w.Error())
	}
	for _, secret := range secretValues {
		if strings.Contains(dump, secret) {
			t.Errorf("the dump shows %q:\n%s", secret, dump)
		}
		if strings.Contains(printed, secret) {
			t.Errorf("fmt shows %q", secret)
		}
		if strings.Contains(strings.Join(warnings, "\n"), secret) {
			t.Errorf("a warning shows %q", secret)
		}
	}
	for _, want := range []string{
		"bearer: '[REDACTED]'",
		"api_key: '[REDACTED]'",
		"client_secret:\n          env: CONFIG_TEST_SECRET",
		"file: " + secretFile,
		"url: amqp://guest:[REDACTED]@localhost:5672/",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("the dump lacks %q:\n%s", want, dump)
		}
	}
	wantWarnings := []string{"t.yaml:5: clients.a.auth.bearer: the secret is written in the file; prefer {env: NAME} or {file: PATH}"}
	if !reflect.DeepEqual(warnings, wantWarnings) {
		t.Errorf("Warnings() = %q; want %q (a value from the environment is no warning)", warnings, wantWarnings)
	}

	// The credentials see the values.
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if _, err := cfg.Clients[name].HTTPXOptions(); err != nil {
			t.Errorf("clients.%s: HTTPXOptions: %v", name, err)
		}
	}
}

// TestErrorsRedactSecrets checks that no error shows a secret, whatever is wrong
// around it.
func TestErrorsRedactSecrets(t *testing.T) {
	t.Setenv("RAMPART_CLIENTS__A__AUTH__HMAC__KEY__VALUE", "env-literal-s3cret")
	_, err := parse(t, `
clients:
  a:
    base_url: https://a.example
    auth:
      hmac: {key_id: "k,1"}
  b:
    base_url: https://b.example
    auth:
      bearer: {value: file-literal-s3cret, env: X}
  c:
    base_url: "https://u:url-passw0rd@c.example"
bus:
  transport: rabbitmq
  url: "amqp://guest:url-passw0rd@local host/"
`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, secret := range secretValues {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the errors show %q:\n%v", secret, err)
		}
	}
	if n := len(FieldErrors(err)); n != 4 {
		t.Errorf("%d errors; want 4:\n%v", n, err)
	}
}

// TestDumpLoadsBack checks that the dump is the configuration: loaded again, it
// gives the same Config, defaults included.
func TestDumpLoadsBack(t *testing.T) {
	t.Setenv("PAYMENTS_CLIENT_SECRET", "x")
	t.Setenv("INVENTORY_API_KEY", "y")
	t.Setenv("RAMPART_BUS__URL", "amqp://localhost:5672/") // no password, which the dump would redact
	cfg, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOptions{}.Parse("dump.yaml", out)
	if err != nil {
		t.Fatalf("the dump does not load: %v\n%s", err, out)
	}
	again.file, again.stamp = cfg.file, cfg.stamp
	if !reflect.DeepEqual(cfg, again) {
		t.Errorf("the dump loads as another configuration:\n%s", out)
		for _, part := range []string{"Clients", "Pipelines", "Bus", "Health", "Telemetry"} {
			a := reflect.ValueOf(cfg).Elem().FieldByName(part).Interface()
			b := reflect.ValueOf(again).Elem().FieldByName(part).Interface()
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s:\n%+v\n%+v", part, a, b)
			}
		}
	}
}

// TestURLRedactsConnectionStringPasswords: a URL setting that holds a database
// connection string, libpq's key=value form or a URL with the password in its
// query, never shows the password (String, %#v, the dump).
func TestURLRedactsConnectionStringPasswords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"host=db user=app password=s3cret dbname=x", "host=db user=app password=[REDACTED] dbname=x"},
		{"host=db password = s3cret,more dbname=x", "host=db password = [REDACTED] dbname=x"},
		{`host=db password='s3cret with \' spaces' dbname=x`, "host=db password=[REDACTED] dbname=x"},
		{"password='s3cret unterminated", "password=[REDACTED]"},
		{"host=db sslpassword=s3cret PASSWORD=s3cret", "host=db sslpassword=[REDACTED] PASSWORD=[REDACTED]"},
		{"postgres://app@db/x?sslmode=disable&password=s3cret", "postgres://app@db/x?sslmode=disable&password=[REDACTED]"},
		{"postgres://app:s3cret@db/x", "postgres://app:[REDACTED]@db/x"},
		{"host=db user=app dbname=x", "host=db user=app dbname=x"},
	} {
		u := URL(tc.in)
		if got := u.String(); got != tc.want {
			t.Errorf("URL(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		for _, out := range []string{fmt.Sprint(u), fmt.Sprintf("%#v", u)} {
			if strings.Contains(out, "s3cret") {
				t.Errorf("URL(%q) printed as %q", tc.in, out)
			}
		}
		if y, err := u.MarshalYAML(); err != nil || strings.Contains(fmt.Sprint(y), "s3cret") {
			t.Errorf("URL(%q).MarshalYAML() = %v, %v; want it redacted", tc.in, y, err)
		}
	}
}
