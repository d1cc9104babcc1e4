package config

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/rampart-go/rampart/httpx"
	"github.com/rampart-go/rampart/resilience"
)

// BuildOptions are what a program adds to the configuration when it builds
// pipelines and clients. The zero value builds into a new registry and observes
// and logs nothing.
type BuildOptions struct {
	// Registry receives the pipelines. Nil means a new one ([Live.Registry]).
	Registry *resilience.Registry
	// Observer receives the events of the pipelines and of the clients' policies,
	// and the state changes of the breakers (a telemetry.Telemetry, say). Nil
	// reports nothing.
	Observer resilience.Observer
	// HTTPObserver is the clients' httpx.Observer (metrics and traces per attempt).
	HTTPObserver httpx.Observer
	// Logger is the clients' logger (one record per attempt). Nil logs nothing.
	Logger *slog.Logger
}

// Live holds what [Build] made from a configuration, the pipelines (in a
// [resilience.Registry]) and the HTTP clients ([*Client]), and changes them to
// match a new configuration with [Live.Apply], without stopping the calls in
// flight. It starts no goroutine. A Live is safe for concurrent use.
type Live struct {
	opts BuildOptions
	reg  *resilience.Registry

	mu        sync.Mutex
	built     *Config // the configuration of what cannot be reloaded
	cur       *Config // the configuration applied last
	pipelines map[string]*livePipeline
	clients   map[string]*Client
}

// livePipeline is a pipeline and the configuration of each of its policies.
type livePipeline struct {
	cfg      PipelineConfig
	policies []resilience.Policy
}

// Build builds every pipeline of cfg (registered in opts.Registry) and every
// HTTP client. cfg should come from [Load], which names the clients and fills in
// the defaults. Build fails if a secret or a TLS file cannot be read, or if a
// pipeline's name is already registered.
func Build(cfg *Config, opts BuildOptions) (*Live, error) {
	l := &Live{
		opts:      opts,
		reg:       opts.Registry,
		built:     cfg,
		cur:       cfg,
		pipelines: make(map[string]*livePipeline),
		clients:   make(map[string]*Client),
	}
	if l.reg == nil {
		l.reg = &resilience.Registry{}
	}
	for _, name := range sortedKeys(cfg.Pipelines) {
		lp, p, err := l.buildPipeline(name, cfg.Pipelines[name])
		if err != nil {
			return nil, err
		}
		if err := l.reg.Register(p); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		l.pipelines[name] = lp
	}
	for _, name := range sortedKeys(cfg.Clients) {
		c, err := newClient(name, cfg.Clients[name], opts)
		if err != nil {
			return nil, err
		}
		l.clients[name] = c
	}
	return l, nil
}

func (l *Live) buildPipeline(name string, pc PipelineConfig) (*livePipeline, *resilience.Pipeline, error) {
	lp := &livePipeline{cfg: pc, policies: make([]resilience.Policy, len(pc.Policies))}
	for i, pol := range pc.Policies {
		obj, err := pol.build(l.opts.Observer, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("config: pipelines.%s.policies[%d]: %w", name, i, err)
		}
		lp.policies[i] = obj
	}
	p, err := resilience.NewPipeline(resilience.PipelineOptions{Name: name, Observer: l.opts.Observer}, lp.policies...)
	if err != nil {
		return nil, nil, fmt.Errorf("config: pipelines.%s: %w", name, err)
	}
	return lp, p, nil
}

// Registry returns the registry of the pipelines. [Live.Apply] replaces the
// pipelines it rebuilds there, so look a pipeline up for each call (or batch of
// calls) rather than keeping it, to see the changes.
func (l *Live) Registry() *resilience.Registry { return l.reg }

// Pipeline returns the current pipeline of that name.
func (l *Live) Pipeline(name string) (*resilience.Pipeline, bool) { return l.reg.Get(name) }

// Client returns the HTTP client of that name.
func (l *Live) Client(name string) (*Client, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.clients[name]
	return c, ok
}

// Config returns the configuration applied last.
func (l *Live) Config() *Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// CloseIdleConnections closes the idle connections of every client.
func (l *Live) CloseIdleConnections() {
	l.mu.Lock()
	clients := make([]*Client, 0, len(l.clients))
	for _, c := range l.clients {
		clients = append(clients, c)
	}
	l.mu.Unlock()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
}

// ChangeAction is what [Live.Apply] did with a changed setting.
type ChangeAction uint8

const (
	// Updated: the policy was changed in place ([resilience.Timeout.Update],
	// [resilience.RateLimiter.Update], [resilience.Chaos.Update]); calls that
	// start afterwards see the change, calls in flight keep what they started
	// with, and the policy's state (the tokens of a rate limiter) is kept.
	Updated ChangeAction = iota
	// Replaced: a new object took the place of the old one (a retry, a breaker, a
	// bulkhead, a hedging policy, a pipeline, a client's transport). Calls in
	// flight finish with the old one; whatever state it had (a breaker's) is not
	// carried over.
	Replaced
	// Added: a pipeline, a policy or a client that was not there.
	Added
	// Removed: a policy dropped from a pipeline.
	Removed
	// RestartRequired: the change was not applied and takes effect at the next
	// start (the bus, health, telemetry, a client's base URL or TLS files, a
	// pipeline or client removed from the file).
	RestartRequired
)

