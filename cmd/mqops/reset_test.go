package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

// resetWorld is a scenario on the real broker: topics a (3 partitions)
// and b (2), records one minute apart in time (their timestamps set by
// the producer), a's partition 0 with its log start moved to 3, and a
// group with committed offsets on every partition but a/2.
type resetWorld struct {
	t        *testing.T
	brokers  string
	cl       *kgo.Client
	adm      *kadm.Client
	a, b     string
	group    string
	base     time.Time // the first record's timestamp
	original map[string]int64
	env      []string
	state    string // the binary's XDG_STATE_HOME
}

// records per partition (a/0, a/1, a/2, b/0, b/1), one a minute from base
var resetCounts = map[string]int{"a/0": 10, "a/1": 4, "a/2": 6, "b/0": 8, "b/1": 3}

func newResetWorld(t *testing.T) *resetWorld {
	t.Helper()
	env := requireEnv(t, "KAFKA_BROKERS")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := fmt.Sprintf("reset-%d", time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(env["KAFKA_BROKERS"], ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	w := &resetWorld{t: t, brokers: env["KAFKA_BROKERS"], cl: cl, adm: kadm.NewClient(cl), a: run + ".a", b: run + ".b", group: run + ".g",
		base: time.Now().Add(-10 * time.Hour).Truncate(time.Second), env: isolatedEnv(t)}
	w.state = strings.TrimPrefix(w.env[1], "XDG_STATE_HOME=")
	for topic, parts := range map[string]int32{w.a: 3, w.b: 2} {
		if _, err := w.adm.CreateTopic(ctx, parts, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = w.adm.DeleteGroups(ctx, w.group)
		_, _ = w.adm.DeleteTopics(ctx, w.a, w.b)
		cl.Close()
	})
	var recs []*kgo.Record
	for tp, n := range resetCounts {
		topic, p := w.tp(tp)
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Timestamp: w.base.Add(time.Duration(i) * time.Minute), Value: []byte(strconv.Itoa(i))})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: w.a, Partition: 0, At: 3})
	if _, err := w.adm.DeleteRecords(ctx, del); err != nil {
		t.Fatal(err)
	}
	w.original = map[string]int64{w.a + "/0": 5, w.a + "/1": 2, w.b + "/0": 1, w.b + "/1": 3}
	w.restore()
	return w
}

// tp turns "a/0" into the topic and partition.
func (w *resetWorld) tp(s string) (string, int32) {
	name, p, _ := strings.Cut(s, "/")
	n, _ := strconv.Atoi(p)
	if name == "a" {
		return w.a, int32(n)
	}
	return w.b, int32(n)
}

// restore gives the group its original offsets: none on a/2.
func (w *resetWorld) restore() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := w.adm.DeleteOffsets(ctx, w.group, kadm.TopicsSet{w.a: {2: {}}}); err != nil && !strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") {
		w.t.Fatalf("delete offsets: %v", err)
	}
	offs := kadm.Offsets{}
	for k, v := range w.original {
		topic, p, _ := strings.Cut(k, "/")
		n, _ := strconv.Atoi(p)
		offs.Add(kadm.Offset{Topic: topic, Partition: int32(n), At: v, LeaderEpoch: -1})
	}
	commitRetrying(ctx, w.t, w.adm, w.group, offs)
	if got := w.committed(); !equalOffsets(got, w.original) {
		w.t.Fatalf("restored %v, want %v", got, w.original)
	}
}

// commitRetrying commits offs for group, retrying per-partition errors for
// a few seconds: a topic just created may not be known to the coordinator
// yet.
func commitRetrying(ctx context.Context, t *testing.T, adm *kadm.Client, group string, offs kadm.Offsets) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		resp, err := adm.CommitOffsets(ctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			return
		}
		if attempt == 50 {
			t.Fatalf("commit %s: %v", group, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// committed reads the group's offsets back with OffsetFetch.
func (w *resetWorld) committed() map[string]int64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := w.adm.FetchOffsets(ctx, w.group)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 && (o.Topic == w.a || o.Topic == w.b) {
			out[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.At
		}
	})
	return out
}

