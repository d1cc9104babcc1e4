package config

import (
	"errors"
	"io/fs"
	"net/url"
	"regexp"
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

// keyValuePassword matches a password in a key=value connection string (libpq's
// "host=db user=app password=s3cret", also sslpassword): the key, and the value,
// bare up to a space or single-quoted with backslash escapes (to the end if the
// quote is not closed).
var keyValuePassword = regexp.MustCompile(`(?i)(^|\s)(\w*password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)`)

// queryPassword matches a password in a URL's query (postgres://db/x?password=s3cret).
var queryPassword = regexp.MustCompile(`(?i)([?&]\w*password=)[^&#]*`)

// redactURL redacts the password of each comma-separated URL in s. What does not
// parse is replaced entirely, since it might hold a password. A string that is
// not a URL but key=value pairs (a libpq connection string) has its password
// values redacted.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") && keyValuePassword.MatchString(s) {
		// Not split at commas: a bare value may hold one.
		return keyValuePassword.ReplaceAllString(s, "${1}${2}[REDACTED]")
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			if strings.Contains(p, "@") {
				parts[i] = "[REDACTED]"
			}
		default:
			if u.User != nil {
				if _, has := u.User.Password(); has {
					parts[i] = strings.Replace(u.Redacted(), ":xxxxx@", ":[REDACTED]@", 1)
				}
			}
			parts[i] = queryPassword.ReplaceAllString(parts[i], "${1}[REDACTED]")
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