// String returns "updated", "replaced", "added", "removed" or "restart required".
func (a ChangeAction) String() string {
	switch a {
	case Updated:
		return "updated"
	case Replaced:
		return "replaced"
	case Added:
		return "added"
	case Removed:
		return "removed"
	case RestartRequired:
		return "restart required"
	}
	return fmt.Sprintf("ChangeAction(%d)", uint8(a))
}

// Change is one thing [Live.Apply] did, or could not do.
type Change struct {
	Path   string // the setting: "pipelines.orders.policies[2].retry", "clients.payments", "bus"
	Action ChangeAction
	Detail string // what it means for the calls
}

func (c Change) String() string {
	if c.Detail == "" {
		return c.Path + ": " + c.Action.String()
	}
	return c.Path + ": " + c.Action.String() + ": " + c.Detail
}

// step is one change to make once everything it needs is built.
type step struct {
	change Change
	run    func() error
}

// Apply changes the pipelines and clients to match next (a configuration from
// [Load]) and reports what it did, setting by setting, in order of path; it
// changes nothing when nothing changed. Calls in flight are never interrupted:
// they finish with the policies they started with.
//
//   - A timeout, a rate limiter or a chaos policy is updated in place.
//   - A retry, bulkhead or hedging policy whose settings changed is rebuilt,
//     and so is a breaker, which then starts closed: a breaker whose settings did
//     not change is kept, with its state, whatever else changed in the pipeline.
//     A rebuilt retry keeps its budget if the budget's settings did not change.
//   - A pipeline whose policies are not all the same objects any more is rebuilt
//     around them and replaces the old one in the registry
//     ([resilience.Registry.Replace]); a new pipeline is registered.
//   - A client's rate limiter is updated in place; any other change rebuilds the
//     client's transport (over the same connections, rate limiter and, when their
//     settings did not change, budget and credentials), which then starts with
//     closed breakers.
//   - What cannot be reloaded is reported as [RestartRequired] and left alone:
//     the bus, health and telemetry, a client's base URL and TLS files, a
//     pipeline or a client removed from the file (it stays as it is). A bus
//     subscription holds the pipeline it started with: a replaced pipeline
//     reaches it at the next start (its policies updated in place reach it at
//     once), which Apply reports too.
//
// Policies are matched by kind and name (see [PolicyConfig]); name them to keep
// their identity when the order changes. Everything that must be built is built
// before anything changes: if building fails, Apply returns the error and
// nothing has changed.
func (l *Live) Apply(next *Config) ([]Change, error) {
	if next == nil {
		return nil, errors.New("config: Apply: the configuration is nil")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var steps []step
	for _, name := range sortedKeys(next.Pipelines) {
		s, err := l.planPipeline(name, next.Pipelines[name])
		if err != nil {
			return nil, err
		}
		steps = append(steps, s...)
	}
	for _, name := range sortedKeys(l.pipelines) {
		if _, ok := next.Pipelines[name]; !ok {
			steps = append(steps, step{change: Change{Path: "pipelines." + name, Action: RestartRequired,
				Detail: "removed from the file; it stays registered until the next start"}})
		}
	}
	for _, name := range sortedKeys(next.Clients) {
		path := "clients." + name
		cur, ok := l.clients[name]
		if !ok {
			c, err := newClient(name, next.Clients[name], l.opts)
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{change: Change{Path: path, Action: Added}, run: func() error {
				l.clients[name] = c
				return nil
			}})
			continue
		}
		s, err := cur.plan(path, next.Clients[name], l.opts)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s...)
	}
	for _, name := range sortedKeys(l.clients) {
		if _, ok := next.Clients[name]; !ok {
			steps = append(steps, step{change: Change{Path: "clients." + name, Action: RestartRequired,
				Detail: "removed from the file; the client keeps working until the next start"}})
		}
	}
	// A subscription holds the pipeline it was started with.
	for _, s := range steps {
		name, ok := strings.CutPrefix(s.change.Path, "pipelines.")
		if !ok || s.change.Action != Replaced || strings.ContainsAny(name, ".[") {
			continue
		}
		for _, sub := range sortedKeys(l.built.Bus.Subscriptions) {
			if l.built.Bus.Subscriptions[sub].Pipeline == name {
				steps = append(steps, step{change: Change{Path: "bus.subscriptions." + sub + ".pipeline", Action: RestartRequired,
					Detail: "the subscription keeps the pipeline " + name + " it started with; only the policies updated in place reach it"}})
			}
		}
	}
	for _, part := range []struct {
		path      string
		old, next any
	}{
		{"bus", l.built.Bus, next.Bus},
		{"health", l.built.Health, next.Health},
		{"telemetry", l.built.Telemetry, next.Telemetry},
	} {
		if !reflect.DeepEqual(part.old, part.next) {
			steps = append(steps, step{change: Change{Path: part.path, Action: RestartRequired, Detail: "cannot be reloaded"}})
		}
	}

	// Everything is built: make the changes.
	var errs []error
	changes := make([]Change, 0, len(steps))
	for _, s := range steps {
		if s.run != nil {
			if err := s.run(); err != nil {
				errs = append(errs, fmt.Errorf("config: %s: %w", s.change.Path, err))
				continue
			}
		}
		if s.change.Path != "" {
			changes = append(changes, s.change)
		}
	}
	l.cur = next
	slices.SortStableFunc(changes, func(a, b Change) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return changes, errors.Join(errs...)
}

