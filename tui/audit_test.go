package tui

import (
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

// auditFixtureAt writes the entries of auditFixture to the log at path.
func auditFixtureAt(t *testing.T, path string) *actions.AuditLog {
	t.Helper()
	log := actions.NewAuditLog(path)
	entries := []actions.AuditEntry{
		{Time: t0.Add(-3 * time.Hour), User: "alice", Host: "ops-1", Context: "staging", Action: "drain", RunID: "20260314T063000-0a1b2c3d4e5f", DryRun: true,
			Parameters: map[string]any{"source": "rabbitmq:orders.dlq", "target": "origin", "reason": "", "origin": "", "limit": 0, "rate": 0},
			Plan:       map[string]any{"summary": "25 message(s) from rabbitmq:orders.dlq: 24 → queue orders, 1 → queue payments", "selected": 25, "skipped": 0},
			Outcome:    "ok"},
		{Time: t0.Add(-2 * time.Hour), User: "alice", Host: "ops-1", Context: "staging", Action: "drain", RunID: "20260314T073000-1a2b3c4d5e6f",
			Parameters: map[string]any{"source": "rabbitmq:orders.dlq", "target": "origin", "reason": "rejected", "origin": "orders", "limit": 0, "rate": 50},
			Result:     map[string]any{"moved": 2, "skipped": 23, "failed": 0, "left": 23, "stopped_because": "done: the 25 messages there were at the start seen"},
			Outcome:    "ok", DurationMS: 1250},
		{Time: t0.Add(-time.Hour), User: "bob", Host: "ops-2", Context: "prod", Action: "drain", RunID: "20260314T083000-2b3c4d5e6f70",
			Parameters: map[string]any{"source": "rabbitmq:/billing/evil\x1b]0;pwned\x07\u202eqld", "target": "exchange:retry", "reason": "", "origin": "", "limit": 1000, "rate": 0},
			Result:     map[string]any{"moved": 120, "skipped": 0, "failed": 0, "left": 880, "stopped_because": "cancelled"},
			Outcome:    "cancelled", Error: "move cancelled: 120 moved, 880 left\x1b[31m: context canceled", DurationMS: 61_000},
		{Time: t0.Add(-30 * time.Minute), User: "carol", Host: "ops-3", Context: "prod", Action: "drain",
			Parameters: map[string]any{"source": "rabbitmq://payments.dlq", "target": "origin"},
			Outcome:    "refused", Error: `context "prod" is read-only: drains are not available`},
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
	if len(ids) != 4 {
		t.Fatalf("%d rows", len(ids))
	}
	var users []string
	for _, id := range ids {
		users = append(users, v.entries[id].User)
	}
	if strings.Join(users, ",") != "carol,bob,alice,alice" {
		t.Errorf("order %v, want newest first", users)
	}
	s := h.screen()
	for _, want := range []string{"refused", "cancelled", "dry", "rabbitmq:orders.dlq → origin", "1m01s", "1s"} {
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
		"stopped_because", "880", "limit", "1000",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the detail lacks %q:\n%s", want, s)
		}
	}
	checkFrame(t, raw, 120, 30)
	// r reloads the list, esc goes back.
	h.keys("esc")
	h.keys("esc") // clears the filter
	if err := log.Append(actions.AuditEntry{Time: t0, User: "dave", Action: "drain", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	h.keys("r")
	if ids := h.visibleIDs(); len(ids) != 5 || v.entries[ids[0]].User != "dave" {
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
	if !strings.Contains(s, "rabbitmq:orders.dlq → origin") || !strings.Contains(s, "staging") || !strings.Contains(s, " 25 ") {
		t.Errorf("the drain is not in the audit view:\n%s", s)
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
}
