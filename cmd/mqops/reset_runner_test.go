package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/actions"
)

// reset-offsets goes through the action runner: each outcome of the
// command writes exactly one typed audit entry, and its equivalent
// headless command plans, run with --dry-run, what was planned.

// oneEntry reads the audit log at path and fails unless it holds exactly
// one reset-offsets entry of outcome, for the world's group, with its
// command (never --yes).
func (w *resetWorld) oneEntry(t *testing.T, path, outcome string) actions.AuditEntry {
	t.Helper()
	es, bad, err := actions.NewAuditLog(path).Read(0)
	if err != nil || bad != 0 || len(es) != 1 {
		t.Fatalf("want exactly one entry: %d entries, %d bad, %v: %+v", len(es), bad, err, es)
	}
	e := es[0]
	prefix := "mqops --brokers " + w.brokers + " reset-offsets " + w.group + " --"
	if e.Outcome != outcome || e.Action != "reset-offsets" || e.Source != "kafka-group:"+w.group || e.Context == "" || e.RunID == "" || e.User == "" ||
		!strings.HasPrefix(e.Command, prefix) || strings.Contains(e.Command, "--yes") || strings.Contains(e.Command, "--dry-run") || e.Parameters != nil {
		t.Fatalf("entry %+v, want outcome %s and a command starting %q", e, outcome, prefix)
	}
	return e
}

// TestResetOffsetsAuditOneEntryPerOutcome: on the real broker, a dry run,
// a refusal (a Stable group; no terminal to confirm on), an execution and
// failures (of the plan; of the run, before any change) each write
// exactly one typed entry: source, target, command, the plan's counts, the
// result's counts with the rollback file and the read-back verdict.
func TestResetOffsetsAuditOneEntryPerOutcome(t *testing.T) {
	w := newResetWorld(t)
	dir := t.TempDir()
	auditFile := func(name string) string { return filepath.Join(dir, name+".jsonl") }

	// dry run: the plan, no result
	f := auditFile("dry-run")
	if _, stderr, err := w.mqopsRaw("--to-earliest", "--all-topics", "--dry-run", "--audit-file", f); err != nil {
		t.Fatalf("dry run: %v\n%s", err, stderr)
	}
	e := w.oneEntry(t, f, actions.OutcomeDryRun)
	if e.Reason != actions.DryRunFlag || e.Target != "--to-earliest" || e.Result != nil || e.Error != "" ||
		e.Command != fmt.Sprintf("mqops --brokers %s reset-offsets %s --to-earliest --all-topics", w.brokers, w.group) {
		t.Fatalf("dry run entry %+v", e)
	}
	// a/0 5 → 3, a/1 2 → 0, b/0 1 → 0, b/1 3 → 0 (a/2 has no offset: not in --all-topics)
	if p := e.Plan; p == nil || p.Selected != 4 || p.Total != 4 || p.Details["state"] != "Empty" || p.Details["consumed_again"] != float64(2+2+1+3) ||
		!strings.HasPrefix(p.Summary, fmt.Sprintf("consumer group %s (Empty): 4 partition(s) --to-earliest", w.group)) {
		t.Fatalf("dry run plan %+v", e.Plan)
	}

	// no terminal to confirm on, no --yes: refused, with the plan shown
	f = auditFile("not-confirmed")
	if _, _, err := w.mqopsRaw("--to-earliest", "--all-topics", "--audit-file", f); exitCode(err) != 1 {
		t.Fatalf("no terminal: %v", err)
	}
	if e := w.oneEntry(t, f, actions.OutcomeRefused); !strings.Contains(e.Reason, "refusing to reset offsets without confirmation") || e.Plan == nil || e.Result != nil {
		t.Fatalf("not confirmed entry %+v", e)
	}

	// the plan fails: an unknown topic
	f = auditFile("plan-failed")
	if _, _, err := w.mqopsRaw("--to-earliest", "--topic", w.a+".nope", "--dry-run", "--audit-file", f); exitCode(err) != 1 {
		t.Fatalf("unknown topic: %v", err)
	}
	if e := w.oneEntry(t, f, actions.OutcomeFailed); !strings.HasPrefix(e.Error, "the plan failed: ") || !strings.Contains(e.Error, "unknown topic") || e.Plan != nil || e.Result != nil {
		t.Fatalf("failed plan entry %+v", e)
	}

	// the run fails before any change: the rollback file cannot be written
	f = auditFile("run-failed")
	export := filepath.Join(dir, "no such dir", "previous.csv")
	if _, stderr, err := w.mqopsRaw("--to-earliest", "--all-topics", "--yes", "--export", export, "--audit-file", f); exitCode(err) != 1 ||
		!strings.Contains(stderr, "the previous offsets could not be written, so nothing was changed") {
		t.Fatalf("unwritable export: %v\n%s", err, stderr)
	}
	e = w.oneEntry(t, f, actions.OutcomeFailed)
	if !strings.Contains(e.Error, "the previous offsets could not be written") || e.Reason != "" || e.Plan == nil || e.Plan.Selected != 4 ||
		e.Result == nil || e.Result.Done != 0 || e.Result.Left != 4 || e.Result.Details["verified"] != false || !strings.HasSuffix(e.Command, " --export '"+export+"'") {
		t.Fatalf("failed run entry %+v %+v", e, e.Result)
	}
	if !equalOffsets(w.committed(), w.original) {
		t.Fatalf("a failed run changed the offsets: %v", w.committed())
	}

	// executed: the result's counts, the rollback file and the verdict
	f = auditFile("executed")
	export = filepath.Join(dir, "previous.csv")
	res := w.mqops("--to-latest", "--topic", w.a, "--yes", "--export", export, "--audit-file", f)
	if !res.Verified || res.Previous != export || res.Command != fmt.Sprintf("mqops --brokers %s reset-offsets %s --to-latest --topic %s --export %s", w.brokers, w.group, w.a, export) {
		t.Fatalf("reset %+v", res)
	}
	e = w.oneEntry(t, f, actions.OutcomeExecuted)
	if e.Command != res.Command || e.Target != "--to-latest" || e.Error != "" || e.Reason != "" || e.DurationMS < 0 {
		t.Fatalf("executed entry %+v", e)
	}
	// a/0 5 → 10, a/1 2 → 4, a/2 none → 6
	if p, r := e.Plan, e.Result; p == nil || p.Selected != 3 || p.Total != 3 || p.Details["no_current"] != float64(1) ||
		r == nil || r.Done != 3 || r.Failed != 0 || r.Left != 0 || r.Details["verified"] != true || r.Details["previous_offsets"] != export ||
		fmt.Sprint(r.Details["no_previous_offset"]) != "["+w.a+"/2]" {
		t.Fatalf("executed plan %+v result %+v", e.Plan, e.Result)
	}

	// refused: a group with a member, planned (--dry-run) or executed (--yes)
	w.restore()
	w.member(t, "reset-audit-member")
	for _, mode := range []string{"--dry-run", "--yes"} {
		deadline := time.Now().Add(60 * time.Second)
		for attempt := 0; ; attempt++ {
			f = auditFile(fmt.Sprintf("refused%s-%d", mode, attempt)) // each attempt its own log: exactly one entry each
			_, stderr, err := w.mqopsRaw("--to-earliest", "--all-topics", mode, "--audit-file", f)
			if exitCode(err) == 1 && strings.Contains(stderr, "is Stable with 1 member(s)") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: never refused as Stable: %v\n%s", mode, err, stderr)
			}
			time.Sleep(time.Second)
		}
		e := w.oneEntry(t, f, actions.OutcomeRefused)
		if !strings.Contains(e.Reason, "is Stable with 1 member(s)") || !strings.Contains(e.Reason, `client id "reset-audit-member"`) || e.Error != "" || e.Plan != nil || e.Result != nil {
			t.Fatalf("%s: refused entry %+v", mode, e)
		}
	}
	if !equalOffsets(w.committed(), w.original) {
		t.Fatalf("a refusal changed the offsets: %v", w.committed())
	}
}

