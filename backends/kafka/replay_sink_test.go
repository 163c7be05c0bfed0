package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/mqops/mqops/backends"
)

// sinkFake is replayFake on a cluster the test controls (opts added):
// "src" (3 partitions) with n records, record i in partition i%3, key k-i,
// value v-i, and the targets "same3", "other5" and "wide20".
func sinkFake(t *testing.T, n int, opts ...kfake.Opt) (*Client, *kfake.Cluster) {
	t.Helper()
	opts = append(opts, kfake.NumBrokers(1), kfake.SeedTopics(3, "src", "same3"), kfake.SeedTopics(5, "other5"), kfake.SeedTopics(20, "wide20"))
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.MaxVersions(kversion.V2_1_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k-%d", i), Value: fmt.Appendf(nil, "v-%d", i),
			Headers: []kgo.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}}})
	}
	produce(t, cl, recs...)
	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k, c
}

// produceAnswerWith answers every partition of req with code.
func produceAnswerWith(req kmsg.Request, code int16) kmsg.Response {
	preq := req.(*kmsg.ProduceRequest)
	resp := preq.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = preq.Version
	for _, rt := range preq.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// savedPositions is what a test's Save saw: the last position of each partition.
type savedPositions struct {
	mu  sync.Mutex
	pos map[int32]backends.KafkaReplayPosition
}

func (s *savedPositions) save(ch map[int32]backends.KafkaReplayPosition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos == nil {
		s.pos = map[int32]backends.KafkaReplayPosition{}
	}
	for p, pos := range ch {
		s.pos[p] = pos
	}
	return nil
}

// checkReplayed reads topic and checks that it holds each source record i
// (of n) exactly once (its mqops-replay-source header names it), in the
// same partition, and in source order within each partition.
func checkReplayed(t *testing.T, k *Client, topic string, n int) {
	t.Helper()
	got := readAll(t, k.cfg.Brokers, topic)
	seen := map[string]bool{}
	last := map[int32]int64{}
	for _, r := range got {
		src := r.Headers[len(r.Headers)-1]
		f := strings.Split(string(src.Value), "/")
		off, _ := strconv.ParseInt(f[2], 10, 64)
		i := int(off)*3 + int(r.Partition)
		switch {
		case src.Key != HeaderReplaySource || f[1] != strconv.Itoa(int(r.Partition)):
			t.Fatalf("record %s/%d/%d: source header %s=%s", topic, r.Partition, r.Offset, src.Key, src.Value)
		case seen[string(src.Value)]:
			t.Fatalf("%s replayed twice", src.Value)
		case off < last[r.Partition]:
			t.Fatalf("%s replayed after offset %d of its partition", src.Value, last[r.Partition])
		case string(r.Value) != fmt.Sprintf("v-%d", i) || string(r.Key) != fmt.Sprintf("k-%d", i):
			t.Fatalf("%s: key %q value %q", src.Value, r.Key, r.Value)
		}
		seen[string(src.Value)], last[r.Partition] = true, off
	}
	if len(seen) != n {
		t.Fatalf("%d records replayed into %s, want %d", len(seen), topic, n)
	}
}

// TestReplaySinkRetriesTheSameBatch: a produce refused with a retriable
// error (NOT_LEADER_OR_FOLLOWER), and one whose connection is closed before
// the broker answers, are sent again: every record arrives once, in order.
func TestReplaySinkRetriesTheSameBatch(t *testing.T) {
	const n = 300
	k, c := sinkFake(t, n)
	var produces, refused, dropped atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		switch produces.Add(1) {
		case 2:
			refused.Add(1)
			return produceAnswerWith(req, kerr.NotLeaderForPartition.Code), nil, true
		case 4:
			dropped.Add(1)
			return nil, errors.New("connection dropped by the test"), true
		}
		return nil, nil, false
	})
	var saved savedPositions
	res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "same3", Parts: allParts(n / 3), SamePartition: true, RunID: "r",
		Save: saved.save})
	if err != nil || res.Replayed != n || res.Failed != 0 || res.Left != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if refused.Load() != 1 || dropped.Load() != 1 {
		t.Fatalf("the injected errors were not all used: %d produces", produces.Load())
	}
	checkReplayed(t, k, "same3", n)
	for p := range int32(3) {
		if saved.pos[p].Next != n/3 {
			t.Fatalf("saved %+v", saved.pos)
		}
	}
}

