package config

import (
	"context"
	"fmt"
	"os"
	"time"
)

// DefaultWatchInterval is how often [Watch] looks at the file when
// WatchOptions.Interval is zero.
const DefaultWatchInterval = 2 * time.Second

// fileStamp tells versions of a file apart, as far as a stat can.
type fileStamp struct {
	info os.FileInfo // nil when the file could not be read
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{info: fi}, nil
}

// same reports whether s and t are the same version of the file: the same file
// (an atomic rename or a Kubernetes ConfigMap's symlink swap makes another one),
// of the same size and modification time.
func (s fileStamp) same(t fileStamp) bool {
	if s.info == nil || t.info == nil {
		return s.info == nil && t.info == nil
	}
	return os.SameFile(s.info, t.info) && s.info.Size() == t.info.Size() && s.info.ModTime().Equal(t.info.ModTime())
}

// WatchOptions configure [WatchOptions.Watch]. The zero value polls every 2s,
// reads the environment, and ignores the files that do not load.
type WatchOptions struct {
	// Interval is how often the file is looked at (one stat). Zero means
	// [DefaultWatchInterval].
	Interval time.Duration
	// Load configures the loading of each new version.
	Load LoadOptions
	// Current is the configuration already loaded from the file, if any: a change
	// made after it was loaded and before Watch started is then noticed too.
	Current *Config
	// OnError, if set, is called with the error of a version that does not load
	// (every problem, as [Load] returns them) and with the errors onChange
	// returns. It runs on Watch's goroutine.
	OnError func(error)
}

// Watch calls onChange with the new configuration each time the file at path
// changes and loads without errors; it is WatchOptions{}.Watch.
func Watch(ctx context.Context, path string, onChange func(*Config) error) error {
	return WatchOptions{}.Watch(ctx, path, onChange)
}

// Watch looks at the file at path every o.Interval and, when its size,
// modification time or identity changed, loads it; a version that loads is passed
// to onChange, one that does not is passed to o.OnError and otherwise skipped (the
// service keeps running with what it has; the next change is loaded again). The
// environment is read again at each load.
//
// Watch runs on the caller's goroutine and starts none: it returns nil when ctx
// is done, or an error at once if path cannot be read at the start. onChange and
// OnError are called one at a time, from the caller's goroutine.
func (o WatchOptions) Watch(ctx context.Context, path string, onChange func(*Config) error) error {
	if onChange == nil {
		return fmt.Errorf("config: Watch: onChange is nil")
	}
	every := o.Interval
	if every <= 0 {
		every = DefaultWatchInterval
	}
	last, err := stampOf(path)
	if err != nil {
		return fmt.Errorf("config: Watch: %w", err)
	}
	if o.Current != nil && o.Current.stamp.info != nil {
		last = o.Current.stamp
	}
	report := func(err error) {
		if o.OnError != nil && err != nil {
			o.OnError(err)
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now, err := stampOf(path)
		if err != nil {
			// A file being replaced may be missing for a moment; report it once.
			if last.info != nil {
				report(fmt.Errorf("config: %w", err))
			}
			last = fileStamp{}
			continue
		}
		if now.same(last) {
			continue
		}
		last = now
		cfg, err := o.Load.Load(path)
		if err != nil {
			report(err)
			continue
		}
		report(onChange(cfg))
	}
}
