package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/embedded"
)

// committedOf returns the group's committed offsets on topic, with franz-go.
func committedOf(t *testing.T, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil && !strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

func header(r *kgo.Record, key string) (string, bool) {
	v, ok := "", false
	for _, h := range r.Headers {
		if h.Key == key {
			v, ok = string(h.Value), true
		}
	}
	return v, ok
}

// TestMoveRecordsToOrigin drains the demo's orders.DLT (200 Spring dead
// letters, binary headers) back to orders: every record lands in its
// original partition with key, value, timestamp and headers kept plus the
// replay headers; the drain group ends at the DLT's log end; a second run
// moves nothing.
func TestMoveRecordsToOrigin(t *testing.T) {
	ctx := context.Background()
	e, err := embedded.Start(ctx, embedded.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	brokers := e.Brokers()
	k, err := New(Config{Brokers: brokers, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	dlt := map[string]*kgo.Record{}
	for _, r := range readAll(t, brokers, "orders.DLT") {
		dlt[fmt.Sprintf("orders.DLT/%d/%d", r.Partition, r.Offset)] = r
	}
	before := offsetsOf(t, brokers, "orders")

	plan, total, err := planCounts(ctx, k, "orders.DLT", "", 0, OriginTarget)
	if err != nil || total != 200 || plan["orders"] != 200 || len(plan) != 1 {
		t.Fatalf("plan = %v %d %v", plan, total, err)
	}
	var progress []backends.KafkaMoveProgress
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: "orders.DLT", Target: OriginTarget, RunID: "run-1",
		Progress: func(p backends.KafkaMoveProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*res, backends.KafkaMoveResult{Moved: 200, Left: 0, StoppedBecause: backends.KafkaStopEnd}) {
		t.Fatalf("result %+v", res)
	}
	if last := progress[len(progress)-1]; last.Moved != 200 || last.Seen != 200 || last.Total != 200 {
		t.Fatalf("last progress %+v", last)
	}

	moved := 0
	for _, r := range readAll(t, brokers, "orders") {
		if r.Offset < before[r.Partition][1] {
			continue
		}
		moved++
		src, ok := header(r, HeaderReplaySource)
		orig := dlt[src]
		if !ok || orig == nil {
			t.Fatalf("orders/%d/%d: replay source %q", r.Partition, r.Offset, src)
		}
		wantPart, _ := header(orig, "kafka_dlt-original-partition")
		if p := int32(beUint32(wantPart)); p != r.Partition {
			t.Errorf("%s landed in partition %d, want %d", src, r.Partition, p)
		}
		if !bytes.Equal(r.Key, orig.Key) || !bytes.Equal(r.Value, orig.Value) || !r.Timestamp.Equal(orig.Timestamp) {
			t.Errorf("%s: key/value/timestamp changed", src)
		}
		if run, _ := header(r, HeaderRunID); run != "run-1" {
			t.Errorf("%s: run id %q", src, run)
		}
		if len(r.Headers) != len(orig.Headers)+2 {
			t.Errorf("%s: %d headers, want %d + 2", src, len(r.Headers), len(orig.Headers))
		}
		for i, h := range orig.Headers {
			if r.Headers[i].Key != h.Key || !bytes.Equal(r.Headers[i].Value, h.Value) {
				t.Errorf("%s: header %d is %q, want %q", src, i, r.Headers[i].Key, h.Key)
			}
		}
	}
	if moved != 200 {
		t.Fatalf("%d records in orders after the move, want 200", moved)
	}
	dltOffs := offsetsOf(t, brokers, "orders.DLT")
	committed := committedOf(t, brokers, DrainGroup("orders.DLT"), "orders.DLT")
	for p, o := range dltOffs {
		if committed[p] != o[1] {
			t.Errorf("drain group on partition %d: committed %d, log end %d", p, committed[p], o[1])
		}
	}

	again, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: "orders.DLT", Target: OriginTarget})
	if err != nil || again.Moved != 0 || again.Left != 0 || again.StoppedBecause != backends.KafkaStopEnd {
		t.Fatalf("second run: %+v %v", again, err)
	}
	if plan, total, err := planCounts(ctx, k, "orders.DLT", "", 0, OriginTarget); err != nil || total != 0 || len(plan) != 0 {
		t.Fatalf("plan after the move: %v %d %v", plan, total, err)
	}
}

func beUint32(s string) uint32 {
	b := []byte(s)
	if len(b) != 4 {
		return 1 << 31
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// fakeDLT makes a kfake cluster with origin topic "o" (3 partitions) and a
// dead-letter topic "o.DLT" (2 partitions) holding n Spring dead letters;
// dead letter i points to partition i%3 of "o", text headers for odd i.
func fakeDLT(t *testing.T, n int) (*kgo.Client, *Client, []string) {
	t.Helper()
	cl, k := fake(t, map[string]int32{"o": 3, "o.DLT": 2, "other": 4})
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, springDLT("o.DLT", int32(i%2), "o", int32(i%3), int64(i), "E", i%2 == 0))
	}
	produce(t, cl, recs...)
	return cl, k, k.cfg.Brokers
}

// movedSources returns the mqops-replay-source of every record of topic,
// with how many times each appears.
func movedSources(t *testing.T, brokers []string, topic string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range readAll(t, brokers, topic) {
		src, _ := header(r, HeaderReplaySource)
		out[src]++
	}
	return out
}

// TestMoveRecordsLimitThenRest moves a limited number, then the rest: no
// record twice, none missing, and the drain group follows.
func TestMoveRecordsLimitThenRest(t *testing.T) {
	_, k, brokers := fakeDLT(t, 100)
	ctx := context.Background()
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: "o.DLT", Target: OriginTarget, Limit: 30})
	if err != nil || res.Moved != 30 || res.Left != 70 || res.StoppedBecause != backends.KafkaStopLimit {
		t.Fatalf("limited move: %+v %v", res, err)
	}
	sum := int64(0)
	for _, o := range committedOf(t, brokers, DrainGroup("o.DLT"), "o.DLT") {
		sum += o
	}
	if sum != 30 {
		t.Fatalf("drain group committed %d records, want 30", sum)
	}
	if d, err := k.ListDeadLetterTopics(ctx, false); err != nil || len(d) != 1 || d[0].LeftToDrain == nil || *d[0].LeftToDrain != 70 {
		t.Fatalf("left to drain after 30 of 100: %+v %v", d, err)
	}
	if plan, total, err := planCounts(ctx, k, "o.DLT", "", 0, OriginTarget); err != nil || total != 70 || plan["o"] != 70 {
		t.Fatalf("plan of the rest: %v %d %v", plan, total, err)
	}
	res, err = k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: "o.DLT", Target: OriginTarget})
	if err != nil || res.Moved != 70 || res.Left != 0 {
		t.Fatalf("rest: %+v %v", res, err)
	}
	srcs := movedSources(t, brokers, "o")
	if len(srcs) != 100 {
		t.Fatalf("%d distinct records moved, want 100", len(srcs))
	}
	for s, n := range srcs {
		if n != 1 {
			t.Fatalf("%s moved %d times", s, n)
		}
	}
}