// TestReplaySinkFailureStopsThePartition: a produce refused with an error
// that is not retriable (the third batch of partition 1) fails its batch
// and the partition's batches behind it: nothing is saved past them, the
// partition is produced one record at a time when the run resumes
// (SerialUntil), and the resume replays the rest with no gap and nothing
// twice.
func TestReplaySinkFailureStopsThePartition(t *testing.T) {
	const n = 3000
	k, c := sinkFake(t, n)
	refusing := refuseProduce(c, 1, 3)
	var saved savedPositions
	res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "same3", Parts: allParts(n / 3), SamePartition: true, RunID: "r",
		Window: 200, Save: saved.save})
	if !errors.Is(err, sarama.ErrInvalidRecord) || !strings.Contains(err.Error(), "to same3 partition 1") || res.StoppedBecause != backends.KafkaStopError || res.Failed == 0 {
		t.Fatalf("%+v %v", res, err)
	}
	confirmed := offsetsOf(t, k.cfg.Brokers, "same3")[1][1]
	if pos := saved.pos[1]; confirmed == 0 || pos.Next != confirmed || pos.SerialUntil <= pos.Next {
		t.Fatalf("partition 1 saved at %+v with %d records in the target: want them, and records to produce one at a time", pos, confirmed)
	}
	refusing.Store(false)
	var parts []backends.KafkaReplayPart
	for p := range int32(3) {
		parts = append(parts, backends.KafkaReplayPart{Partition: p, Next: saved.pos[p].Next, End: n / 3, SerialUntil: saved.pos[p].SerialUntil})
	}
	res, err = k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "same3", Parts: parts, SamePartition: true, RunID: "r",
		Window: 200, Save: saved.save})
	if err != nil || res.Left != 0 {
		t.Fatalf("resume: %+v %v", res, err)
	}
	// the failed run saved what was confirmed: nothing is replayed twice
	checkReplayed(t, k, "same3", n)
}

// TestReplaySinkBatchesUpToTheLimit: records of many sizes replayed into
// a topic of a small max.message.bytes go in batches of several records,
// none larger than the limit as the broker measures it (it would refuse
// it), some within a record of it.
func TestReplaySinkBatchesUpToTheLimit(t *testing.T) {
	const limit = 3000
	_, k, c := fakeWithCluster(t, map[string]int32{"src": 1, "small": 1})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v := strconv.Itoa(limit)
	if _, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, "small"); err != nil {
		t.Fatal(err)
	}
	const n = 500
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "src", Value: bytes.Repeat([]byte{'x'}, (i*37)%700), Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}}})
	}
	produce(t, cl, recs...)
	var mu sync.Mutex
	var batches []int
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, rt := range req.(*kmsg.ProduceRequest).Topics {
			for _, rp := range rt.Partitions {
				mu.Lock()
				batches = append(batches, len(rp.Records))
				mu.Unlock()
			}
		}
		return nil, nil, false
	})
	res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "small", Parts: []backends.KafkaReplayPart{{End: n}}, SamePartition: true,
		RunID: "r", Save: (&savedPositions{}).save})
	if err != nil || res.Replayed != n {
		t.Fatalf("%+v %v", res, err)
	}
	largest := 0
	for _, b := range batches {
		largest = max(largest, b)
	}
	if len(batches) >= n/3 || largest > limit || largest < limit-800 {
		t.Fatalf("%d batches for %d records, the largest %d bytes (limit %d)", len(batches), n, largest, limit)
	}
	if got := len(readAll(t, k.cfg.Brokers, "small")); got != n {
		t.Fatalf("%d records in the target", got)
	}
}

// TestReplayOnOlderBrokers: the replay's producer speaks to brokers of
// Kafka 2.1 and 2.8 (InitProducerId and Produce of their versions).
func TestReplayOnOlderBrokers(t *testing.T) {
	for name, v := range map[string]*kversion.Versions{"2.1": kversion.V2_1_0(), "2.8": kversion.V2_8_0()} {
		t.Run(name, func(t *testing.T) {
			const n = 300
			k, _ := sinkFake(t, n, kfake.MaxVersions(v))
			res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "other5", Parts: allParts(n / 3), RunID: "r",
				Save: (&savedPositions{}).save})
			if err != nil || res.Replayed != n || res.Left != 0 {
				t.Fatalf("%+v %v", res, err)
			}
			if got := len(readAll(t, k.cfg.Brokers, "other5")); got != n {
				t.Fatalf("%d records in the target", got)
			}
		})
	}
}

