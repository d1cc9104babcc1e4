package auth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// TLSFiles names the PEM files of one side of a mutual-TLS connection.
type TLSFiles struct {
	// CertFile holds this side's certificate, optionally followed by its
	// intermediates (PEM "CERTIFICATE" blocks). Required.
	CertFile string
	// KeyFile holds the certificate's private key (PEM "PRIVATE KEY", "RSA
	// PRIVATE KEY" or "EC PRIVATE KEY"; encrypted keys are not supported).
	// Required.
	KeyFile string
	// CAFile holds the CA certificates that verify the peer. For a client, empty
	// means the system roots; for a server it is required.
	CAFile string
	// ServerName, for a client, is the name the server's certificate must have;
	// empty means the host dialled.
	ServerName string
}

// ClientTLSConfig returns a *tls.Config for a client that presents the
// certificate in f.CertFile and verifies servers against f.CAFile: TLS 1.2 at
// least, verification on. Use it as an [http.Transport]'s TLSClientConfig.
//
// Errors match [ErrInvalidPEM] and name the file at fault (see [PEMError]): a
// file that is missing or unreadable, has no PEM block of the expected type, does
// not parse, holds a certificate that has expired or is not yet valid, or a key
// that does not match the certificate.
func ClientTLSConfig(f TLSFiles) (*tls.Config, error) {
	cert, err := loadKeyPair(f, time.Now())
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ServerName:   f.ServerName,
	}
	if f.CAFile != "" {
		if cfg.RootCAs, err = loadCAPool(f.CAFile); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// ServerTLSConfig returns a *tls.Config for a server that presents the
// certificate in f.CertFile and requires every client to present a certificate
// that verifies against f.CAFile: TLS 1.2 at least. Put it in an [http.Server]'s
// TLSConfig, and check client identities with a [ClientCertVerifier]. Errors are
// as for [ClientTLSConfig].
func ServerTLSConfig(f TLSFiles) (*tls.Config, error) {
	if f.CAFile == "" {
		return nil, &ConfigError{Field: "TLSFiles.CAFile", Reason: "is required to verify client certificates"}
	}
	cert, err := loadKeyPair(f, time.Now())
	if err != nil {
		return nil, err
	}
	pool, err := loadCAPool(f.CAFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// loadKeyPair reads and checks the certificate and key files at now.
func loadKeyPair(f TLSFiles, now time.Time) (tls.Certificate, error) {
	if f.CertFile == "" {
		return tls.Certificate{}, &ConfigError{Field: "TLSFiles.CertFile", Reason: "is required"}
	}
	if f.KeyFile == "" {
		return tls.Certificate{}, &ConfigError{Field: "TLSFiles.KeyFile", Reason: "is required"}
	}
	certPEM, certs, err := readCertificates("certificate", f.CertFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := certs[0]
	switch {
	case now.After(leaf.NotAfter):
		return tls.Certificate{}, &PEMError{Role: "certificate", File: f.CertFile,
			Err: reason(ErrExpired, nil, "certificate %q expired at %s", leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339))}
	case now.Before(leaf.NotBefore):
		return tls.Certificate{}, &PEMError{Role: "certificate", File: f.CertFile,
			Err: reason(ErrNotYetValid, nil, "certificate %q is not valid before %s", leaf.Subject.String(), leaf.NotBefore.UTC().Format(time.RFC3339))}
	}
	keyPEM, err := os.ReadFile(f.KeyFile)
	if err != nil {
		return tls.Certificate{}, &PEMError{Role: "key", File: f.KeyFile, Err: err}
	}
	if err := checkKeyPEM(keyPEM); err != nil {
		return tls.Certificate{}, &PEMError{Role: "key", File: f.KeyFile, Err: err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The certificate parsed above, so the key is at fault. Errors of
		// X509KeyPair never include key material.
		return tls.Certificate{}, &PEMError{Role: "key", File: f.KeyFile,
			Err: fmt.Errorf("does not match the certificate in %q or does not parse: %w", f.CertFile, err)}
	}
	return cert, nil
}

// checkKeyPEM reports a key file without a usable private key block.
func checkKeyPEM(data []byte) error {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return errors.New("no PEM PRIVATE KEY block found")
		}
		switch block.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			return nil
		case "ENCRYPTED PRIVATE KEY":
			return errors.New("encrypted private keys are not supported")
		}
	}
}

// readCertificates reads a file of PEM CERTIFICATE blocks and parses each.
func readCertificates(role, path string) ([]byte, []*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, &PEMError{Role: role, File: path, Err: err}
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, &PEMError{Role: role, File: path, Err: fmt.Errorf("certificate %d: %w", len(certs)+1, err)}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, &PEMError{Role: role, File: path, Err: errors.New("no PEM CERTIFICATE block found")}
	}
	return data, certs, nil
}

func loadCAPool(path string) (*x509.CertPool, error) {
	_, certs, err := readCertificates("CA", path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