func equalOffsets(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// kcg runs Apache Kafka's kafka-consumer-groups (scripts/testenv).
func (w *resetWorld) kcg(args ...string) (string, error) {
	out, stderr, err := run(w.t, 2*time.Minute, nil, filepath.Join(repoRoot(w.t), "scripts", "testenv"), append([]string{"kafka-consumer-groups"}, args...)...)
	return out + stderr, err
}

// kcgPlan is kafka-consumer-groups --reset-offsets --dry-run: the new
// offset of every partition of its table.
func (w *resetWorld) kcgPlan(args ...string) map[string]int64 {
	w.t.Helper()
	out, err := w.kcg(append([]string{"--reset-offsets", "--dry-run", "--group", w.group}, args...)...)
	if err != nil {
		w.t.Fatalf("kafka-consumer-groups %v: %v\n%s", args, err, out)
	}
	plan := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != w.group {
			continue
		}
		p, err1 := strconv.Atoi(f[2])
		o, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			w.t.Fatalf("kafka-consumer-groups line %q", line)
		}
		plan[fmt.Sprintf("%s/%d", f[1], p)] = o
	}
	if len(plan) == 0 {
		w.t.Fatalf("kafka-consumer-groups %v planned nothing:\n%s", args, out)
	}
	return plan
}

// resetOut is the -o json of reset-offsets.
type resetOut struct {
	Group    string             `json:"group"`
	State    string             `json:"state"`
	Executed bool               `json:"executed"`
	Plan     []actions.ResetRow `json:"plan"`
	Verified bool               `json:"verified"`
	Previous string             `json:"previous_offsets"`
	Totals   actions.ResetTotals
	Command  string `json:"command"`
}

// mqops runs the built binary; it fails the test on a non-zero exit.
func (w *resetWorld) mqops(args ...string) resetOut {
	w.t.Helper()
	out, stderr, err := w.mqopsRaw(args...)
	if err != nil {
		w.t.Fatalf("mqops %v: %v\n%s%s", args, err, out, stderr)
	}
	var r resetOut
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		w.t.Fatalf("mqops %v: %v\n%s", args, err, out)
	}
	return r
}

func (w *resetWorld) mqopsRaw(args ...string) (string, string, error) {
	return run(w.t, 2*time.Minute, w.env, mqopsBin(w.t), append([]string{"reset-offsets", w.group, "--brokers", w.brokers, "-o", "json"}, args...)...)
}

func planMap(r resetOut) map[string]int64 {
	m := map[string]int64{}
	for _, row := range r.Plan {
		m[fmt.Sprintf("%s/%d", row.Topic, row.Partition)] = row.New
	}
	return m
}

func rowOf(r resetOut, topic string, p int32) actions.ResetRow {
	for _, row := range r.Plan {
		if row.Topic == topic && row.Partition == p {
			return row
		}
	}
	return actions.ResetRow{Partition: -1}
}

