package backends

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	RegisterSecret("registered-s3cret")
	cases := []struct{ in, want string }{
		{`"ops:PW@host:9092" is not host:port`, `"ops:REDACTED@host:9092" is not host:port`},
		{"dial SASL_SSL://u:PW@host:9093: refused", "dial SASL_SSL://u:REDACTED@host:9093: refused"},
		{"amqp://guest:guest@localhost:5672/vhost", "amqp://guest:REDACTED@localhost:5672/vhost"},
		{"https://h/api?page=2&token=abc&x=1", "https://h/api?page=2&token=REDACTED&x=1"},
		{"http://h/?password=p%40ss;api_key=k&sig=s&Secret=z", "http://h/?password=REDACTED;api_key=REDACTED&sig=REDACTED&Secret=REDACTED"},
		{"auth failed with registered-s3cret and registered-s3cret", "auth failed with REDACTED and REDACTED"},
		{"user ops@host.example has no access", "user ops@host.example has no access"},
		{"queue a.dlq at 12:30 moved 5", "queue a.dlq at 12:30 moved 5"},
		{"page=2 of 10", "page=2 of 10"},
		{"", ""},
	}
	for _, c := range cases {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, n := range []string{"password", "PASSWORD", "token", "access_token", "api_key", "apikey", "api-key", "secret", "client_secret", "sig", "signature"} {
		if !SecretParam(n) {
			t.Errorf("%q is a secret parameter", n)
		}
	}
	for _, n := range []string{"page", "vhost", "columns", "name"} {
		if SecretParam(n) {
			t.Errorf("%q is not a secret parameter", n)
		}
	}
}

func TestReadRegularFile(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	os.WriteFile(ok, []byte("hello"), 0o600)
	if b, err := ReadRegularFile(ok, 5); err != nil || string(b) != "hello" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := ReadRegularFile(ok, 4); err == nil || !strings.Contains(err.Error(), "is larger than 4 bytes") {
		t.Errorf("too large: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadRegularFile(fifo, 10); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe (FIFO)") {
			t.Errorf("fifo: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
	if _, err := OpenAppend(fifo, 0o600); err == nil {
		t.Error("appending to a FIFO was accepted")
	}
	if _, err := ReadRegularFile("/dev/zero", 10); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("/dev/zero: %v", err)
	}
	if _, err := ReadRegularFile(dir, 10); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("dir: %v", err)
	}
	if _, err := ReadRegularFile(filepath.Join(dir, "none"), 10); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing: %v", err)
	}
}
