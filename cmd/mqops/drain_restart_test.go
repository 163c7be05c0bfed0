package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDrainBrokerRestart restarts RabbitMQ (stop_app, start_app) in the
// middle of a drain of 5,000 persistent dead letters: the drain stops with
// a clear error and a non-zero status, every message is afterwards in the
// DLQ or its origin (zero lost), and a second drain finishes the job with at
// most the prefetch window of duplicates.
//
// Restarting the broker would break the tests of other packages running at
// the same time, so `make test` runs this one alone, after the others, with
// MQOPS_RESTART_TEST=1.
func TestDrainBrokerRestart(t *testing.T) {
	if os.Getenv("MQOPS_RESTART_TEST") != "1" {
		t.Skip("restarts the broker: run alone with MQOPS_RESTART_TEST=1 (make test does)")
	}
	const perOrigin = 2500
	total := 2 * perOrigin
	w := newKillWorld(t, perOrigin)
	testenv := filepath.Join(repoRoot(t), "scripts", "testenv")
	ctl := func(args ...string) {
		out, err := exec.Command(testenv, append([]string{"rabbitmqctl"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
		}
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted { // never leave the broker stopped for the next test
			_ = exec.Command(testenv, "rabbitmqctl", "start_app").Run()
		}
	})
	moved := func() int { return w.depth(w.origins[0]) + w.depth(w.origins[1]) }

	cmd := w.drainCmd("--rate", "1000")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for moved() < 500 {
		if time.Now().After(deadline) {
			t.Fatalf("the drain did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := moved()
	ctl("stop_app")
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the drain hung after the broker stopped:\n%s", stderr.String())
	}
	ctl("start_app")
	ctl("await_startup", "--timeout", "60")
	restarted = true
	out := stdout.String() + stderr.String()
	t.Logf("drain during the restart (moved %d before stop_app): %v\n%s", before, err, out)
	if err == nil {
		t.Fatalf("the drain exited 0 although the broker went away")
	}
	if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
		t.Fatalf("the drain panicked:\n%s", out)
	}
	if msg := stderr.String(); !strings.Contains(msg, "connection") || !strings.Contains(msg, "moved") {
		t.Fatalf("the drain did not say what happened and how many moved:\n%s", out)
	}

	w.redial(60 * time.Second)
	// quorum queues elect their leader again after the restart: wait until
	// every message is counted in the DLQ or an origin
	settle := time.Now().Add(60 * time.Second)
	for w.depth(w.dlq)+moved() < total {
		if time.Now().After(settle) {
			t.Fatalf("messages unaccounted for after the restart: DLQ %d + origins %d < %d", w.depth(w.dlq), moved(), total)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after the restart: DLQ %d, origins %d", w.depth(w.dlq), moved())
	if o, err := w.drainCmd().CombinedOutput(); err != nil {
		t.Fatalf("drain after the restart: %v\n%s", err, o)
	}
	if d := w.depth(w.dlq); d != 0 {
		t.Fatalf("the second drain left %d in the DLQ", d)
	}
	seen := map[string]int{}
	for _, q := range w.origins {
		for id, n := range w.ids(q) {
			seen[id] += n
		}
	}
	missing, dups := 0, 0
	for oi := range w.origins {
		for i := 0; i < perOrigin; i++ {
			if seen[fmt.Sprintf("%d-%d", oi, i)] == 0 {
				missing++
			}
		}
	}
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("broker restart test: %d messages, %d lost, %d duplicates (bound 100)", total, missing, dups)
	if missing != 0 {
		t.Fatalf("%d messages lost", missing)
	}
	if dups > 100 {
		t.Fatalf("%d duplicates: more than the prefetch window", dups)
	}
}