// TestResetOffsetsMatchesKafkaConsumerGroups is the oracle: for every
// mode and scope (clamping both ways, a --to-datetime between two records'
// timestamps, --by-duration in both notations, --from-file in both CSV
// forms, subsets of partitions, a partition without a committed offset),
// `mqops reset-offsets --dry-run -o json` plans the same new offsets as
// Apache Kafka's `kafka-consumer-groups --reset-offsets --dry-run`;
// executing it sets exactly those (read back with OffsetFetch), leaves
// every other partition alone, and writes the previous offsets to the
// --export file.
func TestResetOffsetsMatchesKafkaConsumerGroups(t *testing.T) {
	w := newResetWorld(t)
	a, b := w.a, w.b
	between := w.base.Add(270 * time.Second) // records at 0, 60, … s: the next is the 6th (offset 5)
	utc := between.UTC().Format("2006-01-02T15:04:05.000")
	zoned := between.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05.000-07:00")
	future := time.Now().Add(24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	dir := t.TempDir()
	csv3 := filepath.Join(dir, "plan3.csv")
	csv4 := filepath.Join(dir, "plan4.csv")
	_ = os.WriteFile(csv3, []byte(fmt.Sprintf("%s,0,0\n%s,1,99\n%s,0,2\n", a, a, b)), 0o600)                              // a/0 below its log start, a/1 above its end
	_ = os.WriteFile(csv4, []byte(fmt.Sprintf("other,%s,0,9\n%s,%s,0,7\n%s,%s,1,1\n", a, w.group, a, w.group, b)), 0o600) // two groups
	type check func(r resetOut) string
	clampedTo := func(topic string, p int32, want int64, requested int64) check {
		return func(r resetOut) string {
			row := rowOf(r, topic, p)
			if !row.Clamped || row.New != want || row.Requested == nil || *row.Requested != requested {
				return fmt.Sprintf("%s/%d: %+v, want clamped from %d to %d", topic, p, row, requested, want)
			}
			return ""
		}
	}
	newIs := func(topic string, p int32, want int64) check {
		return func(r resetOut) string {
			if row := rowOf(r, topic, p); row.New != want || row.Clamped {
				return fmt.Sprintf("%s/%d: %+v, want %d", topic, p, row, want)
			}
			return ""
		}
	}
	for _, c := range []struct {
		name   string
		mine   []string
		theirs []string // default: mine
		checks []check
	}{
		{name: "earliest/all-topics", mine: []string{"--to-earliest", "--all-topics"}, checks: []check{newIs(a, 0, 3)}},
		{name: "latest/topic", mine: []string{"--to-latest", "--topic", a}, checks: []check{newIs(a, 2, 6)}},
		{name: "current/no-committed-offset", mine: []string{"--to-current", "--topic", a}, checks: []check{newIs(a, 0, 5), newIs(a, 2, 6)}},
		{name: "offset/clamped-down", mine: []string{"--to-offset", "4", "--topic", a, "--topic", b}, checks: []check{newIs(a, 0, 4), clampedTo(b, 1, 3, 4)}},
		{name: "offset/clamped-up", mine: []string{"--to-offset", "1", "--topic", a + ":0,1"}, checks: []check{clampedTo(a, 0, 3, 1), newIs(a, 1, 1)}},
		{name: "offset/beyond-every-end", mine: []string{"--to-offset", "100", "--all-topics"}, checks: []check{clampedTo(a, 0, 10, 100)}},
		{name: "shift-back/clamped", mine: []string{"--shift-by", "-4", "--topic", a + ":0", "--topic", b}, checks: []check{clampedTo(a, 0, 3, 1), clampedTo(b, 0, 0, -3)}},
		{name: "shift-forward/clamped", mine: []string{"--shift-by", "3", "--all-topics"}, checks: []check{newIs(a, 0, 8), clampedTo(a, 1, 4, 5)}},
		{name: "datetime/between-records", mine: []string{"--to-datetime", utc, "--all-topics"}, checks: []check{newIs(a, 0, 5), newIs(a, 1, 4), newIs(b, 1, 3)}},
		{name: "datetime/zoned", mine: []string{"--to-datetime", zoned, "--topic", a}, checks: []check{newIs(a, 2, 5)}},
		{name: "datetime/after-every-record", mine: []string{"--to-datetime", future, "--topic", b}, checks: []check{newIs(b, 0, 8)}},
		{name: "duration/iso", mine: []string{"--by-duration", "<iso>", "--all-topics"}, checks: []check{newIs(a, 0, 5), newIs(b, 0, 5)}},
		{name: "duration/go", mine: []string{"--by-duration", "<go>", "--topic", b}, theirs: []string{"--by-duration", "<iso>", "--topic", b}, checks: []check{newIs(b, 0, 5)}},
		{name: "from-file/clamped", mine: []string{"--from-file", csv3}, checks: []check{clampedTo(a, 0, 3, 0), clampedTo(a, 1, 4, 99), newIs(b, 0, 2)}},
		{name: "from-file/with-groups", mine: []string{"--from-file", csv4}, checks: []check{newIs(a, 0, 7), newIs(b, 1, 1)}},
		{name: "subset", mine: []string{"--to-earliest", "--topic", a + ":0,2", "--topic", b + ":1"}, checks: []check{newIs(a, 2, 0)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w.t = t
			w.restore()
			// the durations are measured now: the records nearest to now − D are a minute away
			d := time.Since(between).Round(time.Second)
			subst := func(args []string) []string {
				out := append([]string(nil), args...)
				for i, s := range out {
					switch s {
					case "<iso>":
						out[i] = fmt.Sprintf("PT%dS", int64(d/time.Second))
					case "<go>":
						out[i] = d.String()
					}
				}
				return out
			}
			theirs := c.theirs
			if theirs == nil {
				theirs = c.mine
			}
			want := w.kcgPlan(subst(theirs)...)
			got := w.mqops(append(subst(c.mine), "--dry-run")...)
			if mine := planMap(got); !equalOffsets(mine, want) {
				t.Fatalf("mqops plans %v\nkafka-consumer-groups %v", mine, want)
			}
			for _, ck := range c.checks {
				if msg := ck(got); msg != "" {
					t.Error(msg)
				}
			}
			if got.Executed || got.State != "Empty" {
				t.Fatalf("dry run: %+v", got)
			}
			if !equalOffsets(w.committed(), w.original) {
				t.Fatalf("the dry run changed the offsets: %v", w.committed())
			}
			// executing sets exactly those, and nothing else
			export := filepath.Join(t.TempDir(), "previous.csv")
			res := w.mqops(append(subst(c.mine), "--yes", "--export", export)...)
			if !res.Executed || !res.Verified || res.Previous != export {
				t.Fatalf("execute: %+v", res)
			}
			after := w.committed()
			expect := map[string]int64{}
			for k, v := range w.original {
				expect[k] = v
			}
			for k, v := range want {
				expect[k] = v
			}
			if !equalOffsets(after, expect) {
				t.Fatalf("after the reset %v, want %v", after, expect)
			}
			// the previous offsets of the plan's partitions, for --from-file
			data, err := os.ReadFile(export)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for k := range want {
				if v, ok := w.original[k]; ok {
					topic, p, _ := strings.Cut(k, "/")
					lines = append(lines, fmt.Sprintf("%s,%s,%d", topic, p, v))
				}
			}
			sort.Strings(lines)
			if string(data) != strings.Join(lines, "\n")+"\n" {
				t.Fatalf("export %q, want %q", data, lines)
			}
		})
	}
	w.t = t
	// a shift on a partition without a committed offset: both refuse it
	w.restore()
	if out, err := w.kcg("--reset-offsets", "--dry-run", "--group", w.group, "--shift-by", "1", "--topic", a); err == nil || !strings.Contains(out, "no current committed offset") {
		t.Fatalf("kafka-consumer-groups shift without offset: %v\n%s", err, out)
	}
	if _, stderr, err := w.mqopsRaw("--shift-by", "1", "--topic", a, "--dry-run"); exitCode(err) != 1 || !strings.Contains(stderr, "has no committed offset there") {
		t.Fatalf("mqops shift without offset: %v\n%s", err, stderr)
	}
}

// describeCurrent is kafka-consumer-groups --describe: the CURRENT-OFFSET
// of each partition of the group.
func (w *resetWorld) describeCurrent() map[string]string {
	w.t.Helper()
	out, err := w.kcg("--describe", "--group", w.group)
	if err != nil {
		w.t.Fatalf("describe: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, r := range parseConsumerGroups(out, w.group) {
		m[fmt.Sprintf("%s/%d", r.topic, r.partition)] = r.current
	}
	return m
}

// TestResetOffsetsRollbackRoundTrip: a reset, then --from-file of the
// CSV it exported, gives back what kafka-consumer-groups --describe showed
// before.
func TestResetOffsetsRollbackRoundTrip(t *testing.T) {
	w := newResetWorld(t)
	before := w.describeCurrent()
	if len(before) != 4 {
		t.Fatalf("describe before: %v", before)
	}
	res := w.mqops("--to-latest", "--all-topics", "--yes")
	if !res.Verified || res.Previous == "" || !strings.HasPrefix(res.Previous, w.state) {
		t.Fatalf("reset: %+v", res)
	}
	if mid := w.describeCurrent(); mid[w.a+"/0"] != "10" || mid[w.b+"/0"] != "8" {
		t.Fatalf("after the reset: %v", mid)
	}
	back := w.mqops("--from-file", res.Previous, "--yes")
	if !back.Verified || back.Totals.Again != 5+2+7+0 {
		t.Fatalf("rollback: %+v", back)
	}
	if after := w.describeCurrent(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after the rollback %v, before %v", after, before)
	}
	es, _, err := actions.NewAuditLog(filepath.Join(w.state, "mqops", "audit.jsonl")).Read(0)
	if err != nil || len(es) != 2 || es[0].Result == nil || es[0].Result.Details["previous_offsets"] != res.Previous || es[0].Outcome != actions.OutcomeExecuted ||
		es[1].Outcome != actions.OutcomeExecuted || es[1].Target != "--from-file "+res.Previous || !strings.Contains(es[1].Command, " --from-file ") {
		t.Fatalf("audit %+v %v", es, err)
	}
}

// member makes the world's group Stable until the test ends: a franz-go
// consumer of topic a (the classic protocol), committing nothing.
func (w *resetWorld) member(t *testing.T, clientID string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	consumer, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(w.brokers, ",")...), kgo.ConsumerGroup(w.group), kgo.ConsumeTopics(w.a),
		kgo.ClientID(clientID), kgo.DisableAutoCommit())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); consumer.Close() })
	go func() {
		for ctx.Err() == nil {
			if consumer.PollFetches(ctx).IsClientClosed() {
				return
			}
		}
	}()
}

