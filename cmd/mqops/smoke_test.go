package main

import (
	"fmt"
	"os"
	"os/exec"
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
func TestSmokeConsoleInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test builds and runs the binary")
	}
	bin := mqopsBin(t)
	s := startTmux(t, 140, 40, bin+" demo")
	has := func(subs ...string) func(string) bool {
		return func(sc string) bool {
			for _, x := range subs {
				if !strings.Contains(sc, x) {
					return false
				}
			}
			return true
		}
	}
	s.waitFor("the groups view with data", 60*time.Second, has("groups", "billing", "shipping", "fraud-check", "audit-export", "STOP"))

	s.keys("/")
	s.typeText("ship")
	s.keys("Enter")
	s.waitFor("the filter to apply", 15*time.Second, func(sc string) bool {
		return strings.Contains(sc, "shipping") && !strings.Contains(sc, "billing")
	})
	s.keys("Enter")
	s.waitFor("the shipping group detail", 15*time.Second, has("groups › shipping", "orders", "COMMITTED", "LOG-END"))
	s.keys("Escape")
	s.waitFor("back to groups", 15*time.Second, func(sc string) bool {
		return !strings.Contains(sc, "groups › shipping") && strings.Contains(sc, "shipping")
	})
	s.keys("Escape") // clears the filter
	s.waitFor("the filter cleared", 15*time.Second, has("billing", "shipping"))
	s.keys(":")
	s.typeText("topics")
	s.keys("Enter")
	s.waitFor("the topics view", 15*time.Second, has("orders.DLT", "legacy-events", "payments"))
	s.keys(":")
	s.typeText("dlq")
	s.keys("Enter")
	s.waitFor("the Kafka dead-letter topic", 30*time.Second, has("kafka", "orders.DLT"))
	s.keys("/")
	s.typeText("orders.DLT")
	s.keys("Enter", "Enter")
	s.waitFor("its dead letters by origin and exception", 30*time.Second, has("orders.DLT", "ORIGIN", "EXCEPTION"))
	s.keys("p")
	s.waitFor("a peek at its records", 30*time.Second, has("peek", "orders"))
	s.keys("Escape", "Escape", "Escape")
	s.keys("?")
	s.waitFor("help", 15*time.Second, has("Navigation", "refresh"))
	s.keys("Escape", ":")
	s.typeText("groups")
	s.keys("Enter")
	s.waitFor("groups again", 15*time.Second, has("billing"))
	s.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for s.alive() {
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit; screen:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
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
	deadline := time.Now().Add(10 * time.Second)
	for s.alive() {
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit; screen:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
