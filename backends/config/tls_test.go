package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testPKI struct {
	dir                   string
	caFile                string
	server                tls.Certificate
	clientCert, clientKey string
	caPool                *x509.CertPool
}

// newPKI makes a CA, a server certificate for kafka.test signed by it, and a
// client certificate, and writes the CA and the client pair as PEM files.
func newPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mqops test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			DNSNames:     dns,
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	p := &testPKI{dir: dir, caPool: x509.NewCertPool()}
	p.caPool.AddCert(caCert)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER, 0o644)

	srvDER, srvKey := leaf(2, "kafka.test", x509.ExtKeyUsageServerAuth, []string{"kafka.test"})
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}

	cliDER, cliKey := leaf(3, "mqops", x509.ExtKeyUsageClientAuth, nil)
	p.clientCert = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER, 0o644)
	keyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = writePEM(t, dir, "client.key", "EC PRIVATE KEY", keyDER, 0o600)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is masked by umask
		t.Fatal(err)
	}
	return p
}

// handshake runs a TLS handshake between a client using cfg and a server
// presenting the PKI's server certificate (asking for a client certificate
// when requireClient), over loopback TCP (net.Pipe is unbuffered: a client
// that aborts mid-flight would block against the server's writes).
func handshake(t *testing.T, p *testPKI, cfg *tls.Config, requireClient bool) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	srvCfg := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if requireClient {
		srvCfg.ClientAuth = tls.RequireAndVerifyClientCert
		srvCfg.ClientCAs = p.caPool
	}
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(deadline)
		done <- tls.Server(conn, srvCfg).Handshake()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(deadline)
	cerr := tls.Client(conn, cfg).Handshake()
	conn.Close()
	serr := <-done
	if cerr != nil {
		return cerr
	}
	return serr
}

