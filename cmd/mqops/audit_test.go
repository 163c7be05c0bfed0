package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqops/mqops/actions"
)

// TestAuditShowsOldAndTypedLines: `mqops audit` reads the lines of the
// version before typed entries (real lines it wrote) into the typed
// columns, next to a typed entry of this version; -o json gives the typed
// fields, the command line included.
func TestAuditShowsOldAndTypedLines(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("TZ", "UTC")
	old, err := os.ReadFile(filepath.Join(repoRoot(t), "actions", "testdata", "audit-before-typed.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	brokers := demoCluster(t)
	if _, _, err := runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--limit", "7", "--dry-run", "--brokers", brokers, "--audit-file", path); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCLI(t, "audit", "--file", path, "--limit", "0")
	if err != nil || errOut != "" {
		t.Fatalf("%v %s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 14 || strings.Join(strings.Fields(lines[0]), " ") != "TIME USER ACTION OUTCOME CONTEXT SOURCE → TARGET COUNTS RUN ID ERROR / REASON" {
		t.Fatalf("table:\n%s", out)
	}
	for i, want := range map[int][]string{
		1:  {"drain", "dry-run", "staging", "rabbitmq:d1796303360530615233.dlq → origin", "plan 5 of 5", "--dry-run"},
		2:  {"executed", "done 5, in 105ms", "20261203T130920-670f7a6dcca0"},
		3:  {"refused", "prod", "rabbitmq:q → origin", `context "prod" is read-only: drains are not available`},
		6:  {"cancelled", "kafka:a.DLT → topic:c", "done 0, in 0s", "context canceled"},
		7:  {"failed", "kafka:nope.DLT → origin", "unknown topic"},
		11: {"cancelled", `rabbitmq:/billing/evil\x1b]0;pwned\x07\u202eqld → exchange:retry`, "done 120, left 880, in 1m1s"},
		13: {"dry-run", "flags", "kafka:orders.DLT → origin", "plan 7 of 7", "--dry-run"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d lacks %q:\n%s", i, w, lines[i])
			}
		}
	}
	if strings.ContainsAny(out, "\x1b\x07\u202e") {
		t.Error("a control character reached the terminal")
	}
	out, _, err = runCLI(t, "audit", "--file", path, "-o", "json", "-n", "2")
	var got struct {
		Entries []actions.AuditEntry `json:"entries"`
	}
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Entries) != 2 {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if e := got.Entries[1]; e.Outcome != actions.OutcomeDryRun || e.Command != "mqops --brokers "+brokers+" drain kafka:orders.DLT --to origin --limit 7" || e.Plan.Selected != 7 {
		t.Errorf("typed entry %+v", e)
	}
	if e := got.Entries[0]; e.Outcome != actions.OutcomeRefused || e.Reason == "" || e.Source != "rabbitmq://payments.dlq" || e.Parameters["target"] != "origin" {
		t.Errorf("old entry %+v", e)
	}
	if !strings.Contains(out, `"command": "mqops --brokers `) || strings.Contains(out, `"dry_run"`) {
		t.Errorf("json:\n%s", out)
	}
}
