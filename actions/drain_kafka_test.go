package actions

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka"
)

// kafkaPayloadMarker is in every dead letter's value: it must never reach
// the audit log.
const kafkaPayloadMarker = "PAYLOAD-card-4111111111111111"

// kafkaWorld is a kfake cluster with origin topics "a" and "b" (3
// partitions each), a target topic "c" (4 partitions) and a dead-letter
// topic "a.DLT" (2 partitions).
type kafkaWorld struct {
	t       *testing.T
	brokers []string
	cl      *kgo.Client
	k       *kafka.Client
}

func newKafkaWorld(t *testing.T) *kafkaWorld {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "a"), kfake.SeedTopics(3, "b"), kfake.SeedTopics(4, "c"), kfake.SeedTopics(2, "a.DLT"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return kafkaWorldOn(t, c.ListenAddrs())
}

func kafkaWorldOn(t *testing.T, brokers []string) *kafkaWorld {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	k, err := kafka.New(kafka.Config{Brokers: brokers, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return &kafkaWorld{t: t, brokers: brokers, cl: cl, k: k}
}

// springDeadLetter is dead letter id of origin/op as Spring's
// DeadLetterPublishingRecoverer writes it (binary partition and offset).
func springDeadLetter(dlt string, p int32, origin string, op int32, id int) *kgo.Record {
	return &kgo.Record{Topic: dlt, Partition: p, Key: []byte(fmt.Sprintf("key-%d", id)),
		Value: []byte(fmt.Sprintf(`{"id":%d,"card":"%s"}`, id, kafkaPayloadMarker)),
		Headers: []kgo.RecordHeader{
			{Key: "id", Value: []byte(fmt.Sprint(id))},
			{Key: "kafka_dlt-original-topic", Value: []byte(origin)},
			{Key: "kafka_dlt-original-partition", Value: binary.BigEndian.AppendUint32(nil, uint32(op))},
			{Key: "kafka_dlt-original-offset", Value: binary.BigEndian.AppendUint64(nil, uint64(id))},
			{Key: "kafka_dlt-exception-fqcn", Value: []byte("com.example.PoisonPill")},
			{Key: "kafka_dlt-exception-message", Value: []byte("boom " + kafkaPayloadMarker)},
		}}
}

func (w *kafkaWorld) produce(recs ...*kgo.Record) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		w.t.Fatal(err)
	}
}

// seed writes nA dead letters from "a" and nB from "b" into dlt (ids 0..),
// dead letter id pointing to partition id%3 of its origin.
func (w *kafkaWorld) seed(dlt string, nA, nB int) {
	w.t.Helper()
	var recs []*kgo.Record
	for i := range nA + nB {
		origin := "a"
		if i >= nA {
			origin = "b"
		}
		recs = append(recs, springDeadLetter(dlt, int32(i%2), origin, int32(i%3), i))
	}
	w.produce(recs...)
}

// read returns every record of topic (which must not be transactional).
func (w *kafkaWorld) read(topic string) []*kgo.Record {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(w.cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		w.t.Fatal(err)
	}
	want := int64(0)
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	if want == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		w.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			w.t.Fatalf("reading %s: %d of %d records", topic, len(out), want)
		}
		fs.EachError(func(_ string, _ int32, err error) { w.t.Fatalf("reading %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// committed is the sum of the group's committed offsets on topic.
func (w *kafkaWorld) committed(group, topic string) int64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(w.cl).FetchOffsets(ctx, group)
	if err != nil && !strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") {
		w.t.Fatal(err)
	}
	sum := int64(0)
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			sum += o.At
		}
	})
	return sum
}

func hdr(r *kgo.Record, key string) []byte {
	var v []byte
	for _, h := range r.Headers {
		if h.Key == key {
			v = h.Value
		}
	}
	return v
}