// TestMoveRecordsUnknownTarget: a record whose target topic does not exist
// stops the move with a clear error; the drain group is committed exactly
// up to that record on its partition, and every record below the committed
// offsets is in the target.
func TestMoveRecordsUnknownTarget(t *testing.T) {
	_, k, brokers := fakeDLT(t, 100)
	target := func(r *backends.KafkaRecord) (string, int32, error) {
		if r.Partition == 0 && r.Offset == 20 {
			return "missing", -1, nil
		}
		return OriginTarget(r)
	}
	res, err := k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "o.DLT", Target: target})
	if err == nil || !strings.Contains(err.Error(), `unknown target topic "missing"`) || !strings.Contains(err.Error(), "o.DLT partition 0 offset 20") {
		t.Fatalf("error = %v", err)
	}
	if res == nil || res.StoppedBecause != backends.KafkaStopError || res.Failed != 1 || res.Moved < 20 || res.Moved+res.Left != 100 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("moved %d of 100 records", res.Moved)) {
		t.Fatalf("error does not say how many moved: %v", err)
	}
	committed := committedOf(t, brokers, DrainGroup("o.DLT"), "o.DLT")
	if committed[0] != 20 {
		t.Fatalf("partition 0 committed at %d, want 20 (the failed record)", committed[0])
	}
	srcs := movedSources(t, brokers, "o")
	for p, c := range committed {
		for o := int64(0); o < c; o++ {
			if srcs[fmt.Sprintf("o.DLT/%d/%d", p, o)] != 1 {
				t.Fatalf("o.DLT/%d/%d is committed but not in the target exactly once", p, o)
			}
		}
	}
	if len(srcs) != res.Moved {
		t.Fatalf("%d records in the target, result says %d moved", len(srcs), res.Moved)
	}
}

