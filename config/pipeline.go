package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/rampart-go/rampart/resilience"
)

// PipelineConfig is a named [resilience.Pipeline]: its policies, outermost first.
//
//	pipelines:
//	  inventory:
//	    policies:
//	      - rate_limiter: {rate: 100}
//	      - timeout: 5s               # total
//	      - retry: {max_attempts: 3}
//	      - breaker: {failure_ratio: 0.5}
//	      - timeout: 1s               # per attempt
//	        name: attempt-timeout
type PipelineConfig struct {
	Policies []PolicyConfig `yaml:"policies"`
}

// PolicyConfig is one policy of a pipeline: exactly one of the kinds, and its name
// in events, errors and health checks. Name defaults to the kind ("retry",
// "timeout", "timeout-2" for a second one), except for a breaker, whose name
// defaults to the pipeline's, as breakers are reported by name in health checks
// and metrics. Fallbacks and custom policies need functions and are added in code.
type PolicyConfig struct {
	Name        string             `yaml:"name"`
	Retry       *RetryConfig       `yaml:"retry,omitempty"`
	Breaker     *BreakerConfig     `yaml:"breaker,omitempty"`
	Timeout     *TimeoutConfig     `yaml:"timeout,omitempty"`
	Bulkhead    *BulkheadConfig    `yaml:"bulkhead,omitempty"`
	RateLimiter *RateLimiterConfig `yaml:"rate_limiter,omitempty"`
	Hedging     *HedgingConfig     `yaml:"hedging,omitempty"`
	Chaos       *ChaosConfig       `yaml:"chaos,omitempty"`
}

// policyKindFields are the kinds of policy, in the order of PolicyConfig's
// fields: each kind's key, and its field of p (a settable pointer).
var policyKindFields = []struct {
	key   string
	field func(p *PolicyConfig) reflect.Value
}{
	{"retry", func(p *PolicyConfig) reflect.Value { return reflectValue(&p.Retry) }},
	{"breaker", func(p *PolicyConfig) reflect.Value { return reflectValue(&p.Breaker) }},
	{"timeout", func(p *PolicyConfig) reflect.Value { return reflectValue(&p.Timeout) }},
	{"bulkhead", func(p *PolicyConfig) reflect.Value { return reflectValue(&p.Bulkhead) }},
	{"rate_limiter", func(p *PolicyConfig) reflect.Value { return reflectValue(&p.RateLimiter) }},
	{"hedging", func(p *PolicyConfig) reflect.Value { return reflectValue(&p.Hedging) }},
	{"chaos", func(p *PolicyConfig) reflect.Value { return reflectValue(&p.Chaos) }},
}

// policyKinds are the keys of the kinds, in the order of PolicyConfig's fields.
var policyKinds = func() []string {
	keys := make([]string, len(policyKindFields))
	for i, k := range policyKindFields {
		keys[i] = k.key
	}
	return keys
}()

// kindField returns the field of p for the kind key, and false for no kind.
func (p *PolicyConfig) kindField(key string) (reflect.Value, bool) {
	for _, k := range policyKindFields {
		if k.key == key {
			return k.field(p), true
		}
	}
	return reflect.Value{}, false
}

// Kind returns the policy's kind: "retry", "breaker", "timeout", "bulkhead",
// "rate_limiter", "hedging" or "chaos"; "" if none is set.
func (p PolicyConfig) Kind() string {
	for _, k := range policyKindFields {
		if !k.field(&p).IsNil() {
			return k.key
		}
	}
	return ""
}

// decodeFrom reads a mapping with one kind key (and an optional name).
func (p *PolicyConfig) decodeFrom(st *loadState, path string, raw any) {
	*p = PolicyConfig{}
	m, ok := asMap(raw)
	if !ok {
		st.fail(path, "must be a mapping with one policy kind (%s), got %s", strings.Join(policyKinds, ", "), kindOf(raw))
		return
	}
	var kinds []string
	for _, k := range sortedKeys(m) {
		kp := join(path, k)
		if k == "name" {
			st.present[kp] = true
			st.decodeString(kp, m[k], reflectValue(&p.Name))
			continue
		}
		field, ok := p.kindField(k)
		if !ok {
			if k == "fallback" || k == "custom" {
				st.fail(kp, "a %s policy needs a function: add it to the pipeline in code", k)
			} else {
				st.fail(kp, "unknown policy kind%s", suggest(k, append([]string{"name"}, policyKinds...)))
			}
			continue
		}
		field.Set(reflect.New(field.Type().Elem())) // a new *RetryConfig, ...
		target := field.Elem()
		st.present[kp] = true
		kinds = append(kinds, k)
		setDefaults(target.Addr())
		st.decode(kp, m[k], target, fieldOpts{})
	}
	switch {
	case len(kinds) > 1:
		st.fail(path, "has %d policy kinds (%s): write one policy per list item", len(kinds), strings.Join(kinds, ", "))
	case len(kinds) == 0 && len(m) > 0 && st.errCountAt(path) == 0:
		st.fail(path, "names no policy kind; want one of %s", strings.Join(policyKinds, ", "))
	case len(m) == 0:
		st.fail(path, "is empty; want one of %s", strings.Join(policyKinds, ", "))
	}
}