// TestResetOffsetsRefusesActiveGroup: a group with a member, of the
// classic protocol (a franz-go consumer) and of the KIP-848 protocol
// (Kafka's console consumer, group.protocol=consumer), is refused, the
// refusal naming the state and each member's client id and host, and
// nothing changes. Once the KIP-848 consumer has left, its group resets.
func TestResetOffsetsRefusesActiveGroup(t *testing.T) {
	w := newResetWorld(t)
	w.member(t, "reset-refusal-classic")
	refusal := func(group, client string) string {
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, stderr, err := run(t, time.Minute, w.env, mqopsBin(t), "reset-offsets", group, "--to-earliest", "--all-topics", "--dry-run", "--brokers", w.brokers)
			if err != nil && strings.Contains(stderr, "is Stable with") && strings.Contains(stderr, client) {
				return stderr
			}
			if time.Now().After(deadline) {
				t.Fatalf("never refused as Stable with %s: %v\n%s", client, err, stderr)
			}
			time.Sleep(time.Second)
		}
	}
	msg := refusal(w.group, `client id "reset-refusal-classic" on host /127.0.0.1`)
	if !strings.Contains(msg, "is Stable with 1 member(s): offsets can only be reset while it is Empty or Dead") {
		t.Fatalf("refusal: %s", msg)
	}
	if _, stderr, err := w.mqopsRaw("--to-earliest", "--all-topics", "--yes"); exitCode(err) != 1 || !strings.Contains(stderr, "is Stable with 1 member(s)") {
		t.Fatalf("execute on a Stable group: %v\n%s", err, stderr)
	}
	if !equalOffsets(w.committed(), w.original) {
		t.Fatalf("offsets changed: %v", w.committed())
	}

	// the KIP-848 protocol: Kafka's own console consumer
	group2 := w.group + ".848"
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "testenv"), "kafka-class", "org.apache.kafka.tools.consumer.ConsoleConsumer",
		"--bootstrap-server", w.brokers, "--topic", w.b, "--group", group2, "--from-beginning",
		"--consumer-property", "group.protocol=consumer", "--consumer-property", "client.id=reset-refusal-848")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // the consumer leaves its group on the way out
			_ = cmd.Wait()
		}
	}
	defer stop()
	defer func() { _, _ = w.adm.DeleteGroups(context.Background(), group2) }()
	msg = refusal(group2, `client id "reset-refusal-848"`)
	if !strings.Contains(msg, `consumer group "`+group2+`" is Stable with 1 member(s)`) {
		t.Fatalf("refusal: %s", msg)
	}
	stop()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, stderr, err := run(t, time.Minute, w.env, mqopsBin(t), "reset-offsets", group2, "--to-offset", "1", "--topic", w.b, "--yes", "-o", "json", "--brokers", w.brokers)
		if err == nil {
			var r resetOut
			if err := json.Unmarshal([]byte(out), &r); err != nil || !r.Verified || len(r.Plan) != 2 || r.Plan[0].New != 1 {
				t.Fatalf("reset of the KIP-848 group once empty: %v\n%s", err, out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the KIP-848 group never became resettable: %v\n%s", err, stderr)
		}
		time.Sleep(time.Second)
	}
	es, _, err := actions.NewAuditLog(filepath.Join(w.state, "mqops", "audit.jsonl")).Read(0)
	refused := 0
	for _, e := range es {
		if e.Outcome == actions.OutcomeRefused && strings.Contains(e.Reason, "is Stable") {
			refused++
		}
	}
	if err != nil || refused < 3 {
		t.Fatalf("audit: %d refusals in %+v (%v)", refused, es, err)
	}
}