func TestKafkaDrainValidate(t *testing.T) {
	for to, want := range map[string]string{
		"":                   "no --to",
		"somewhere":          `invalid --to "somewhere": want origin or topic:<name>`,
		"topic:":             "topic: needs a topic name",
		"exchange:x":         "exchange: and file: are for RabbitMQ",
		"file:/tmp/x.jsonl":  "exchange: and file: are for RabbitMQ",
		"topic:a.DLT":        "the dead-letter topic itself",
		"topic: spaced-name": "topic: needs a topic name",
	} {
		o := KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: to}
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--to %q: %v, want %q", to, err, want)
		}
	}
	o := KafkaDrainOptions{Context: "prod", ReadOnly: true, Topic: "a.DLT", To: "origin"}
	if err := o.Validate(); err == nil || err.Error() != `context "prod" is read-only: drains are not available` {
		t.Fatalf("read-only: %v", err)
	}
	o = KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin", Limit: -1}
	if err := o.Validate(); err == nil {
		t.Fatal("negative limit accepted")
	}
	o = KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:c"}
	if err := o.Validate(); err != nil || o.Group != "mqops-drain.a.DLT" || o.Window != kafka.DefaultMoveWindow || o.RunID == "" {
		t.Fatalf("defaults: %+v %v", o, err)
	}
}

// TestKafkaDrainPlanCounts: the plan counts the records per target topic,
// honours the limit, moves and commits nothing.
func TestKafkaDrainPlanCounts(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 30, 20)
	ctx := context.Background()
	p, err := planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"})
	if err != nil {
		t.Fatal(err)
	}
	want := []PlanRoute{{Target: "topic a", Count: 30}, {Target: "topic b", Count: 20}}
	if p.Source != "kafka:a.DLT" || p.To != "origin" || p.Sampled != 50 || p.Selected != 50 || !p.Complete || len(p.Problems) != 0 ||
		fmt.Sprint(p.Routes) != fmt.Sprint(want) {
		t.Fatalf("plan %+v", p)
	}
	if s := p.Summary(); s != "50 message(s) from kafka:a.DLT: 30 → topic a, 20 → topic b" {
		t.Errorf("summary %q", s)
	}
	p, err = planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin", Limit: 7})
	if err != nil || p.Sampled != 7 || p.Selected != 7 {
		t.Fatalf("limited plan %+v %v", p, err)
	}
	p, err = planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:c"})
	if err != nil || p.Selected != 50 || len(p.Routes) != 1 || p.Routes[0] != (PlanRoute{Target: "topic c", Count: 50}) {
		t.Fatalf("topic plan %+v %v", p, err)
	}
	if n := len(w.read("a")) + len(w.read("b")) + len(w.read("c")); n != 0 {
		t.Fatalf("a plan produced %d records", n)
	}
	if c := w.committed("mqops-drain.a.DLT", "a.DLT"); c != 0 {
		t.Fatalf("a plan committed %d", c)
	}
	_, err = planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "nope.DLT", To: "origin"})
	if err == nil || !strings.Contains(err.Error(), `unknown topic "nope.DLT"`) {
		t.Fatalf("unknown source: %v", err)
	}
}

