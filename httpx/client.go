package httpx

import (
	"errors"
	"net/http"
)

// maxRedirects is how many redirects a client from [NewHTTPClient] follows.
const maxRedirects = 10

// NewHTTPClient returns an *http.Client that sends its requests through a
// [Transport] configured by opts, and whose CheckRedirect is the Transport's, or an
// error naming the option that is invalid. Without Options.Base, the Transport sends
// through a transport of its own from [NewBaseTransport]. The client sets no Timeout of its own:
// Options.TotalTimeout bounds each call, body included. Call CloseIdleConnections
// on the client when done with it.
func NewHTTPClient(opts Options) (*http.Client, error) {
	if opts.Base == nil {
		opts.Base = NewBaseTransport()
	}
	t, err := NewTransport(opts)
	if err != nil {
		return nil, err
	}
	return t.Client(), nil
}

// Client returns an *http.Client that sends its requests through t, with t's
// CheckRedirect.
func (t *Transport) Client() *http.Client {
	return &http.Client{Transport: t, CheckRedirect: t.CheckRedirect}
}

// CheckRedirect is an [http.Client] CheckRedirect function that follows up to 10
// redirects and never lets credentials leave for another authority: when a
// redirect goes to another scheme, host or port than the first request (or from
// https to http), it removes Authorization, Proxy-Authorization, Cookie, X-Api-Key,
// X-Auth-Token and the headers of Options.RedactHeaders from the redirected
// request. net/http removes only some of them, and keeps them for another port or a
// subdomain. Credentials added by the auth stage are never added for an authority
// that is not allowed in the first place.
func (t *Transport) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("httpx: stopped after 10 redirects")
	}
	first := via[0].URL
	if authorityOf(req.URL.Scheme, req.URL.Host) != authorityOf(first.Scheme, first.Host) ||
		first.Scheme == "https" && req.URL.Scheme != "https" {
		for k := range req.Header {
			if t.red.secretHeader(k) {
				delete(req.Header, k)
			}
		}
	}
	return nil
}
