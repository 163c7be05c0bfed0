package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// requireEnv returns the named env vars, or skips the test — unless
// MQOPS_REQUIRE_INTEGRATION=1 (set by `make test`), where a missing service
// is a failure: integration tests never silently skip in CI.
func requireEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s is not set: run the tests through `make test` (scripts/testenv up)", n)
			}
			t.Skipf("%s not set: integration test skipped (run `make test`)", n)
		}
		out[n] = v
	}
	return out
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// mqopsBin returns the mqops binary under test: $MQOPS_BIN (set by make
// test), or one built once into a temp dir.
func mqopsBin(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("MQOPS_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mqops-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "mqops")
		cmd := exec.Command("go", "build", "-o", builtBin, ".")
		cmd.Dir = filepath.Join(repoRoot(t), "cmd", "mqops")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// run runs a command with a deadline and returns stdout, stderr and error.
func run(t *testing.T, timeout time.Duration, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return so.String(), se.String(), err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return so.String(), se.String(), fmt.Errorf("%s timed out after %v", name, timeout)
	}
}

// blackholeAddr is a listener that accepts and never answers.
func blackholeAddr(t *testing.T) string { return kafkatest.Silent(t) }
