package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const secretValue = "s3cr3t-value-that-must-not-leak"

func TestSecretNeverPrinted(t *testing.T) {
	s := NewSecret(secretValue)
	type exported struct {
		Name  string
		Token Secret
	}
	type unexported struct {
		name  string
		token Secret
	}
	type pointer struct{ Token *Secret }
	values := map[string]any{
		"Secret":                   s,
		"*Secret":                  &s,
		"struct with Secret":       exported{"a", s},
		"struct with hidden field": unexported{"a", s},
		"struct with *Secret":      pointer{&s},
		"slice":                    []Secret{s},
		"map":                      map[string]Secret{"k": s},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10.3s", "%T %v", "%d"} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, secretValue) || strings.Contains(got, fmt.Sprintf("%x", secretValue)) {
				t.Errorf("Sprintf(%q, %s) = %q, leaks the secret", verb, name, got)
			}
		}
	}
	if got := fmt.Sprint(s); got != redacted {
		t.Errorf("Sprint(secret) = %q, want %q", got, redacted)
	}
	if got := s.String(); got != redacted {
		t.Errorf("String() = %q, want %q", got, redacted)
	}
	if got := fmt.Sprintf("%q", s); got != `"[REDACTED]"` {
		t.Errorf(`Sprintf("%%q") = %q, want %q`, got, `"[REDACTED]"`)
	}

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		logger := slog.New(h)
		logger.Info("msg", "secret", s, "struct", exported{"a", s}, slog.Any("any", s), slog.Group("g", "s", s))
	}
	if strings.Contains(buf.String(), secretValue) {
		t.Errorf("slog output leaks the secret: %s", buf.String())
	}
	if !strings.Contains(buf.String(), redacted) {
		t.Errorf("slog output = %s, want it to contain %q", buf.String(), redacted)
	}

	b, err := json.Marshal(exported{"a", s})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"Name":"a","Token":"[REDACTED]"}`; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
}

func TestSecretValue(t *testing.T) {
	s := NewSecret("abc")
	if got := s.Reveal(); got != "abc" {
		t.Errorf("Reveal() = %q, want %q", got, "abc")
	}
	if !s.Equal(NewSecret("abc")) || s.Equal(NewSecret("abd")) || s.Equal(Secret{}) {
		t.Errorf("Equal is wrong")
	}
	if !(Secret{}).IsZero() || !NewSecret("").IsZero() || s.IsZero() {
		t.Errorf("IsZero is wrong")
	}
	var u Secret
	if err := json.Unmarshal([]byte(`"from-config"`), &u); err != nil || u.Reveal() != "from-config" {
		t.Errorf("json.Unmarshal into Secret = %q, %v; want %q", u.Reveal(), err, "from-config")
	}
	if _, err := (Secret{}).Load(context.Background()); !errors.Is(err, ErrNoSecret) {
		t.Errorf("zero Secret Load() error = %v, want ErrNoSecret", err)
	}
}

func TestEnvSecret(t *testing.T) {
	t.Setenv("RAMPART_TEST_TOKEN", "from-env")
	got, err := EnvSecret("RAMPART_TEST_TOKEN").Load(context.Background())
	if err != nil || got.Reveal() != "from-env" {
		t.Errorf("Load() = %q, %v; want %q", got.Reveal(), err, "from-env")
	}
	t.Setenv("RAMPART_TEST_TOKEN", "rotated")
	got, _ = EnvSecret("RAMPART_TEST_TOKEN").Load(context.Background())
	if got.Reveal() != "rotated" {
		t.Errorf("Load() after change = %q, want %q", got.Reveal(), "rotated")
	}
	_, err = EnvSecret("RAMPART_TEST_UNSET_VARIABLE").Load(context.Background())
	if !errors.Is(err, ErrNoSecret) || !strings.Contains(err.Error(), "RAMPART_TEST_UNSET_VARIABLE") {
		t.Errorf("Load() of unset variable error = %v, want ErrNoSecret naming the variable", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestFileSecretRereadsOnChange runs in a synctest bubble: the check interval is
// measured on the bubble's clock while the file itself is real.
func TestFileSecretRereadsOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, "first-token\n")
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		f := NewFileSecret(path, 10*time.Second)
		load := func() string {
			t.Helper()
			s, err := f.Load(ctx)
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			return s.Reveal()
		}
		if got := load(); got != "first-token" {
			t.Fatalf("Load() = %q, want %q", got, "first-token")
		}
		writeFile(t, path, "second-token-longer\n")
		if got := load(); got != "first-token" {
			t.Errorf("Load() within the interval = %q, want the cached %q", got, "first-token")
		}
		time.Sleep(10 * time.Second)
		if got := load(); got != "second-token-longer" {
			t.Errorf("Load() after the interval = %q, want %q", got, "second-token-longer")
		}

		// A file replaced by rename (as Kubernetes does) is noticed even with the
		// same size.
		tmp := path + ".tmp"
		writeFile(t, tmp, "third--token-longer\n")
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if got := load(); got != "third--token-longer" {
			t.Errorf("Load() after rename = %q, want %q", got, "third--token-longer")
		}

		// An unchanged file keeps its value.
		time.Sleep(10 * time.Second)
		if got := load(); got != "third--token-longer" {
			t.Errorf("Load() of unchanged file = %q, want %q", got, "third--token-longer")
		}

		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if _, err := f.Load(ctx); !errors.Is(err, ErrNoSecret) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load() of removed file error = %v, want ErrNoSecret and os.ErrNotExist", err)
		}
	})
}

func TestFileSecretErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, " \n")
	big := filepath.Join(dir, "big")
	writeFile(t, big, strings.Repeat("x", maxSecretFileSize+1))
	for _, path := range []string{empty, big, filepath.Join(dir, "missing"), dir} {
		_, err := NewFileSecret(path, 0).Load(context.Background())
		if !errors.Is(err, ErrNoSecret) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%q) error = %v, want ErrNoSecret naming the file", path, err)
		}
	}
}
