package httpx

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/rampart-go/rampart/resilience"
)

// host is what a Transport knows of one authority: its circuit breaker and whether
// credentials may be sent to it.
type host struct {
	authority string              // "host:port", lower case
	breaker   *resilience.Breaker // nil when breakers are disabled
	auth      bool                // credentials may be sent here
}

// hosts finds the host of a request URL. Breakers are created on first use from a
// template; lookups of a known host take no lock and allocate nothing.
type hosts struct {
	// byHost caches URL.Host as written in requests, [0] for http (and other
	// schemes), [1] for https, since a missing port depends on the scheme.
	byHost      [2]sync.Map // string → *host
	byAuthority sync.Map    // authority → *host; the one host of an authority

	prefix   string                     // breaker names are prefix + "/" + authority
	template *resilience.BreakerOptions // nil when breakers are disabled
	authAll  bool
	authSet  map[string]bool // allowed authorities
}

func newHosts(s *settings, o *Options) *hosts {
	h := &hosts{prefix: s.name, authSet: map[string]bool{}}
	if !o.Breaker.Disabled {
		tmpl := s.breaker
		if tmpl.Observer == nil {
			tmpl.Observer = o.PolicyObserver
		}
		h.template = &tmpl
	}
	if o.Auth != nil || o.AuthTransport != nil {
		if s.base != nil {
			h.authSet[authorityOf(s.base.Scheme, s.base.Host)] = true
		}
		for _, a := range o.AuthHosts {
			if a == "*" {
				h.authAll = true
				continue
			}
			a = strings.ToLower(a)
			if _, port, err := net.SplitHostPort(a); err == nil && port != "" {
				h.authSet[a] = true
				continue
			}
			h.authSet[authorityOf("http", a)] = true
			h.authSet[authorityOf("https", a)] = true
		}
	}
	return h
}

// lookup returns the host of u, creating it on first use.
func (h *hosts) lookup(u *url.URL) (*host, error) {
	class := 0
	if u.Scheme == "https" {
		class = 1
	}
	if v, ok := h.byHost[class].Load(u.Host); ok {
		return v.(*host), nil
	}
	a := authorityOf(u.Scheme, u.Host)
	v, ok := h.byAuthority.Load(a)
	if !ok {
		nh := &host{authority: a, auth: h.authAll || h.authSet[a]}
		if h.template != nil {
			opts := *h.template
			opts.Name = h.prefix + "/" + a
			b, err := resilience.NewBreaker(opts)
			if err != nil { // validated by the constructor: cannot happen
				return nil, err
			}
			nh.breaker = b
		}
		v, _ = h.byAuthority.LoadOrStore(a, nh)
	}
	h.byHost[class].Store(u.Host, v)
	return v.(*host), nil
}

// breakers returns the breakers created so far, sorted by name.
func (h *hosts) breakers() []*resilience.Breaker {
	var bs []*resilience.Breaker
	h.byAuthority.Range(func(_, v any) bool {
		if b := v.(*host).breaker; b != nil {
			bs = append(bs, b)
		}
		return true
	})
	slices.SortFunc(bs, func(a, b *resilience.Breaker) int { return strings.Compare(a.Name(), b.Name()) })
	return bs
}

// authorityOf returns "host:port" for a URL's scheme and Host, in lower case, with
// the scheme's default port when hostport has none.
func authorityOf(scheme, hostport string) string {
	a := strings.TrimSuffix(strings.ToLower(hostport), ":")
	if hasPort(a) {
		return a
	}
	switch strings.ToLower(scheme) {
	case "https", "wss":
		return a + ":443"
	case "http", "ws":
		return a + ":80"
	}
	return a
}

// hasPort reports whether hostport ends with a port (after any IPv6 literal).
func hasPort(hostport string) bool {
	i := strings.LastIndexByte(hostport, ':')
	return i >= 0 && i > strings.LastIndexByte(hostport, ']')
}