// errCountAt returns the number of errors reported under path so far.
func (st *loadState) errCountAt(path string) int {
	n := 0
	for _, e := range st.errs {
		if e.Path == path || strings.HasPrefix(e.Path, path+".") || strings.HasPrefix(e.Path, path+"[") {
			n++
		}
	}
	return n
}

func (p *PipelineConfig) validate(st *loadState, path, pipeline string) {
	pp := join(path, "policies")
	if len(p.Policies) == 0 && !st.has(pp) {
		st.fail(pp, "is required: list the pipeline's policies, outermost first")
		return
	}
	counts := make(map[string]int)
	names := make(map[string]int)
	for i := range p.Policies {
		pol := &p.Policies[i]
		ip := index(pp, i)
		kind := pol.Kind()
		if kind == "" {
			continue // reported by the decoder
		}
		counts[kind]++
		if pol.Name == "" {
			pol.Name = kind
			if kind == "breaker" {
				pol.Name = pipeline
			}
			if n := counts[kind]; n > 1 {
				pol.Name += "-" + strconv.Itoa(n)
			}
		}
		if j, dup := names[pol.Name]; dup {
			st.fail(join(ip, "name"), "%q is the name of policies[%d] too; give each policy its own name", pol.Name, j)
		}
		names[pol.Name] = i
		kp := join(ip, kind)
		field, _ := pol.kindField(kind)
		field.Interface().(interface{ validate(*loadState, string) }).validate(st, kp)
		if st.settled(ip) {
			// The constructors' own validation, for anything missed above.
			if _, err := pol.build(nil, nil); err != nil {
				st.surface(kp, err)
			}
		}
	}
}

// Build returns the pipeline configured by p, named name, that reports no events;
// it is BuildWith(name, BuildOptions{}).
func (p PipelineConfig) Build(name string) (*resilience.Pipeline, error) {
	return p.BuildWith(name, BuildOptions{})
}

// BuildWith returns the pipeline configured by p, named name, with new policies.
func (p PipelineConfig) BuildWith(name string, opts BuildOptions) (*resilience.Pipeline, error) {
	policies := make([]resilience.Policy, len(p.Policies))
	for i, pc := range p.Policies {
		pol, err := pc.build(opts.Observer, nil)
		if err != nil {
			return nil, fmt.Errorf("config: pipelines.%s.policies[%d]: %w", name, i, err)
		}
		policies[i] = pol
	}
	return resilience.NewPipeline(resilience.PipelineOptions{Name: name, Observer: opts.Observer}, policies...)
}

// build returns a new policy; a retry draws on budget when it is not nil, and on a
// new budget of its own when its configuration has one.
func (p PolicyConfig) build(obs resilience.Observer, budget *resilience.Budget) (resilience.Policy, error) {
	switch {
	case p.Retry != nil:
		if budget == nil && p.Retry.Budget != nil {
			var err error
			if budget, err = resilience.NewBudget(p.Retry.Budget.Options()); err != nil {
				return nil, err
			}
		}
		return resilience.NewRetry(p.Retry.Options(p.Name, budget))
	case p.Breaker != nil:
		o := p.Breaker.Options(p.Name)
		o.Observer = obs
		return resilience.NewBreaker(o)
	case p.Timeout != nil:
		return resilience.NewTimeout(p.Timeout.Options(p.Name))
	case p.Bulkhead != nil:
		return resilience.NewBulkhead(p.Bulkhead.Options(p.Name))
	case p.RateLimiter != nil:
		return resilience.NewRateLimiter(p.RateLimiter.Options(p.Name))
	case p.Hedging != nil:
		return resilience.NewHedging(p.Hedging.Options(p.Name))
	case p.Chaos != nil:
		return resilience.NewChaos(p.Chaos.Options(p.Name))
	}
	return nil, fmt.Errorf("policy %q has no kind", p.Name)
}
