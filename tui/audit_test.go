package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/mqops/mqops/actions"
)

// auditFixture writes entries to a temporary audit log, oldest first.
func auditFixture(t *testing.T) *actions.AuditLog {
	t.Helper()
	return auditFixtureAt(t, filepath.Join(t.TempDir(), "state", "audit.jsonl"))
}

// auditBeforeTyped is read when the tests start (some change directory).
var auditBeforeTyped, auditBeforeTypedErr = os.ReadFile(filepath.Join("testdata", "audit-before-typed.jsonl"))

// auditFixtureAt writes to the log at path four lines as the version
// before typed entries wrote them (testdata/audit-before-typed.jsonl: a
// dry run, a run, a cancelled run with a hostile source, a refusal), then
// two typed entries (a plan previewed and not confirmed, a failed run).
func auditFixtureAt(t *testing.T, path string) *actions.AuditLog {
	t.Helper()
	old, err := auditBeforeTyped, auditBeforeTypedErr
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	log := actions.NewAuditLog(path)
	entries := []actions.AuditEntry{
		{Time: t0.Add(-20 * time.Minute), User: "dave", Host: "ops-4", Context: "staging", Action: "drain", RunID: "20260314T091000-3c4d5e6f7081",
			Outcome: actions.OutcomeDryRun, Reason: actions.DryRunNotConfirmed, Source: "kafka:orders.DLT", Target: "topic:orders-retry",
			Command: "mqops --context staging drain kafka:orders.DLT --to topic:orders-retry --rate 200",
			Plan:    &actions.AuditPlan{Summary: "24 record(s) from kafka:orders.DLT: 24 → topic orders-retry", Selected: 24, Total: 24}},
		{Time: t0.Add(-10 * time.Minute), User: "dave", Host: "ops-4", Context: "staging", Action: "drain", RunID: "20260314T092000-4d5e6f708192",
			Outcome: actions.OutcomeFailed, Source: "rabbitmq:orders.dlq", Target: "exchange:retry", Error: "exchange retry routes key orders nowhere: the message was requeued",
			Command: "mqops --context staging drain rabbitmq:orders.dlq --to exchange:retry --limit 10",
			Plan:    &actions.AuditPlan{Summary: "10 message(s) from rabbitmq:orders.dlq: 10 → exchange retry key orders", Selected: 10, Total: 25},
			Result:  &actions.AuditResult{Done: 3, Failed: 1, Left: 22, Seen: 4, StoppedBecause: "the target refused a message"}, DurationMS: 420},
	}
	for _, e := range entries {
		if err := log.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	return log
}

func TestAuditView(t *testing.T) {
	log := auditFixture(t)
	// Read-only: the audit view is there all the same.
	h := newHarness(t, Options{Context: "prod", Color: "red", ReadOnly: true, Audit: log}, nil)
	h.command("audit")
	v, ok := h.m.top().(*auditView)
	if !ok || !v.st.loaded {
		t.Fatalf(":audit opened %T", h.m.top())
	}
	// Newest first.
	ids := h.visibleIDs()
	if len(ids) != 6 {
		t.Fatalf("%d rows", len(ids))
	}
	var users, outcomes []string
	for _, id := range ids {
		users = append(users, v.entries[id].User)
		outcomes = append(outcomes, v.entries[id].Outcome)
	}
	if strings.Join(users, ",") != "dave,dave,carol,bob,alice,alice" {
		t.Errorf("order %v, want newest first", users)
	}
	// the lines of the version before typed entries, read into the typed
	// fields: "ok" is executed or dry-run
	if got := strings.Join(outcomes, ","); got != "failed,dry-run,refused,cancelled,executed,dry-run" {
		t.Errorf("outcomes %s", got)
	}
	if e := v.entries[ids[2]]; e.Reason != `context "prod" is read-only: drains are not available` || e.Error != "" || e.Source != "rabbitmq://payments.dlq" {
		t.Errorf("the refusal before typed entries: %+v", e)
	}
	s := h.screen()
	for _, want := range []string{"refused", "cancelled", "dry-run", "executed", "rabbitmq:orders.dlq → origin", "kafka:orders.DLT → topic:orders-retry",
		"1m01s", "1s", "420ms"} {
		if !strings.Contains(s, want) {
			t.Errorf("the audit view lacks %q:\n%s", want, s)
		}
	}
	raw := h.m.View().Content
	if strings.ContainsAny(raw, "\x07\u202e") || strings.Contains(raw, "\x1b]") || strings.Contains(raw, "\x1b[31m:") {
		t.Error("a control character from the log reached the terminal")
	}
	// Filter.
	h.keys("/")
	h.typeText("cancel")
	h.keys("enter")
	if ids := h.visibleIDs(); len(ids) != 1 || v.entries[ids[0]].User != "bob" {
		t.Fatalf("filter kept %v", ids)
	}
	// Detail: everything, sanitized.
	h.keys("enter")
	if _, ok := h.m.top().(*auditDetailView); !ok {
		t.Fatalf("enter opened %T", h.m.top())
	}
	raw = h.m.View().Content
	if strings.ContainsAny(raw, "\x07\u202e") || strings.Contains(raw, "\x1b]") || strings.Contains(raw, "\x1b[31m:") {
		t.Errorf("a control character reached the terminal in the detail:\n%q", raw)
	}
	s = h.screen()
	for _, want := range []string{
		`rabbitmq:/billing/evil\x1b]0;pwned\x07\u202eqld`,
		"20260314T083000-2b3c4d5e6f70", "bob", "ops-2", "cancelled", "exchange:retry",
		`move cancelled: 120 moved, 880 left\x1b[31m: context canceled`,
		"stopped_because", "880", "parameters", "limit", "1000",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the detail lacks %q:\n%s", want, s)
		}
	}
	checkFrame(t, raw, 120, 30)
	// r reloads the list, esc goes back.
	h.keys("esc")
	h.keys("esc") // clears the filter
	if err := log.Append(actions.AuditEntry{Time: t0, User: "erin", Action: "drain", Outcome: actions.OutcomeExecuted}); err != nil {
		t.Fatal(err)
	}
	h.keys("r")
	if ids := h.visibleIDs(); len(ids) != 7 || v.entries[ids[0]].User != "erin" {
		t.Errorf("after r: %d rows", len(ids))
	}
}