// TestMoveRecordsTargetErrorAndSelf: a Target error stops the move before
// the record; the DLT itself is refused as a target.
func TestMoveRecordsTargetErrorAndSelf(t *testing.T) {
	cl, k, brokers := fakeDLT(t, 10)
	produce(t, cl, &kgo.Record{Topic: "o.DLT", Partition: 1, Value: []byte("no headers")}) // o.DLT/1/5
	res, err := k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "o.DLT", Target: OriginTarget})
	if err == nil || !errors.Is(err, ErrNoOrigin) || !strings.Contains(err.Error(), "o.DLT partition 1 offset 5") {
		t.Fatalf("error = %v", err)
	}
	// Partition 1 stops exactly before the record; partition 0, whose
	// first record goes alone (the probe), may not have moved the rest yet.
	c := committedOf(t, brokers, DrainGroup("o.DLT"), "o.DLT")
	if c[1] != 5 || c[0] < 1 || c[0] > 5 || res.Moved != int(c[0]+c[1]) || res.Failed != 1 || res.Left != 11-res.Moved {
		t.Fatalf("result %+v, committed %v: want partition 1 at 5", res, c)
	}
	_, err = k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "o.DLT", Group: "g2", Target: TopicTarget("o.DLT")})
	if err == nil || !strings.Contains(err.Error(), "dead-letter topic") {
		t.Fatalf("moving a DLT into itself: %v", err)
	}
	if _, err := k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "nope", Target: OriginTarget}); err == nil || !strings.Contains(err.Error(), `unknown topic "nope"`) {
		t.Fatalf("unknown DLT: %v", err)
	}
}

// TestMoveRecordsPartitionsByKeyLikeJava: partition -1, or one the target
// does not have, partitions by key exactly as the Java client's default
// partitioner (murmur2), checked against franz-go's implementation of it.
func TestMoveRecordsPartitionsByKeyLikeJava(t *testing.T) {
	_, k, brokers := fakeDLT(t, 60)
	target := func(r *backends.KafkaRecord) (string, int32, error) {
		if r.Offset%2 == 0 {
			return "other", -1, nil
		}
		return "other", 99, nil // "other" has 4 partitions
	}
	if _, err := k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "o.DLT", Target: target}); err != nil {
		t.Fatal(err)
	}
	java := kgo.StickyKeyPartitioner(nil).ForTopic("other")
	n := 0
	for _, r := range readAll(t, brokers, "other") {
		want := java.Partition(&kgo.Record{Key: r.Key}, 4)
		if int(r.Partition) != want {
			t.Errorf("key %q in partition %d, murmur2 says %d", r.Key, r.Partition, want)
		}
		n++
	}
	if n != 60 {
		t.Fatalf("%d records in other", n)
	}
}

// TestMoveRecordsWindow checks from outside, before each produce, that the
// records handed to the producer but not committed in the drain group
// never reach the window.
func TestMoveRecordsWindow(t *testing.T) {
	_, k, brokers := fakeDLT(t, 200)
	handed, worst := 0, 0
	wait := func(context.Context) error {
		var committed int64
		for _, o := range committedOf(t, brokers, DrainGroup("o.DLT"), "o.DLT") {
			committed += o
		}
		worst = max(worst, handed-int(committed))
		handed++
		return nil
	}
	res, err := k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "o.DLT", Target: OriginTarget, Window: 10, Wait: wait})
	if err != nil || res.Moved != 200 {
		t.Fatalf("%+v %v", res, err)
	}
	t.Logf("worst uncommitted before a produce: %d (window 10)", worst)
	if worst >= 10 || worst == 0 {
		t.Fatalf("uncommitted records before a produce reached %d with a window of 10", worst)
	}
}

// TestMoveRecordsCancelThenResume cancels a move half-way (from the rate
// limiter hook) and runs it again: every dead letter is in the target, and
// duplicates stay within the window.
func TestMoveRecordsCancelThenResume(t *testing.T) {
	_, k, brokers := fakeDLT(t, 300)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	wait := func(context.Context) error {
		if n++; n == 120 {
			cancel()
		}
		return nil
	}
	res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: "o.DLT", Target: OriginTarget, Wait: wait, Window: 50})
	if !errors.Is(err, context.Canceled) || res.StoppedBecause != backends.KafkaStopCancelled || res.Moved < 70 || res.Moved >= 300 {
		t.Fatalf("cancelled move: %+v %v", res, err)
	}
	res2, err := k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "o.DLT", Target: OriginTarget})
	if err != nil || res2.Left != 0 {
		t.Fatalf("resume: %+v %v", res2, err)
	}
	srcs := movedSources(t, brokers, "o")
	dups := 0
	for p := range 2 {
		for o := range 150 {
			c := srcs[fmt.Sprintf("o.DLT/%d/%d", p, o)]
			if c == 0 {
				t.Fatalf("o.DLT/%d/%d lost", p, o)
			}
			dups += c - 1
		}
	}
	if dups > 50 || res.Moved+res2.Moved != 300+dups {
		t.Fatalf("%d duplicates (window 50); moved %d + %d", dups, res.Moved, res2.Moved)
	}
}

