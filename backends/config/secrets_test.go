package config

import (
	"github.com/mqops/mqops/backends"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	const value = "s3cr3t-value with spaces "
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nl := write("nl", value+"\n", 0o600)
	crlf := write("crlf", value+"\r\n", 0o600)
	bare := write("bare", value, 0o600)
	empty := write("empty", "\n", 0o600)
	big := write("big", strings.Repeat("x", maxSecretSize+1), 0o600)
	missing := filepath.Join(dir, "missing")

	t.Setenv("MQOPS_TEST_PW", value)
	t.Setenv("MQOPS_TEST_EMPTY", "")
	os.Unsetenv("MQOPS_TEST_UNSET")

	tests := []struct {
		name    string
		env     string
		file    string
		want    string
		wantErr string
	}{
		{name: "env", env: "MQOPS_TEST_PW", want: value},
		{name: "file with newline", file: nl, want: value},
		{name: "file with CRLF", file: crlf, want: value},
		{name: "file without newline", file: bare, want: value},
		{name: "env wins over file", env: "MQOPS_TEST_PW", file: missing, want: value},
		{name: "env unset", env: "MQOPS_TEST_UNSET", wantErr: "kafka.sasl.password-env: environment variable MQOPS_TEST_UNSET is not set"},
		{name: "env empty", env: "MQOPS_TEST_EMPTY", wantErr: "kafka.sasl.password-env: environment variable MQOPS_TEST_EMPTY is empty"},
		{name: "file missing", file: missing, wantErr: `kafka.sasl.password-file: cannot read "` + missing + `": no such file or directory`},
		{name: "file empty", file: empty, wantErr: `kafka.sasl.password-file: "` + empty + `" is empty`},
		{name: "file too big", file: big, wantErr: `kafka.sasl.password-file: "` + big + `" is larger than 64 KiB; it should hold only the password`},
		{name: "file is a directory", file: dir, wantErr: `kafka.sasl.password-file: "` + dir + `" is a directory, not a file`},
		{name: "neither", wantErr: "kafka.sasl: set one of password-env or password-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &SASL{Mechanism: "PLAIN", Username: "u", PasswordEnv: tt.env, PasswordFile: tt.file}
			got, err := s.Password()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("error echoes the secret: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Password() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	// A file that cannot be read (skipped as root, who reads everything).
	if os.Geteuid() != 0 {
		unreadable := write("unreadable", value, 0o000)
		_, err := (&SASL{PasswordFile: unreadable}).Password()
		if err == nil || !strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("unreadable file: %v", err)
		}
	}

	// RabbitMQ: no password source is fine (e.g. a client certificate).
	if pw, err := (&RabbitMQ{URL: "amqps://h"}).Password(); pw != "" || err != nil {
		t.Errorf("rabbitmq without password: %q, %v", pw, err)
	}
	if pw, err := (&RabbitMQ{PasswordFile: nl}).Password(); pw != value || err != nil {
		t.Errorf("rabbitmq password-file: %q, %v", pw, err)
	}
	if _, err := (&RabbitMQ{PasswordEnv: "MQOPS_TEST_UNSET"}).Password(); err == nil || err.Error() != "rabbitmq.password-env: environment variable MQOPS_TEST_UNSET is not set" {
		t.Errorf("rabbitmq unset env: %v", err)
	}
	var nilSASL *SASL
	if _, err := nilSASL.Password(); err == nil {
		t.Error("nil SASL: no error")
	}

	// Database DSN.
	dsn := "postgres://orders:s3cr3t@db/orders?sslmode=verify-full"
	t.Setenv("MQOPS_TEST_DSN", dsn)
	if got, err := (&Store{DSNEnv: "MQOPS_TEST_DSN"}).DSN(); got != dsn || err != nil {
		t.Errorf("DSN from env: %q, %v", got, err)
	}
	dsnFile := write("dsn", dsn+"\n", 0o600)
	if got, err := (&Store{DSNFile: dsnFile}).DSN(); got != dsn || err != nil {
		t.Errorf("DSN from file: %q, %v", got, err)
	}
	if _, err := (&Store{Driver: "postgres"}).DSN(); err == nil || err.Error() != "store: set one of dsn-env or dsn-file" {
		t.Errorf("DSN without source: %v", err)
	}
	if _, err := (&Store{DSNEnv: "MQOPS_TEST_UNSET"}).DSN(); err == nil || err.Error() != "store.dsn-env: environment variable MQOPS_TEST_UNSET is not set" {
		t.Errorf("DSN unset env: %v", err)
	}
}

// TestSecretsThroughParse reads secrets the way the CLI will: from a parsed
// config whose password-file is relative to the config file.
func TestSecretsThroughParse(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "kafka"), []byte("kafka-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MQOPS_TEST_RABBIT", "rabbit-pw")
	doc := `contexts:
  prod:
    kafka:
      brokers: [kafka:9093]
      sasl: {mechanism: SCRAM-SHA-512, username: ops, password-file: secrets/kafka}
    rabbitmq: {url: 'amqps://ops@rabbit', password-env: MQOPS_TEST_RABBIT}
`
	c, err := Parse([]byte(doc), filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := c.Effective("prod", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := ctx.Kafka.SASL.Password(); pw != "kafka-pw" || err != nil {
		t.Errorf("kafka password: %q, %v", pw, err)
	}
	if pw, err := ctx.RabbitMQ.Password(); pw != "rabbit-pw" || err != nil {
		t.Errorf("rabbitmq password: %q, %v", pw, err)
	}
	// The secrets never show in the view of the config.
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "kafka-pw") || strings.Contains(string(out), "rabbit-pw") {
		t.Errorf("Redacted shows a secret:\n%s", out)
	}
	if !strings.Contains(string(out), "password-env: MQOPS_TEST_RABBIT") || !strings.Contains(string(out), filepath.Join(dir, "secrets", "kafka")) {
		t.Errorf("Redacted hides the names of the secret sources:\n%s", out)
	}
}

// TestSQLiteDSNNotSecret: an SQLite DSN is a path, read but not redacted
// (the views name the database by it); another driver's DSN is a secret.
func TestSQLiteDSNNotSecret(t *testing.T) {
	t.Setenv("MQOPS_TEST_SQLITE_DSN", "/var/lib/app/orders-sqlite.db")
	t.Setenv("MQOPS_TEST_PG_DSN", "postgres://app:pg-dsn-s3cret-x@db/orders")
	if v, err := (&Store{Driver: "sqlite3", DSNEnv: "MQOPS_TEST_SQLITE_DSN"}).DSN(); err != nil || v != "/var/lib/app/orders-sqlite.db" {
		t.Fatalf("%q %v", v, err)
	}
	if got := backends.Redact("open /var/lib/app/orders-sqlite.db"); got != "open /var/lib/app/orders-sqlite.db" {
		t.Errorf("sqlite path redacted: %q", got)
	}
	if _, err := (&Store{Driver: "postgres", DSNEnv: "MQOPS_TEST_PG_DSN"}).DSN(); err != nil {
		t.Fatal(err)
	}
	if got := backends.Redact("dsn postgres://app:pg-dsn-s3cret-x@db/orders"); strings.Contains(got, "pg-dsn-s3cret-x") {
		t.Errorf("postgres DSN not redacted: %q", got)
	}
}