// TestKafkaDrainToOriginKeepsKeyAndPartition: every dead letter goes back to
// its origin topic, at its original partition, with its key and value; the
// drain group ends at the log end; a second run moves nothing.
func TestKafkaDrainToOriginKeepsKeyAndPartition(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 30, 20)
	ctx := context.Background()
	log := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	var last Progress
	res, err := runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin", RunID: "run-1"}, nil, log, func(p Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID != "run-1" || res.Moved != 50 || res.Failed != 0 || res.Left != 0 || res.Seen != 50 || res.StoppedBecause != "end" || res.Rate <= 0 {
		t.Fatalf("result %+v", res)
	}
	if last.Done != 50 || last.Seen != 50 || last.Total != 50 {
		t.Fatalf("last progress %+v", last)
	}
	dl := map[string]*kgo.Record{}
	for _, r := range w.read("a.DLT") {
		dl[string(hdr(r, "id"))] = r
	}
	got := 0
	for _, origin := range []string{"a", "b"} {
		for _, r := range w.read(origin) {
			got++
			id := string(hdr(r, "id"))
			d := dl[id]
			if d == nil {
				t.Fatalf("%s/%d/%d: unknown id %q", origin, r.Partition, r.Offset, id)
			}
			if string(hdr(d, "kafka_dlt-original-topic")) != origin {
				t.Errorf("id %s landed in %s", id, origin)
			}
			if want := int32(binary.BigEndian.Uint32(hdr(d, "kafka_dlt-original-partition"))); r.Partition != want {
				t.Errorf("id %s in partition %d, want %d", id, r.Partition, want)
			}
			if !bytes.Equal(r.Key, d.Key) || !bytes.Equal(r.Value, d.Value) {
				t.Errorf("id %s: key or value changed", id)
			}
			if string(hdr(r, kafka.HeaderRunID)) != "run-1" || string(hdr(r, kafka.HeaderReplaySource)) != fmt.Sprintf("a.DLT/%d/%d", d.Partition, d.Offset) {
				t.Errorf("id %s: replay headers %q %q", id, hdr(r, kafka.HeaderRunID), hdr(r, kafka.HeaderReplaySource))
			}
		}
	}
	if got != 50 {
		t.Fatalf("%d records in the origin topics, want 50", got)
	}
	if c := w.committed("mqops-drain.a.DLT", "a.DLT"); c != 50 {
		t.Fatalf("drain group committed %d, want 50", c)
	}
	res, err = runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"}, nil, log, nil)
	if err != nil || res.Moved != 0 || res.Left != 0 || res.StoppedBecause != "end" {
		t.Fatalf("second run %+v %v", res, err)
	}
}

// TestKafkaDrainToTopic moves everything to one topic, partitioned by key:
// the same key always lands in the same partition.
func TestKafkaDrainToTopic(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 30, 20)
	w.produce(springDeadLetter("a.DLT", 0, "a", 0, 1000)) // a second record of key-1000 ...
	w.produce(springDeadLetter("a.DLT", 1, "a", 0, 1000)) // ... from the other DLT partition
	res, err := runKafkaDrain(context.Background(), w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:c"}, nil, testAudit(t), nil)
	if err != nil || res.Moved != 52 || res.Left != 0 {
		t.Fatalf("result %+v %v", res, err)
	}
	if n := len(w.read("a")) + len(w.read("b")); n != 0 {
		t.Fatalf("%d records went to the origin topics", n)
	}
	parts := map[string]map[int32]bool{}
	recs := w.read("c")
	for _, r := range recs {
		k := string(r.Key)
		if parts[k] == nil {
			parts[k] = map[int32]bool{}
		}
		parts[k][r.Partition] = true
	}
	if len(recs) != 52 || len(parts) != 51 || len(parts["key-1000"]) != 1 {
		t.Fatalf("%d records, %d keys, key-1000 in partitions %v", len(recs), len(parts), parts["key-1000"])
	}
	used := map[int32]bool{}
	for _, ps := range parts {
		for p := range ps {
			used[p] = true
		}
	}
	if len(used) < 2 {
		t.Fatalf("51 keys all in partitions %v: not partitioned by key", used)
	}
}

// TestKafkaDrainLimit moves Limit records, then the rest, none twice.
func TestKafkaDrainLimit(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 30, 20)
	ctx := context.Background()
	res, err := runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin", Limit: 15}, nil, testAudit(t), nil)
	if err != nil || res.Moved != 15 || res.Left != 35 || res.StoppedBecause != "limit" {
		t.Fatalf("limited %+v %v", res, err)
	}
	if c := w.committed("mqops-drain.a.DLT", "a.DLT"); c != 15 {
		t.Fatalf("committed %d, want 15", c)
	}
	p, err := planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"})
	if err != nil || p.Selected != 35 {
		t.Fatalf("plan of the rest %+v %v", p, err)
	}
	res, err = runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"}, nil, testAudit(t), nil)
	if err != nil || res.Moved != 35 || res.Left != 0 {
		t.Fatalf("rest %+v %v", res, err)
	}
	seen := map[string]int{}
	for _, topic := range []string{"a", "b"} {
		for _, r := range w.read(topic) {
			seen[string(hdr(r, "id"))]++
		}
	}
	if len(seen) != 50 {
		t.Fatalf("%d distinct ids moved, want 50", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("id %s moved %d times", id, n)
		}
	}
}

