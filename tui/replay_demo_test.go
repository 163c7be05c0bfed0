package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends/embedded"
	"github.com/mqops/mqops/tui/action"
)

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
)

// mqopsBinary is $MQOPS_BIN, else the mqops command built once for the
// package's tests.
func mqopsBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("MQOPS_BIN"); b != "" {
		return b
	}
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mqops-tui-bin")
		if err != nil {
			builtErr = err
			return
		}
		builtBin = filepath.Join(dir, "mqops")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/mqops")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			builtErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtBin
}

// runMqops runs the mqops binary with args (within a minute) and returns
// its stdout; a failure fails the test.
func runMqops(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mqops %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// commandArgs splits the console's equivalent command into the binary's
// arguments (after "mqops"), failing on anything a shell would have to
// unquote.
func commandArgs(t *testing.T, command string) []string {
	t.Helper()
	if strings.ContainsAny(command, `'"$\`) {
		t.Fatalf("the command needs a shell to split: %s", command)
	}
	f := strings.Fields(command)
	if len(f) == 0 || f[0] != "mqops" {
		t.Fatalf("not an mqops command: %q", command)
	}
	return f[1:]
}

// cliReplayPlan runs command (the console's equivalent headless command)
// with --dry-run -o json and returns its plan.
func cliReplayPlan(t *testing.T, bin, command string) *actions.ReplayPlan {
	t.Helper()
	out := runMqops(t, bin, append(commandArgs(t, command), "--dry-run", "-o", "json", "--audit-file", filepath.Join(t.TempDir(), "cli-audit.jsonl"))...)
	var dry struct {
		DryRun  bool                `json:"dry_run"`
		Plan    *actions.ReplayPlan `json:"plan"`
		Command string              `json:"command"`
	}
	if err := json.Unmarshal(out, &dry); err != nil || !dry.DryRun || dry.Plan == nil || dry.Command != command {
		t.Fatalf("dry run output %q: %v", out, err)
	}
	return dry.Plan
}

// samePlan says whether the console's plan is the command line's, apart
// from the run id each drew.
func samePlan(t *testing.T, console, cli *actions.ReplayPlan) {
	t.Helper()
	c := *cli
	c.RunID = console.RunID
	if !reflect.DeepEqual(console, &c) {
		a, _ := json.Marshal(console)
		b, _ := json.Marshal(&c)
		t.Fatalf("the console planned\n%s\nthe command line\n%s", a, b)
	}
}

// replayDemo is the demo's embedded cluster (kfake, with its orders topic
// and empty orders.replay), the console on it as `mqops demo` opens it (no
// config file: its headless commands run in the context "flags"), and the
// mqops binary for the headless side.
type replayDemo struct {
	brokers string
	bin     string
	h       *harness
	adm     *kadm.Client
}

func newReplayDemo(t *testing.T) *replayDemo {
	t.Helper()
	bin := mqopsBinary(t)
	c := newKfakeCluster(t)
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir) // the checkpoints, the console's and the binary's
	t.Setenv("XDG_CONFIG_HOME", dir)
	brokers := strings.Join(c.brokers, ",")
	h := newHarness(t, Options{Context: "demo", Color: "green", Cluster: "embedded " + c.k.Name(), Kafka: c.k, KafkaReplayer: c.k, KafkaBrokers: c.brokers,
		CommandArgs: []string{"--brokers", brokers}, CommandContext: "flags", Audit: actions.NewAuditLog(filepath.Join(dir, "audit.jsonl"))}, nil)
	return &replayDemo{brokers: brokers, bin: bin, h: h, adm: c.adm}
}

// ends are the log ends of topic's partitions.
func (d *replayDemo) ends(t *testing.T, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := d.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	res.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// sources reads partition p of topic whole and counts its records by
// their mqops-replay-source header (topic/partition/offset).
func (d *replayDemo) sources(t *testing.T, topic string, p int32, end int64) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(d.brokers, ",")...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string]int{}
	for read := int64(0); read < end; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s/%d: %v", read, end, topic, p, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			for _, h := range r.Headers {
				if h.Key == "mqops-replay-source" {
					out[string(h.Value)]++
				}
			}
		})
	}
	return out
}

// openReplay opens the replay of the demo's orders into orders.replay,
// the partitions and the rate typed, and plans it.
func (d *replayDemo) openReplay(t *testing.T, parts, rate string, more func()) *replayScreen {
	t.Helper()
	h := d.h
	v := h.openReplayOn(embedded.ReplaySource, embedded.ReplayTarget)
	h.field(v, fReplayParts)
	h.typeText(parts)
	if more != nil {
		more()
	}
	h.field(v, fRate)
	h.typeText(rate)
	h.keys("enter")
	if v.Stage() != action.StagePlan {
		t.Fatalf("stage %d: %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	return v
}

// TestReplayConsoleMatchesHeadlessDryRun: on the demo's cluster, the
// console's plan of a replay (orders into orders.replay, two partitions,
// from an offset, a header filter) is exactly what `mqops replay --dry-run
// -o json` plans when given the console's equivalent command; y replays
// exactly the records planned, each to its partition number with its
// source header; the audit log has one typed entry, with that command.
func TestReplayConsoleMatchesHeadlessDryRun(t *testing.T) {
	d := newReplayDemo(t)
	h := d.h
	v := d.openReplay(t, "0,3", "", func() {
		h.field(h.replayView(), fReplayFrom)
		h.keys("right")
		h.typeText("100")
		h.field(h.replayView(), fReplayHeader)
		h.typeText("producer=checkout-service")
	})
	command := v.Command()
	want := "mqops --brokers " + d.brokers + " replay orders:0,3 --to orders.replay --from-offset 100 --header producer=checkout-service --plan-limit 100000"
	if command != want {
		t.Fatalf("command %q, want %q", command, want)
	}
	it, _ := v.Plan()
	p := it.plan
	if !p.Complete || p.Records == 0 || p.Partitioning != actions.PartitionSame || len(p.Parts) != 2 || p.Parts[0].Start != 100 {
		t.Fatalf("plan %+v", p)
	}
	samePlan(t, p, cliReplayPlan(t, d.bin, command))
	h.keys("y")
	res, err := v.Result()
	if v.Stage() != action.StageDone || err != nil || res == nil || res.Replayed != p.Records || res.Left != 0 {
		t.Fatalf("run: stage %d, %+v, %v\n%s", v.Stage(), res, err, h.screen())
	}
	ends := d.ends(t, embedded.ReplayTarget)
	for _, pp := range p.Parts {
		if ends[pp.Partition] != int64(pp.Records) {
			t.Errorf("orders.replay/%d holds %d records, the plan counted %d", pp.Partition, ends[pp.Partition], pp.Records)
		}
		src := d.sources(t, embedded.ReplayTarget, pp.Partition, ends[pp.Partition])
		for off := pp.Start; off < pp.End; off++ {
			if n := src[fmt.Sprintf("orders/%d/%d", pp.Partition, off)]; n != 1 {
				t.Fatalf("orders/%d/%d replayed %d times", pp.Partition, off, n)
			}
		}
	}
	if n := ends[1] + ends[2] + ends[4] + ends[5]; n != 0 {
		t.Errorf("%d records went to partitions out of the replay", n)
	}
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %+v %v", es, err)
	}
	e := es[0]
	if e.Action != "replay" || e.Outcome != actions.OutcomeExecuted || e.Context != "flags" || e.Source != "kafka:orders:0,3" || e.Target != "kafka:orders.replay" ||
		e.RunID != p.RunID || e.Command != command || e.Plan == nil || e.Plan.Selected != int64(p.Records) || e.Result == nil ||
		e.Result.Done != int64(p.Records) || e.Result.Details["checkpoint"] != res.Checkpoint {
		t.Errorf("audit entry %+v plan %+v result %+v", e, e.Plan, e.Result)
	}
}

// TestReplayConsoleCancelResumes: on the demo's cluster, a replay cancelled
// from the console (esc, mid-run) leaves its checkpoint (cancelled, only
// what the target confirmed) and shows the `mqops replay --resume` that
// goes on; that command, run by the binary, replays the rest: every
// record of the range is in the target, none missing, duplicates at most
// the run's window.
func TestReplayConsoleCancelResumes(t *testing.T) {
	d := newReplayDemo(t)
	h := d.h
	v := d.openReplay(t, "1", "200", nil)
	it, _ := v.Plan()
	p := it.plan
	if p.Records < 400 {
		t.Fatalf("too few records to cancel in the middle: %+v", p)
	}
	_, cmd := h.m.Update(keyPress("y"))
	wait := step(h, cmd)
	for {
		wait = step(h, wait)
		if pr, _ := v.Progress(); pr.Done >= 50 || v.Stage() != action.StageRunning {
			break
		}
	}
	_, c := h.m.Update(keyPress("esc"))
	h.run(c)
	for i := 0; v.Stage() == action.StageRunning && i < 1000; i++ {
		wait = step(h, wait)
	}
	res, err := v.Result()
	if v.Stage() != action.StageDone || err == nil || res == nil || res.StoppedBecause != "cancelled" || res.Left == 0 {
		t.Fatalf("cancel: stage %d, %+v, %v\n%s", v.Stage(), res, err, h.screen())
	}
	data, err := os.ReadFile(res.Checkpoint)
	var cp actions.ReplayCheckpoint
	if err != nil || json.Unmarshal(data, &cp) != nil || cp.Status != actions.RunCancelled || cp.Context != "flags" || len(cp.Parts) != 1 ||
		cp.Parts[0].Next-cp.Parts[0].Start > int64(res.Replayed) {
		t.Fatalf("checkpoint %v\n%s", err, data)
	}
	resume := "mqops --brokers " + d.brokers + " replay --resume " + res.RunID
	if s := flat(h.screen()); !strings.Contains(s, "Replay cancelled") || !strings.Contains(s, resume) {
		t.Fatalf("the result lacks %q:\n%s", resume, h.screen())
	}
	out := runMqops(t, d.bin, append(commandArgs(t, resume), "--yes", "-o", "json", "--audit-file", filepath.Join(t.TempDir(), "cli-audit.jsonl"))...)
	var rr actions.ReplayResult
	if err := json.Unmarshal(out, &rr); err != nil || rr.RunID != res.RunID || rr.Left != 0 || rr.StoppedBecause != "end" {
		t.Fatalf("resume: %v %s", err, out)
	}
	pp := p.Parts[0]
	end := d.ends(t, embedded.ReplayTarget)[pp.Partition]
	src := d.sources(t, embedded.ReplayTarget, pp.Partition, end)
	dups := 0
	for off := pp.Start; off < pp.End; off++ {
		n := src[fmt.Sprintf("orders/%d/%d", pp.Partition, off)]
		if n == 0 {
			t.Fatalf("orders/%d/%d is missing after the resume", pp.Partition, off)
		}
		dups += n - 1
	}
	t.Logf("cancelled after %d of %d records; the resume replayed %d; %d duplicate(s), window %d", res.Replayed, p.Records, rr.Replayed, dups, p.Window)
	if dups > p.Window || end != int64(pp.End-pp.Start)+int64(dups) {
		t.Errorf("%d duplicates (window %d), %d records in the target for %d offsets", dups, p.Window, end, pp.End-pp.Start)
	}
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 1 || es[0].Outcome != actions.OutcomeCancelled || es[0].RunID != res.RunID {
		t.Errorf("audit: %+v %v", es, err)
	}
}
