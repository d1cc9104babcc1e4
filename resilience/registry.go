package resilience

import (
	"fmt"
	"sort"
	"sync"
)

// Registry holds named pipelines so that configuration, health checks and telemetry
// can find them. The zero value is an empty registry ready to use; it is safe for
// concurrent use.
type Registry struct {
	mu        sync.RWMutex
	pipelines map[string]*Pipeline
}

// Register adds p under its name. It fails if another pipeline has that name.
func (r *Registry) Register(p *Pipeline) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pipelines == nil {
		r.pipelines = make(map[string]*Pipeline)
	}
	if _, dup := r.pipelines[p.name]; dup {
		return fmt.Errorf("resilience: registry: pipeline %q is already registered", p.name)
	}
	r.pipelines[p.name] = p
	return nil
}

// Replace adds p under its name, replacing any pipeline of that name, and returns the
// one it replaced (nil if none). Calls already running keep the pipeline they started
// with.
func (r *Registry) Replace(p *Pipeline) *Pipeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pipelines == nil {
		r.pipelines = make(map[string]*Pipeline)
	}
	old := r.pipelines[p.name]
	r.pipelines[p.name] = p
	return old
}

// Get returns the pipeline registered under name.
func (r *Registry) Get(name string) (*Pipeline, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.pipelines[name]
	return p, ok
}

// All returns the registered pipelines sorted by name.
func (r *Registry) All() []*Pipeline {
	r.mu.RLock()
	list := make([]*Pipeline, 0, len(r.pipelines))
	for _, p := range r.pipelines {
		list = append(list, p)
	}
	r.mu.RUnlock()
	sort.Slice(list, func(a, b int) bool { return list[a].name < list[b].name })
	return list
}

// Breakers returns every distinct circuit breaker used by a registered pipeline, for
// health checks and dashboards, sorted by name.
func (r *Registry) Breakers() []*Breaker {
	seen := make(map[*Breaker]bool)
	var list []*Breaker
	for _, p := range r.All() {
		for _, pol := range p.policies {
			if b, ok := pol.(*Breaker); ok && !seen[b] {
				seen[b] = true
				list = append(list, b)
			}
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].Name() < list[b].Name() })
	return list
}
