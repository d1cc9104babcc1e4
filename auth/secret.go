package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret holds a credential (a token, an API key, a client secret, an HMAC key) so
// that it cannot be printed by accident: fmt prints "[REDACTED]" for every verb
// (%v, %+v, %#v, %s, %q, %x, ...), slog logs "[REDACTED]", and encoding/json and
// other text marshalers write "[REDACTED]". Only [Secret.Reveal] returns the value.
//
// The value sits behind a pointer, so even a Secret in an unexported field of
// another struct, which fmt prints without calling its methods, shows as an
// address, never as the value.
//
// The zero Secret is empty. Secrets are immutable and safe for concurrent use;
// compare them with [Secret.Equal], not ==.
type Secret struct {
	v *string
}

// NewSecret returns a Secret holding s. NewSecret("") is the zero Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{v: &s}
}

// Reveal returns the secret value. Call it only where the value is sent or used,
// never to log or format it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// Equal reports whether s and t hold the same value, in constant time for values
// of equal length.
func (s Secret) Equal(t Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(t.Reveal())) == 1
}

// Load returns s itself, so that a Secret is a [SecretSource]. An empty Secret
// returns an error matching [ErrNoSecret].
func (s Secret) Load(context.Context) (Secret, error) {
	if s.IsZero() {
		return Secret{}, &SecretError{Source: "value"}
	}
	return s, nil
}

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]", for %#v.
func (s Secret) GoString() string { return redacted }

// Format writes "[REDACTED]" for every verb and flag, so that no format verb (%x
// included) shows the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, `"`+redacted+`"`)
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// LogValue implements [slog.LogValuer]: the secret is logged as "[REDACTED]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements [encoding.TextMarshaler] (and so JSON encoding): it
// returns "[REDACTED]". A marshalled Secret cannot be read back.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalText implements [encoding.TextUnmarshaler], so that configuration
// decoders can fill a Secret from text. Surrounding whitespace is kept.
func (s *Secret) UnmarshalText(text []byte) error {
	*s = NewSecret(string(text))
	return nil
}
