package wiring

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIssuerWithoutJWKSURLIsRefused: a configured issuer without the JWKS URL
// of its keys (a production configuration that forgot jwks_url) stops the
// service at start, with an error naming both settings, instead of running it
// in development mode.
func TestIssuerWithoutJWKSURLIsRefused(t *testing.T) {
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "jwt_issuer") || !strings.Contains(err.Error(), "jwks_url") {
			t.Errorf("%s = %v; want an error naming jwt_issuer and jwks_url", what, err)
		}
	}
	_, err := ParseSettings([]string{"-data", t.TempDir(), "-jwt-issuer", "https://idp.example"}, func(string) string { return "" }, &bytes.Buffer{})
	check("ParseSettings(-jwt-issuer without -jwks-url)", err)

	dir := t.TempDir()
	path := filepath.Join(dir, "customers.yaml")
	if err := os.WriteFile(path, []byte("customers:\n  data_dir: "+filepath.Join(dir, "data")+"\n  jwt_issuer: https://idp.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := New(context.Background(), Settings{ConfigFile: path, Addr: "127.0.0.1:0", LogOutput: &logs})
	if err == nil {
		s.Close()
	}
	check("New(config with jwt_issuer, without jwks_url)", err)
	if _, err := os.Stat(filepath.Join(dir, "data", "dev-token")); err == nil {
		t.Error("a development token was written")
	}
}

// TestDevTokenIsNotLogged: in development mode the token is written to
// DataDir/dev-token and printed for the person at the terminal, and the log
// names the file, never the token.
func TestDevTokenIsNotLogged(t *testing.T) {
	dir := t.TempDir()
	var logs, terminal bytes.Buffer
	s := Settings{DataDir: dir, DevTokenOutput: &terminal}
	s.normalize()
	v, tok, err := verifier(s, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil || v == nil || tok == "" {
		t.Fatalf("verifier() = %v, %q, %v; want a development verifier and token", v, tok, err)
	}
	file := filepath.Join(dir, "dev-token")
	if b, err := os.ReadFile(file); err != nil || strings.TrimSpace(string(b)) != tok {
		t.Errorf("%s = %q, %v; want the token", file, b, err)
	}
	if !strings.Contains(terminal.String(), tok) {
		t.Errorf("printed %q; want the token", terminal.String())
	}
	if strings.Contains(logs.String(), tok) {
		t.Errorf("the log holds the token: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"token_file":`) || !strings.Contains(logs.String(), "dev-token") {
		t.Errorf("the log does not name the token file: %s", logs.String())
	}
}

// TestDatabaseFlagIsChecked: a database setting from a flag or the environment
// (which the config file's section does not see) that is not a postgres:// URL
// is refused at start, without the value in the error: a key=value connection
// string holds its password in clear.
func TestDatabaseFlagIsChecked(t *testing.T) {
	const dsn = "host=db user=app password=s3cret dbname=x"
	_, err := ParseSettings([]string{"-data", t.TempDir(), "-database", dsn}, func(string) string { return "" }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "postgres://") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("ParseSettings(-database %q) = %v; want an error asking for a postgres:// URL, without the password", dsn, err)
	}
	var logs bytes.Buffer
	s, err := New(context.Background(), Settings{DataDir: t.TempDir(), DatabaseURL: dsn, Addr: "127.0.0.1:0", LogOutput: &logs})
	if err == nil {
		s.Close()
	}
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("New(DatabaseURL %q) = %v (logs %q); want an error, and the password nowhere", dsn, err, logs.String())
	}
}
