package tui

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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

// TestReplayConsoleMatchesHeadlessPlan: on the real broker, the console's
// replay (P on a topic of the test's own: a time range starting between
// two records, two partitions, a key and a header filter) plans exactly
// what `mqops replay --dry-run -o json` ($MQOPS_BIN) plans when given the
// console's equivalent command; y replays exactly those records, each to
// its partition number, keeping key, value, headers (in order, the two of
// the replay added) and timestamp; one typed audit entry, with the
// command.
func TestReplayConsoleMatchesHeadlessPlan(t *testing.T) {
	brokers, bin := os.Getenv("KAFKA_BROKERS"), os.Getenv("MQOPS_BIN")
	if brokers == "" || bin == "" {
		if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("KAFKA_BROKERS and MQOPS_BIN (go build -o bin/mqops ./cmd/mqops) must be set")
		}
		t.Skip("KAFKA_BROKERS or MQOPS_BIN not set: integration test skipped")
	}
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir) // no config: `mqops --brokers` is the context "flags"
	source := fmt.Sprintf("creplay-src-%x", rand.Uint64())
	target := source + ".replay"
	seeds := strings.Split(brokers, ",")
	cl, adm := kafkatest.CreateTopic(t, seeds, source, 3, nil)
	kafkatest.CreateTopic(t, seeds, target, 3, nil)
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 30; i++ {
			tenant := "acme"
			if i%3 == 0 {
				tenant = "other"
			}
			recs = append(recs, &kgo.Record{Topic: source, Partition: p, Key: fmt.Appendf(nil, "k%d", i%2), Value: fmt.Appendf(nil, "value %d/%d", p, i),
				Timestamp: base.Add(time.Duration(i) * time.Minute),
				Headers:   []kgo.RecordHeader{{Key: "tenant", Value: []byte(tenant)}, {Key: "trace", Value: fmt.Appendf(nil, "t-%d-%d", p, i)}}})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	k, err := kafka.New(kafka.Config{Brokers: seeds, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	h := newHarness(t, Options{Context: "flags", Kafka: k, KafkaReplayer: k, KafkaBrokers: seeds, Cluster: brokers,
		CommandArgs: []string{"--brokers", brokers}, Audit: actions.NewAuditLog(filepath.Join(dir, "audit.jsonl"))}, nil)
	v := h.openReplayOn(source, target)
	h.keys("tab", "right", "right") // From: time, 4m30s: offset 5 on each partition
	h.typeText(base.Add(4*time.Minute + 30*time.Second).UTC().Format("2006-01-02T15:04:05.000Z"))
	h.keys("tab", "right") // To: offset 25
	h.typeText("25")
	h.keys("tab")
	h.typeText("0,2")
	h.keys("tab")
	h.typeText("k1")
	h.keys("tab")
	h.typeText("tenant=acme")
	h.keys("enter")
	if v.Stage() != action.StagePlan {
		t.Fatalf("stage %d: %s\n%s", v.Stage(), v.FormError(), h.screen())
	}
	command := v.Command()
	it, _ := v.Plan()
	p := it.plan
	// offsets 5..24, key k1 (odd), tenant acme (not a multiple of 3): 7, 11, 13, 17, 19, 23 and 5
	if !strings.HasPrefix(command, "mqops --brokers "+brokers+" replay "+source+":0,2 --to "+target+" --from-time ") || !p.Complete ||
		p.Records != 14 || len(p.Parts) != 2 || p.Parts[0].Start != 5 || p.Parts[0].End != 25 || p.Partitioning != actions.PartitionSame {
		t.Fatalf("command %q, plan %+v", command, p)
	}
	samePlan(t, p, cliReplayPlan(t, bin, command))
	h.keys("y")
	res, err := v.Result()
	if v.Stage() != action.StageDone || err != nil || res == nil || res.Replayed != 14 || res.Filtered != 26 || res.Left != 0 {
		t.Fatalf("run: stage %d, %+v, %v\n%s", v.Stage(), res, err, h.screen())
	}
	// The target, read back: each record as it was, in its partition.
	want := map[string]*kgo.Record{}
	for _, r := range recs {
		want[fmt.Sprintf("%s/%d/%d", source, r.Partition, r.Offset)] = r
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		target: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	got := 0
	for got < 14 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 14 replayed records", got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			n := len(r.Headers)
			if n != 4 || r.Headers[2].Key != "mqops-replay-run" || string(r.Headers[2].Value) != res.RunID || r.Headers[3].Key != "mqops-replay-source" {
				t.Fatalf("headers of %s/%d/%d: %v", target, r.Partition, r.Offset, r.Headers)
			}
			src := want[string(r.Headers[3].Value)]
			if src == nil || src.Partition != r.Partition || string(src.Key) != string(r.Key) || string(src.Value) != string(r.Value) ||
				!src.Timestamp.Equal(r.Timestamp) || fmt.Sprint(src.Headers) != fmt.Sprint(r.Headers[:2]) || string(r.Key) != "k1" {
				t.Fatalf("%s/%d/%d is not its source %s", target, r.Partition, r.Offset, r.Headers[3].Value)
			}
		})
	}
	ends, err := adm.ListEndOffsets(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if w := map[int32]int64{0: 7, 1: 0, 2: 7}[o.Partition]; o.Offset != w {
			t.Errorf("%s/%d ends at %d, want %d", target, o.Partition, o.Offset, w)
		}
	})
	es, _, err := h.m.opts.Audit.Read(0)
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %+v %v", es, err)
	}
	e := es[0]
	if e.Action != "replay" || e.Outcome != actions.OutcomeExecuted || e.Context != "flags" || e.Source != "kafka:"+source+":0,2" || e.Target != "kafka:"+target ||
		e.RunID != res.RunID || e.Command != command || e.Plan == nil || e.Plan.Selected != 14 || e.Plan.Skipped != 26 || e.Result == nil || e.Result.Done != 14 || e.Result.Skipped != 26 {
		t.Errorf("audit entry %+v plan %+v result %+v", e, e.Plan, e.Result)
	}
}