// TestKafkaDrainReadOnlyRefused: a read-only context moves nothing and the
// refusal is audited.
func TestKafkaDrainReadOnlyRefused(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 5, 0)
	log := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	o := KafkaDrainOptions{Context: "prod", ReadOnly: true, Topic: "a.DLT", To: "origin"}
	if _, err := planKafkaDrain(context.Background(), w.k, o); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("plan: %v", err)
	}
	res, err := runKafkaDrain(context.Background(), w.k, o, nil, log, nil)
	if err == nil || res != nil || err.Error() != `context "prod" is read-only: drains are not available` {
		t.Fatalf("execute: %+v %v", res, err)
	}
	if n := len(w.read("a")); n != 0 {
		t.Fatalf("%d records moved", n)
	}
	es, _, err := log.Read(0)
	if err != nil || len(es) != 1 || es[0].Outcome != OutcomeRefused || es[0].Context != "prod" || es[0].Source != "kafka:a.DLT" ||
		es[0].Reason != `context "prod" is read-only: drains are not available` || es[0].Command != "mqops drain kafka:a.DLT --to origin" {
		t.Fatalf("audit %+v %v", es, err)
	}
}

// TestKafkaDrainMissingTarget: a missing target topic and records without
// an origin header are problems of the plan; the execute stops with a clear
// error.
func TestKafkaDrainMissingTarget(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 10, 0)
	w.produce(springDeadLetter("a.DLT", 1, "gone", 0, 100))
	w.produce(&kgo.Record{Topic: "a.DLT", Partition: 0, Key: []byte("k"), Value: []byte("no headers")})
	ctx := context.Background()
	p, err := planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Sampled != 12 || p.Selected != 10 || len(p.Routes) != 2 || p.Routes[1] != (PlanRoute{Target: "topic gone", Count: 1, Problem: "topic does not exist: the drain would stop at the first record for it"}) ||
		len(p.Problems) != 2 || !strings.Contains(p.Problems[1], "1 record(s) have no original-topic header (first: partition 0 offset 5)") {
		t.Fatalf("plan %+v", p)
	}
	p, err = planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:nope"})
	if err != nil || p.Selected != 0 || len(p.Problems) != 1 || !strings.Contains(p.Problems[0], "topic nope: topic does not exist") {
		t.Fatalf("plan to a missing topic %+v %v", p, err)
	}

	log := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	res, err := runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "topic:nope"}, nil, log, nil)
	if err == nil || err.Error() != `unknown target topic "nope": nothing was moved` || res == nil || res.Moved != 0 || res.StoppedBecause != "error" {
		t.Fatalf("execute to a missing topic: %+v %v", res, err)
	}
	res, err = runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"}, nil, log, nil)
	if err == nil || res == nil || res.StoppedBecause != "error" || res.Failed != 1 {
		t.Fatalf("execute to origin: %+v %v", res, err)
	}
	if !strings.Contains(err.Error(), `unknown target topic "gone"`) && !strings.Contains(err.Error(), "no target for a.DLT partition 0 offset 5") {
		t.Fatalf("error does not say what stopped it: %v", err)
	}
	es, _, _ := log.Read(0)
	if len(es) != 2 || es[0].Outcome != "failed" || es[1].Outcome != "failed" || !strings.Contains(es[0].Error, `"nope"`) {
		t.Fatalf("audit %+v", es)
	}
	if _, err := runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "nope.DLT", To: "origin"}, nil, testAudit(t), nil); err == nil || !strings.Contains(err.Error(), `unknown topic "nope.DLT"`) {
		t.Fatalf("unknown source: %v", err)
	}
}

