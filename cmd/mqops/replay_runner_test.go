package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
)

// replay goes through the action runner: each outcome of the command
// writes exactly one typed audit entry, and its equivalent headless
// command plans, run with --dry-run, what was planned.

// replayEntry reads the audit log at path and fails unless it holds
// exactly one replay entry of outcome, with its command (never --yes or
// --dry-run) and typed fields only.
func (w *replayWorld) replayEntry(t *testing.T, path, outcome string) actions.AuditEntry {
	t.Helper()
	es, bad, err := actions.NewAuditLog(path).Read(0)
	if err != nil || bad != 0 || len(es) != 1 {
		t.Fatalf("want exactly one entry: %d entries, %d bad, %v: %+v", len(es), bad, err, es)
	}
	e := es[0]
	prefix := "mqops --brokers " + strings.Join(w.brokers, ",") + " replay "
	if e.Outcome != outcome || e.Action != "replay" || e.Context == "" || e.RunID == "" || e.User == "" ||
		!strings.HasPrefix(e.Command, prefix) || strings.Contains(e.Command, "--yes") || strings.Contains(e.Command, "--dry-run") || e.Parameters != nil {
		t.Fatalf("entry %+v, want outcome %s and a command starting %q", e, outcome, prefix)
	}
	return e
}

// TestReplayAuditOneEntryPerOutcome: on the real broker, with the built
// binary, a dry run, refusals (no terminal to confirm on; a missing
// target), failures (of the plan; of the run, before anything is
// produced), a run cancelled by SIGINT and its resume each write exactly
// one typed entry: source, target, command, the plan's counts, the
// result's counts and checkpoint.
func TestReplayAuditOneEntryPerOutcome(t *testing.T) {
	w := newReplayWorld(t)
	src, dst := w.topic("src", 2, nil), w.topic("dst", 2, nil)
	const n = 2000
	w.produce(n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: src, Partition: int32(i % 2), Key: fmt.Appendf(nil, "k-%d", i%5), Value: fmt.Appendf(nil, "v-%d", i),
			Headers: []kgo.RecordHeader{{Key: "tenant", Value: []byte([]string{"a", "b"}[i%2])}}}
	})
	dir := t.TempDir()
	auditFile := func(name string) string { return filepath.Join(dir, name+".jsonl") }
	state := t.TempDir()

	// dry run: the plan's counts, no result
	f := auditFile("dry-run")
	if _, se, err := w.mqops(state, time.Minute, "replay", src, "--to", dst, "--key", "k-1", "--dry-run", "--audit-file", f); err != nil {
		t.Fatalf("dry run: %v\n%s", err, se)
	}
	e := w.replayEntry(t, f, actions.OutcomeDryRun)
	if e.Reason != actions.DryRunFlag || e.Source != "kafka:"+src || e.Target != "kafka:"+dst || e.Result != nil || e.Error != "" ||
		e.Command != fmt.Sprintf("mqops --brokers %s replay %s --to %s --key k-1", strings.Join(w.brokers, ","), src, dst) {
		t.Fatalf("dry run entry %+v", e)
	}
	if p := e.Plan; p == nil || p.Selected != n/5 || p.Skipped != n-n/5 || p.Total != n || p.Bytes == 0 || p.Details["partitions"] != float64(2) ||
		p.Details["complete"] != true || !strings.HasPrefix(p.Summary, fmt.Sprintf("%d record(s)", n/5)) {
		t.Fatalf("dry run plan %+v", e.Plan)
	}

	// no terminal to confirm on, no --yes: refused, with the plan
	f = auditFile("not-confirmed")
	if _, se, err := w.mqops(state, time.Minute, "replay", src, "--to", dst, "--audit-file", f); exitCode(err) != 1 || !strings.Contains(se, "refusing to replay without confirmation") {
		t.Fatalf("no terminal: %v\n%s", err, se)
	}
	if e := w.replayEntry(t, f, actions.OutcomeRefused); !strings.Contains(e.Reason, "refusing to replay without confirmation") || e.Plan == nil || e.Plan.Selected != n || e.Result != nil {
		t.Fatalf("not confirmed entry %+v", e)
	}

	// a missing target: refused, with the plan and its problem
	f = auditFile("blocked")
	if _, se, err := w.mqops(state, time.Minute, "replay", src, "--to", w.prefix+".missing", "--yes", "--audit-file", f); exitCode(err) != 1 || !strings.Contains(se, "cannot replay: target topic") {
		t.Fatalf("missing target: %v\n%s", err, se)
	}
	if e := w.replayEntry(t, f, actions.OutcomeRefused); !strings.HasPrefix(e.Reason, "cannot replay: target topic") || e.Plan == nil || len(e.Plan.Problems) != 1 || e.Result != nil {
		t.Fatalf("blocked entry %+v", e)
	}

	// the plan fails: an unknown source
	f = auditFile("plan-failed")
	if _, _, err := w.mqops(state, time.Minute, "replay", w.prefix+".nope", "--to", dst, "--dry-run", "--audit-file", f); exitCode(err) != 1 {
		t.Fatalf("unknown source: %v", err)
	}
	if e := w.replayEntry(t, f, actions.OutcomeFailed); !strings.HasPrefix(e.Error, "the plan failed: ") || !strings.Contains(e.Error, "unknown topic") || e.Plan != nil || e.Result != nil {
		t.Fatalf("failed plan entry %+v", e)
	}

	// the run fails before producing anything: its checkpoint cannot be written
	f = auditFile("run-failed")
	broken := t.TempDir()
	if err := os.MkdirAll(filepath.Join(broken, "mqops"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "mqops", "runs"), nil, 0o600); err != nil { // a file where the runs directory goes
		t.Fatal(err)
	}
	if _, se, err := w.mqops(broken, time.Minute, "replay", src, "--to", dst, "--yes", "--audit-file", f); exitCode(err) != 1 || !strings.Contains(se, "replay checkpoints") {
		t.Fatalf("unwritable checkpoint: %v\n%s", err, se)
	}
	if e := w.replayEntry(t, f, actions.OutcomeFailed); !strings.Contains(e.Error, "replay checkpoints") || e.Reason != "" || e.Plan == nil || e.Plan.Selected != n || e.Result != nil {
		t.Fatalf("failed run entry %+v", e)
	}
	if got := sum(w.ends(dst)); got != 0 {
		t.Fatalf("%d records reached %s before the runs failed or were refused", got, dst)
	}

	// cancelled by SIGINT part way (paced so that it is part way), then resumed
	f = auditFile("cancelled")
	cmd := exec.Command(mqopsBin(t), "replay", src, "--to", dst, "--rate", "400", "--window", "50", "--yes", "--audit-file", f, "--brokers", strings.Join(w.brokers, ","))
	cmd.Env = append(os.Environ(), replayEnv(state)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	runID := ""
	for runID == "" && sc.Scan() {
		if m := regexp.MustCompile(`^run (\S+) \(checkpoint`).FindStringSubmatch(sc.Text()); m != nil {
			runID = m[1]
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for sum(w.ends(dst)) < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if runID == "" || exitCode(err) != 130 {
		t.Fatalf("SIGINT: run %q, %v", runID, err)
	}
	e = w.replayEntry(t, f, actions.OutcomeCancelled)
	moved := sum(w.ends(dst))
	if r := e.Result; e.RunID != runID || r == nil || r.StoppedBecause != "cancelled" || r.Done < 100 || r.Done >= n || r.Left <= 0 ||
		r.Details["checkpoint"] != filepath.Join(state, "mqops", "runs", runID+".json") || e.Plan == nil || e.Plan.Selected != n || !strings.Contains(e.Error, "context canceled") ||
		!strings.HasSuffix(e.Command, fmt.Sprintf("replay %s --to %s --rate 400 --window 50", src, dst)) {
		t.Fatalf("cancelled entry %+v %+v (%d records in the target)", e, e.Result, moved)
	}
	cp, err := actions.LoadReplayRun(filepath.Join(state, "mqops"), runID)
	if err != nil || cp.Status != actions.RunCancelled {
		t.Fatalf("checkpoint %+v %v", cp, err)
	}
	f = auditFile("resumed")
	out, se, err := w.mqops(state, time.Minute, "replay", "--resume", runID, "--yes", "-o", "json", "--audit-file", f)
	var res replayOut
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Left != 0 || res.StoppedBecause != "end" ||
		res.Command != fmt.Sprintf("mqops --brokers %s replay --resume %s", strings.Join(w.brokers, ","), runID) {
		t.Fatalf("resume: %v %+v\n%s\n%s", err, res, out, se)
	}
	e = w.replayEntry(t, f, actions.OutcomeExecuted)
	if e.RunID != runID || e.Command != res.Command || e.Source != "kafka:"+src || e.Target != "kafka:"+dst || e.Plan == nil || e.Plan.Details["resume"] != true ||
		e.Result == nil || e.Result.Done != int64(res.Replayed) || e.Result.Left != 0 {
		t.Fatalf("resumed entry %+v %+v %+v", e, e.Plan, e.Result)
	}
	// no gap, at most the window (50) twice
	if got := sum(w.ends(dst)); got < n || got > n+50 {
		t.Fatalf("%d records in %s after the resume, want %d and at most 50 more", got, dst, n)
	}
}

// replayOut is the -o json of a replay's run.
type replayOut struct {
	actions.ReplayResult
	Command string `json:"command"`
}

// TestReplayCommandRoundTrips: the equivalent command of a replay planned
// through the runner (as the console will), split by bash and run with
// --dry-run -o json, plans the same ranges and counts, prints the same
// command and records it — ranges by offset and by time, filters the
// shell must quote, the partitioning, the rate, the window, and a resume.
func TestReplayCommandRoundTrips(t *testing.T) {
	w := newReplayWorld(t)
	src, dst, dst3 := w.topic("src", 2, nil), w.topic("dst", 2, nil), w.topic("dst3", 3, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	hostile := "it's \"a\" $HOME;\x1b[2J\tnew\nline"
	w.produce(200, func(i int) *kgo.Record {
		hs := []kgo.RecordHeader{{Key: "tenant", Value: []byte([]string{"a", "b"}[i%2])}}
		if i%7 == 0 {
			hs = append(hs, kgo.RecordHeader{Key: "note", Value: []byte(hostile)})
		}
		return &kgo.Record{Topic: src, Partition: int32(i % 2), Key: fmt.Appendf(nil, "k %d's", i%4), Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Second), Headers: hs}
	})
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	c, kc, run := kafkaRunner(t, strings.Join(w.brokers, ","))
	key := "k 1's"
	from, to := base.Add(30*time.Second).UTC().Format("2006-01-02T15:04:05.000Z"), base.Add(150*time.Second).In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05-07:00")
	for _, o := range []actions.ReplayOptions{
		{Source: src, To: dst},
		{Source: src + ":1,0", To: dst, FromOffset: i64p(5), ToOffset: i64p(40), Rate: 123.5, Window: 100},
		{Source: src, To: dst3, Partitioning: "key", Key: &key, Headers: []string{"tenant=b"}},
		{Source: src, To: dst, Headers: []string{"note=" + hostile}, SkipOversized: true},
		{Source: src + ":0", To: dst, FromTime: from, ToTime: to, PlanLimit: 10},
	} {
		o.Context, o.Brokers = c.Name, c.Kafka.Brokers
		checkReplayRoundTrip(t, run, &actions.Replay{Broker: kc, Options: o})
	}
	if got := sum(w.ends(dst)) + sum(w.ends(dst3)); got != 0 {
		t.Fatalf("a dry run produced %d records", got)
	}
	// a resume: of a run that replayed part of its range
	a := &actions.Replay{Broker: kc, Options: actions.ReplayOptions{Context: c.Name, Brokers: c.Kafka.Brokers, Source: src, To: dst, ToOffset: i64p(10)}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.Execute(context.Background(), a, p, nil); err != nil {
		t.Fatal(err)
	}
	checkReplayRoundTrip(t, run, &actions.Replay{Broker: kc, Options: actions.ReplayOptions{Context: c.Name, Brokers: c.Kafka.Brokers, Resume: a.Options.RunID, Rate: 50}})
}

func i64p(v int64) *int64 { return &v }

// checkReplayRoundTrip plans a through the runner, runs its command with
// --dry-run -o json and compares the plans (but for a new replay's run
// id, which each plan draws anew).
func checkReplayRoundTrip(t *testing.T, run *actions.Runner, a *actions.Replay) {
	t.Helper()
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := *p.(*actions.ReplayPlan)
	line, out, e := runCommandDryRun(t, run, a)
	var got struct {
		DryRun bool               `json:"dry_run"`
		Plan   actions.ReplayPlan `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || !got.DryRun {
		t.Fatalf("%v\n%s", err, out)
	}
	if !plan.Resume {
		got.Plan.RunID = plan.RunID
	}
	want, _ := json.Marshal(plan)
	have, _ := json.Marshal(got.Plan)
	if string(have) != string(want) {
		t.Errorf("%s plans\n%s\nnot\n%s", line, have, want)
	}
	if len(plan.Parts) == 0 || (!plan.Resume && plan.Read == 0) {
		t.Errorf("%s: an empty plan proves nothing: %+v", line, plan)
	}
	if e.Source != a.Describe().Source || e.Target != a.Describe().Target || e.Plan == nil || e.Plan.Summary != got.Plan.Summary() {
		t.Errorf("audit of the dry run: %+v %+v", e, e.Plan)
	}
}
