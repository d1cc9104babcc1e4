package httpx_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/rampart-go/rampart/httpx"
)

// bearerAuth is an Authenticator that adds a bearer token.
func bearerAuth(token string) httpx.Authenticator {
	return httpx.AuthenticatorFunc(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	})
}

// headersAt returns the headers httpbin's /headers saw at the end of the redirect
// from origin's /redirect-to to target's /headers.
func headersAt(t *testing.T, c *http.Client, origin, target string, set http.Header) http.Header {
	t.Helper()
	u := origin + "/redirect-to?url=" + url.QueryEscape(target+"/headers")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	for k, v := range set {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Headers http.Header }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", u, resp.StatusCode, err)
	}
	return body.Headers
}

func TestRedirectToAnotherHostCarriesNoCredentials(t *testing.T) {
	origin := newServer(t, httpbin.New())
	other := newServer(t, httpbin.New()) // same IP, another port: another authority
	tr := newTransport(t, httpx.Options{BaseURL: origin.URL, Auth: bearerAuth("tok-origin")})
	c := tr.Client()
	set := http.Header{
		"Cookie":              {"session=s1"},
		"X-Api-Key":           {"k1"},
		"X-Auth-Token":        {"t1"},
		"X-Harmless":          {"h1"},
		"Proxy-Authorization": {"Basic cDpw"},
	}

	// Within the origin, the credentials follow.
	h := headersAt(t, c, origin.URL, origin.URL, set)
	if h.Get("Authorization") != "Bearer tok-origin" || h.Get("X-Api-Key") != "k1" {
		t.Errorf("same-origin redirect: headers %v, want the credentials kept", h)
	}

	// To another authority, none of them does, neither those of the caller nor
	// those of the auth stage; the others do.
	h = headersAt(t, c, origin.URL, other.URL, set)
	for _, k := range []string{"Authorization", "Cookie", "X-Api-Key", "X-Auth-Token", "Proxy-Authorization"} {
		if v := h.Get(k); v != "" {
			t.Errorf("cross-host redirect: %s = %q reached the other host", k, v)
		}
	}
	if h.Get("X-Harmless") != "h1" {
		t.Errorf("cross-host redirect: X-Harmless = %q, want it kept", h.Get("X-Harmless"))
	}
}

func TestAuthStageOnlyServesAllowedHosts(t *testing.T) {
	origin := newServer(t, httpbin.New())
	other := newServer(t, httpbin.New())
	tr := newTransport(t, httpx.Options{BaseURL: origin.URL, Auth: bearerAuth("tok")})
	// A plain client, without the Transport's CheckRedirect: the auth stage alone
	// must keep the token home.
	c := &http.Client{Transport: tr}

	status := func(u string) int {
		resp, _, err := get(t, c, t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if got := status(origin.URL + "/bearer"); got != 200 {
		t.Errorf("GET origin/bearer = %d, want 200 with the token", got)
	}
	if got := status(other.URL + "/bearer"); got != 401 {
		t.Errorf("GET other/bearer = %d, want 401: no token for another host", got)
	}
	if got := status(origin.URL + "/redirect-to?url=" + url.QueryEscape(other.URL+"/bearer")); got != 401 {
		t.Errorf("redirect to other/bearer = %d, want 401: no token after a redirect to another host", got)
	}

	// AuthHosts adds hosts; "*" allows any.
	tr = newTransport(t, httpx.Options{BaseURL: origin.URL, AuthHosts: []string{other.Listener.Addr().String()}, Auth: bearerAuth("tok")})
	c = &http.Client{Transport: tr}
	if got := status(other.URL + "/bearer"); got != 200 {
		t.Errorf("GET other/bearer with AuthHosts = %d, want 200", got)
	}
}

func TestAuthTransportWrapsOnlyAllowedHosts(t *testing.T) {
	origin := newServer(t, httpbin.New())
	other := newServer(t, httpbin.New())
	wrap := func(next http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer wrapped")
			return next.RoundTrip(r)
		})
	}
	tr := newTransport(t, httpx.Options{BaseURL: origin.URL, AuthTransport: wrap})
	c := &http.Client{Transport: tr}
	for u, want := range map[string]int{origin.URL + "/bearer": 200, other.URL + "/bearer": 401} {
		resp, _, err := get(t, c, t.Context(), u)
		if err != nil || resp.StatusCode != want {
			t.Errorf("GET %s = %v, %v; want %d", u, resp.StatusCode, err, want)
		}
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
