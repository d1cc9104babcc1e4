package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/resilience"
)

// BusConfig configures the event bus and names its transport. The transports
// themselves are built by the program (cmd/), which reads Transport, URL, Prefix
// and Embedded from here: this package imports none of them.
type BusConfig struct {
	Transport     string                        `yaml:"transport"`          // memory (default), rabbitmq or jetstream
	URL           URL                           `yaml:"url"`                // amqp(s):// for rabbitmq; nats:// (comma-separated servers) for jetstream
	Prefix        string                        `yaml:"prefix"`             // names the queues or streams; default "rampart"
	Embedded      *EmbeddedConfig               `yaml:"embedded,omitempty"` // jetstream only: run a NATS server in the process
	FullHeaders   bool                          `yaml:"full_headers"`       // rabbitmq and jetstream: every envelope header as a header of its own, for a rolling upgrade
	Source        string                        `yaml:"source"`             // CloudEvents source of published events; empty means "/<program name>"
	MaxBodySize   int                           `yaml:"max_body_size"`      // bytes, published and received; -1 for no limit; default 1 MiB
	Subscriptions map[string]SubscriptionConfig `yaml:"subscriptions"`      // by subscription name
}

func (b *BusConfig) setDefaults() {
	*b = BusConfig{Transport: "memory", Prefix: "rampart", MaxBodySize: bus.DefaultMaxBodySize, Subscriptions: map[string]SubscriptionConfig{}}
}

// EmbeddedConfig runs a NATS server with JetStream inside the process.
type EmbeddedConfig struct {
	DataDir string `yaml:"data_dir"` // where the streams are stored; required
	Listen  string `yaml:"listen"`   // host:port to accept other NATS clients on; none by default
}

// SubscriptionConfig is a [bus.SubscriptionOptions].
type SubscriptionConfig struct {
	Workers         int        `yaml:"workers"`           // messages handled at once, ≥ 1; default 1
	Prefetch        int        `yaml:"prefetch"`          // messages sent ahead, ≥ workers; default 4 × workers
	Ordered         bool       `yaml:"ordered"`           // keep the order of events with the same key
	Timeout         Duration   `yaml:"timeout"`           // handling of one delivery, > 0; default 30s
	Pipeline        string     `yaml:"pipeline"`          // name of a pipeline to run the handler through (a short retry); none by default
	Redelivery      []Duration `yaml:"redelivery,flow"`   // delays of redelivery after attempt 1, 2, …; default 1s, 10s, 1m
	MaxAttempts     int        `yaml:"max_attempts"`      // attempts before dead-lettering, ≥ 1; default 5
	InProgressDelay Duration   `yaml:"in_progress_delay"` // redelivery while another worker holds the message; default the first redelivery delay
	InboxLease      Duration   `yaml:"inbox_lease"`       // claim in the inbox; default timeout + 30s
}

func (s *SubscriptionConfig) setDefaults() {
	*s = SubscriptionConfig{
		Workers:     1,
		Timeout:     Duration(30 * time.Second),
		Redelivery:  []Duration{Duration(time.Second), Duration(10 * time.Second), Duration(time.Minute)},
		MaxAttempts: 5,
	}
}

var (
	prefixRE          = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	rabbitmqPrefixRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	busTransportKinds = []string{"jetstream", "memory", "rabbitmq"}
)

func (b *BusConfig) validate(st *loadState, path string, pipelines map[string]PipelineConfig) {
	st.oneOf(join(path, "transport"), b.Transport, busTransportKinds)
	up, ep := join(path, "url"), join(path, "embedded")
	if b.Embedded != nil && (b.Transport != "jetstream" || b.URL != "") && st.onlyDefault(ep) {
		// The defaults' embedded server gives way to a broker the file or the
		// environment chose.
		b.Embedded = nil
	}
	switch b.Transport {
	case "memory":
		if b.URL != "" {
			st.fail(up, "is for rabbitmq and jetstream; the memory transport has none")
		}
		if b.FullHeaders {
			st.fail(join(path, "full_headers"), "is for rabbitmq and jetstream; the memory transport has no headers on a wire")
		}
	case "rabbitmq":
		if b.URL == "" {
			st.fail(up, "is required for rabbitmq (amqp://user:password@host:5672/vhost)")
		} else {
			st.checkURL(up, string(b.URL), []string{"amqp", "amqps"}, true)
		}
		if !rabbitmqPrefixRE.MatchString(b.Prefix) {
			st.fail(join(path, "prefix"), "must be letters, digits, '.', '-' and '_', got %s", quoteShort(b.Prefix))
		}
	case "jetstream":
		switch {
		case b.URL == "" && b.Embedded == nil:
			st.fail(up, "is required for jetstream (nats://host:4222), unless embedded.data_dir runs a server in the process")
		case b.URL != "" && b.Embedded != nil:
			st.fail(up, "cannot be given with embedded: the transport connects to its embedded server")
		case b.URL != "":
			for _, u := range strings.Split(string(b.URL), ",") {
				st.checkURL(up, u, []string{"nats", "tls", "ws", "wss"}, true)
			}
		}
		if !prefixRE.MatchString(b.Prefix) {
			st.fail(join(path, "prefix"), "must be letters, digits, '-' and '_', got %s", quoteShort(b.Prefix))
		}
	}
	if b.Embedded != nil {
		if b.Transport != "jetstream" {
			st.fail(ep, "is for the jetstream transport only")
		}
		if b.Embedded.DataDir == "" {
			st.fail(join(ep, "data_dir"), "is required")
		}
	}
	if b.MaxBodySize < 1 && b.MaxBodySize != -1 {
		st.fail(join(path, "max_body_size"), "must be ≥ 1, or -1 for no limit, got %d", b.MaxBodySize)
	}
	for _, name := range sortedKeys(b.Subscriptions) {
		sp := join(join(path, "subscriptions"), name)
		s := b.Subscriptions[name]
		st.checkName(sp, name)
		s.validate(st, sp, pipelines)
		b.Subscriptions[name] = s
	}
}

