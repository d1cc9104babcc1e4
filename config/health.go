package config

import (
	"net/http"

	"github.com/rampart-go/rampart/health"
)

// HealthConfig configures the health checker ([health.Config]) and the checks
// that need no code: the circuit breakers and HTTP dependencies.
type HealthConfig struct {
	Timeout     Duration                   `yaml:"timeout"`                // one run of a check, > 0; default 2s
	CacheFor    Duration                   `yaml:"cache_for" config:"off"` // reuse of a result; off reuses none; default 1s
	DrainDelay  Duration                   `yaml:"drain_delay"`            // wait after readiness goes down at shutdown; default 0s
	Details     string                     `yaml:"details"`                // always (default), on_request or never
	ServiceID   string                     `yaml:"service_id"`
	Version     string                     `yaml:"version"`
	ReleaseID   string                     `yaml:"release_id"`
	Description string                     `yaml:"description"`
	Breakers    BreakerCheckConfig         `yaml:"breakers"`    // the checks of the circuit breakers
	HTTPChecks  map[string]HTTPCheckConfig `yaml:"http_checks"` // readiness checks of HTTP dependencies, by component name
}

func (h *HealthConfig) setDefaults() {
	*h = HealthConfig{
		Timeout:    Duration(health.DefaultTimeout),
		CacheFor:   Duration(health.DefaultCacheFor),
		Details:    "always",
		Breakers:   BreakerCheckConfig{OpenStatus: "warn"},
		HTTPChecks: map[string]HTTPCheckConfig{},
	}
}

// BreakerCheckConfig is a [health.BreakerCheckOptions].
type BreakerCheckConfig struct {
	OpenStatus  string `yaml:"open_status"`  // status of an open breaker: warn (default), fail or pass
	NonCritical bool   `yaml:"non_critical"` // a failing breaker only degrades to warn
}

// HTTPCheckConfig is an [health.HTTP] check of a dependency's probe URL.
type HTTPCheckConfig struct {
	URL         URL      `yaml:"url"`          // http or https; required
	Method      string   `yaml:"method"`       // default GET
	Timeout     Duration `yaml:"timeout"`      // default health.timeout
	MinStatus   int      `yaml:"min_status"`   // default 200
	MaxStatus   int      `yaml:"max_status"`   // default 299
	NonCritical bool     `yaml:"non_critical"` // a failure only degrades to warn
}

func (c *HTTPCheckConfig) setDefaults() {
	*c = HTTPCheckConfig{Method: http.MethodGet, MinStatus: 200, MaxStatus: 299}
}

var (
	detailsKinds = map[string]health.Details{
		"always":     health.DetailsAlways,
		"on_request": health.DetailsOnRequest,
		"never":      health.DetailsNever,
	}
	statusKinds = map[string]health.Status{"pass": health.StatusPass, "warn": health.StatusWarn, "fail": health.StatusFail}
)

func (h *HealthConfig) validate(st *loadState, path string) {
	st.positiveDuration(join(path, "timeout"), h.Timeout)
	if h.CacheFor == 0 {
		st.fail(join(path, "cache_for"), `must be > 0 or "off", got 0s`)
	}
	st.oneOf(join(path, "details"), h.Details, sortedKeys(detailsKinds))
	st.oneOf(join(path, "breakers.open_status"), h.Breakers.OpenStatus, sortedKeys(statusKinds))
	for _, name := range sortedKeys(h.HTTPChecks) {
		cp := join(join(path, "http_checks"), name)
		c := h.HTTPChecks[name]
		st.checkName(cp, name)
		up := join(cp, "url")
		if c.URL == "" {
			st.fail(up, "is required")
		} else {
			st.checkURL(up, string(c.URL), []string{"http", "https"}, true)
		}
		if c.Method == "" {
			st.fail(join(cp, "method"), "must not be empty")
		}
		if c.Timeout == 0 && !st.has(join(cp, "timeout")) {
			c.Timeout = h.Timeout
		}
		st.positiveDuration(join(cp, "timeout"), c.Timeout)
		if c.MinStatus < 100 || c.MaxStatus > 599 || c.MinStatus > c.MaxStatus {
			st.fail(join(cp, "min_status"), "want 100 ≤ min_status ≤ max_status ≤ 599, got %d and %d", c.MinStatus, c.MaxStatus)
		}
		h.HTTPChecks[name] = c
	}
}

// Config returns the health.Config, without checks: add them, with
// [HealthConfig.HTTPCheckList] and health.Breakers(registry,
// [HealthConfig.BreakerCheckOptions]).
func (h HealthConfig) Config() health.Config {
	return health.Config{
		Timeout:     h.Timeout.D(),
		CacheFor:    h.CacheFor.D(),
		DrainDelay:  h.DrainDelay.D(),
		Details:     detailsKinds[h.Details],
		ServiceID:   h.ServiceID,
		Version:     h.Version,
		ReleaseID:   h.ReleaseID,
		Description: h.Description,
	}
}

// BreakerCheckOptions returns the options of the breakers' checks.
func (h HealthConfig) BreakerCheckOptions() health.BreakerCheckOptions {
	return health.BreakerCheckOptions{OpenStatus: statusKinds[h.Breakers.OpenStatus], NonCritical: h.Breakers.NonCritical}
}

// HTTPCheckList returns the HTTP checks, sorted by name, each with a client of
// its own (never the one the service calls the dependency with).
func (h HealthConfig) HTTPCheckList() []health.Check {
	var out []health.Check
	for _, name := range sortedKeys(h.HTTPChecks) {
		c := h.HTTPChecks[name]
		chk := health.HTTP(name, string(c.URL), health.HTTPOptions{Method: c.Method, MinStatus: c.MinStatus, MaxStatus: c.MaxStatus})
		chk.Timeout = c.Timeout.D()
		chk.NonCritical = c.NonCritical
		out = append(out, chk)
	}
	return out
}
