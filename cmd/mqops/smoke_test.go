package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxSession drives the built binary in a real terminal (tmux), as a user
// would: send keys, read the screen.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func startTmux(t *testing.T, width, height int, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("tmux not installed (make test installs it)")
		}
		t.Skip("tmux not installed")
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("mqops-test-%d-%s", os.Getpid(), t.Name()), name: "smoke"}
	s.tmux("new-session", "-d", "-s", s.name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), command)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string {
	out, _ := exec.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-t", s.name).CombinedOutput()
	return string(out)
}

// keys sends each key separately, with a pause, so that tmux never merges
// esc with the next key into an alt- sequence.
func (s *tmuxSession) keys(keys ...string) {
	for _, k := range keys {
		s.tmux("send-keys", "-t", s.name, k)
		time.Sleep(150 * time.Millisecond)
	}
}

func (s *tmuxSession) typeText(text string) {
	s.tmux("send-keys", "-t", s.name, "-l", text)
	time.Sleep(150 * time.Millisecond)
}

// waitFor polls the screen until cond holds or the deadline passes.
func (s *tmuxSession) waitFor(what string, d time.Duration, cond func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		sc := s.screen()
		if cond(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting for %s; screen:\n%s", what, sc)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *tmuxSession) alive() bool {
	return exec.Command("tmux", "-L", s.socket, "has-session", "-t", s.name).Run() == nil
}

// TestSmokeConsoleInTmux starts the built binary's demo in tmux, waits for
// data, filters, opens a group, goes back, switches to topics and quits.
// screenHas is a waitFor condition: the screen shows every one of subs.
func screenHas(subs ...string) func(string) bool {
	return func(sc string) bool {
		for _, x := range subs {
			if !strings.Contains(sc, x) {
				return false
			}
		}
		return true
	}
}

// waitExit waits for the program to end (after q), at most 10 s.
func (s *tmuxSession) waitExit() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.alive() {
		if time.Now().After(deadline) {
			s.t.Fatalf("q did not quit; screen:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSmokeConsoleInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test builds and runs the binary")
	}
	bin := mqopsBin(t)
	s := startTmux(t, 140, 40, bin+" demo")
	s.waitFor("the groups view with data", 60*time.Second, screenHas("groups", "billing", "shipping", "fraud-check", "audit-export", "STOP"))

	s.keys("/")
	s.typeText("ship")
	s.keys("Enter")
	s.waitFor("the filter to apply", 15*time.Second, func(sc string) bool {
		return strings.Contains(sc, "shipping") && !strings.Contains(sc, "billing")
	})
	s.keys("Enter")
	s.waitFor("the shipping group detail", 15*time.Second, screenHas("groups › shipping", "orders", "COMMITTED", "LOG-END"))
	s.keys("Escape")
	s.waitFor("back to groups", 15*time.Second, func(sc string) bool {
		return !strings.Contains(sc, "groups › shipping") && strings.Contains(sc, "shipping")
	})
	s.keys("Escape") // clears the filter
	s.waitFor("the filter cleared", 15*time.Second, screenHas("billing", "shipping"))
	s.keys(":")
	s.typeText("topics")
	s.keys("Enter")
	s.waitFor("the topics view", 15*time.Second, screenHas("orders.DLT", "legacy-events", "payments"))
	s.keys(":")
	s.typeText("dlq")
	s.keys("Enter")
	s.waitFor("the Kafka dead-letter topic", 30*time.Second, screenHas("kafka", "orders.DLT"))
	s.keys("/")
	s.typeText("orders.DLT")
	s.keys("Enter", "Enter")
	s.waitFor("its dead letters by origin and exception", 30*time.Second, screenHas("orders.DLT", "ORIGIN", "EXCEPTION"))
	s.keys("p")
	s.waitFor("a peek at its records", 30*time.Second, screenHas("peek", "orders"))
	s.keys("Escape", "Escape", "Escape")
	s.keys("?")
	s.waitFor("help", 15*time.Second, screenHas("Navigation", "refresh"))
	s.keys("Escape", ":")
	s.typeText("groups")
	s.keys("Enter")
	s.waitFor("groups again", 15*time.Second, screenHas("billing"))
	s.keys("q")
	s.waitExit()
}

// TestSmokeDeadClusterStaysResponsive opens the console on an address where
// nothing answers: it must show the error, keep taking keys, and quit.
func TestSmokeDeadClusterStaysResponsive(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test builds and runs the binary")
	}
	bin := mqopsBin(t)
	s := startTmux(t, 120, 30, bin+" --brokers 127.0.0.1:1 --timeout 2s")
	s.waitFor("the connection error", 20*time.Second, func(sc string) bool {
		return strings.Contains(sc, "cannot reach any Kafka broker")
	})
	s.keys("?")
	s.waitFor("help while the cluster is dead", 15*time.Second, func(sc string) bool { return strings.Contains(sc, "Navigation") })
	s.keys("Escape", "q")
	s.waitExit()
}

// TestSmokeSwitchContext switches contexts in the built console: a context
// whose credentials do not resolve is refused with the reason and the
// console stays; a good one reopens the console there, on the same view,
// with that context's colour and read-only rules; q then quits for good.
func TestSmokeSwitchContext(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test builds and runs the binary")
	}
	bin := mqopsBin(t)
	brokers := demoCluster(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	yaml := fmt.Sprintf(`current-context: staging
refresh: 2s
contexts:
  staging:
    color: yellow
    kafka: {brokers: [%[1]s]}
  broken:
    kafka:
      brokers: [%[1]s]
      sasl: {mechanism: SCRAM-SHA-512, username: ops, password-env: MQOPS_SMOKE_UNSET_PASSWORD}
  prod:
    color: red
    read-only: true
    kafka: {brokers: [%[1]s]}
`, brokers)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startTmux(t, 140, 40, bin+" --config "+cfg)
	s.waitFor("the groups view on staging", 60*time.Second, screenHas("staging", "billing"))
	s.keys(":")
	s.typeText("dlq")
	s.keys("Enter")
	s.waitFor("the dead letters", 30*time.Second, screenHas("kafka", "orders.DLT"))
	s.keys("?") // the help lists the keys of the view on screen: D is the dead letters'
	s.waitFor("staging's help, with the drain", 15*time.Second, screenHas("Navigation", "drain dead letters"))
	s.keys("Escape", ":")
	s.typeText("ctx broken")
	s.keys("Enter")
	s.waitFor("the broken context refused", 15*time.Second, screenHas("cannot open context broken", "MQOPS_SMOKE_UNSET_PASSWORD"))
	s.keys(":")
	s.typeText("ctx prod")
	s.keys("Enter")
	sc := s.waitFor("the console reopened on prod, on the dead letters", 30*time.Second, screenHas("prod", "READ-ONLY", "kafka", "orders.DLT"))
	if strings.Contains(sc, "staging") {
		t.Fatalf("staging still shown after the switch:\n%s", sc)
	}
	s.keys("?")
	sc = s.waitFor("help", 15*time.Second, screenHas("Navigation"))
	if strings.Contains(sc, "drain dead letters") {
		t.Fatalf("the drain is in prod's help although prod is read-only:\n%s", sc)
	}
	s.keys("Escape", "q")
	s.waitExit()
}
