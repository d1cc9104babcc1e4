package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"
)

// A SecretSource provides a secret each time one is needed, so that rotated
// secrets are picked up without a restart. [Secret], [EnvSecret] and [*FileSecret]
// are SecretSources. Load must be safe for concurrent use; its errors match
// [ErrNoSecret] and never contain the secret.
type SecretSource interface {
	Load(ctx context.Context) (Secret, error)
}

// noSource reports whether s is missing: nil, or a nil pointer in the interface
// (a typed nil such as a (*FileSecret)(nil), which would panic at its first Load).
func noSource(s SecretSource) bool {
	if s == nil {
		return true
	}
	v := reflect.ValueOf(s)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// EnvSecret is a [SecretSource] that reads the environment variable it names on
// every Load. An unset or empty variable is an error matching [ErrNoSecret].
type EnvSecret string

// Load returns the variable's current value.
func (e EnvSecret) Load(context.Context) (Secret, error) {
	v, ok := os.LookupEnv(string(e))
	if !ok || v == "" {
		return Secret{}, &SecretError{Source: fmt.Sprintf("environment variable %q", string(e))}
	}
	return NewSecret(v), nil
}

// DefaultFileCheckInterval is how often a [FileSecret] looks at its file when
// created with an interval <= 0.
const DefaultFileCheckInterval = 5 * time.Second

// maxSecretFileSize bounds what a FileSecret reads: secrets are small, and a
// mistaken path to a large file should fail rather than fill memory.
const maxSecretFileSize = 64 << 10

// FileSecret is a [SecretSource] that reads a secret from a file (a mounted
// Kubernetes secret, a token written by a sidecar) and re-reads it when it
// changes. Surrounding whitespace, such as a trailing newline, is trimmed.
//
// Load looks at the file at most once per check interval, and then only stats it:
// the file is read again only when its size, modification time or identity (an
// atomic rename or symlink swap) changed. No goroutine is started. A missing,
// unreadable, empty or oversized (> 64 KiB) file is an error matching
// [ErrNoSecret]; the value loaded before is not used past such an error.
//
// A FileSecret is safe for concurrent use.
type FileSecret struct {
	path  string
	every time.Duration

	mu      sync.Mutex
	loaded  bool
	value   Secret
	info    os.FileInfo
	checked time.Time
}

// NewFileSecret returns a FileSecret for the file at path that checks the file for
// changes at most once every checkEvery (<= 0 means [DefaultFileCheckInterval]).
// The file is first read by the first Load.
func NewFileSecret(path string, checkEvery time.Duration) *FileSecret {
	if checkEvery <= 0 {
		checkEvery = DefaultFileCheckInterval
	}
	return &FileSecret{path: path, every: checkEvery}
}

// Path returns the file's path.
func (f *FileSecret) Path() string { return f.path }

// Load returns the file's current secret.
func (f *FileSecret) Load(context.Context) (Secret, error) {
	return f.load(time.Now())
}

// load is Load at the given time.
func (f *FileSecret) load(now time.Time) (Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loaded && now.Sub(f.checked) < f.every {
		return f.value, nil
	}
	info, err := os.Stat(f.path)
	if err != nil {
		f.loaded = false
		return Secret{}, f.error(err)
	}
	if f.loaded && sameFileVersion(f.info, info) {
		f.checked = now
		return f.value, nil
	}
	s, err := readSecretFile(f.path)
	if err != nil {
		f.loaded = false
		return Secret{}, f.error(err)
	}
	f.value, f.info, f.checked, f.loaded = s, info, now, true
	return s, nil
}

func (f *FileSecret) error(err error) error {
	return &SecretError{Source: fmt.Sprintf("file %q", f.path), Err: err}
}

// sameFileVersion reports whether b is the file a was, unchanged as far as a stat
// can tell.
func sameFileVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

var errEmptyFile = errors.New("file is empty")

func readSecretFile(path string) (Secret, error) {
	fh, err := os.Open(path)
	if err != nil {
		return Secret{}, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxSecretFileSize+1))
	if err != nil {
		return Secret{}, err
	}
	if len(b) > maxSecretFileSize {
		return Secret{}, fmt.Errorf("file is larger than %d bytes", maxSecretFileSize)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Secret{}, errEmptyFile
	}
	return NewSecret(v), nil
}
