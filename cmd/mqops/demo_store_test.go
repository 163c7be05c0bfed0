package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/store"
)

// demoNoTUI is a running `mqops demo --no-tui` of the built binary: what it
// printed, the env it said to export and its headless command lines.
type demoNoTUI struct {
	cmd      *exec.Cmd
	done     chan error
	env      map[string]string // export NAME=value
	commands [][]string        // "  mqops …" lines, split on spaces
}

// startDemoNoTUI starts the demo (Kafka only) and reads its instructions
// up to "ctrl+c to stop".
func startDemoNoTUI(t *testing.T, dir string) *demoNoTUI {
	t.Helper()
	cmd := exec.Command(mqopsBin(t), "demo", "--no-tui", "--no-rabbitmq")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &demoNoTUI{cmd: cmd, done: make(chan error, 1), env: map[string]string{}}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		d.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		// ctrl+c, so that the demo removes its database; kill if it hangs
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the demo ended before its instructions: %s", stderr.String())
			}
			f := strings.Fields(l)
			switch {
			case len(f) == 2 && f[0] == "export":
				k, v, _ := strings.Cut(f[1], "=")
				d.env[k] = v
			case len(f) > 1 && f[0] == "mqops":
				d.commands = append(d.commands, f)
			case strings.TrimSpace(l) == "ctrl+c to stop":
				go func() {
					for range lines { // keep the pipe drained
					}
				}()
				return d
			}
		case <-deadline:
			t.Fatalf("no instructions from the demo within 60s: %s", stderr.String())
		}
	}
}

// command is the printed command line whose subcommand is name.
func (d *demoNoTUI) command(t *testing.T, name string) []string {
	t.Helper()
	for _, c := range d.commands {
		if c[1] == name {
			return c[1:]
		}
	}
	t.Fatalf("the demo prints no `mqops %s` line: %q", name, d.commands)
	return nil
}

// stop interrupts the demo as ctrl+c does and waits for it.
func (d *demoNoTUI) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-d.done:
		d.done <- err // for the cleanup
		if err != nil {
			t.Errorf("the demo exited with %v after ctrl+c", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not exit within 30s of ctrl+c")
	}
}

// TestDemoNoTUIApplicationDatabase: `mqops demo --no-tui` prints how to
// reach its application database (an env var holding the SQLite file's
// path, never the DSN as an argument) and the headless commands on it; the
// file is a store of the mqops preset with pending sends, retry rows and
// the consumed id it names; each printed command, run as printed with -o
// json, returns data; ctrl+c removes the database.
func TestDemoNoTUIApplicationDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	d := startDemoNoTUI(t, dir)
	path := d.env[demoStoreEnv]
	if path == "" || d.env["MQOPS_BROKERS"] == "" {
		t.Fatalf("the demo exports %v, want %s and MQOPS_BROKERS", d.env, demoStoreEnv)
	}
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the application database %s: %v", path, err)
	}
	for _, c := range d.commands {
		line := strings.Join(c, " ")
		if strings.Contains(line, path) {
			t.Errorf("a command carries the database's path: %s", line)
		}
	}
	consumed := d.command(t, "consumed")
	if len(consumed) < 2 || strings.HasPrefix(consumed[1], "-") {
		t.Fatalf("consumed without a message id: %q", consumed)
	}
	id := consumed[1]

	// The file as the console's store opens it.
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: path, PendingAfter: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.Pending(ctx, backends.OutboxQuery{})
	if err != nil || len(page.Rows) == 0 {
		t.Errorf("pending rows: %+v %v", page, err)
	}
	rp, err := s.Retries(ctx, backends.RetryQuery{})
	if err != nil || len(rp.Rows) == 0 || len(rp.Groups) != 2 {
		t.Errorf("retry rows: %+v %v", rp, err)
	}
	if cs, err := s.Consumed(ctx, id); err != nil || len(cs) != 1 {
		t.Errorf("Consumed(%s) = %+v %v", id, cs, err)
	}
	_ = s.Close()

	// The printed commands, as printed, with -o json.
	env := []string{"XDG_STATE_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	for k, v := range d.env {
		env = append(env, k+"="+v)
	}
	// partial: the exit status 3 of a partial result is expected, with
	// its reason in stderr
	runJSON := func(name string, into any, partial ...string) {
		t.Helper()
		args := append(d.command(t, name), "-o", "json")
		out, stderr, err := run(t, 60*time.Second, env, mqopsBin(t), args...)
		var ee *exec.ExitError
		switch {
		case len(partial) > 0 && errors.As(err, &ee) && ee.ExitCode() == 3:
			for _, p := range partial {
				if !strings.Contains(stderr, p) {
					t.Errorf("mqops %s: a partial result without %q: %s", strings.Join(args, " "), p, stderr)
				}
			}
		case err != nil:
			t.Fatalf("mqops %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		if err := json.Unmarshal([]byte(out), into); err != nil {
			t.Fatalf("mqops %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var pending struct {
		Pending []struct {
			Destination string `json:"destination"`
			MessageID   string `json:"message_id"`
		} `json:"pending"`
		Destinations []struct {
			Destination string          `json:"destination"`
			Pending     int             `json:"pending"`
			Lag         json.RawMessage `json:"lag"`
		} `json:"destinations"`
	}
	// invoices, a topic that does not exist, has no lag: said, not partial
	runJSON("pending", &pending)
	lagOfOrders := false
	for _, dst := range pending.Destinations {
		lagOfOrders = lagOfOrders || dst.Destination == "orders" && dst.Pending > 0 && string(dst.Lag) != "null"
	}
	if len(pending.Pending) == 0 || !lagOfOrders {
		t.Errorf("mqops pending: %+v, want rows and orders' lag beside its pending count", pending)
	}
	var c struct {
		MessageID string `json:"message_id"`
		Consumed  bool   `json:"consumed"`
	}
	runJSON("consumed", &c)
	if c.MessageID != id || !c.Consumed {
		t.Errorf("mqops consumed %s: %+v", id, c)
	}
	var plan map[string]any
	runJSON("resend", &plan)
	if len(plan) == 0 {
		t.Error("mqops resend --dry-run: an empty plan")
	}
	var retries struct {
		Retries []map[string]any `json:"retries"`
		Groups  []map[string]any `json:"groups"`
	}
	runJSON("retries", &retries)
	if len(retries.Retries) == 0 || len(retries.Groups) != 2 {
		t.Errorf("mqops retries: %d rows, %d groups, want rows in two groups", len(retries.Retries), len(retries.Groups))
	}

	d.stop(t)
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("the application database's directory is still there after the demo: %v", err)
	}
}