func (s *SubscriptionConfig) validate(st *loadState, path string, pipelines map[string]PipelineConfig) {
	st.atLeast(join(path, "workers"), s.Workers, 1)
	pp := join(path, "prefetch")
	if s.Prefetch == 0 && !st.has(pp) {
		s.Prefetch = 4 * s.Workers
	}
	if s.Prefetch < s.Workers {
		st.fail(pp, "must be ≥ workers (%d), got %d", s.Workers, s.Prefetch)
	}
	st.positiveDuration(join(path, "timeout"), s.Timeout)
	if s.Pipeline != "" {
		if _, ok := pipelines[s.Pipeline]; !ok {
			st.fail(join(path, "pipeline"), "no pipeline %s in pipelines%s", quoteShort(s.Pipeline), didYouMean(s.Pipeline, sortedKeys(pipelines)))
		}
	}
	rp := join(path, "redelivery")
	if len(s.Redelivery) == 0 {
		st.fail(rp, "must list at least one delay")
	}
	for i, d := range s.Redelivery {
		st.positiveDuration(index(rp, i), d)
	}
	st.atLeast(join(path, "max_attempts"), s.MaxAttempts, 1)
	ip := join(path, "in_progress_delay")
	if s.InProgressDelay == 0 && !st.has(ip) && len(s.Redelivery) > 0 {
		s.InProgressDelay = s.Redelivery[0]
	}
	if st.has(ip) || len(s.Redelivery) > 0 {
		st.positiveDuration(ip, s.InProgressDelay)
	}
	lp := join(path, "inbox_lease")
	if s.InboxLease == 0 && !st.has(lp) {
		s.InboxLease = s.Timeout + Duration(30*time.Second)
	}
	st.positiveDuration(lp, s.InboxLease)
}

// Options returns the subscription's bus.SubscriptionOptions; Retry is the
// pipeline named by Pipeline, looked up in reg.
func (s SubscriptionConfig) Options(reg *resilience.Registry) (bus.SubscriptionOptions, error) {
	o := bus.SubscriptionOptions{
		Workers:          s.Workers,
		Prefetch:         s.Prefetch,
		Ordered:          s.Ordered,
		Timeout:          s.Timeout.D(),
		RedeliveryDelays: durations(s.Redelivery),
		MaxAttempts:      s.MaxAttempts,
		InProgressDelay:  s.InProgressDelay.D(),
		InboxLease:       s.InboxLease.D(),
	}
	if s.Pipeline != "" {
		var p *resilience.Pipeline
		var ok bool
		if reg != nil {
			p, ok = reg.Get(s.Pipeline)
		}
		if !ok {
			return o, fmt.Errorf("config: pipeline %q is not in the registry", s.Pipeline)
		}
		o.Retry = p
	}
	return o, nil
}

// Options returns the bus.Options of the configuration: Source, MaxBodySize and
// Subscriptions, whose pipelines are looked up in reg (which may be nil when no
// subscription names one; see [Build]). Registry, Codecs, Inbox, Logger and the
// hooks are left for the caller.
func (b BusConfig) Options(reg *resilience.Registry) (bus.Options, error) {
	o := bus.Options{Source: b.Source, MaxBodySize: b.MaxBodySize}
	if len(b.Subscriptions) > 0 {
		o.Subscriptions = make(map[string]bus.SubscriptionOptions, len(b.Subscriptions))
	}
	for _, name := range sortedKeys(b.Subscriptions) {
		so, err := b.Subscriptions[name].Options(reg)
		if err != nil {
			return bus.Options{}, fmt.Errorf("config: bus.subscriptions.%s: %w", name, err)
		}
		o.Subscriptions[name] = so
	}
	return o, nil
}