// TestKafkaDrainAudit: one entry per run with parameters, plan, result and
// duration, and never a payload.
func TestKafkaDrainAudit(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 8, 4)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log := NewAuditLog(path)
	o := KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin", Limit: 10, Rate: 500, RunID: "run-audit"}
	run := &Runner{Audit: log, Globals: []string{"--context", "local"}}
	a := &KafkaDrain{Broker: w.k, Options: o}
	p, err := run.Plan(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.DryRun(a, p, DryRunFlag); err != nil {
		t.Fatal(err)
	}
	if _, err := run.Execute(ctx, a, p, nil); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(kafkaPayloadMarker)) || bytes.Contains(raw, []byte("key-")) {
		t.Fatalf("the audit log holds payload text:\n%s", raw)
	}
	es, bad, err := log.Read(0)
	if err != nil || bad != 0 || len(es) != 2 {
		t.Fatalf("%d entries, %d bad, %v", len(es), bad, err)
	}
	dry, ran := es[0], es[1]
	const cmd = "mqops --context local drain kafka:a.DLT --to origin --limit 10 --rate 500"
	if dry.Outcome != OutcomeDryRun || dry.Reason != DryRunFlag || dry.Action != "drain" || dry.RunID != "run-audit" || dry.Command != cmd || dry.Result != nil ||
		dry.Plan == nil || dry.Plan.Summary != "10 message(s) from kafka:a.DLT: 8 → topic a, 2 → topic b" || dry.Plan.Selected != 10 || dry.Plan.Total != 10 {
		t.Fatalf("dry run entry %+v %+v", dry, dry.Plan)
	}
	if ran.Outcome != OutcomeExecuted || ran.Action != "drain" || ran.Context != "local" || ran.RunID != "run-audit" || ran.User == "" || ran.Time.IsZero() || ran.DurationMS <= 0 ||
		ran.Source != "kafka:a.DLT" || ran.Target != "origin" || ran.Command != cmd || ran.Error != "" || ran.Reason != "" {
		t.Fatalf("run entry %+v", ran)
	}
	if ran.Plan == nil || ran.Plan.Summary != dry.Plan.Summary {
		t.Errorf("plan %+v", ran.Plan)
	}
	if r := ran.Result; r == nil || r.Done != 10 || r.Failed != 0 || r.Left != 2 || r.StoppedBecause != "limit" || r.Details != nil {
		t.Errorf("result %+v", r)
	}
	// without a plan given, the result says what the run did
	o.Limit, o.RunID = 0, ""
	if _, err := runKafkaDrain(ctx, w.k, o, nil, log, nil); err != nil {
		t.Fatal(err)
	}
	es, _, _ = log.Read(1)
	if es[0].Plan != nil || es[0].Result == nil || es[0].Result.Done != 2 || es[0].RunID == "" || es[0].Outcome != OutcomeExecuted {
		t.Fatalf("entry without a plan %+v", es[0])
	}
}

// TestKafkaDrainCancelled: cancelling stops a rate-limited drain cleanly;
// what was moved is committed and the rest is moved by the next run.
func TestKafkaDrainCancelled(t *testing.T) {
	w := newKafkaWorld(t)
	w.seed("a.DLT", 100, 0)
	ctx, cancel := context.WithCancel(context.Background())
	log := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	res, err := runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin", Rate: 100}, nil, log, func(p Progress) {
		if p.Done >= 10 {
			cancel()
		}
	})
	if err == nil || res == nil || res.StoppedBecause != "cancelled" || res.Moved < 10 || res.Moved >= 100 || res.Moved+res.Left != 100 {
		t.Fatalf("cancelled: %+v %v", res, err)
	}
	if c := w.committed("mqops-drain.a.DLT", "a.DLT"); c != int64(res.Moved) {
		t.Fatalf("committed %d, moved %d", c, res.Moved)
	}
	es, _, _ := log.Read(0)
	if len(es) != 1 || es[0].Outcome != OutcomeCancelled || es[0].Result.StoppedBecause != "cancelled" || es[0].Result.Done != int64(res.Moved) || es[0].Error == "" {
		t.Fatalf("audit %+v", es)
	}
	rest, err := runKafkaDrain(context.Background(), w.k, KafkaDrainOptions{Context: "local", Topic: "a.DLT", To: "origin"}, nil, testAudit(t), nil)
	if err != nil || rest.Moved != res.Left || len(w.read("a")) != 100 {
		t.Fatalf("rest %+v %v", rest, err)
	}
}

