package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends/embedded"
)

// TestDemoHelpNamesFirstMinute: the demo's help says what to try in the
// first minute: the reset of the stopped group, the replay into the empty
// topic, and the application database's views with a resend.
func TestDemoHelpNamesFirstMinute(t *testing.T) {
	out, _, err := runCLI(t, "demo", "--help")
	for _, want := range []string{"R on audit-export", "P on orders replays", "orders.replay (empty, as many partitions)",
		"In :pending", "E on orders resends them", "in :retry", "T retries now", "pending after " + embedded.AppPendingAfter.String()} {
		if err != nil || !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("demo --help lacks %q: %v\n%s", want, err, out)
		}
	}
}

// TestSmokeDemoFirstMinute: what the demo's help promises a newcomer, in
// the built binary's console in tmux: P on orders (:topics) replays it into
// orders.replay, R on audit-export (:groups) resets its offsets, E in
// :pending resends orders' pending sends, each planned, confirmed with y
// and finished; :retry shows the two error groups' rows; the audit log has
// the three actions.
func TestSmokeDemoFirstMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("smoke test builds and runs the binary")
	}
	bin := mqopsBin(t)
	dir := t.TempDir()
	s := startTmux(t, 120, 36, fmt.Sprintf("env XDG_STATE_HOME=%s XDG_CONFIG_HOME=%s %s demo --no-rabbitmq", dir, dir, bin))
	s.waitFor("the groups view with data", 60*time.Second, screenHas("groups", "audit-export", "STOP"))

	s.keys(":")
	s.typeText("topics")
	s.keys("Enter")
	s.waitFor("the topics view", 15*time.Second, screenHas("orders.replay", "orders.DLT"))
	s.keys("/")
	s.typeText("^orders$")
	s.keys("Enter")
	s.waitFor("orders alone", 15*time.Second, func(sc string) bool { return !strings.Contains(sc, "orders.DLT") })
	s.keys("P")
	s.waitFor("the replay form", 15*time.Second, screenHas("Replay a range of Kafka topic orders into another topic", "Target"))
	s.typeText("orders.replay")
	s.keys("Enter")
	s.waitFor("the replay's plan", 30*time.Second, screenHas("plan: replay orders → orders.replay", "same as: mqops --brokers", "[y/N]"))
	s.keys("y")
	s.waitFor("the replay's end", 60*time.Second, screenHas("Replay finished", "left 0 offset(s) of orders"))
	s.keys("Enter")

	s.keys(":")
	s.typeText("groups")
	s.keys("Enter")
	s.waitFor("the groups view", 15*time.Second, screenHas("audit-export"))
	s.keys("/")
	s.typeText("audit-export")
	s.keys("Enter")
	s.keys("R")
	s.waitFor("the reset form", 15*time.Second, screenHas("Reset the offsets of consumer group audit-export"))
	s.keys("Enter")
	s.waitFor("the reset's plan", 30*time.Second, screenHas("plan: consumer group audit-export (Empty)", "[y/N]"))
	s.keys("y")
	s.waitFor("the reset's end", 30*time.Second, screenHas("Reset finished", "read back: as planned"))
	s.keys("Enter")

	// The application database: pending sends beside the topics' lag, a
	// resend of orders' (a third of them consumed already), and the retry
	// rows in their two error groups.
	s.keys(":")
	s.typeText("pending")
	s.keys("Enter")
	s.waitFor("the pending sends", 30*time.Second, screenHas("pending sends", "pending after 20s", "invoices", "no such topic", "kafka:orders", "worst group", "PENDING ROWS OF"))
	s.keys("/")
	s.typeText("orders")
	s.keys("Enter")
	s.waitFor("orders alone", 15*time.Second, func(sc string) bool {
		return !strings.Contains(sc, "kafka:invoices") && strings.Contains(sc, "PENDING ROWS OF orders") && strings.Contains(sc, "ord-0")
	})
	s.keys("E")
	s.waitFor("the resend form", 15*time.Second, screenHas("Resend the pending rows of destination orders"))
	s.keys("Enter")
	s.waitFor("the resend's plan", 30*time.Second, screenHas("already consumed, resent too", "same as: mqops --brokers", "resend --older-than 20s --destination orders", "[y/N]"))
	s.keys("y")
	s.waitFor("the resend's end", 60*time.Second, screenHas("Resend finished", "failed 0, left 0"))
	s.keys("Enter")

	s.keys(":")
	s.typeText("retry")
	s.keys("Enter")
	s.waitFor("the retry rows", 30*time.Second, screenHas("retry rows", "2 error group(s)", "java.lang.IllegalStateException: invalid currency XYZ for order <n>",
		"payment gateway timeout after <n>ms (order <n>)", "RETRY ROWS OF", "dead", "3/3", "waiting"))
	s.keys("Escape", "q")
	s.waitExit()

	es, bad, err := actions.NewAuditLog(filepath.Join(dir, "mqops", "audit.jsonl")).Read(0)
	if err != nil || bad != 0 || len(es) != 3 || es[0].Action != "replay" || es[0].Outcome != actions.OutcomeExecuted || es[0].Target != "kafka:orders.replay" ||
		es[1].Action != "reset-offsets" || es[1].Outcome != actions.OutcomeExecuted || es[1].Source != "kafka-group:audit-export" ||
		es[2].Action != "resend" || es[2].Outcome != actions.OutcomeExecuted || es[2].Target != "kafka:{destination}" {
		t.Fatalf("audit log: %d bad, %v\n%+v", bad, err, es)
	}
}
