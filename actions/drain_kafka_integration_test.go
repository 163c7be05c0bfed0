package actions

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends/kafka"
)

// realKafka returns a world on the real Kafka of scripts/testenv, skipping
// when KAFKA_BROKERS is unset (failing under MQOPS_REQUIRE_INTEGRATION=1).
func realKafka(t *testing.T) *kafkaWorld {
	t.Helper()
	v := os.Getenv("KAFKA_BROKERS")
	if v == "" {
		if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("KAFKA_BROKERS is not set: run the tests through `make test`")
		}
		t.Skipf("KAFKA_BROKERS not set: integration test skipped")
	}
	return kafkaWorldOn(t, strings.Split(v, ","))
}

// topics creates topics (name → partitions) with names unique to this run,
// waits until they are visible, and deletes them and the drain group of dlt
// at the end. It returns the real names, in the order given.
func (w *kafkaWorld) topics(dlt string, specs ...topicSpec) map[string]string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(w.cl)
	prefix := fmt.Sprintf("mqops-it-%s-%d-", strings.ToLower(w.t.Name()), time.Now().UnixNano())
	names := map[string]string{}
	var all []string
	for _, s := range specs {
		n := prefix + s.name
		names[s.name] = n
		all = append(all, n)
		if _, err := adm.CreateTopic(ctx, s.parts, 1, nil, n); err != nil {
			w.t.Fatalf("create %s: %v", n, err)
		}
	}
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(ctx, kafka.DrainGroup(names[dlt]))
		_, _ = adm.DeleteTopics(ctx, all...)
	})
	for {
		pc, err := w.k.PartitionCounts(ctx, all)
		ok := err == nil
		for _, s := range specs {
			ok = ok && pc[names[s.name]] == s.parts
		}
		if ok {
			return names
		}
		if ctx.Err() != nil {
			w.t.Fatalf("topics not visible: %v %v", pc, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type topicSpec struct {
	name  string
	parts int32
}

// TestKafkaDrainIntegrationToOrigin drains 2,000 dead letters from two
// origin topics back to them on a real Kafka: every record id arrives once
// in its origin topic, at its original partition, with its key; the drain
// group is committed to the log end; a second run moves nothing.
func TestKafkaDrainIntegrationToOrigin(t *testing.T) {
	w := realKafka(t)
	n := w.topics("dlt", topicSpec{"orders", 3}, topicSpec{"payments", 3}, topicSpec{"dlt", 3})
	dlt := n["dlt"]
	const total = 2000
	recs := make([]*kgo.Record, 0, total)
	for i := range total {
		origin := n["orders"]
		if i%2 == 1 {
			origin = n["payments"]
		}
		recs = append(recs, springDeadLetter(dlt, int32(i%3), origin, int32(i*7%3), i))
	}
	w.produce(recs...)

	ctx := context.Background()
	log := NewAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	o := KafkaDrainOptions{Context: "it", Topic: dlt, To: "origin", RunID: "it-" + dlt}
	p, err := planKafkaDrain(ctx, w.k, o)
	if err != nil {
		t.Fatal(err)
	}
	if p.Selected != total || len(p.Problems) != 0 || len(p.Routes) != 2 || p.Routes[0].Count != total/2 || p.Routes[1].Count != total/2 {
		t.Fatalf("plan %+v", p)
	}
	res, err := runKafkaDrain(ctx, w.k, o, p, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != total || res.Failed != 0 || res.Left != 0 || res.StoppedBecause != "plan" {
		t.Fatalf("result %+v", res)
	}
	t.Logf("moved %d records in %.2fs: %.0f records/s", res.Moved, res.Seconds, res.Rate)

	want := map[string]*kgo.Record{}
	for _, r := range recs {
		want[string(hdr(r, "id"))] = r
	}
	seen := map[string]int{}
	for _, origin := range []string{n["orders"], n["payments"]} {
		for _, r := range w.read(origin) {
			id := string(hdr(r, "id"))
			d := want[id]
			if d == nil {
				t.Fatalf("%s/%d/%d: unknown id %q", origin, r.Partition, r.Offset, id)
			}
			seen[id]++
			if string(hdr(d, "kafka_dlt-original-topic")) != origin {
				t.Errorf("id %s arrived in %s", id, origin)
			}
			if p := int32(binary.BigEndian.Uint32(hdr(d, "kafka_dlt-original-partition"))); r.Partition != p {
				t.Errorf("id %s in partition %d, want %d", id, r.Partition, p)
			}
			if string(r.Key) != string(d.Key) || string(r.Value) != string(d.Value) {
				t.Errorf("id %s: key or value changed", id)
			}
			if string(hdr(r, kafka.HeaderRunID)) != o.RunID {
				t.Errorf("id %s: run id %q", id, hdr(r, kafka.HeaderRunID))
			}
		}
	}
	if len(seen) != total {
		t.Fatalf("%d distinct ids arrived, want %d", len(seen), total)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("id %s arrived %d times", id, c)
		}
	}
	// committed to the log end, partition by partition
	ends, err := kadm.NewClient(w.cl).ListEndOffsets(ctx, dlt)
	if err != nil {
		t.Fatal(err)
	}
	offs, err := kadm.NewClient(w.cl).FetchOffsets(ctx, kafka.DrainGroup(dlt))
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		c, ok := offs.Lookup(dlt, e.Partition)
		if !ok || c.At != e.Offset {
			t.Errorf("drain group on %s/%d: committed %v, log end %d", dlt, e.Partition, c.At, e.Offset)
		}
	})

	again, err := runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "it", Topic: dlt, To: "origin"}, nil, log, nil)
	if err != nil || again.Moved != 0 || again.Left != 0 || again.StoppedBecause != "end" {
		t.Fatalf("second run %+v %v", again, err)
	}
	if p, err := planKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "it", Topic: dlt, To: "origin"}); err != nil || p.Sampled != 0 {
		t.Fatalf("plan after the drain %+v %v", p, err)
	}
	es, _, err := log.Read(0)
	if err != nil || len(es) != 2 || es[0].Result.Done != int64(total) || es[1].Result.Done != 0 || es[0].Outcome != OutcomeExecuted {
		t.Fatalf("audit %+v %v", es, err)
	}
}

