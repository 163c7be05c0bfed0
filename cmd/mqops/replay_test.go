package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqops/mqops/actions"
)

// The demo cluster's orders.DLT holds 200 Spring dead letters of orders
// in 2 partitions, as legacy-events has 2 partitions.

// TestReplayCLIDryRunRunResume: a dry run (-o json) changes nothing and is
// audited; a run replays the plan's records and writes its checkpoint; a
// resume of the finished run has nothing left; a read-only context refuses
// every form, audited.
func TestReplayCLIDryRunRunResume(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("XDG_STATE_HOME", dir)
	brokers := demoCluster(t)
	auditPath := filepath.Join(dir, "audit.jsonl")
	out, _, err := runCLI(t, "replay", "orders.DLT", "--to", "legacy-events", "--dry-run", "-o", "json", "--brokers", brokers, "--audit-file", auditPath)
	var dry struct {
		DryRun  bool               `json:"dry_run"`
		Plan    actions.ReplayPlan `json:"plan"`
		Command string             `json:"command"`
	}
	if err != nil || json.Unmarshal([]byte(out), &dry) != nil || !dry.DryRun || dry.Command != "mqops --brokers "+brokers+" replay orders.DLT --to legacy-events" || dry.Plan.Records != 200 || dry.Plan.Partitioning != "same" || !dry.Plan.Complete || len(dry.Plan.Parts) != 2 {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, se, err := runCLI(t, "replay", "orders.DLT:1", "--to", "legacy-events", "--header", "kafka_dlt-original-topic=orders", "--yes", "-o", "json", "--brokers", brokers, "--audit-file", auditPath)
	var res struct {
		actions.ReplayResult
		Command string `json:"command"`
	}
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Command != "mqops --brokers "+brokers+" replay orders.DLT:1 --to legacy-events --header kafka_dlt-original-topic=orders" || res.Replayed != dry.Plan.Parts[1].Records || res.Left != 0 || res.Checkpoint != actions.CheckpointPath(filepath.Join(dir, "mqops"), res.RunID) {
		t.Fatalf("run: %v %+v\n%s\n%s", err, res, out, se)
	}
	if !strings.Contains(se, "plan: replay orders.DLT → legacy-events (2 partitions), to the same partition numbers") || !strings.Contains(se, "run "+res.RunID+" (checkpoint ") {
		t.Fatalf("plan and run id on stderr:\n%s", se)
	}
	b, err := os.ReadFile(res.Checkpoint)
	if err != nil || !strings.Contains(string(b), `"status": "done"`) || strings.Contains(string(b), "password") {
		t.Fatalf("checkpoint %v\n%s", err, b)
	}
	out, se, err = runCLI(t, "replay", "--resume", res.RunID, "--yes", "--brokers", brokers, "--audit-file", auditPath)
	if err != nil || !strings.Contains(se, "is complete (done): nothing left to replay") {
		t.Fatalf("resume: %v\n%s\n%s", err, out, se)
	}

	// read-only: refused, audited
	cfg := filepath.Join(dir, "mqops", "config.yaml")
	body := "current-context: prod\ncontexts:\n  prod:\n    color: red\n    read-only: true\n    kafka:\n      brokers: [" + brokers + "]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"orders.DLT", "--to", "legacy-events", "--yes"}, {"orders.DLT", "--to", "legacy-events", "--dry-run"}, {"--resume", res.RunID, "--yes"}} {
		_, _, err := runCLI(t, append(append([]string{"replay"}, args...), "--audit-file", auditPath)...)
		if err == nil || err.Error() != `context "prod" is read-only: replays are not available` {
			t.Fatalf("%v: %v", args, err)
		}
	}
	// one typed entry per outcome: the dry run, the run, the resume that
	// had nothing left (a plan shown, not run), the three refusals
	es, _, err := actions.NewAuditLog(auditPath).Read(0)
	if err != nil || len(es) != 6 || es[0].Outcome != actions.OutcomeDryRun || es[0].Reason != actions.DryRunFlag || es[0].Command != dry.Command || es[0].Plan.Selected != 200 ||
		es[1].Outcome != actions.OutcomeExecuted || es[1].Command != res.Command || es[1].Result == nil || es[1].Result.Done != int64(dry.Plan.Parts[1].Records) ||
		es[1].Source != "kafka:orders.DLT:1" || es[1].Target != "kafka:legacy-events" ||
		es[2].Outcome != actions.OutcomeDryRun || !strings.Contains(es[2].Reason, "nothing left to replay") || es[2].Command != "mqops --brokers "+brokers+" replay --resume "+res.RunID ||
		es[3].Outcome != actions.OutcomeRefused || es[4].Outcome != actions.OutcomeRefused || es[5].Outcome != actions.OutcomeRefused ||
		es[5].Command != "mqops --context prod replay --resume "+res.RunID || es[5].RunID != res.RunID || !strings.Contains(es[5].Reason, "read-only") {
		t.Fatalf("audit %v %+v", err, es)
	}
	// without filters, confirmed beforehand (--yes): the plan does not read
	// the range (the dry run above did), the run replays it whole
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	var whole actions.ReplayResult
	out, se, err = runCLI(t, "replay", "orders.DLT", "--to", "legacy-events", "--yes", "-o", "json", "--brokers", brokers, "--audit-file", auditPath)
	if err != nil || json.Unmarshal([]byte(out), &whole) != nil || whole.Replayed != 200 || whole.Left != 0 ||
		!strings.Contains(se, "not read (--yes)") || !strings.Contains(se, "at most 200 record(s) to replay") {
		t.Fatalf("unattended run: %v %+v\n%s\n%s", err, whole, out, se)
	}
}
