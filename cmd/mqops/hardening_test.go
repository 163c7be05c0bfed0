package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretsInErrors: a secret given where it does not belong — in a
// broker address's user info (flag, MQOPS_BROKERS, config file, with or
// without a scheme), in a URL's user info or in a secret-named URL
// parameter — is refused, and no error, warning or view repeats it.
func TestSecretsInErrors(t *testing.T) {
	bin := mqopsBin(t)
	const pw = "Sup3r-Secret-PW"
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		env  []string
		args []string
	}{
		{"broker flag user info", nil, []string{"lag", "--brokers", "ops:" + pw + "@host:9092"}},
		{"broker flag with scheme", nil, []string{"lag", "--brokers", "SASL_SSL://u:" + pw + "@host:9093"}},
		{"MQOPS_BROKERS", []string{"MQOPS_BROKERS=ops:" + pw + "@host:9092"}, []string{"lag"}},
		{"config file broker", nil, []string{"--config", file("b.yaml", "contexts:\n  x:\n    kafka:\n      brokers: [\"ops:"+pw+"@host:9092\"]\n"), "lag"}},
		{"config file scheme broker", nil, []string{"--config", file("s.yaml", "contexts:\n  x:\n    kafka:\n      brokers: [\"SASL_SSL://u:"+pw+"@host:9093\"]\n"), "groups"}},
		{"rabbitmq url password", nil, []string{"queues", "--rabbitmq-url", "amqp://u:" + pw + "@h:5672/"}},
		{"rabbitmq url password param", nil, []string{"queues", "--rabbitmq-url", "amqp://u@h:5672/?password=" + pw}},
		{"management url token", nil, []string{"queues", "--management-url", "http://h:15672/?token=" + pw}},
		{"management url api_key", []string{"MQOPS_MANAGEMENT_URL=https://h:15671/api?api_key=" + pw}, []string{"queues"}},
		{"config secret params", nil, []string{"--config", file("p.yaml", "contexts:\n  x:\n    rabbitmq:\n      url: amqp://u@h:5672/?secret="+pw+"\n      management-url: https://h:15671/?sig="+pw+"\n"), "config", "view"}},
		{"config view", nil, []string{"--config", file("v.yaml", "contexts:\n  x:\n    rabbitmq:\n      url: amqp://u@h:5672/?access_token="+pw+"\n"), "config", "view"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := append([]string{"XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}, c.env...)
			out, errOut, err := run(t, 20*time.Second, env, bin, append(c.args, "--timeout", "2s")...)
			if err == nil {
				t.Errorf("accepted: %s", out)
			}
			if strings.Contains(out+errOut, pw) {
				t.Errorf("the secret is shown:\nstdout: %s\nstderr: %s", out, errOut)
			}
			if !strings.Contains(errOut, "mqops: ") {
				t.Errorf("no clear error: %q", errOut)
			}
		})
	}
}

// TestFilesThatNeverAnswer: --config, a password file, a CA file, the
// log file and the audit log pointing at a FIFO are refused at once with
// a clear error (a FIFO blocks forever on open), as are other files that
// are not regular; and a signal ends the process even while it waits on a
// peer that never answers.
func TestFilesThatNeverAnswer(t *testing.T) {
	bin := mqopsBin(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctxFile := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, want string
		args       []string
	}{
		{"config", "is a named pipe (FIFO), not a regular file", []string{"--config", fifo, "lag"}},
		{"config is a device", "is a character device, not a regular file", []string{"--config", "/dev/zero", "lag"}},
		{"password-file", "is a named pipe (FIFO), not a regular file", []string{"--config", ctxFile("pw.yaml",
			"contexts:\n  x:\n    kafka:\n      brokers: [127.0.0.1:1]\n      sasl: {mechanism: PLAIN, username: u, password-file: "+fifo+"}\n      tls: {enabled: true}\n"), "lag"}},
		{"tls-ca-file", "is a named pipe (FIFO), not a regular file", []string{"--brokers", "127.0.0.1:1", "--tls-ca-file", fifo, "lag"}},
		{"log-file", "is a named pipe (FIFO), not a regular file", []string{"--brokers", "127.0.0.1:1", "--log-file", fifo, "console"}},
		{"audit-file", "is a named pipe (FIFO), not a regular file", []string{"--brokers", "127.0.0.1:1", "drain", "kafka:x.DLT", "--to", "origin", "--dry-run", "--audit-file", fifo}},
		{"audit-file directory", "is a directory", []string{"--brokers", "127.0.0.1:1", "drain", "kafka:x.DLT", "--to", "origin", "--dry-run", "--audit-file", dir}},
		{"audit log read", "is a named pipe (FIFO), not a regular file", []string{"audit", "--file", fifo}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := []string{"XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir()}
			start := time.Now()
			_, errOut, err := run(t, 10*time.Second, env, bin, c.args...)
			if err == nil || !strings.Contains(errOut, c.want) {
				t.Fatalf("err %v, stderr %q, want %q", err, errOut, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: a FIFO must be refused, not waited on", d)
			}
		})
	}

	// A signal ends a command waiting on a peer that accepts and never
	// answers, long before its --timeout.
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "lag", "--brokers", blackholeAddr(t), "--timeout", "1h")
			cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir())
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			start := time.Now()
			_ = cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
					t.Errorf("exit: %v, want status %d", err, 128+int(sig))
				}
				t.Logf("ended %v after %v", err, time.Since(start))
			case <-time.After(signalGrace + 5*time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("%v did not end the process", sig)
			}
		})
	}
}