func TestAuditViewWithoutLog(t *testing.T) {
	h := newHarness(t, Options{Context: "dev"}, nil)
	h.command("audit")
	if !strings.Contains(h.screen(), "no audit log configured") {
		t.Errorf("no notice:\n%s", h.screen())
	}
	// A missing file is an empty log.
	h = newHarness(t, Options{Context: "dev", Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "none.jsonl"))}, nil)
	h.command("log")
	if !strings.Contains(h.screen(), "the audit log is empty") {
		t.Errorf("empty log:\n%s", h.screen())
	}
}

func TestAuditShowsDrain(t *testing.T) {
	h, _ := drainHarness(t, Options{Context: "staging"})
	h.onDLQ()
	h.keys("D", "enter", "y", "enter")
	h.command("audit")
	s := h.screen()
	if !strings.Contains(s, "rabbitmq:orders.dlq → origin") || !strings.Contains(s, "staging") || !strings.Contains(s, " 25 ") || !strings.Contains(s, "executed") {
		t.Errorf("the drain is not in the audit view:\n%s", s)
	}
	h.keys("enter")
	if s := h.screen(); !strings.Contains(s, "mqops --context staging drain rabbitmq:orders.dlq --to origin") {
		t.Errorf("the detail lacks the command line:\n%s", s)
	}
}

func TestAuditGolden(t *testing.T) {
	log := auditFixture(t)
	t.Run("list", func(t *testing.T) {
		h := newHarness(t, Options{Context: "staging", Audit: log}, nil)
		h.command("audit")
		checkFrame(t, h.m.View().Content, 120, 30)
		golden.RequireEqual(t, strings.ReplaceAll(h.screen(), log.Path, "AUDIT.jsonl"))
	})
	t.Run("detail", func(t *testing.T) {
		h := newHarness(t, Options{Context: "staging", Audit: log}, nil)
		h.command("audit")
		h.keys("j", "enter")
		checkFrame(t, h.m.View().Content, 120, 30)
		golden.RequireEqual(t, h.screen())
	})
	// a line written before entries were typed: its parameters shown
	t.Run("detail_before_typed", func(t *testing.T) {
		h := newHarness(t, Options{Context: "staging", Audit: log}, nil)
		h.command("audit")
		h.keys("j", "j", "j", "j", "enter")
		checkFrame(t, h.m.View().Content, 120, 30)
		golden.RequireEqual(t, h.screen())
	})
}