// TestResetOffsetsCommandRoundTrips: the equivalent command of a reset
// planned through the runner (as the console will), split by bash and run
// with --dry-run -o json, plans the same offsets, prints the same command
// and records it — names and paths the shell must quote included.
func TestResetOffsetsCommandRoundTrips(t *testing.T) {
	w := newResetWorld(t)
	c, kc, run := kafkaRunner(t, w.brokers)
	dir := filepath.Join(t.TempDir(), "it's a dir")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "plan $HOME.csv")
	if err := os.WriteFile(csv, []byte(fmt.Sprintf("%s,0,0\n%s,1,3\n%s,1,99\n", w.a, w.a, w.b)), 0o600); err != nil {
		t.Fatal(err)
	}
	between := w.base.Add(270 * time.Second).UTC()
	for _, o := range []actions.ResetOffsetsOptions{
		{Mode: actions.ResetToEarliest, AllTopics: true},
		{Mode: actions.ResetToOffset, Value: "4", Topics: []string{w.a, w.b + ":1"}},
		{Mode: actions.ResetShiftBy, Value: "-2", Topics: []string{w.a + ":0,1"}, Export: filepath.Join(dir, "back; rm -rf ~.csv")},
		{Mode: actions.ResetToDatetime, Value: between.Format("2006-01-02T15:04:05.000Z"), Topics: []string{w.b}},
		{Mode: actions.ResetByDuration, Value: fmt.Sprintf("PT%dS", int64(time.Since(between)/time.Second)), AllTopics: true},
		{Mode: actions.ResetFromFile, Value: csv},
		{Mode: actions.ResetToLatest, Topics: []string{w.a}, Group: w.group + " it's\x1b[2J\tnew"}, // a group without offsets, a hostile name
	} {
		if o.Group == "" {
			o.Group = w.group
		}
		o.Context = c.Name
		checkResetRoundTrip(t, run, &actions.ResetOffsets{Broker: kc, Options: o})
	}
	if !equalOffsets(w.committed(), w.original) {
		t.Fatalf("a dry run changed the offsets: %v", w.committed())
	}
}

func checkResetRoundTrip(t *testing.T, run *actions.Runner, a *actions.ResetOffsets) {
	t.Helper()
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := p.(*actions.ResetPlan)
	line, out, e := runCommandDryRun(t, run, a)
	var got resetOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Group != plan.Group || got.State != plan.State || got.Executed || len(got.Plan) == 0 ||
		!reflect.DeepEqual(got.Plan, plan.Rows) || !reflect.DeepEqual(got.Totals, plan.Totals) {
		t.Errorf("%s plans\n%+v %+v\nnot\n%+v %+v", line, got.Plan, got.Totals, plan.Rows, plan.Totals)
	}
	if e.Source != "kafka-group:"+a.Options.Group || e.Plan == nil || e.Plan.Selected != int64(plan.Totals.Changed) || e.Plan.Total != int64(plan.Totals.Partitions) {
		t.Errorf("audit of the dry run: %+v %+v", e, e.Plan)
	}
	if a.Options.Export != "" {
		if _, err := os.Stat(a.Options.Export); err == nil {
			t.Error("a dry run wrote the export file")
		}
	}
}
