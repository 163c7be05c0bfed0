package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends/kafka"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
	"github.com/mqops/mqops/tui/action"
)

// resetBroker is a topic and consumer groups of the test's own on the
// real broker, and the mqops binary ($MQOPS_BIN) for the headless side.
type resetBroker struct {
	brokers string
	bin     string
	topic   string
	adm     *kadm.Client
	base    time.Time // the first record's timestamp; one a minute
}

// newResetBroker creates a topic of 3 partitions holding 10, 6 and 4
// records, one a minute from base (skipped without the broker or the
// binary, unless MQOPS_REQUIRE_INTEGRATION=1).
func newResetBroker(t *testing.T) *resetBroker {
	t.Helper()
	brokers, bin := os.Getenv("KAFKA_BROKERS"), os.Getenv("MQOPS_BIN")
	if brokers == "" || bin == "" {
		if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("KAFKA_BROKERS and MQOPS_BIN (go build -o bin/mqops ./cmd/mqops) must be set")
		}
		t.Skip("KAFKA_BROKERS or MQOPS_BIN not set: integration test skipped")
	}
	b := &resetBroker{brokers: brokers, bin: bin, topic: fmt.Sprintf("wire-reset-%x", rand.Uint64()),
		base: time.Now().Add(-5 * time.Hour).Truncate(time.Second)}
	cl, adm := kafkatest.CreateTopic(t, strings.Split(brokers, ","), b.topic, 3, nil)
	b.adm = adm
	for p, n := range []int{10, 6, 4} {
		times := make([]time.Time, n)
		for i := range times {
			times[i] = b.base.Add(time.Duration(i) * time.Minute)
		}
		kafkatest.Produce(t, cl, b.topic, int32(p), times...)
	}
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // the console's rollback files
	return b
}

// console opens the console on the real broker, as `mqops --brokers …`
// opens it (its commands' global flags), with an audit log of its own.
func (b *resetBroker) console(t *testing.T) *harness {
	t.Helper()
	k, err := kafka.New(kafka.Config{Brokers: strings.Split(b.brokers, ","), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return newHarness(t, Options{Kafka: k, KafkaResetter: k, Cluster: b.brokers, CommandArgs: []string{"--brokers", b.brokers},
		Audit: actions.NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))}, nil)
}

