package httpx_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rampart-go/rampart/httpx"
)

func TestBaseTransportIsTuned(t *testing.T) {
	tr := httpx.NewBaseTransport()
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || tr.TLSClientConfig.InsecureSkipVerify {
		t.Errorf("TLSClientConfig = %+v, want TLS 1.2 or later with verification", tr.TLSClientConfig)
	}
	if tr.DisableKeepAlives || tr.MaxIdleConnsPerHost < 8 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost || tr.IdleConnTimeout == 0 {
		t.Errorf("pool: keep-alives off %t, %d idle per host, %d idle, idle timeout %s",
			tr.DisableKeepAlives, tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tr.IdleConnTimeout)
	}
}

func TestUntrustedCertificateIsRefusedAndNotRetried(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors are expected
	srv.StartTLS()
	defer srv.Close()
	obs := &attempts{}
	c, err := httpx.NewHTTPClient(httpx.Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	_, _, err = get(t, c, t.Context(), srv.URL)
	var cv *tls.CertificateVerificationError
	if !errors.As(err, &cv) {
		t.Fatalf("GET on a self-signed server: err = %v, want a certificate verification error", err)
	}
	if len(obs.numbers) != 1 {
		t.Errorf("%d attempts, want 1: a certificate error is not retried", len(obs.numbers))
	}
}