// TestResetOffsetsBadInput: every bad value is refused with one clear line
// before anything is asked of the cluster (the broker address here is
// unreachable), and what only the cluster can tell (an unknown topic or
// partition, a group without offsets) is named.
func TestResetOffsetsBadInput(t *testing.T) {
	bin := mqopsBin(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.csv")
	_ = os.WriteFile(bad, []byte("orders,0,5\norders,1\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--to-offset", "-1", "--all-topics"}, "--to-offset: -1 is not an offset: offsets start at 0"},
		{[]string{"--to-offset", "NaN", "--all-topics"}, `--to-offset: "NaN" is not an offset`},
		{[]string{"--to-offset", "1e3", "--all-topics"}, `--to-offset: "1e3" is not an offset`},
		{[]string{"--shift-by", "9223372036854775808", "--all-topics"}, "--shift-by: 9223372036854775808 is out of range"},
		{[]string{"--shift-by", "ten", "--all-topics"}, `--shift-by: "ten" is not a whole number`},
		{[]string{"--to-datetime", "yesterday", "--all-topics"}, `--to-datetime: "yesterday" is not a date and time`},
		{[]string{"--to-datetime", "2024-01-01T10:00:00.000+0530", "--all-topics"}, "reads as +05:00"},
		{[]string{"--by-duration", "-PT1H", "--all-topics"}, "is negative"},
		{[]string{"--by-duration", "P99999D", "--all-topics"}, "reaches back before 1970"},
		{[]string{"--by-duration", "P999999D", "--all-topics"}, "out of range"},
		{[]string{"--to-earliest", "--to-latest", "--all-topics"}, "give one reset mode, not 2: --to-earliest, --to-latest"},
		{[]string{"--all-topics"}, "no reset mode"},
		{[]string{"--to-earliest"}, "no scope"},
		{[]string{"--to-earliest", "--all-topics", "--topic", "orders"}, "not both"},
		{[]string{"--to-earliest", "--topic", "orders:x"}, `"x" is not a partition number`},
		{[]string{"--to-earliest", "--topic", "bad topic"}, "is not a topic name"},
		{[]string{"--from-file", fifo}, "is a named pipe (FIFO), not a regular file"},
		{[]string{"--from-file", bad}, "bad.csv: line 2: 2 fields"},
		{[]string{"--from-file", filepath.Join(dir, "missing.csv")}, "no such file"},
		{[]string{"--to-earliest", "--all-topics", "--export", fifo}, "--export: \"" + fifo + "\" is a named pipe (FIFO)"},
		{[]string{"--to-earliest", "--all-topics", "--export", bad}, "already exists"},
		{[]string{"--to-earliest", "--all-topics", "--dry-run", "--yes"}, "drop --yes"},
		{[]string{"--to-earliest", "--all-topics", "-o", "yaml"}, "unknown output format"},
	} {
		start := time.Now()
		out, stderr, err := run(t, 30*time.Second, isolatedEnv(t), bin, append([]string{"reset-offsets", "g", "--brokers", "127.0.0.1:1"}, c.args...)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if exitCode(err) != 1 || out != "" || len(lines) != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", c.args, exitCode(err), out, stderr, c.want)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("%v: took %v", c.args, time.Since(start))
		}
	}

	w := newResetWorld(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--to-earliest", "--topic", w.a + ".nope"}, `unknown topic "` + w.a + `.nope"`},
		{[]string{"--to-earliest", "--topic", w.a + ":0,7"}, `topic "` + w.a + `" has no partition 7 (it has 3: 0 to 2)`},
		{[]string{"--to-earliest", "--topic", w.b + ":2", "--yes"}, `topic "` + w.b + `" has no partition 2`},
	} {
		_, stderr, err := w.mqopsRaw(append(c.args, "--dry-run")...)
		if c.args[len(c.args)-1] == "--yes" {
			_, stderr, err = w.mqopsRaw(c.args...)
		}
		if exitCode(err) != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: %v %q, want %q", c.args, err, stderr, c.want)
		}
	}
	// without a terminal to ask on and without --yes: refused after the plan
	if out, stderr, err := w.mqopsRaw("--to-earliest", "--all-topics"); exitCode(err) != 1 || out != "" ||
		!strings.Contains(stderr, "refusing to reset offsets without confirmation: no terminal to ask on (pass --yes in scripts)") {
		t.Errorf("no terminal, no --yes: %v %q %q", err, out, stderr)
	}
	// a hostile group name is shown escaped, never as terminal control
	out, stderr, err := run(t, time.Minute, w.env, bin, "reset-offsets", w.group+"\x1b[2J\u202e", "--to-earliest", "--topic", w.a, "--dry-run", "--brokers", w.brokers)
	if err != nil || strings.ContainsAny(out+stderr, "\x1b\u202e") || !strings.Contains(out, `\x1b[2J\u202e`) {
		t.Errorf("hostile group name: %v\n%q\n%q", err, out, stderr)
	}
	// a group without offsets: nothing in --all-topics
	_, stderr, err = run(t, time.Minute, w.env, bin, "reset-offsets", w.group+".none", "--to-earliest", "--all-topics", "--yes", "--brokers", w.brokers)
	if exitCode(err) != 1 || !strings.Contains(stderr, "nothing to reset") {
		t.Errorf("group without offsets: %v %q", err, stderr)
	}
	// a malformed file is refused before the cluster is asked, naming the line
	_ = os.WriteFile(bad, []byte(w.a+",0,5\n"+w.a+",1,5\n\n"+w.a+",2,five\n"), 0o600)
	if _, stderr, err := w.mqopsRaw("--from-file", bad, "--yes"); exitCode(err) != 1 || !strings.Contains(stderr, `line 4: "five" is not an offset`) {
		t.Errorf("malformed CSV: %v %q", err, stderr)
	}
	if !equalOffsets(w.committed(), w.original) {
		t.Fatalf("offsets changed: %v", w.committed())
	}
}