// TestMoveRecordsRetriedProduceAtTheEnd: the broker answers the move's
// first produce with a retriable error, so the producer retries it after
// its backoff, when the move has handed on every record. The move waits for
// the retry rather than closing the producer under it (which would fail the
// batch with "producer in process of shutting down").
func TestMoveRecordsRetriedProduceAtTheEnd(t *testing.T) {
	cl, k, c := fakeWithCluster(t, map[string]int32{"o": 3, "o.DLT": 2})
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, springDLT("o.DLT", int32(i%2), "o", int32(i%3), int64(i), "E", false))
	}
	produce(t, cl, recs...)
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		refused.Add(1)
		return produceAnswerWith(req, kerr.NotLeaderForPartition.Code), nil, true
	})
	res, err := k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "o.DLT", Target: OriginTarget})
	if err != nil || res.Moved != 10 || res.Failed != 0 || res.Left != 0 {
		t.Fatalf("move with a retried produce: %+v %v", res, err)
	}
	if refused.Load() == 0 {
		t.Fatal("the injected produce error was never used")
	}
	if n := len(readAll(t, k.cfg.Brokers, "o")); n != 10 {
		t.Fatalf("%d records in o, want 10", n)
	}
}

// TestMoveRecordsRefusesBusyGroup: a drain group with active members (a
// consumer, or another drain) is refused.
func TestMoveRecordsRefusesBusyGroup(t *testing.T) {
	_, k, brokers := fakeDLT(t, 5)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	member, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(DrainGroup("o.DLT")), kgo.ConsumeTopics("o.DLT"))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			member.PollFetches(ctx)
		}
	})
	defer wg.Wait()
	defer cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := k.MoveRecords(context.Background(), backends.KafkaMoveOptions{Topic: "o.DLT", Target: OriginTarget, Limit: 1})
		if err != nil && strings.Contains(err.Error(), "active members") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("busy drain group not refused: %v", err)
		}
		// the member has not joined yet: retry (the limit keeps moves small)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeadLettersOnOlderBrokers runs detection, summary and a move in two
// steps against brokers that speak only Kafka 2.8's and 2.1's protocol
// versions (no OffsetFetch v8; Fetch, ListOffsets and OffsetCommit older).
func TestDeadLettersOnOlderBrokers(t *testing.T) {
	for _, v := range []string{"2.8", "2.1"} {
		t.Run(v, func(t *testing.T) {
			ctx := context.Background()
			e, err := embedded.Start(ctx, embedded.Options{Seed: 1, KafkaVersion: v})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			k, err := New(Config{Brokers: e.Brokers(), Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			if d, err := k.ListDeadLetterTopics(ctx, true); err != nil || len(d) != 1 || d[0].Topic != "orders.DLT" || d[0].Messages != 200 ||
				d[0].LeftToDrain == nil || *d[0].LeftToDrain != 200 {
				t.Fatalf("ListDeadLetterTopics: %+v %v", d, err)
			}
			if s, err := k.DeadLetterSummary(ctx, "orders.DLT", 1000); err != nil || s.Sampled != 200 {
				t.Fatalf("DeadLetterSummary: %+v %v", s, err)
			}
			res, err := k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: "orders.DLT", Target: OriginTarget, Limit: 50})
			if err != nil || res.Moved != 50 || res.Left != 150 {
				t.Fatalf("first move: %+v %v", res, err)
			}
			res, err = k.MoveRecords(ctx, backends.KafkaMoveOptions{Topic: "orders.DLT", Target: OriginTarget})
			if err != nil || res.Moved != 150 || res.Left != 0 {
				t.Fatalf("second move: %+v %v", res, err)
			}
			// Kafka keeps the records; the drain group says none is left; the
			// origin, which now holds records with dead-letter headers naming
			// itself, is not taken for a dead-letter topic
			if d, err := k.ListDeadLetterTopics(ctx, true); err != nil || len(d) != 1 || d[0].Messages != 200 ||
				d[0].LeftToDrain == nil || *d[0].LeftToDrain != 0 {
				t.Fatalf("ListDeadLetterTopics after the drain: %+v %v", d, err)
			}
		})
	}
}

// planCounts is PlanMove's counts and total.
func planCounts(ctx context.Context, k *Client, topic, group string, limit int, target func(*backends.KafkaRecord) (string, int32, error)) (map[string]int, int, error) {
	p, err := k.PlanMove(ctx, backends.KafkaPlanOptions{Topic: topic, Group: group, Limit: limit, Target: target})
	if err != nil {
		return nil, 0, err
	}
	return p.Counts, p.Total, nil
}
