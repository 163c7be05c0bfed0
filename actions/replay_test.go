package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
)

func i64(v int64) *int64 { return &v }

// TestReplayOptionsRefuseBadInput: every wrong option is named, before
// anything is read.
func TestReplayOptionsRefuseBadInput(t *testing.T) {
	for _, c := range []struct {
		o    ReplayOptions
		want string
	}{
		{ReplayOptions{Source: "orders", To: "x", ReadOnly: true, Context: "prod"}, `context "prod" is read-only: replays are not available`},
		{ReplayOptions{Source: "", To: "x"}, "invalid source"},
		{ReplayOptions{Source: "or ders", To: "x"}, "invalid source"},
		{ReplayOptions{Source: "orders:a", To: "x"}, `"a" is not a partition number`},
		{ReplayOptions{Source: "orders:-1", To: "x"}, `"-1" is not a partition number`},
		{ReplayOptions{Source: "orders:", To: "x"}, `"" is not a partition number`},
		{ReplayOptions{Source: "orders:1,1", To: "x"}, "partition 1 is named twice"},
		{ReplayOptions{Source: "orders:99999999999", To: "x"}, "is not a partition number"},
		{ReplayOptions{Source: "orders"}, "no --to"},
		{ReplayOptions{Source: "orders", To: "orders"}, "--to: \"orders\" is the source topic"},
		{ReplayOptions{Source: "orders", To: "a/b"}, "--to: \"a/b\" is not a Kafka topic name"},
		{ReplayOptions{Source: "orders", To: "x", FromOffset: i64(-1)}, "--from-offset: -1 is negative"},
		{ReplayOptions{Source: "orders", To: "x", ToOffset: i64(-5)}, "--to-offset: -5 is negative"},
		{ReplayOptions{Source: "orders", To: "x", FromOffset: i64(10), ToOffset: i64(9)}, "--to-offset: 9 is before --from-offset 10"},
		{ReplayOptions{Source: "orders", To: "x", FromOffset: i64(1), FromTime: "2024-01-01T00:00:00Z"}, "not both"},
		{ReplayOptions{Source: "orders", To: "x", ToOffset: i64(1), ToTime: "2024-01-01T00:00:00Z"}, "not both"},
		{ReplayOptions{Source: "orders", To: "x", FromTime: "NaN"}, `--from-time: "NaN" is not a time`},
		{ReplayOptions{Source: "orders", To: "x", FromTime: "1969-12-31T23:59:59Z"}, "before 1970"},
		{ReplayOptions{Source: "orders", To: "x", FromTime: "2024-01-02T00:00:00Z", ToTime: "2024-01-01T00:00:00Z"}, "--to-time: 2024-01-01T00:00:00Z is before --from-time 2024-01-02T00:00:00Z"},
		{ReplayOptions{Source: "orders", To: "x", Rate: nan()}, "--rate: NaN is not a number"},
		{ReplayOptions{Source: "orders", To: "x", Rate: 2e6}, "--rate: 2000000 is out of range"},
		{ReplayOptions{Source: "orders", To: "x", Window: kafka.MaxMoveWindow + 1}, "--window"},
		{ReplayOptions{Source: "orders", To: "x", PlanLimit: -1}, "--plan-limit"},
		{ReplayOptions{Source: "orders", To: "x", Partitioning: "random"}, `--partitioning: "random": want same or key`},
		{ReplayOptions{Source: "orders", To: "x", Headers: []string{"novalue"}}, `--header: "novalue": want key=value`},
		{ReplayOptions{Source: "orders", To: "x", Headers: []string{"=v"}}, `--header: "=v": want key=value`},
		{ReplayOptions{Source: "orders", To: "x", RunID: "../../etc/passwd"}, "is not a run id"},
		{ReplayOptions{Resume: "r1", ReadOnly: true, Context: "prod"}, `context "prod" is read-only: replays are not available`},
		{ReplayOptions{Resume: "../r1"}, "is not a run id"},
		{ReplayOptions{Resume: "r1", Rate: nan()}, "--rate: NaN is not a number"},
		{ReplayOptions{Resume: "r1", RunID: "r2"}, `run id "r2" is not the run resumed (r1)`},
		{ReplayOptions{Resume: "r1", Source: "orders"}, "--source cannot go with --resume"},
		{ReplayOptions{Resume: "r1", To: "x"}, "--to cannot go with --resume"},
		{ReplayOptions{Resume: "r1", FromOffset: i64(0)}, "--from-offset cannot go with --resume"},
		{ReplayOptions{Resume: "r1", ToTime: "2024-01-01T00:00:00Z"}, "--to-time cannot go with --resume"},
		{ReplayOptions{Resume: "r1", Headers: []string{"a=b"}}, "--header cannot go with --resume"},
		{ReplayOptions{Resume: "r1", Window: 10}, "--window cannot go with --resume"},
		{ReplayOptions{Resume: "r1", SkipOversized: true}, "--skip-oversized cannot go with --resume"},
	} {
		o := c.o
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	o := ReplayOptions{Source: "orders:2,0", To: "x", Headers: []string{"a=b=c", "e="}}
	if err := o.Validate(); err != nil || o.topic != "orders" || fmt.Sprint(o.parts) != "[0 2]" || o.Window != 0 || o.PlanLimit != DefaultReplayPlanLimit ||
		fmt.Sprint(o.filter.headers) != "[{a b=c} {e }]" || o.RunID == "" {
		t.Fatalf("%+v %v", o, err)
	}
	o = ReplayOptions{Resume: "r1", Rate: 10}
	if err := o.Validate(); err != nil || o.RunID != "r1" || fmt.Sprint(o.commandArgs()) != "[replay --resume r1 --rate 10]" {
		t.Fatalf("resume %+v %v", o, err)
	}
}

// TestReplayCommandArgs: the command line of a replay names the source,
// the range, the filters and every flag the operator set, defaults left
// out, never --yes.
func TestReplayCommandArgs(t *testing.T) {
	key := ""
	for _, c := range []struct {
		o    ReplayOptions
		want string
	}{
		{ReplayOptions{Source: "orders", To: "x"}, "[replay orders --to x]"},
		{ReplayOptions{Source: "orders:0,2", To: "x", FromOffset: i64(0), ToOffset: i64(50), Key: &key, Headers: []string{"a=b", "c="},
			Partitioning: "key", Rate: 2.5, Window: 10, SkipOversized: true, PlanLimit: 7}, "[replay orders:0,2 --to x --from-offset 0 --to-offset 50 --key  --header a=b --header c= --partitioning key --rate 2.5 --window 10 --skip-oversized --plan-limit 7]"},
		{ReplayOptions{Source: "orders", To: "x", FromTime: "2024-05-01T10:32:00Z", ToTime: "2024-05-01T12:32:00+02:00", PlanLimit: DefaultReplayPlanLimit},
			"[replay orders --to x --from-time 2024-05-01T10:32:00Z --to-time 2024-05-01T12:32:00+02:00]"},
	} {
		if got := fmt.Sprint(c.o.commandArgs()); got != c.want {
			t.Errorf("%+v: %s, want %s", c.o, got, c.want)
		}
	}
}

func nan() float64 { var z float64; return z / z }

// TestParseReplayTime reads the forms kafka-consumer-groups --to-datetime
// takes.
func TestParseReplayTime(t *testing.T) {
	utc := time.Date(2024, 5, 1, 10, 32, 0, 0, time.UTC)
	for s, want := range map[string]time.Time{
		"2024-05-01T10:32:00Z":          utc,
		"2024-05-01T10:32:00.000Z":      utc,
		"2024-05-01T12:32:00+02:00":     utc,
		"2024-05-01T12:32:00.000+0200":  utc,
		"2024-05-01T12:32:00+02":        utc,
		"2024-05-01T10:32:00.123Z":      utc.Add(123 * time.Millisecond),
		"2024-05-01T10:32:00":           time.Date(2024, 5, 1, 10, 32, 0, 0, time.Local),
		"2024-05-01T10:32":              time.Date(2024, 5, 1, 10, 32, 0, 0, time.Local),
		"2024-05-01":                    time.Date(2024, 5, 1, 0, 0, 0, 0, time.Local),
		"2024-05-01T10:32:00.000-01:30": utc.Add(90 * time.Minute),
	} {
		got, err := ParseReplayTime("from-time", s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "yesterday", "2024-13-01", "1714559520000", "2024-05-01 10:32:00", "\x1b[31m"} {
		if _, err := ParseReplayTime("from-time", s); err == nil || strings.Contains(err.Error(), "\x1b") {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestReplayCheckpointFiles: a missing run, a FIFO, malformed files
// (named with the line), checkpoints that do not hold together, and the
// atomic writer that refuses what is not a regular file.
func TestReplayCheckpointFiles(t *testing.T) {
	dir := t.TempDir()
	runs := RunsDir(dir)
	if err := os.MkdirAll(runs, 0o700); err != nil {
		t.Fatal(err)
	}
	good := &ReplayCheckpoint{Version: 1, RunID: "r1", Context: "c", Brokers: []string{"b:1"}, Source: "s", Target: "t", Partitioning: "same", Window: 1000,
		Status: RunRunning, Parts: []CheckpointPart{{Partition: 0, Start: 0, End: 10, Next: 5}}}
	data, _ := json.MarshalIndent(good, "", "  ")
	write := func(id, body string) {
		if err := os.WriteFile(CheckpointPath(dir, id), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("r1", string(data))
	if cp, err := LoadReplayRun(dir, "r1"); err != nil || cp.Parts[0].Next != 5 {
		t.Fatalf("good: %+v %v", cp, err)
	}
	if err := syscall.Mkfifo(CheckpointPath(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := func(field, value string) string {
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		var v any
		_ = json.Unmarshal([]byte(value), &v)
		m[field] = v
		b, _ := json.MarshalIndent(m, "", "  ")
		return string(b)
	}
	write("syntax", "{\n  \"version\": 1,\n  \"run_id\": \"syntax\",\n  oops\n}\n")
	write("type", "{\n  \"version\": 1,\n\n  \"window\": \"big\"\n}\n")
	write("unknown", strings.Replace(string(data), `"version": 1,`, `"version": 1, "password": "x",`, 1))
	write("trailing", string(data)+"\n{}")
	write("other", string(data))
	write("v2", bad("version", "2"))
	write("nopart", strings.Replace(bad("partitions", "[]"), `"r1"`, `"nopart"`, 1))
	write("order", strings.Replace(bad("partitions", `[{"partition":0,"start":5,"end":10,"next":11}]`), `"r1"`, `"order"`, 1))
	write("twice", strings.Replace(bad("partitions", `[{"partition":0,"start":0,"end":1,"next":0},{"partition":0,"start":0,"end":1,"next":0}]`), `"r1"`, `"twice"`, 1))
	write("topic", strings.Replace(bad("target", `"a b"`), `"r1"`, `"topic"`, 1))
	write("status", strings.Replace(bad("status", `"??"`), `"r1"`, `"status"`, 1))
	for id, want := range map[string]string{
		"nothere":   `no replay run "nothere": there is no checkpoint ` + CheckpointPath(dir, "nothere"),
		"fifo":      "is a named pipe (FIFO), not a regular file",
		"syntax":    CheckpointPath(dir, "syntax") + ":4: not a replay checkpoint: invalid character 'o'",
		"type":      CheckpointPath(dir, "type") + ":4: not a replay checkpoint: json: cannot unmarshal string",
		"unknown":   `json: unknown field "password"`,
		"trailing":  "data after its end",
		"other":     `it is the checkpoint of run "r1", not of "other"`,
		"v2":        "version 2 (this mqops reads version 1)",
		"nopart":    "no partitions",
		"order":     "partition 0: want 0 ≤ start (5) ≤ next (11) ≤ end (10)",
		"twice":     "partition 0 is negative or listed twice",
		"topic":     `"a b" is not a Kafka topic name`,
		"status":    `status "??"`,
		"../etc":    "is not a run id",
		".hidden":   "is not a run id",
		"a\x1b[31m": "is not a run id",
	} {
		_, err := LoadReplayRun(dir, id)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\x1b") {
			t.Errorf("%q: %v, want %q", id, err, want)
		}
	}
	// the writer replaces a regular file atomically, refuses anything else
	if err := writeAtomic(CheckpointPath(dir, "fifo"), []byte("{}")); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("writing over a FIFO: %v", err)
	}
	if err := os.Symlink(CheckpointPath(dir, "r1"), CheckpointPath(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(CheckpointPath(dir, "link"), []byte("{}")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("writing over a symlink: %v", err)
	}
	if err := writeAtomic(CheckpointPath(dir, "new"), []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(runs, ".*.tmp"))
	if b, err := os.ReadFile(CheckpointPath(dir, "new")); err != nil || string(b) != "{}\n" || len(left) != 0 {
		t.Fatalf("%q %v, temporary files left: %v", b, err, left)
	}
}

// replayCluster is a kfake cluster with "src" (2 partitions, n records of
// each key k-0..k-9 and header tenant=a or b) and an empty "dst" (2).
func replayCluster(t *testing.T, n int) (*kafka.Client, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "src", "dst"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 2), Key: fmt.Appendf(nil, "k-%d", i%10), Value: fmt.Appendf(nil, "v-%d", i),
			Headers: []kgo.RecordHeader{{Key: "tenant", Value: []byte([]string{"a", "b"}[i%3%2])}}})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	k, err := kafka.New(kafka.Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k, c.ListenAddrs()
}

func endOffsets(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	k, _ := kafka.New(kafka.Config{Brokers: brokers, Timeout: 5 * time.Second})
	defer k.Close()
	r, err := k.ResolveRange(context.Background(), backends.KafkaRangeQuery{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range r.Parts {
		n += p.LogEnd
	}
	return n
}

// TestReplayPlanCancelResume plans a filtered replay (counted per
// partition) through the runner, runs it, cancels it part way, and
// resumes it: the checkpoint says cancelled with positions only the
// target confirmed, the resume replays the rest, and the audit log has
// one typed entry per outcome, written by the runner. The run is
// rate-limited (2,000 records/s: about a second) so that the cancel comes
// part way, however fast the producer.
func TestReplayPlanCancelResume(t *testing.T) {
	const n = 3000
	k, brokers := replayCluster(t, n)
	dir := t.TempDir()
	run := &Runner{Audit: NewAuditLog(filepath.Join(dir, "audit.jsonl"))}
	a := &Replay{Broker: k, Options: ReplayOptions{Context: "test", Brokers: brokers, Source: "src", To: "dst", Headers: []string{"tenant=a"}, Window: 50, Rate: 2000, StateDir: dir}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := p.(*ReplayPlan)
	// tenant is a for i%3 != 1: 2000 of 3000
	if plan.Partitioning != PartitionSame || plan.Offsets != n || plan.Read != n || plan.Records != 2000 || !plan.Complete || len(plan.Parts) != 2 ||
		plan.Parts[0].Records+plan.Parts[1].Records != 2000 || plan.Blocked != "" || len(plan.Filters) != 1 || *plan.Parts[1].TargetPartition != 1 || plan.RunID != a.Options.RunID {
		t.Fatalf("plan %+v", plan)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := run.Execute(ctx, a, plan, func(p Progress) {
		if p.Done >= 500 {
			cancel()
		}
	})
	res, _ := r.(*ReplayResult)
	if err == nil || res == nil || res.StoppedBecause != backends.KafkaStopCancelled || res.Replayed >= 2000 {
		t.Fatalf("cancelled run: %+v %v", res, err)
	}
	cp, err := LoadReplayRun(dir, plan.RunID)
	if err != nil || cp.Status != RunCancelled || cp.Key != nil || len(cp.Headers) != 1 || cp.Window != 50 {
		t.Fatalf("checkpoint %+v %v", cp, err)
	}
	got := endOffsets(t, brokers, "dst")
	var saved int64
	for _, p := range cp.Parts {
		saved += p.Next
	}
	// every record below the positions passed the filter 2 times out of 3
	if saved*2/3-2 > got || got > saved*2/3+2+50 {
		t.Fatalf("positions %d (about %d to replay) vs %d in the target", saved, saved*2/3, got)
	}
	// a resume from another context is refused; from this one it finishes
	other := &Replay{Broker: k, Options: ReplayOptions{Context: "other", Brokers: brokers, Resume: plan.RunID, StateDir: dir}}
	if _, err := run.Plan(context.Background(), other); !IsRefused(err) || !strings.Contains(err.Error(), `ran in context "test"`) {
		t.Fatalf("resume elsewhere: %v", err)
	}
	resume := &Replay{Broker: k, Options: ReplayOptions{Context: "test", Brokers: brokers, Resume: plan.RunID, StateDir: dir}}
	p, err = run.Plan(context.Background(), resume)
	rplan, _ := p.(*ReplayPlan)
	if err != nil || !rplan.Resume || rplan.Offsets != n-saved || rplan.Status != RunCancelled {
		t.Fatalf("resume plan %+v %v", rplan, err)
	}
	r, err = run.Execute(context.Background(), resume, rplan, nil)
	res2, _ := r.(*ReplayResult)
	if err != nil || res2 == nil || res2.Left != 0 || res2.StoppedBecause != backends.KafkaStopEnd {
		t.Fatalf("resume %+v %v", res2, err)
	}
	if got := endOffsets(t, brokers, "dst"); got < 2000 || got > 2000+50 {
		t.Fatalf("%d records in the target, want 2000 and at most one window (50) more", got)
	}
	if cp, err := LoadReplayRun(dir, plan.RunID); err != nil || cp.Status != RunDone {
		t.Fatalf("final checkpoint %+v %v", cp, err)
	}
	es, _, err := run.Audit.Read(0)
	if err != nil || len(es) != 3 {
		t.Fatalf("audit %+v %v", es, err)
	}
	c, rf, e := es[0], es[1], es[2]
	if c.Outcome != OutcomeCancelled || c.Action != "replay" || c.RunID != plan.RunID || c.Source != "kafka:src" || c.Target != "kafka:dst" ||
		c.Command != "mqops replay src --to dst --header tenant=a --rate 2000 --window 50" || c.Plan == nil || c.Plan.Selected != 2000 || c.Plan.Skipped != 1000 ||
		c.Plan.Total != n || c.Result == nil || c.Result.Done != int64(res.Replayed) || c.Result.StoppedBecause != backends.KafkaStopCancelled || c.Parameters != nil {
		t.Fatalf("cancelled entry %+v %+v %+v", c, c.Plan, c.Result)
	}
	if rf.Outcome != OutcomeRefused || !strings.Contains(rf.Reason, `ran in context "test"`) || rf.Source != "kafka:src" || rf.Command != "mqops replay --resume "+plan.RunID {
		t.Fatalf("refused entry %+v", rf)
	}
	if e.Outcome != OutcomeExecuted || e.RunID != plan.RunID || e.Source != "kafka:src" || e.Target != "kafka:dst" || e.Command != "mqops replay --resume "+plan.RunID ||
		e.Plan == nil || e.Plan.Selected != n-saved || e.Plan.Details["resume"] != true || e.Result == nil || e.Result.Done != int64(res2.Replayed) || e.Result.Left != 0 {
		t.Fatalf("executed entry %+v %+v %+v", e, e.Plan, e.Result)
	}
	for _, e := range es {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), "v-1") { // never a record
			t.Fatalf("a record in the audit log: %s", b)
		}
	}
	// resuming a finished run: nothing left
	p, err = run.Plan(context.Background(), &Replay{Broker: k, Options: ReplayOptions{Context: "test", Brokers: brokers, Resume: plan.RunID, StateDir: dir}})
	if rplan, _ := p.(*ReplayPlan); err != nil || rplan.Offsets != 0 || rplan.Status != RunDone {
		t.Fatalf("resume of a finished run: %+v %v", p, err)
	}
}

// TestReplayRefusals: a missing target blocks the run (refused, audited
// once with the plan); a plan of another replay is refused; the
// checkpoint of a run is locked while it runs.
func TestReplayRefusals(t *testing.T) {
	k, brokers := replayCluster(t, 10)
	dir := t.TempDir()
	run := &Runner{Audit: NewAuditLog(filepath.Join(dir, "audit.jsonl"))}
	a := &Replay{Broker: k, Options: ReplayOptions{Context: "test", Brokers: brokers, Source: "src", To: "missing", StateDir: dir}}
	p, err := run.Plan(context.Background(), a)
	plan, _ := p.(*ReplayPlan)
	if err != nil || plan.Blocked == "" || !strings.Contains(plan.Problems[0], `target topic "missing" does not exist`) {
		t.Fatalf("plan %+v %v", plan, err)
	}
	if _, err := run.Execute(context.Background(), a, plan, nil); !IsRefused(err) || !strings.Contains(err.Error(), "cannot replay: target topic") {
		t.Fatalf("run: %v", err)
	}
	if _, err := os.Stat(CheckpointPath(dir, plan.RunID)); !os.IsNotExist(err) {
		t.Fatalf("a checkpoint was written for a refused run: %v", err)
	}
	// the plan of another replay
	b := &Replay{Broker: k, Options: ReplayOptions{Context: "test", Brokers: brokers, Source: "src", To: "dst", StateDir: dir}}
	if _, err := run.Execute(context.Background(), b, plan, nil); !IsRefused(err) || !strings.Contains(err.Error(), "not of this replay") {
		t.Fatalf("another plan: %v", err)
	}
	es, _, _ := run.Audit.Read(0)
	if len(es) != 2 || es[0].Outcome != OutcomeRefused || es[0].Plan == nil || len(es[0].Plan.Problems) != 1 || es[0].Result != nil ||
		es[1].Outcome != OutcomeRefused || es[1].Target != "kafka:dst" {
		t.Fatalf("audit %+v", es)
	}
	o := ReplayOptions{Context: "test", Brokers: brokers, Source: "src", To: "dst", Partitioning: "same", StateDir: dir}
	if p, err := planReplay(context.Background(), k, o, nil, nil); err != nil || p.Blocked != "" {
		t.Fatalf("same into as many: %+v %v", p, err)
	}
	// a run that holds its lock keeps a second process out
	cp := &ReplayCheckpoint{Version: 1, RunID: "locked", Source: "src", Target: "dst", Partitioning: "same", Window: 10, Parts: []CheckpointPart{{End: 1}}}
	s, err := openRun(dir, cp)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, err := openRun(dir, cp); err == nil || !strings.Contains(err.Error(), "is being run by another mqops process") {
		t.Fatalf("second open: %v", err)
	}
}

// TestReplayPlanEstimated: without filters, into a target whose
// max.message.bytes shows that every record fits, the plan reads nothing:
// at most the range's offsets, about its bytes, said so in its summary,
// its note and its audit entry; the run replays the range whole.
func TestReplayPlanEstimated(t *testing.T) {
	const n = 1000
	k, brokers := replayCluster(t, n)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v := "2000000"
	if _, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, "dst"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := &Runner{Audit: NewAuditLog(filepath.Join(dir, "audit.jsonl"))}
	a := &Replay{Broker: k, Options: ReplayOptions{Context: "test", Brokers: brokers, Source: "src", To: "dst", FromOffset: i64(100), StateDir: dir}}
	p, err := run.Plan(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	plan := p.(*ReplayPlan)
	if !plan.Estimated || plan.Complete || plan.Read != 0 || plan.Records != 800 || plan.Offsets != 800 || plan.Bytes <= 0 || len(plan.Notes) != 1 ||
		!strings.Contains(plan.Notes[0], "not read") || !strings.HasPrefix(plan.Summary(), "at most 800 record(s), about ") || plan.Window < 1000 {
		t.Fatalf("plan %+v", plan)
	}
	au := plan.Audit()
	if au.Selected != 800 || au.Skipped != 0 || au.Total != 800 || au.Details["estimated"] != true {
		t.Fatalf("audit %+v", au)
	}
	r, err := run.Execute(context.Background(), a, plan, nil)
	if res, _ := r.(*ReplayResult); err != nil || res.Replayed != 800 || res.Left != 0 {
		t.Fatalf("run %+v %v", r, err)
	}
}