var _ backends.KafkaDeadLetters = (*kafka.Client)(nil)

// TestKafkaDrainMovesWhatThePlanShowed: records that reach the dead-letter
// topic between the preview and the confirmed run are not moved: the run
// stops on each partition where the plan stopped. The next plan and run
// take them.
func TestKafkaDrainMovesWhatThePlanShowed(t *testing.T) {
	w := newKafkaWorld(t)
	checkDrainMovesThePlan(t, w, "a.DLT", "a")
}

// checkDrainMovesThePlan seeds 10 dead letters of origin in dlt (2
// partitions), plans, adds 4 more, runs with the plan, and checks that
// exactly the 10 moved; then plans and moves the 4.
func checkDrainMovesThePlan(t *testing.T, w *kafkaWorld, dlt, origin string) {
	t.Helper()
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, springDeadLetter(dlt, int32(i%2), origin, int32(i%3), i))
	}
	w.produce(recs...)
	ctx := context.Background()
	log := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	o := KafkaDrainOptions{Context: "local", Topic: dlt, To: "origin"}
	p, err := planKafkaDrain(ctx, w.k, o)
	if err != nil || p.Selected != 10 {
		t.Fatalf("plan %+v %v", p, err)
	}
	recs = recs[:0]
	for i := 100; i < 104; i++ { // after the preview, on both partitions
		recs = append(recs, springDeadLetter(dlt, int32(i%2), origin, int32(i%3), i))
	}
	w.produce(recs...)
	res, err := runKafkaDrain(ctx, w.k, o, p, log, nil)
	if err != nil || res.Moved != 10 || res.Left != 4 || res.StoppedBecause != backends.KafkaStopPlan {
		t.Fatalf("run with the plan: %+v %v", res, err)
	}
	ids := map[string]bool{}
	for _, r := range w.read(origin) {
		ids[string(hdr(r, "id"))] = true
	}
	if len(ids) != 10 || ids["100"] || ids["101"] || ids["102"] || ids["103"] {
		t.Fatalf("moved ids %v, want 0-9 only", ids)
	}
	p, err = planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: dlt, To: "origin"})
	if err != nil || p.Selected != 4 {
		t.Fatalf("plan of the late ones %+v %v", p, err)
	}
	res, err = runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: dlt, To: "origin"}, p, log, nil)
	if err != nil || res.Moved != 4 || res.Left != 0 {
		t.Fatalf("run of the late ones: %+v %v", res, err)
	}
}

// TestDrainSourcesNotDeadLetters: a drain of a topic that is neither named
// like a dead-letter topic nor holds records with dead-letter headers is
// refused with the reason, in the plan and in the run (audited as
// refused, nothing moved or committed), unless the operator says to drain
// it anyway; a topic recognised by its records' headers is a source.
func TestDrainSourcesNotDeadLetters(t *testing.T) {
	w := newKafkaWorld(t)
	checkNotDeadLetters(t, w, "b", "c")
}

