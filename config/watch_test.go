package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write a new file and rename it over the old one, as deployment tools do.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		writeFile(t, path, "health: {timeout: 1s}\n")
		ctx, cancel := context.WithCancel(t.Context())
		changes := make(chan *Config, 10)
		errs := make(chan error, 10)
		refuse := errors.New("refused")
		done := make(chan error, 1)
		go func() {
			done <- WatchOptions{
				Interval: time.Second,
				Load:     LoadOptions{IgnoreEnv: true},
				OnError:  func(err error) { errs <- err },
			}.Watch(ctx, path, func(c *Config) error {
				changes <- c
				if c.Health.Timeout.D() == 4*time.Second {
					return refuse
				}
				return nil
			})
		}()
		wait := func() {
			time.Sleep(time.Second)
			synctest.Wait()
		}

		wait()
		if len(changes)+len(errs) != 0 {
			t.Fatal("Watch reported a file that did not change")
		}

		writeFile(t, path, "health: {timeout: 20s}\n")
		wait()
		select {
		case c := <-changes:
			if c.Health.Timeout.D() != 20*time.Second {
				t.Errorf("health.timeout = %s; want 20s", c.Health.Timeout)
			}
		default:
			t.Fatal("no callback after the file changed")
		}
		wait()
		if len(changes) != 0 {
			t.Error("the same version was loaded twice")
		}

		writeFile(t, path, "health: {timeout: 20}\n")
		wait()
		select {
		case err := <-errs:
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "health.timeout: must be a duration with a unit") {
				t.Errorf("OnError(%v); want the file's error", err)
			}
		default:
			t.Fatal("no OnError for an invalid file")
		}
		if len(changes) != 0 {
			t.Error("onChange was called with an invalid file")
		}

		writeFile(t, path, "health: {timeout: 4s}\n")
		wait()
		if len(changes) != 1 {
			t.Error("no callback after the file was fixed")
		}
		<-changes
		if err := <-errs; !errors.Is(err, refuse) {
			t.Errorf("OnError(%v); want the callback's error", err)
		}

		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		wait()
		wait()
		if len(errs) != 1 {
			t.Errorf("%d errors for a removed file; want one", len(errs))
		}
		<-errs
		writeFile(t, path, "health: {timeout: 5s}\n")
		wait()
		if len(changes) != 1 {
			t.Error("no callback once the file is back")
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch = %v; want nil once ctx is done", err)
		}
	})
}

// TestWatchSinceLoad checks that a change made between Load and Watch is seen.
func TestWatchSinceLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		writeFile(t, path, "health: {timeout: 1s}\n")
		cfg, err := LoadOptions{IgnoreEnv: true}.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, "health: {timeout: 30s}\n")
		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan *Config, 1)
		go WatchOptions{Current: cfg, Load: LoadOptions{IgnoreEnv: true}}.Watch(ctx, path, func(c *Config) error {
			got <- c
			return nil
		})
		time.Sleep(DefaultWatchInterval)
		synctest.Wait()
		if len(got) != 1 {
			t.Error("the change made before Watch started was missed")
		}
		cancel()
		synctest.Wait()
	})
}

func TestWatchErrors(t *testing.T) {
	if err := Watch(t.Context(), filepath.Join(t.TempDir(), "nope.yaml"), func(*Config) error { return nil }); err == nil {
		t.Error("Watch(missing file) = nil")
	}
	if err := Watch(t.Context(), "testdata/full.yaml", nil); err == nil {
		t.Error("Watch(nil callback) = nil")
	}
}

// TestWatchApply reloads a live pipeline from a real file on the real clock,
// waiting a bounded time.
func TestWatchApply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, "pipelines:\n  p:\n    policies: [{timeout: 1s}]\n")
	cfg, err := LoadOptions{IgnoreEnv: true}.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	live, err := Build(cfg, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	applied := make(chan []Change, 1)
	done := make(chan error, 1)
	go func() {
		done <- WatchOptions{Interval: 10 * time.Millisecond, Current: cfg, Load: LoadOptions{IgnoreEnv: true}}.Watch(ctx, path, func(next *Config) error {
			changes, err := live.Apply(next)
			applied <- changes
			return err
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	writeFile(t, path, "pipelines:\n  p:\n    policies: [{timeout: 250ms}]\n")
	select {
	case changes := <-applied:
		if len(changes) != 1 || changes[0].Action != Updated {
			t.Errorf("changes = %v; want the timeout updated", changes)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s")
	}
	p, _ := live.Pipeline("p")
	if d := p.Policies()[0].(interface{ Duration() time.Duration }).Duration(); d != 250*time.Millisecond {
		t.Errorf("timeout = %s; want 250ms", d)
	}
}
