package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqops/mqops/actions"
)

// The demo cluster's orders.DLT holds 200 Spring dead letters of orders.

func TestKafkaDrainDryRunJSON(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	brokers := demoCluster(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	out, _, err := runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--dry-run", "-o", "json", "--brokers", brokers, "--audit-file", auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		DryRun bool              `json:"dry_run"`
		Plan   actions.DrainPlan `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	p := got.Plan
	if !got.DryRun || p.Source != "kafka:orders.DLT" || p.To != "origin" || p.Selected != 200 || !p.Complete || len(p.Problems) != 0 ||
		len(p.Routes) != 1 || p.Routes[0] != (actions.PlanRoute{Target: "topic orders", Count: 200}) {
		t.Fatalf("plan:\n%s", out)
	}
	es, _, err := actions.NewAuditLog(auditPath).Read(0)
	if err != nil || len(es) != 1 || es[0].Outcome != actions.OutcomeDryRun || es[0].Source != "kafka:orders.DLT" ||
		es[0].Command != "mqops --brokers "+brokers+" drain kafka:orders.DLT --to origin" || es[0].Plan.Selected != 200 {
		t.Fatalf("audit %+v %v", es, err)
	}
	// the table form
	out, _, err = runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--dry-run", "--limit", "20", "--brokers", brokers, "--audit-file", auditPath)
	if err != nil || !strings.Contains(out, "plan: kafka:orders.DLT → origin (all): 20 to move") || !strings.Contains(out, "20 → topic orders") {
		t.Fatalf("table: %v\n%s", err, out)
	}
}

func TestKafkaDrainYes(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	brokers := demoCluster(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	out, _, err := runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--limit", "50", "--rate", "1000", "--yes", "-o", "json", "--brokers", brokers, "--audit-file", auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var res actions.DrainResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Moved != 50 || res.Left != 150 || res.StoppedBecause != "limit" || res.RunID == "" {
		t.Fatalf("result %+v", res)
	}
	// without --yes: no terminal to ask on (or /dev/null, which answers
	// nothing): refused, nothing moved
	_, _, err = runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--brokers", brokers, "--audit-file", auditPath)
	if err == nil || !strings.Contains(err.Error(), "refusing to drain without confirmation") && !strings.Contains(err.Error(), "not confirmed: nothing was changed") {
		t.Fatalf("without --yes: %v", err)
	}
	out, se, err := runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--yes", "--brokers", brokers, "--audit-file", auditPath)
	if err != nil || !strings.Contains(out, ": moved 150, failed 0, left 0 in kafka:orders.DLT (") || !strings.Contains(out, "stopped because it moved the records of the plan") {
		t.Fatalf("rest: %v\n%s\n%s", err, out, se)
	}
	if !strings.Contains(se, "plan: kafka:orders.DLT → origin (all): 150 to move") {
		t.Fatalf("plan not shown on stderr:\n%s", se)
	}
	out, se, err = runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--yes", "--brokers", brokers, "--audit-file", auditPath)
	if err != nil || out != "" || !strings.Contains(se, "nothing to drain") {
		t.Fatalf("third run: %v\n%s\n%s", err, out, se)
	}
	// the dead letters stay in the topic; mqops dlq says none is left to drain
	out, _, err = runCLI(t, "dlq", "-o", "json", "--brokers", brokers)
	var rep dlqReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("dlq: %v\n%s", err, out)
	}
	found := false
	for _, d := range rep.DeadLetters {
		if d.Topic == "orders.DLT" {
			found = d.Messages == 200 && d.LeftToDrain != nil && *d.LeftToDrain == 0
		}
	}
	if !found || !strings.Contains(out, `"left_to_drain": 0`) {
		t.Fatalf("dlq after the drain:\n%s", out)
	}
	out, _, err = runCLI(t, "dlq", "--brokers", brokers)
	if err != nil || !strings.Contains(out, "200 (0 left to drain)") {
		t.Fatalf("dlq table after the drain: %v\n%s", err, out)
	}
	// the run of 50, the refusal without a terminal (or a plan not
	// confirmed), the run of the rest, the plan with nothing to drain
	es, _, err := actions.NewAuditLog(auditPath).Read(0)
	if err != nil || len(es) != 4 || es[0].Outcome != actions.OutcomeExecuted || es[0].Result.Done != 50 ||
		(es[1].Outcome != actions.OutcomeRefused && es[1].Outcome != actions.OutcomeDryRun) || es[1].Plan.Selected != 150 ||
		es[2].Outcome != actions.OutcomeExecuted || es[2].Result.Done != 150 || es[2].Plan.Summary == "" ||
		es[3].Outcome != actions.OutcomeDryRun || es[3].Reason != "nothing to drain" {
		t.Fatalf("audit %+v %v", es, err)
	}
	if want := "mqops --brokers " + brokers + " drain kafka:orders.DLT --to origin --limit 50 --rate 1000"; es[0].Command != want {
		t.Fatalf("command %s, want %s", es[0].Command, want)
	}
}

func TestKafkaDrainReadOnlyRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	brokers := demoCluster(t)
	cfg := filepath.Join(dir, "mqops", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "current-context: prod\ncontexts:\n  prod:\n    color: red\n    read-only: true\n    kafka:\n      brokers: [" + brokers + "]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	for _, extra := range [][]string{{"--yes"}, {"--dry-run"}} {
		args := append([]string{"drain", "kafka:orders.DLT", "--to", "origin", "--audit-file", auditPath}, extra...)
		_, _, err := runCLI(t, args...)
		if err == nil || err.Error() != `context "prod" is read-only: drains are not available` {
			t.Fatalf("%v: %v", extra, err)
		}
	}
	es, _, _ := actions.NewAuditLog(auditPath).Read(0)
	if len(es) != 2 || es[0].Outcome != actions.OutcomeRefused || es[0].Source != "kafka:orders.DLT" || es[0].Command != "mqops --context prod drain kafka:orders.DLT --to origin" {
		t.Fatalf("audit %+v", es)
	}
	out, _, err := runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--dry-run", "-o", "json", "--context", "prod", "--audit-file", auditPath)
	if err == nil || out != "" {
		t.Fatalf("dry run in a read-only context: %v %s", err, out)
	}
}

func TestKafkaDrainErrors(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	brokers := demoCluster(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"kafka:nope.DLT", "--to", "origin", "--dry-run"}, `unknown topic "nope.DLT"`},
		{[]string{"kafka:nope.DLT", "--to", "origin", "--yes"}, `unknown topic "nope.DLT"`},
		{[]string{"kafka:orders.DLT", "--to", "origin", "--reason", "rejected"}, "--reason is for RabbitMQ sources only"},
		{[]string{"kafka:orders.DLT", "--to", "origin", "--vhost", "/"}, "--vhost is for RabbitMQ sources only"},
		{[]string{"kafka:orders.DLT", "--to", "origin", "--prefetch", "5"}, "--prefetch is for RabbitMQ sources only"},
		{[]string{"kafka:orders.DLT", "--to", "origin", "--origin", "orders"}, "--origin is for RabbitMQ sources only"},
		{[]string{"kafka:orders.DLT", "--to", "exchange:x"}, "exchange: and file: are for RabbitMQ"},
		{[]string{"kafka:orders.DLT", "--to", "orders"}, `invalid --to "orders": want origin or topic:<name>`},
		{[]string{"kafka:orders.DLT", "--to", "topic:orders.DLT"}, "the dead-letter topic itself"},
		{[]string{"kafka:orders.DLT", "--to", "topic:nope", "--dry-run"}, ""}, // a problem of the plan, not an error
		{[]string{"kafka:orders.DLT", "--to", "topic:nope"}, "the plan has problems"},
		{[]string{"kafka:orders.DLT", "--to", "topic:nope", "--yes"}, "nothing to drain: no record of kafka:orders.DLT can be moved"},
		{[]string{"nats:x", "--to", "origin"}, "want rabbitmq:<queue> or kafka:<dead-letter-topic>"},
		// a live topic is not a drain source unless the operator says so
		{[]string{"kafka:orders", "--to", "topic:payments", "--dry-run"}, "kafka:orders is not a dead-letter topic (its name is not a DLT's and its records carry no dead-letter headers): pass --not-dead-letters to drain it anyway"},
		{[]string{"kafka:orders", "--to", "topic:payments", "--yes"}, "kafka:orders is not a dead-letter topic"},
		{[]string{"kafka:orders", "--to", "topic:orders.DLT", "--dry-run", "--not-dead-letters", "--limit", "1"}, ""},
	} {
		args := append([]string{"drain", "--brokers", brokers, "--audit-file", auditPath}, c.args...)
		out, _, err := runCLI(t, args...)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.want == "" && c.args[0] == "kafka:orders" && !strings.Contains(out, "plan: kafka:orders → topic:orders.DLT (all): 1 to move"):
			t.Errorf("%v: plan\n%s", c.args, out)
		case c.want == "" && c.args[0] != "kafka:orders" && !strings.Contains(out, "topic nope  !! topic does not exist"):
			t.Errorf("%v: plan\n%s", c.args, out)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

// TestKafkaDrainSkipOversizedFlag: --skip-oversized reaches the plan and
// the audit log (the records it skips: actions' TestRecordsTheTargetCannotTake).
func TestKafkaDrainSkipOversizedFlag(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	brokers := demoCluster(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	out, _, err := runCLI(t, "drain", "kafka:orders.DLT", "--to", "origin", "--dry-run", "--skip-oversized", "-o", "json", "--brokers", brokers, "--audit-file", auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Plan actions.DrainPlan `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || !got.Plan.SkipOversized || got.Plan.OversizedCount != 0 || got.Plan.Selected != 200 {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	es, _, err := actions.NewAuditLog(auditPath).Read(0)
	if err != nil || len(es) != 1 || !strings.HasSuffix(es[0].Command, " --skip-oversized") {
		t.Fatalf("audit %+v %v", es, err)
	}
}