// checkNotDeadLetters drains live (a topic of plain records, not named
// like a dead-letter topic) to target, refused then allowed, and drains
// target once it holds Spring dead letters.
func checkNotDeadLetters(t *testing.T, w *kafkaWorld, live, target string) {
	t.Helper()
	ctx := context.Background()
	w.produce(&kgo.Record{Topic: live, Partition: 0, Key: []byte("k"), Value: []byte(`{"order":1}`)})
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log := NewAuditLog(path)
	o := KafkaDrainOptions{Context: "local", Topic: live, To: "topic:" + target}
	want := "kafka:" + live + " is not a dead-letter topic (its name is not a DLT's and its records carry no dead-letter headers): pass --not-dead-letters to drain it anyway"
	if _, err := planKafkaDrain(ctx, w.k, o); err == nil || err.Error() != want {
		t.Fatalf("plan of a live topic: %v", err)
	}
	before := len(w.read(target))
	if _, err := runKafkaDrain(ctx, w.k, o, nil, log, nil); err == nil || err.Error() != want {
		t.Fatalf("run on a live topic: %v", err)
	}
	es, _, _ := log.Read(0)
	if len(es) != 1 || es[0].Outcome != OutcomeRefused || es[0].Reason != want || es[0].Error != "" || strings.Contains(es[0].Command, "--not-dead-letters") {
		t.Fatalf("audit of the refusal %+v", es)
	}
	if n := len(w.read(target)); n != before || w.committed(kafka.DrainGroup(live), live) != 0 {
		t.Fatalf("a refused drain moved %d record(s) or committed", n-before)
	}

	o.NotDeadLetters = true
	p, err := planKafkaDrain(ctx, w.k, o)
	if err != nil || p.Selected != 1 {
		t.Fatalf("plan with --not-dead-letters: %+v %v", p, err)
	}
	res, err := runKafkaDrain(ctx, w.k, o, p, log, nil)
	if err != nil || res.Moved != 1 {
		t.Fatalf("run with --not-dead-letters: %+v %v", res, err)
	}
	es, _, _ = log.Read(0)
	if last := es[len(es)-1]; last.Outcome != OutcomeExecuted || !strings.HasSuffix(last.Command, " --not-dead-letters") {
		t.Fatalf("audit of the run %+v", last)
	}

	// target now holds a record with dead-letter headers: a source by headers
	w.produce(springDeadLetter(target, 0, live, 0, 7))
	if _, err := planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: target, To: "origin"}); err != nil {
		t.Fatalf("plan of a topic of dead letters: %v", err)
	}
}

// TestRecordsTheTargetCannotTake (kfake; the integration test runs the same
// on Kafka): see checkRecordsTheTargetCannotTake.
func TestRecordsTheTargetCannotTake(t *testing.T) {
	w := newKafkaWorld(t)
	if _, err := kadm.NewClient(w.cl).CreateTopic(context.Background(), 1, 1, nil, "big.DLT"); err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(w.cl).CreateTopic(context.Background(), 1, 1, nil, "small"); err != nil {
		t.Fatal(err)
	}
	checkRecordsTheTargetCannotTake(t, w, "big.DLT", "small")
}

