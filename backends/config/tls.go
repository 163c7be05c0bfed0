package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/mqops/mqops/backends"
)

const insecureWarning = "tls.insecure-skip-verify is set: the server's certificate is not checked, so anyone on the network path can impersonate the server"

// maxPEMSize bounds a CA, certificate or key file.
const maxPEMSize = 4 << 20

// Build makes the client tls.Config: nil (and no error) when t is nil or TLS
// is off. CAFile, when set, replaces the system roots. Warnings cover
// settings that weaken TLS (insecure-skip-verify, a private key readable by
// other users); errors name the file at fault.
func (t *TLS) Build() (*tls.Config, []string, error) {
	if t == nil || (!t.Enabled && !t.hasSettings()) {
		return nil, nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // an explicit, warned-about operator choice
	}
	var warns []string
	if t.InsecureSkipVerify {
		warns = append(warns, insecureWarning)
	}
	if t.CAFile != "" {
		pem, err := readPEM(t.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls.ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("tls.ca-file: %s holds no PEM certificate", q(t.CAFile))
		}
		cfg.RootCAs = pool
		if t.InsecureSkipVerify {
			warns = append(warns, fmt.Sprintf("tls.ca-file %s is not used because insecure-skip-verify is set", q(t.CAFile)))
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		certPEM, err := readPEM(t.CertFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls.cert-file: %w", err)
		}
		keyPEM, err := readPEM(t.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls.key-file: %w", err)
		}
		// X509KeyPair's errors describe the problem, never the key material.
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("tls.cert-file %s, key-file %s: %v", q(t.CertFile), q(t.KeyFile), err)
		}
		cfg.Certificates = []tls.Certificate{cert}
		if st, err := os.Stat(t.KeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			warns = append(warns, fmt.Sprintf("tls.key-file %s can be read by other users (mode %04o); chmod 600 it", q(t.KeyFile), st.Mode().Perm()))
		}
	case t.CertFile != "":
		return nil, nil, fmt.Errorf("tls: cert-file %s is set without key-file", q(t.CertFile))
	case t.KeyFile != "":
		return nil, nil, fmt.Errorf("tls: key-file %s is set without cert-file", q(t.KeyFile))
	}
	return cfg, warns, nil
}

func readPEM(path string) ([]byte, error) {
	data, err := backends.ReadRegularFile(path, maxPEMSize)
	if errors.Is(err, backends.ErrTooLarge) {
		return nil, fmt.Errorf("%s is too large for a PEM file", q(path))
	}
	return data, err
}
