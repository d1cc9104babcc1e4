package config

import (
	"errors"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// URL is a URL in the configuration. A password in it (amqp://user:pass@host) is
// never printed: String, the dump and error messages show "[REDACTED]" instead.
type URL string

// String returns the URL with its password, if any, redacted.
func (u URL) String() string { return redactURL(string(u)) }

// MarshalYAML writes the URL with its password redacted.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }

// redactURL redacts the password of each comma-separated URL in s. What does not
// parse is replaced entirely, since it might hold a password.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			if strings.Contains(p, "@") {
				parts[i] = "[REDACTED]"
			}
		case u.User != nil:
			if _, has := u.User.Password(); has {
				parts[i] = strings.Replace(u.Redacted(), ":xxxxx@", ":[REDACTED]@", 1)
			}
		}
	}
	return strings.Join(parts, ",")
}

// checkURL checks that raw is an absolute URL with one of the schemes and a host,
// with user information only if userinfo. Messages show it redacted.
func (st *loadState) checkURL(path, raw string, schemes []string, userinfo bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, which may hold a password
		}
		st.fail(path, "is not a valid URL: %v", err)
		return
	}
	switch {
	case !slices.Contains(schemes, u.Scheme) || u.Host == "":
		st.fail(path, "must be an absolute %s URL, got %s", strings.Join(schemes, " or "), quoteShort(redactURL(raw)))
	case u.User != nil && !userinfo:
		st.fail(path, "must not hold credentials (%s); configure them under auth", quoteShort(redactURL(raw)))
	}
}

// unwrapPath returns the reason of a *fs.PathError, whose text repeats the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// GoString returns the URL, redacted, as a Go string literal, for %#v.
func (u URL) GoString() string { return strconv.Quote(u.String()) }