// checkRecordsTheTargetCannotTake: dlt (one partition, its
// max.message.bytes raised so that it holds it) has 3 small dead letters of
// origin (default limits), one whose value is 1 MiB + 60 B, and 3 small
// ones. The plan names it; a run without --skip-oversized moves exactly
// the 3 before it, commits up to it, and stops saying why; a rerun
// produces nothing; with --skip-oversized the rest moves, the record is
// named in the result and the audit log, and the drain group ends at the
// log end. No record reaches the target twice.
func checkRecordsTheTargetCannotTake(t *testing.T, w *kafkaWorld, dlt, origin string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	big := "2097152"
	if _, err := kadm.NewClient(w.cl).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &big}}, dlt); err != nil {
		t.Fatal(err)
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(4<<20), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	for i := range 7 {
		r := springDeadLetter(dlt, 0, origin, 0, i)
		if i == 3 {
			r.Value = bytes.Repeat([]byte("x"), 1<<20+60)
		}
		if err := pcl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("dead letter %d: %v", i, err)
		}
	}
	group := kafka.DrainGroup(dlt)
	moved := func() map[string]int {
		out := map[string]int{}
		for _, r := range w.read(origin) {
			out[string(hdr(r, kafka.HeaderReplaySource))]++
		}
		return out
	}
	log := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	lastAudit := func() AuditEntry {
		es, _, err := log.Read(0)
		if err != nil || len(es) == 0 {
			t.Fatalf("audit: %v", err)
		}
		return es[len(es)-1]
	}

	o := KafkaDrainOptions{Context: "local", Topic: dlt, To: "origin"}
	p, err := planKafkaDrain(ctx, w.k, o)
	if err != nil {
		t.Fatal(err)
	}
	if p.OversizedCount != 1 || len(p.Oversized) != 1 || len(p.Problems) != 1 || !strings.Contains(p.Problems[0], "--skip-oversized") || p.Selected != 6 {
		t.Fatalf("plan: %+v", p)
	}
	ov := p.Oversized[0]
	if ov.Partition != 0 || ov.Offset != 3 || ov.Target != origin || ov.Limit != 1048588 || ov.Size <= 1<<20+60 || ov.RefusedBy != backends.RefusedByTopic {
		t.Fatalf("oversized record in the plan: %+v", ov)
	}

	// without --skip-oversized: the 3 before it, and a stop
	res, err := runKafkaDrain(ctx, w.k, o, p, log, nil)
	if err == nil || !strings.Contains(err.Error(), dlt+" partition 0 offset 3 is ") || !strings.Contains(err.Error(), "--skip-oversized") {
		t.Fatalf("run without skipping: %v", err)
	}
	if res.Moved != 3 || res.StoppedBecause != backends.KafkaStopOversized || len(res.Oversized) != 1 || res.Oversized[0].Offset != 3 || res.SkippedOversized != 0 || res.Left != 4 {
		t.Fatalf("run without skipping: %+v", res)
	}
	if c := w.committed(group, dlt); c != 3 {
		t.Fatalf("committed at %d, want 3 (the oversized record)", c)
	}
	if m := moved(); len(m) != 3 {
		t.Fatalf("target holds %v, want the 3 records before the oversized one", m)
	}
	if a := lastAudit(); a.Outcome != OutcomeFailed || a.Result.StoppedBecause != backends.KafkaStopOversized || !strings.Contains(fmt.Sprint(a.Result.Details["oversized"]), "offset:3") {
		t.Fatalf("audit of the stop: %+v", a)
	}

	// a rerun produces nothing new
	res, err = runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "local", Topic: dlt, To: "origin"}, nil, log, nil)
	if err == nil || res.Moved != 0 || res.StoppedBecause != backends.KafkaStopOversized {
		t.Fatalf("rerun: %+v %v", res, err)
	}
	if m := moved(); len(m) != 3 || w.committed(group, dlt) != 3 {
		t.Fatalf("the rerun produced or committed: %v", m)
	}

	// with --skip-oversized: the rest, the record named
	o = KafkaDrainOptions{Context: "local", Topic: dlt, To: "origin", SkipOversized: true}
	p, err = planKafkaDrain(ctx, w.k, o)
	if err != nil || len(p.Problems) != 0 || p.OversizedCount != 1 || p.Selected != 3 || !p.SkipOversized {
		t.Fatalf("plan skipping: %+v %v", p, err)
	}
	res, err = runKafkaDrain(ctx, w.k, o, p, log, nil)
	if err != nil || res.Moved != 3 || res.SkippedOversized != 1 || len(res.Oversized) != 1 || res.Oversized[0].Offset != 3 || res.Left != 0 {
		t.Fatalf("run skipping: %+v %v", res, err)
	}
	if c := w.committed(group, dlt); c != 7 {
		t.Fatalf("committed at %d, want the log end 7", c)
	}
	m := moved()
	for i := range 7 {
		src := fmt.Sprintf("%s/0/%d", dlt, i)
		if want := map[bool]int{true: 0, false: 1}[i == 3]; m[src] != want {
			t.Fatalf("%s is %d time(s) in the target, want %d: %v", src, m[src], want, m)
		}
	}
	a := lastAudit()
	if a.Outcome != OutcomeExecuted || !strings.Contains(a.Command, " --skip-oversized") || a.Result.Details["skipped_oversized"] != float64(1) || !strings.Contains(fmt.Sprint(a.Result.Details["oversized"]), "offset:3") {
		t.Fatalf("audit of the skipping run: %+v", a)
	}
}
