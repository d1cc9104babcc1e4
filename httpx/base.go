package httpx

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// NewBaseTransport returns the *http.Transport a [Transport] sends through when
// Options.Base is nil: proxies from the environment, keep-alives, HTTP/2 when the
// server offers it, up to 100 idle connections of which 32 per host (net/http's
// default of 2 per host makes a busy client open and close connections all the
// time), idle connections closed after 90s, connections dialled within 10s, TLS 1.2
// or later with certificate verification on, TLS handshakes within 10s.
//
// Timeouts of whole requests are the pipeline's business, so the transport sets no
// response header timeout.
func NewBaseTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}