// committed reads group's offsets on the topic back (OffsetFetch).
func (b *resetBroker) committed(t *testing.T, group string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := b.adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 && o.Topic == b.topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

// cliPlan runs command (the console's equivalent headless command) with
// --dry-run -o json and returns its plan.
func (b *resetBroker) cliPlan(t *testing.T, command string) []actions.ResetRow {
	t.Helper()
	if strings.ContainsAny(command, `'"$\`) {
		t.Fatalf("the command needs a shell to split: %s", command)
	}
	args := append(strings.Fields(command)[1:], "--dry-run", "-o", "json", "--audit-file", filepath.Join(t.TempDir(), "cli-audit.jsonl"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s --dry-run -o json: %v\n%s", command, err, stderr.String())
	}
	var out struct {
		Executed bool               `json:"executed"`
		Plan     []actions.ResetRow `json:"plan"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Executed || len(out.Plan) == 0 {
		t.Fatalf("dry run output %q: %v", stdout.String(), err)
	}
	return out.Plan
}

// TestResetConsoleMatchesHeadlessPlan: on the real broker, the console's
// reset of an Empty group (R, a mode, a scope, y) commits exactly the
// offsets that `mqops reset-offsets --dry-run -o json` plans when given
// the console's equivalent command; the console's plan is that plan row
// for row, and the console writes one typed audit entry per reset, with
// the rollback file. Two resets: --to-datetime between two records on the
// whole topic (a partition without an offset included), then --shift-by
// past the log end (clamped).
func TestResetConsoleMatchesHeadlessPlan(t *testing.T) {
	b := newResetBroker(t)
	group := b.topic + ".g"
	kafkatest.Commit(t, b.adm, group, b.topic, map[int32]int64{0: 8, 1: 1})
	h := b.console(t)
	at := b.base.Add(4*time.Minute + 30*time.Second).UTC().Format("2006-01-02T15:04:05.000Z")

	for i, c := range []struct {
		mode  int // options right of earliest
		value string
		scope string
		want  map[int32]int64
	}{
		// the first record at or after 4m30s: offset 5 on p0 and p1, the log end (4) on p2
		{mode: 5, value: at, scope: b.topic, want: map[int32]int64{0: 5, 1: 5, 2: 4}},
		// 5 + 100 past the log end: clamped to it
		{mode: 4, value: "+100", scope: b.topic + ":0,2", want: map[int32]int64{0: 10, 1: 5, 2: 4}},
	} {
		h.command("groups")
		h.selectRow(group)
		h.keys("R")
		for j := 0; j < c.mode; j++ {
			h.keys("right")
		}
		h.typeText(c.value)
		h.keys("down", "right")
		h.typeText(c.scope)
		h.keys("enter")
		v := h.resetView()
		if v.Stage() != action.StagePlan {
			t.Fatalf("reset %d: stage %d, %s\n%s", i, v.Stage(), v.FormError(), h.screen())
		}
		command := v.Command()
		p, _ := v.Plan()
		if !strings.HasPrefix(command, "mqops --brokers "+b.brokers+" reset-offsets "+group+" --") || len(p.items) != 1 || p.items[0].plan == nil {
			t.Fatalf("reset %d: command %q, plan %+v", i, command, p)
		}
		cli := b.cliPlan(t, command)
		if !reflect.DeepEqual(p.items[0].plan.Rows, cli) {
			t.Fatalf("reset %d: the console planned\n%+v\nthe command line\n%+v", i, p.items[0].plan.Rows, cli)
		}
		h.keys("y")
		out, err := v.Result()
		if v.Stage() != action.StageDone || err != nil || out == nil || out.runs[0].res == nil || !out.runs[0].res.Verified {
			t.Fatalf("reset %d: stage %d, %+v, %v\n%s", i, v.Stage(), out, err, h.screen())
		}
		got := b.committed(t, group)
		for _, r := range cli {
			if got[r.Partition] != r.New {
				t.Errorf("reset %d: partition %d at %d, the command line planned %d", i, r.Partition, got[r.Partition], r.New)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("reset %d: offsets %v, want %v", i, got, c.want)
		}
		es, _, err := h.m.opts.Audit.Read(0)
		if err != nil || len(es) != i+1 {
			t.Fatalf("reset %d: audit %+v %v", i, es, err)
		}
		e, res := es[i], out.runs[0].res
		if e.Action != "reset-offsets" || e.Outcome != actions.OutcomeExecuted || e.Source != "kafka-group:"+group || e.Command != command ||
			e.RunID != res.RunID || e.Plan == nil || e.Plan.Total != int64(len(cli)) || e.Result == nil || e.Result.Done != int64(len(cli)) ||
			e.Result.Details["previous_offsets"] != res.Previous || e.Result.Details["verified"] != true {
			t.Errorf("reset %d: audit entry %+v plan %+v result %+v", i, e, e.Plan, e.Result)
		}
		if _, err := os.Stat(res.Previous); err != nil {
			t.Errorf("reset %d: rollback file: %v", i, err)
		}
		h.keys("enter")
	}
}

// TestResetConsoleRefusesStableGroup: on the real broker, a group with a
// member is refused by the console's plan: the screen names its state and
// the member's client id and host, nothing can be confirmed, nothing
// changes, and the refusal is recorded once.
func TestResetConsoleRefusesStableGroup(t *testing.T) {
	b := newResetBroker(t)
	group := b.topic + ".live"
	kafkatest.Commit(t, b.adm, group, b.topic, map[int32]int64{0: 3, 1: 3, 2: 3})
	ctx, cancel := context.WithCancel(context.Background())
	member, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(b.brokers, ",")...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(b.topic),
		kgo.ClientID("wire-reset-member"), kgo.DisableAutoCommit())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); member.Close() })
	go func() {
		for ctx.Err() == nil {
			if member.PollFetches(ctx).IsClientClosed() {
				return
			}
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		gs, err := b.adm.DescribeGroups(dctx, group)
		dcancel()
		if err == nil && gs[group].State == "Stable" && len(gs[group].Members) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group never became Stable: %+v %v", gs, err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	h := b.console(t)
	h.selectRow(group)
	h.keys("R", "enter")
	v := h.resetView()
	s := flat(h.screen())
	for _, want := range []string{"is Stable with 1 member(s): offsets can only be reset while it is Empty or Dead",
		`client id "wire-reset-member" on host /`, "the reset is refused (above): nothing was changed"} {
		if v.Stage() != action.StagePlan || !strings.Contains(s, want) {
			t.Errorf("stage %d, the refusal lacks %q:\n%s", v.Stage(), want, h.screen())
		}
	}
	h.keys("y")
	if v.Stage() != action.StageForm {
		t.Fatalf("a refused plan was confirmed: stage %d", v.Stage())
	}
	if got := b.committed(t, group); !reflect.DeepEqual(got, map[int32]int64{0: 3, 1: 3, 2: 3}) {
		t.Errorf("offsets moved: %v", got)
	}
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 1 || es[0].Outcome != actions.OutcomeRefused || es[0].Source != "kafka-group:"+group ||
		!strings.Contains(es[0].Reason, "is Stable with 1 member(s)") || !strings.Contains(es[0].Reason, `client id "wire-reset-member"`) ||
		es[0].Command != "mqops --brokers "+b.brokers+" reset-offsets "+group+" --to-earliest --all-topics" {
		t.Fatalf("audit of the refusal: %+v %v", es, err)
	}
}
