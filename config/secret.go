package config

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rampart-go/rampart/auth"
)

// Secret is a credential in the configuration: the name of an environment
// variable that holds it, the path of a file that holds it, or the value itself.
// In YAML:
//
//	secret: {env: PAYMENTS_CLIENT_SECRET}   # read from the environment
//	secret: {file: /run/secrets/payments}   # read from a file (trailing newline trimmed)
//	secret: s3cr3t                          # the value itself: a warning in a file
//
// Exactly one of Env, File and Value is set. The value is never printed: a dump
// shows the variable's name or the file's path, and "[REDACTED]" for a value.
// [Load] checks that the variable is set and the file is readable, without keeping
// what it read; [Secret.Source] reads them again whenever the credential is used,
// so that a rotated secret needs no restart.
type Secret struct {
	Env   string      `yaml:"env,omitempty"`   // an environment variable
	File  string      `yaml:"file,omitempty"`  // a file
	Value auth.Secret `yaml:"value,omitempty"` // the secret itself
}

// IsZero reports whether s names no secret at all.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" && s.Value.IsZero() }

// Source returns the [auth.SecretSource] that provides the secret: an
// [auth.EnvSecret], an [*auth.FileSecret] (checked for changes at most every 5s)
// or the [auth.Secret] value.
func (s Secret) Source() auth.SecretSource {
	switch {
	case s.Env != "":
		return auth.EnvSecret(s.Env)
	case s.File != "":
		return auth.NewFileSecret(s.File, 0)
	}
	return s.Value
}

// Load returns the secret now. Its errors match [auth.ErrNoSecret] and never
// contain the secret.
func (s Secret) Load(ctx context.Context) (auth.Secret, error) {
	if s.File != "" {
		if err := regularFile(s.File); err != nil {
			return auth.Secret{}, &auth.SecretError{Source: fmt.Sprintf("file %q", s.File), Err: err}
		}
	}
	return s.Source().Load(ctx)
}

// MarshalYAML writes {env: NAME}, {file: PATH} or "[REDACTED]".
func (s Secret) MarshalYAML() (any, error) {
	switch {
	case s.Env != "":
		return map[string]string{"env": s.Env}, nil
	case s.File != "":
		return map[string]string{"file": s.File}, nil
	case s.Value.IsZero():
		return "", nil
	}
	return s.Value.String(), nil
}

// regularFile checks that path is a regular file, so that a secret or a
// certificate is never read from a FIFO or a device that would block.
func regularFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}

// decodeFrom reads a scalar (the value) or a mapping with one of env, file, value.
// No message ever shows the value.
func (s *Secret) decodeFrom(st *loadState, path string, raw any) {
	*s = Secret{}
	switch v := raw.(type) {
	case string:
		if v == "" {
			st.fail(path, "is empty")
			return
		}
		s.Value = auth.NewSecret(v)
		if !st.fromEnv(path) {
			st.warn(path, "the secret is written in the file; prefer {env: NAME} or {file: PATH}")
		}
	case map[string]any:
		keys := sortedKeys(v)
		known := []string{"env", "file", "value"}
		for _, k := range keys {
			kp := join(path, k)
			st.present[kp] = true
			str, ok := v[k].(string)
			switch {
			case k != "env" && k != "file" && k != "value":
				st.failUnknown(kp, suggest(k, known))
				continue
			case !ok:
				st.fail(kp, "must be a string, got %s", kindOf(v[k]))
				continue
			case str == "":
				st.fail(kp, "is empty")
				continue
			}
			switch k {
			case "env":
				s.Env = str
			case "file":
				s.File = str
			case "value":
				s.Value = auth.NewSecret(str)
				if !st.fromEnv(kp) {
					st.warn(kp, "the secret is written in the file; prefer {env: NAME} or {file: PATH}")
				}
			}
		}
		n := 0
		for _, set := range []bool{s.Env != "", s.File != "", !s.Value.IsZero()} {
			if set {
				n++
			}
		}
		if n > 1 {
			st.fail(path, "must have one of env, file and value, not %d", n)
		}
		if n == 0 && len(keys) == 0 {
			st.fail(path, "must have one of env, file and value")
		}
	case nil:
		st.fail(path, "has no value; write {env: NAME}, {file: PATH} or the secret")
	default:
		st.fail(path, "must be {env: NAME}, {file: PATH} or a string, got %s", kindOf(raw))
	}
}

// check verifies that the secret can be read now, reporting at path. It is
// skipped for environment variables when the environment is ignored.
func (s *Secret) check(st *loadState, path string) {
	switch {
	case s.Env != "":
		if st.ignoreEnv {
			return
		}
		switch v, ok := os.LookupEnv(s.Env); {
		case !ok:
			st.fail(join(path, "env"), "environment variable %s is not set", s.Env)
		case v == "":
			st.fail(join(path, "env"), "environment variable %s is empty", s.Env)
		}
	case s.File != "":
		if _, err := s.Load(context.Background()); err != nil {
			cause := errors.Unwrap(err) // the SecretError's cause
			if cause == nil {
				cause = err
			}
			st.failErr(join(path, "file"), err, "cannot read %s: %v", s.File, unwrapPath(cause))
		}
	}
}