// TestNumbersValidatedBeforeEffect: every numeric flag is checked before
// anything is read or changed, with an error naming the flag — and an
// action whose audit log cannot be written does not start (dry runs
// included).
func TestNumbersValidatedBeforeEffect(t *testing.T) {
	bin := mqopsBin(t)
	dlt := "--brokers=127.0.0.1:1"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"lag", "--timeout", "0s"}, "--timeout: 0s is out of range"},
		{[]string{"lag", "--timeout", "1ns"}, "--timeout: 1ns is out of range"},
		{[]string{"lag", "--samples", "2", "--interval", "-1s"}, "--interval: -1s is out of range"},
		{[]string{"lag", "--samples", "0"}, "--samples: 0 is out of range"},
		{[]string{"audit", "--limit", "-1"}, "--limit: -1 is out of range"},
		{[]string{"dlq", "--sample", "0"}, "--sample: 0 is out of range"},
		{[]string{"drain", "kafka:x.DLT", "--to", "topic:y", "--rate", "NaN", "--yes"}, "--rate: NaN is not a number"},
		{[]string{"drain", "kafka:x.DLT", "--to", "topic:y", "--rate", "Inf", "--dry-run"}, "--rate: +Inf is not a number"},
		{[]string{"drain", "kafka:x.DLT", "--to", "topic:y", "--rate", "1e-300", "--dry-run"}, "--rate: 1e-300 is out of range"},
		{[]string{"drain", "kafka:x.DLT", "--to", "topic:y", "--rate", "0", "--dry-run"}, "--rate: 0 is not a value"},
		{[]string{"drain", "kafka:x.DLT", "--to", "topic:y", "--limit", "0", "--dry-run"}, "--limit: 0 is not a value"},
		{[]string{"drain", "kafka:x.DLT", "--to", "topic:y", "--limit", "-5", "--dry-run"}, "--limit: -5 is out of range"},
		{[]string{"drain", "rabbitmq:q.dlq", "--to", "origin", "--prefetch", "1000000", "--dry-run", "--rabbitmq-url", "amqp://u@127.0.0.1:1"}, "--prefetch: 1000000 is out of range"},
		{[]string{"drain", "rabbitmq:q.dlq", "--to", "origin", "--sample", "-1", "--dry-run", "--rabbitmq-url", "amqp://u@127.0.0.1:1"}, "--sample: -1 is out of range"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			state := t.TempDir()
			env := []string{"XDG_CONFIG_HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state}
			_, errOut, err := run(t, 10*time.Second, env, bin, append(c.args, dlt)...)
			if err == nil || !strings.Contains(errOut, c.want) {
				t.Fatalf("err %v, stderr %q, want %q", err, errOut, c.want)
			}
			if _, err := os.Stat(filepath.Join(state, "mqops", "audit.jsonl")); err == nil && !strings.Contains(strings.Join(c.args, " "), "read-only") {
				data, _ := os.ReadFile(filepath.Join(state, "mqops", "audit.jsonl"))
				t.Logf("audit: %s", data)
			}
		})
	}
}

// TestCutError: a table shows an error's first line, sanitized, and how
// many lines it leaves out (a stack trace's frames).
func TestCutError(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"boom", "boom"},
		{"boom\n", "boom"},
		{"java.lang.IllegalStateException: invalid currency XYZ\n\tat com.shop.Billing.charge(Billing.java:42)\n\tat x.y(Z.java:1)", "java.lang.IllegalStateException: invalid currency XYZ (+2 lines)"},
		{"evil\x1b[31m\r\n\tat x", "evil\\x1b[31m (+1 lines)"},
	} {
		if got := cutError(c.in, 200); got != c.want {
			t.Errorf("cutError(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