// TestResetOffsetsReadOnlyContext: a read-only context refuses the reset,
// dry runs included, and audits the refusal.
func TestResetOffsetsReadOnlyContext(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	cfg := filepath.Join(dir, "mqops", "config.yaml")
	_ = os.MkdirAll(filepath.Dir(cfg), 0o755)
	if err := os.WriteFile(cfg, []byte("current-context: prod\ncontexts:\n  prod:\n    color: red\n    read-only: true\n    kafka:\n      brokers: [127.0.0.1:1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	for _, extra := range []string{"--yes", "--dry-run"} {
		out, _, err := runCLI(t, "reset-offsets", "billing", "--to-earliest", "--all-topics", "--audit-file", auditPath, extra)
		if err == nil || err.Error() != `context "prod" is read-only: reset-offsets is not available` || out != "" {
			t.Fatalf("%s: %v %q", extra, err, out)
		}
	}
	es, _, _ := actions.NewAuditLog(auditPath).Read(0)
	if len(es) != 2 || es[0].Outcome != actions.OutcomeRefused || es[0].Action != "reset-offsets" || es[0].Source != "kafka-group:billing" ||
		es[0].Command != "mqops --context prod reset-offsets billing --to-earliest --all-topics" || !strings.Contains(es[1].Reason, "is read-only") {
		t.Fatalf("audit %+v", es)
	}
}

// TestResetOffsetsSilentBroker: against a peer that accepts and never
// answers (or answers ApiVersions and then stalls), a dry run and an
// execution each fail within 1.5 × --timeout (a correctness bound: one
// call's timeout, not a multiple), with one line naming the broker.
func TestResetOffsetsSilentBroker(t *testing.T) {
	bin := mqopsBin(t)
	for _, peer := range []struct {
		name string
		addr func(testing.TB) string
	}{{"silent", kafkatest.Silent}, {"handshake-then-silent", kafkatest.HandshakeThenSilent}} {
		addr := peer.addr(t)
		for _, mode := range []string{"--dry-run", "--yes"} {
			t.Run(peer.name+mode, func(t *testing.T) {
				start := time.Now()
				_, stderr, err := run(t, 20*time.Second, isolatedEnv(t), bin, "reset-offsets", "g", "--to-earliest", "--all-topics", mode, "--brokers", addr, "--timeout", "1s")
				took := time.Since(start)
				want := fmt.Sprintf("mqops: kafka %s did not answer within 1s\n", addr)
				if exitCode(err) != 1 || stderr != want {
					t.Fatalf("exit %d (%v), stderr %q, want %q", exitCode(err), err, stderr, want)
				}
				if took > 1500*time.Millisecond {
					t.Fatalf("took %v with --timeout 1s", took)
				}
			})
		}
	}
}