// TestKafkaDrainIntegrationRate: --rate 200 --limit 300 moves 300 records
// at 200/s within 10%, then stops; the next run moves the rest.
func TestKafkaDrainIntegrationRate(t *testing.T) {
	w := realKafka(t)
	n := w.topics("dlt", topicSpec{"orders", 3}, topicSpec{"dlt", 2})
	dlt := n["dlt"]
	var recs []*kgo.Record
	for i := range 400 {
		recs = append(recs, springDeadLetter(dlt, int32(i%2), n["orders"], int32(i%3), i))
	}
	w.produce(recs...)

	type sample struct {
		at   time.Time
		seen int
	}
	var (
		mu      sync.Mutex
		samples []sample
	)
	ctx := context.Background()
	res, err := runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "it", Topic: dlt, To: "origin", Rate: 200, Limit: 300}, nil, testAudit(t), func(p Progress) {
		mu.Lock()
		samples = append(samples, sample{time.Now(), p.Seen})
		mu.Unlock()
	})
	if err != nil || res.Moved != 300 || res.Left != 100 || res.StoppedBecause != "limit" {
		t.Fatalf("result %+v %v", res, err)
	}
	// the pace of the records handed to the producer, between the first
	// and the last progress report (start-up time left out)
	first, last := samples[0], samples[len(samples)-1]
	paced := float64(last.seen-first.seen) / last.at.Sub(first.at).Seconds()
	t.Logf("rate 200/s: paced %.1f records/s, overall %.1f records/s over %.2fs (start-up included)", paced, res.Rate, res.Seconds)
	// The limit is a ceiling: a loaded machine may move slower, never
	// faster (how fast it can go is the benchmarks' business).
	if paced > 220 {
		t.Fatalf("paced at %.1f records/s, above 200 + 10%%", paced)
	}
	if res.Rate > 220 {
		t.Fatalf("overall %.1f records/s, above 200 + 10%%", res.Rate)
	}
	rest, err := runKafkaDrain(ctx, w.k, KafkaDrainOptions{Context: "it", Topic: dlt, To: "origin"}, nil, testAudit(t), nil)
	if err != nil || rest.Moved != 100 || rest.Left != 0 {
		t.Fatalf("rest %+v %v", rest, err)
	}
	if got := len(w.read(n["orders"])); got != 400 {
		t.Fatalf("%d records in the origin, want 400", got)
	}
}

// TestKafkaDrainIntegrationMovesWhatThePlanShowed: on the real broker, a
// run given its plan leaves the records that arrived after the preview.
func TestKafkaDrainIntegrationMovesWhatThePlanShowed(t *testing.T) {
	w := realKafka(t)
	n := w.topics("dlt", topicSpec{"orders", 3}, topicSpec{"dlt", 2})
	checkDrainMovesThePlan(t, w, n["dlt"], n["orders"])
}

// TestDrainSourcesNotDeadLettersIntegration: on the real Kafka, a live
// topic is refused as a drain source unless --not-dead-letters is given,
// and a topic of dead letters not named like one is recognised by its
// records' headers.
func TestDrainSourcesNotDeadLettersIntegration(t *testing.T) {
	w := realKafka(t)
	names := w.topics("orders", topicSpec{"orders", 1}, topicSpec{"retry", 2})
	checkNotDeadLetters(t, w, names["orders"], names["retry"])
}

// TestRecordsTheTargetCannotTakeIntegration is
// checkRecordsTheTargetCannotTake on the real Kafka: a dead letter of
// 1 MiB + 60 B, more than its origin's default max.message.bytes.
func TestRecordsTheTargetCannotTakeIntegration(t *testing.T) {
	w := realKafka(t)
	names := w.topics("dlt", topicSpec{"dlt", 1}, topicSpec{"origin", 1})
	checkRecordsTheTargetCannotTake(t, w, names["dlt"], names["origin"])
}