func TestTLSBuild(t *testing.T) {
	p := newPKI(t)

	t.Run("ca-file verifies the server", func(t *testing.T) {
		cfg, warns, err := (&TLS{CAFile: p.caFile, ServerName: "kafka.test"}).Build()
		if err != nil || len(warns) != 0 {
			t.Fatalf("Build: %v, warnings %q", err, warns)
		}
		if cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify {
			t.Errorf("cfg %+v", cfg)
		}
		if err := handshake(t, p, cfg, false); err != nil {
			t.Errorf("handshake with the right CA: %v", err)
		}
	})

	t.Run("wrong server name fails", func(t *testing.T) {
		cfg, _, err := (&TLS{CAFile: p.caFile, ServerName: "other.test"}).Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := handshake(t, p, cfg, false); err == nil || !strings.Contains(err.Error(), "other.test") {
			t.Errorf("handshake with the wrong server name: %v", err)
		}
	})

	t.Run("another CA fails", func(t *testing.T) {
		other := newPKI(t)
		cfg, _, err := (&TLS{CAFile: other.caFile, ServerName: "kafka.test"}).Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := handshake(t, p, cfg, false); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("handshake with a foreign CA: %v", err)
		}
	})

	t.Run("client certificate", func(t *testing.T) {
		cfg, warns, err := (&TLS{CAFile: p.caFile, ServerName: "kafka.test", CertFile: p.clientCert, KeyFile: p.clientKey}).Build()
		if err != nil || len(warns) != 0 {
			t.Fatalf("Build: %v, warnings %q", err, warns)
		}
		if len(cfg.Certificates) != 1 {
			t.Fatalf("%d client certificates", len(cfg.Certificates))
		}
		if err := handshake(t, p, cfg, true); err != nil {
			t.Errorf("mutual TLS handshake: %v", err)
		}
	})

	t.Run("insecure-skip-verify warns", func(t *testing.T) {
		cfg, warns, err := (&TLS{InsecureSkipVerify: true}).Build()
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.InsecureSkipVerify || len(warns) != 1 || warns[0] != insecureWarning {
			t.Errorf("insecure: %v %q", cfg.InsecureSkipVerify, warns)
		}
		if err := handshake(t, p, cfg, false); err != nil {
			t.Errorf("insecure handshake: %v", err)
		}
		_, warns, _ = (&TLS{InsecureSkipVerify: true, CAFile: p.caFile}).Build()
		if len(warns) != 2 || !strings.Contains(warns[1], "is not used") {
			t.Errorf("insecure with ca-file: %q", warns)
		}
	})

	t.Run("key readable by others warns", func(t *testing.T) {
		if err := os.Chmod(p.clientKey, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(p.clientKey, 0o600)
		_, warns, err := (&TLS{CertFile: p.clientCert, KeyFile: p.clientKey}).Build()
		if err != nil {
			t.Fatal(err)
		}
		want := `tls.key-file "` + p.clientKey + `" can be read by other users (mode 0644); chmod 600 it`
		if len(warns) != 1 || warns[0] != want {
			t.Errorf("warnings %q, want %q", warns, want)
		}
	})

	t.Run("off", func(t *testing.T) {
		var nilTLS *TLS
		for _, tc := range []*TLS{nilTLS, {}} {
			cfg, warns, err := tc.Build()
			if cfg != nil || warns != nil || err != nil {
				t.Errorf("Build(%+v) = %v, %v, %v; want all nil", tc, cfg, warns, err)
			}
		}
		cfg, _, err := (&TLS{Enabled: true}).Build()
		if err != nil || cfg == nil || cfg.RootCAs != nil {
			t.Errorf("enabled with system roots: %+v, %v", cfg, err)
		}
	})

	t.Run("errors name the file", func(t *testing.T) {
		notPEM := filepath.Join(p.dir, "not.pem")
		if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
		missing := filepath.Join(p.dir, "missing.pem")
		for _, tc := range []struct {
			tls  TLS
			want string
		}{
			{TLS{CAFile: missing}, `tls.ca-file: cannot read "` + missing + `": no such file or directory`},
			{TLS{CAFile: notPEM}, `tls.ca-file: "` + notPEM + `" holds no PEM certificate`},
			{TLS{CertFile: p.clientCert}, `tls: cert-file "` + p.clientCert + `" is set without key-file`},
			{TLS{KeyFile: p.clientKey}, `tls: key-file "` + p.clientKey + `" is set without cert-file`},
			{TLS{CertFile: missing, KeyFile: p.clientKey}, `tls.cert-file: cannot read "` + missing + `": no such file or directory`},
			{TLS{CertFile: p.clientCert, KeyFile: missing}, `tls.key-file: cannot read "` + missing + `": no such file or directory`},
			{TLS{CertFile: p.clientCert, KeyFile: p.caFile}, `tls.cert-file "` + p.clientCert + `", key-file "` + p.caFile + `": tls: found a certificate rather than a key in the PEM for the private key`},
		} {
			_, _, err := tc.tls.Build()
			if err == nil || err.Error() != tc.want {
				t.Errorf("Build(%+v):\n got: %v\nwant: %s", tc.tls, err, tc.want)
			}
		}
	})
}

// TestTLSFromConfig builds TLS from a parsed file, where ca-file is relative
// to the config file.
func TestTLSFromConfig(t *testing.T) {
	p := newPKI(t)
	doc := `contexts:
  prod:
    kafka:
      brokers: [kafka.test:9093]
      tls: {ca-file: ca.pem, server-name: kafka.test, cert-file: client.pem, key-file: client.key}
`
	c, err := Parse([]byte(doc), filepath.Join(p.dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := c.Effective("prod", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, warns, err := ctx.Kafka.TLS.Build()
	if err != nil || len(warns) != 0 {
		t.Fatalf("Build: %v %q", err, warns)
	}
	if err := handshake(t, p, cfg, true); err != nil {
		t.Errorf("handshake: %v", err)
	}
}