// planPipeline builds what pipeline name needs to match next, and returns the
// steps that put it in place; the last one records its new state.
func (l *Live) planPipeline(name string, next PipelineConfig) ([]step, error) {
	path := "pipelines." + name
	cur, ok := l.pipelines[name]
	if !ok {
		lp, p, err := l.buildPipeline(name, next)
		if err != nil {
			return nil, err
		}
		return []step{{change: Change{Path: path, Action: Added}, run: func() error {
			if err := l.reg.Register(p); err != nil {
				return err
			}
			l.pipelines[name] = lp
			return nil
		}}}, nil
	}
	if reflect.DeepEqual(cur.cfg, next) {
		return nil, nil
	}
	var steps []step
	used := make([]bool, len(cur.policies))
	objs := make([]resilience.Policy, len(next.Policies))
	for i, pc := range next.Policies {
		kind := pc.Kind()
		ppath := fmt.Sprintf("%s.policies[%d].%s", path, i, kind)
		j := -1
		for k, old := range cur.cfg.Policies {
			if !used[k] && old.Kind() == kind && old.Name == pc.Name {
				j = k
				break
			}
		}
		if j < 0 {
			obj, err := pc.build(l.opts.Observer, nil)
			if err != nil {
				return nil, fmt.Errorf("config: %s: %w", ppath, err)
			}
			objs[i] = obj
			steps = append(steps, step{change: Change{Path: ppath, Action: Added, Detail: "policy " + pc.Name}})
			continue
		}
		used[j] = true
		old, obj := cur.cfg.Policies[j], cur.policies[j]
		objs[i] = obj
		if reflect.DeepEqual(old, pc) {
			continue
		}
		switch kind {
		case "timeout":
			t := obj.(*resilience.Timeout)
			o := pc.Timeout.Options(pc.Name)
			steps = append(steps, step{change: Change{Path: ppath, Action: Updated, Detail: "calls that start from now on use " + pc.Timeout.Duration.String()},
				run: func() error { return t.Update(o) }})
		case "rate_limiter":
			r := obj.(*resilience.RateLimiter)
			o := pc.RateLimiter.Options(pc.Name)
			steps = append(steps, step{change: Change{Path: ppath, Action: Updated, Detail: "the tokens in the bucket are kept"},
				run: func() error { return r.Update(o) }})
		case "chaos":
			c := obj.(*resilience.Chaos)
			o := pc.Chaos.Options(pc.Name)
			steps = append(steps, step{change: Change{Path: ppath, Action: Updated},
				run: func() error {
					if err := c.Update(o); err != nil {
						return err
					}
					c.SetEnabled(o.Enabled)
					return nil
				}})
		default:
			var budget *resilience.Budget
			detail := "calls in flight finish with the old one"
			switch kind {
			case "retry":
				if reflect.DeepEqual(old.Retry.Budget, pc.Retry.Budget) {
					budget = obj.(*resilience.Retry).Options().Budget
				}
			case "breaker":
				detail = "the new breaker starts closed; the old one's state is dropped"
			case "bulkhead":
				detail = "calls in flight hold slots of the old bulkhead until they finish"
			}
			nobj, err := pc.build(l.opts.Observer, budget)
			if err != nil {
				return nil, fmt.Errorf("config: %s: %w", ppath, err)
			}
			objs[i] = nobj
			steps = append(steps, step{change: Change{Path: ppath, Action: Replaced, Detail: detail}})
		}
	}
	for j, u := range used {
		if !u {
			old := cur.cfg.Policies[j]
			steps = append(steps, step{change: Change{Path: fmt.Sprintf("%s.policies[%d].%s", path, j, old.Kind()), Action: Removed, Detail: "policy " + old.Name}})
		}
	}
	lp := &livePipeline{cfg: next, policies: objs}
	if !slices.Equal(objs, cur.policies) {
		p, err := resilience.NewPipeline(resilience.PipelineOptions{Name: name, Observer: l.opts.Observer}, objs...)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
		steps = append(steps, step{change: Change{Path: path, Action: Replaced, Detail: "calls in flight finish with the old pipeline"},
			run: func() error { l.reg.Replace(p); return nil }})
	}
	steps = append(steps, step{run: func() error { l.pipelines[name] = lp; return nil }})
	return steps, nil
}