// TestReplayFitsByLimitsIsABound: a record stored alone in a batch of
// exactly the source's limit, as large as it can be, fits a target whose
// limit replayFitsByLimits accepts, once replayed with the two headers;
// whatever its key, value, headers, source position and run id.
func TestReplayFitsByLimitsIsABound(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 20000; i++ {
		r := &backends.KafkaRecord{Topic: strings.Repeat("t", 1+rng.Intn(249)), Partition: rng.Int31n(1 << 20), Offset: rng.Int63n(1 << 50),
			Key: make([]byte, rng.Intn(300)), Value: make([]byte, rng.Intn(70000))}
		var hs []sarama.RecordHeader
		for j := rng.Intn(70); j > 0; j-- { // across the header count's one-byte varint
			h := backends.KafkaHeader{Key: strings.Repeat("h", rng.Intn(30)), Value: make([]byte, rng.Intn(30))}
			r.Headers = append(r.Headers, h)
			hs = append(hs, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		runID := strings.Repeat("r", 1+rng.Intn(127))
		source := recordBatchSize(r.Key, r.Value, hs) // the smallest limit that let it in
		parts := []backends.KafkaReplayPart{{Partition: r.Partition, End: r.Offset + 1}}
		headers, _ := replayFitsByLimits(r.Topic, runID, parts, source, 0)
		target := source + headers + replayAllowance
		if _, ok := replayFitsByLimits(r.Topic, runID, parts, source, target); !ok {
			t.Fatalf("record %d: a target of %d not accepted", i, target)
		}
		if _, ok := replayFitsByLimits(r.Topic, runID, parts, source, target-1); ok {
			t.Fatalf("record %d: a target of %d accepted", i, target-1)
		}
		if size := replayRecordSize(replayFixedBytes(r, runID)); size > target {
			t.Fatalf("record %d: stored in %d bytes, replayed in %d: more than the %d the limits allowed", i, source, size, target)
		}
	}
}

// TestReplayCountWithoutReading: without filters, into a target whose
// limit shows that every record fits, the count reads nothing (no Fetch):
// the offsets of the range, the bytes of its share of the partitions'
// sizes, Estimated. Into a target of the source's limit, or with a filter,
// it reads; Unattended (no one reads the count before the run), into a
// target of the source's limit it reads nothing, and says so; with a
// filter it reads.
func TestReplayCountWithoutReading(t *testing.T) {
	const n = 300
	k, c := sinkFake(t, n)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v := strconv.Itoa(defaultMaxMessageBytes + 1000)
	if _, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, "other5"); err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		fetches.Add(1)
		return nil, nil, false
	})
	parts := []backends.KafkaReplayPart{{Partition: 0, Next: 10, End: 60}, {Partition: 1, Next: 0, End: 100}}
	cnt, err := k.CountReplay(context.Background(), backends.KafkaReplayCountOptions{Topic: "src", Target: "other5", Parts: parts, RunID: "r"})
	if err != nil || !cnt.Estimated || cnt.Complete || fetches.Load() != 0 || len(cnt.Parts) != 2 || cnt.OversizedCount != 0 || len(cnt.Notes) != 1 ||
		!strings.Contains(cnt.Notes[0], "not read") || cnt.Limit != defaultMaxMessageBytes+1000 {
		t.Fatalf("%+v %v (%d fetches)", cnt, err, fetches.Load())
	}
	for i, p := range cnt.Parts {
		// 100 records per partition of the same sizes: the range's share
		if p.Read != 0 || p.ReadTo != parts[i].Next || p.Selected != int(parts[i].End-parts[i].Next) || p.Bytes <= 0 {
			t.Fatalf("partition %+v", p)
		}
	}
	if a, b := cnt.Parts[0].Bytes*2, cnt.Parts[1].Bytes; a < b*9/10 || a > b*11/10 {
		t.Fatalf("bytes of 50 and of 100 records: %d and %d", cnt.Parts[0].Bytes, b)
	}
	before := fetches.Load()
	cnt, err = k.CountReplay(context.Background(), backends.KafkaReplayCountOptions{Topic: "src", Target: "same3", Parts: parts, RunID: "r", Unattended: true})
	if err != nil || !cnt.Estimated || fetches.Load() != before || cnt.Parts[1].Selected != 100 || len(cnt.Notes) != 1 || !strings.Contains(cnt.Notes[0], "not read (--yes)") ||
		!strings.Contains(cnt.Notes[0], "--dry-run reads the range") {
		t.Fatalf("unattended: %+v %v", cnt, err)
	}
	for _, o := range []backends.KafkaReplayCountOptions{
		{Topic: "src", Target: "same3", Parts: parts, RunID: "r"},
		{Topic: "src", Target: "other5", Parts: parts, RunID: "r", Keep: func(*backends.KafkaRecord) bool { return true }},
		{Topic: "src", Target: "same3", Parts: parts, RunID: "r", Keep: func(*backends.KafkaRecord) bool { return true }, Unattended: true},
	} {
		before := fetches.Load()
		cnt, err := k.CountReplay(context.Background(), o)
		if err != nil || cnt.Estimated || !cnt.Complete || cnt.Parts[0].Read != 50 || cnt.Parts[1].Read != 100 || fetches.Load() == before {
			t.Fatalf("%s: %+v %v", o.Target, cnt, err)
		}
	}
}

// TestReplaySinkManyPartitions: by key into 20 partitions of one broker,
// more than the requests a connection keeps in flight (sinkOpenRequests):
// every record arrives, in the partition Kafka's partitioner gives its key.
func TestReplaySinkManyPartitions(t *testing.T) {
	const n = 3000
	k, _ := sinkFake(t, n)
	res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "wide20", Parts: allParts(n / 3), RunID: "r",
		Save: (&savedPositions{}).save})
	if err != nil || res.Replayed != n || res.Left != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	got := readAll(t, k.cfg.Brokers, "wide20")
	java := kgo.StickyKeyPartitioner(nil).ForTopic("wide20")
	parts := map[int32]bool{}
	for _, r := range got {
		if want := java.Partition(&kgo.Record{Key: r.Key}, 20); int(r.Partition) != want {
			t.Fatalf("key %q in partition %d, Kafka's partitioner says %d", r.Key, r.Partition, want)
		}
		parts[r.Partition] = true
	}
	if len(got) != n || len(parts) != 20 {
		t.Fatalf("%d records in %d partitions", len(got), len(parts))
	}
}
