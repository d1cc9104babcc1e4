package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki is a test certificate authority that writes PEM files.
type pki struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	ca   string // CA file
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{t: t, dir: t.TempDir()}
	p.key = newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Rampart Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	p.cert, _ = x509.ParseCertificate(der)
	p.ca = p.write("ca.pem", "CERTIFICATE", der)
	return p
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *pki) write(name, typ string, der []byte) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

func (p *pki) writeKey(name string, k *ecdsa.PrivateKey) string {
	p.t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(name, "PRIVATE KEY", der)
}

// issue writes a certificate and key signed by the CA and returns their files.
func (p *pki) issue(name string, edit func(*x509.Certificate)) TLSFiles {
	p.t.Helper()
	key := newECKey(p.t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	return TLSFiles{
		CertFile: p.write(name+".pem", "CERTIFICATE", der),
		KeyFile:  p.writeKey(name+"-key.pem", key),
		CAFile:   p.ca,
	}
}

// mtlsServer starts an HTTPS server that requires client certificates from the
// PKI's CA and checks them with v.
func mtlsServer(t *testing.T, p *pki, v *ClientCertVerifier, clientAuth tls.ClientAuthType) *httptest.Server {
	t.Helper()
	files := p.issue("server", func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")} })
	cfg, err := ServerTLSConfig(files)
	if err != nil {
		t.Fatalf("ServerTLSConfig() error = %v", err)
	}
	cfg.ClientAuth = clientAuth
	srv := httptest.NewUnstartedServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClientCertFromContext(r.Context())
		io.WriteString(w, "hello "+c.Subject.CommonName)
	})))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func mtlsClient(t *testing.T, files TLSFiles) *http.Client {
	t.Helper()
	cfg, err := ClientTLSConfig(files)
	if err != nil {
		t.Fatalf("ClientTLSConfig() error = %v", err)
	}
	if cfg.MinVersion < tls.VersionTLS12 || cfg.InsecureSkipVerify {
		t.Errorf("ClientTLSConfig() MinVersion = %x, InsecureSkipVerify = %v; want TLS 1.2+ and verification", cfg.MinVersion, cfg.InsecureSkipVerify)
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestMutualTLS(t *testing.T) {
	checkLeaks(t)
	p := newPKI(t)
	v, err := NewClientCertVerifier(ClientCertConfig{
		CommonNames:   []string{"orders"},
		URIs:          []string{"spiffe://rampart.test/ns/prod/sa/billing"},
		Organizations: []string{"Payments Team"},
		DNSNames:      []string{"inventory.internal"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := mtlsServer(t, p, v, tls.RequireAndVerifyClientCert)
	spiffe, _ := url.Parse("spiffe://rampart.test/ns/prod/sa/billing")

	tests := []struct {
		name   string
		edit   func(*x509.Certificate)
		status int
	}{
		{"orders", nil, http.StatusOK},
		{"billing", func(c *x509.Certificate) { c.URIs = []*url.URL{spiffe} }, http.StatusOK},
		{"ledger", func(c *x509.Certificate) { c.Subject.Organization = []string{"Payments Team"} }, http.StatusOK},
		{"inventory", func(c *x509.Certificate) { c.DNSNames = []string{"inventory.internal"} }, http.StatusOK},
		{"intruder", func(c *x509.Certificate) { c.Subject.Organization = []string{"Elsewhere"} }, http.StatusForbidden},
	}
	for _, tt := range tests {
		client := mtlsClient(t, p.issue(tt.name, tt.edit))
		status, body := get(t, client, srv.URL)
		if status != tt.status {
			t.Errorf("client %s: status %d (%s), want %d", tt.name, status, body, tt.status)
		}
		if tt.status == http.StatusOK && body != "hello "+tt.name {
			t.Errorf("client %s: body %q, want %q", tt.name, body, "hello "+tt.name)
		}
	}

	// A certificate from another CA fails the handshake.
	other := newPKI(t)
	files := other.issue("orders", nil)
	files.CAFile = p.ca
	if _, err := mtlsClient(t, files).Get(srv.URL); err == nil {
		t.Errorf("client with a certificate from another CA: Get() error = nil, want a TLS error")
	}
}

func TestClientCertRequired(t *testing.T) {
	checkLeaks(t)
	p := newPKI(t)
	v, _ := NewClientCertVerifier(ClientCertConfig{})
	srv := mtlsServer(t, p, v, tls.VerifyClientCertIfGiven)
	pool := x509.NewCertPool()
	pool.AddCert(p.cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	if status, body := get(t, &http.Client{Transport: tr}, srv.URL); status != http.StatusForbidden ||
		!strings.Contains(body, "a verified client certificate is required") {
		t.Errorf("client without certificate: %d %s, want 403 with a problem", status, body)
	}
	if status, _ := get(t, mtlsClient(t, p.issue("anyone", nil)), srv.URL); status != http.StatusOK {
		t.Errorf("client with any verified certificate (no rules): status %d, want 200", status)
	}
	if _, err := v.Verify(nil); !errors.Is(err, ErrNoClientCert) {
		t.Errorf("Verify(nil) error = %v, want ErrNoClientCert", err)
	}
}

func TestTLSFileErrors(t *testing.T) {
	p := newPKI(t)
	good := p.issue("svc", nil)
	expired := p.issue("old", func(c *x509.Certificate) { c.NotAfter = time.Now().Add(-time.Minute) })
	future := p.issue("new", func(c *x509.Certificate) { c.NotBefore = time.Now().Add(time.Hour) })
	garbage := filepath.Join(p.dir, "garbage.pem")
	writeFile(t, garbage, "this is not PEM")
	otherKey := p.writeKey("other-key.pem", newECKey(t))
	encrypted := p.write("encrypted.pem", "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3})
	badCert := p.write("bad-cert.pem", "CERTIFICATE", []byte{1, 2, 3})
	missing := filepath.Join(p.dir, "missing.pem")

	tests := []struct {
		name     string
		files    TLSFiles
		wantFile string
		wantRole string
		wantErr  error
	}{
		{"missing cert", TLSFiles{CertFile: missing, KeyFile: good.KeyFile}, missing, "certificate", os.ErrNotExist},
		{"cert not PEM", TLSFiles{CertFile: garbage, KeyFile: good.KeyFile}, garbage, "certificate", nil},
		{"cert is a key", TLSFiles{CertFile: good.KeyFile, KeyFile: good.KeyFile}, good.KeyFile, "certificate", nil},
		{"cert does not parse", TLSFiles{CertFile: badCert, KeyFile: good.KeyFile}, badCert, "certificate", nil},
		{"expired cert", expired, expired.CertFile, "certificate", ErrExpired},
		{"cert not yet valid", future, future.CertFile, "certificate", ErrNotYetValid},
		{"missing key", TLSFiles{CertFile: good.CertFile, KeyFile: missing}, missing, "key", os.ErrNotExist},
		{"key not PEM", TLSFiles{CertFile: good.CertFile, KeyFile: garbage}, garbage, "key", nil},
		{"key is a cert", TLSFiles{CertFile: good.CertFile, KeyFile: good.CertFile}, good.CertFile, "key", nil},
		{"key does not match", TLSFiles{CertFile: good.CertFile, KeyFile: otherKey}, otherKey, "key", nil},
		{"encrypted key", TLSFiles{CertFile: good.CertFile, KeyFile: encrypted}, encrypted, "key", nil},
		{"CA not PEM", TLSFiles{CertFile: good.CertFile, KeyFile: good.KeyFile, CAFile: garbage}, garbage, "CA", nil},
		{"missing CA", TLSFiles{CertFile: good.CertFile, KeyFile: good.KeyFile, CAFile: missing}, missing, "CA", os.ErrNotExist},
	}
	for _, tt := range tests {
		for name, build := range map[string]func(TLSFiles) (*tls.Config, error){"ClientTLSConfig": ClientTLSConfig, "ServerTLSConfig": ServerTLSConfig} {
			files := tt.files
			if name == "ServerTLSConfig" && files.CAFile == "" {
				files.CAFile = p.ca
			}
			_, err := build(files)
			var pe *PEMError
			if !errors.As(err, &pe) || pe.File != tt.wantFile || pe.Role != tt.wantRole || !errors.Is(err, ErrInvalidPEM) {
				t.Errorf("%s: %s() error = %v, want a PEMError for the %s file %s", tt.name, name, err, tt.wantRole, tt.wantFile)
				continue
			}
			if !strings.Contains(err.Error(), tt.wantFile) {
				t.Errorf("%s: error %q does not name %s", tt.name, err, tt.wantFile)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: error = %v, want it to match %v", tt.name, err, tt.wantErr)
			}
		}
	}
	if _, err := ServerTLSConfig(TLSFiles{CertFile: good.CertFile, KeyFile: good.KeyFile}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("ServerTLSConfig() without CAFile error = %v, want ErrInvalidConfig", err)
	}
	cfg, err := ClientTLSConfig(TLSFiles{CertFile: good.CertFile, KeyFile: good.KeyFile})
	if err != nil || cfg.RootCAs != nil {
		t.Errorf("ClientTLSConfig() without CAFile = %v; want system roots (nil RootCAs)", err)
	}
}
