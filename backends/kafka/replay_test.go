package kafka

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
)

// TestReplayPartitionerIsKafkasMurmur2 checks the partitioner a replay
// partitions by key with against the test vectors of Apache Kafka's
// UtilsTest.testMurmur2 (Utils.murmur2, what the Java client's default
// partitioner hashes keys with): with MaxInt32 partitions, the partition
// is the positive hash itself.
func TestReplayPartitionerIsKafkasMurmur2(t *testing.T) {
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		got, err := sarama.NewMurmur2Partitioner("t").Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, math.MaxInt32)
		if err != nil || got != want&0x7fffffff {
			t.Errorf("murmur2(%q): partition %d, want %d (%v)", key, got, want&0x7fffffff, err)
		}
	}
}

// replayFake has a topic "src" (3 partitions) with n records: record i
// in partition i%3, key k-i, headers h1=a-i and h2=b (twice, in order),
// timestamp base+i ms; and empty targets "same3" (3 partitions) and
// "other5" (5).
func replayFake(t *testing.T, n int) (*kgo.Client, *Client, time.Time) {
	t.Helper()
	cl, k := fake(t, map[string]int32{"src": 3, "same3": 3, "other5": 5})
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 3), Key: fmt.Appendf(nil, "k-%d", i), Value: fmt.Appendf(nil, "v-%d", i),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Headers:   []kgo.RecordHeader{{Key: "h1", Value: fmt.Appendf(nil, "a-%d", i)}, {Key: "h2", Value: []byte("b")}, {Key: "h2", Value: []byte("c")}}})
	}
	produce(t, cl, recs...)
	return cl, k, base
}

func allParts(n int64) []backends.KafkaReplayPart {
	var out []backends.KafkaReplayPart
	for p := int32(0); p < 3; p++ {
		out = append(out, backends.KafkaReplayPart{Partition: p, End: n})
	}
	return out
}

// TestReplayKeepsRecordsAndAddsTwoHeaders replays to a topic of as many
// partitions: each record in its partition, in order, with key, value,
// headers and timestamp kept and the run and source headers last; the
// positions saved end at the range's end.
func TestReplayKeepsRecordsAndAddsTwoHeaders(t *testing.T) {
	const n = 300
	_, k, _ := replayFake(t, n)
	saved := map[int32]int64{}
	res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "same3", Parts: allParts(n / 3), SamePartition: true, RunID: "r1",
		Save: func(ch map[int32]backends.KafkaReplayPosition) error {
			for p, pos := range ch {
				saved[p] = pos.Next
			}
			return nil
		}})
	if err != nil || res.Replayed != n || res.Left != 0 || res.StoppedBecause != backends.KafkaStopEnd {
		t.Fatalf("%+v %v", res, err)
	}
	src := map[string]*kgo.Record{}
	for _, r := range readAll(t, k.cfg.Brokers, "src") {
		src[fmt.Sprintf("src/%d/%d", r.Partition, r.Offset)] = r
	}
	for _, r := range readAll(t, k.cfg.Brokers, "same3") {
		hs := r.Headers
		if len(hs) != 5 || hs[3].Key != HeaderReplayRun || string(hs[3].Value) != "r1" || hs[4].Key != HeaderReplaySource {
			t.Fatalf("headers %v", hs)
		}
		o := src[string(hs[4].Value)]
		if o == nil || o.Partition != r.Partition || o.Offset != r.Offset || !bytes.Equal(o.Key, r.Key) || !bytes.Equal(o.Value, r.Value) || !o.Timestamp.Equal(r.Timestamp) {
			t.Fatalf("%s: replayed as %d/%d %q %q %v", hs[4].Value, r.Partition, r.Offset, r.Key, r.Value, r.Timestamp)
		}
		for i, h := range o.Headers {
			if hs[i].Key != h.Key || !bytes.Equal(hs[i].Value, h.Value) {
				t.Fatalf("%s: header %d %q=%q, want %q=%q", hs[4].Value, i, hs[i].Key, hs[i].Value, h.Key, h.Value)
			}
		}
	}
	for p := int32(0); p < 3; p++ {
		if saved[p] != n/3 {
			t.Fatalf("saved positions %v", saved)
		}
	}
}

// TestReplayFiltersAndKeyPartitioning keeps only the records the filter
// keeps, partitions them by key into 5 partitions as the Java client
// would (franz-go's implementation of Kafka's partitioner as the oracle),
// and counts the others as filtered.
func TestReplayFiltersAndKeyPartitioning(t *testing.T) {
	const n = 300
	_, k, _ := replayFake(t, n)
	keep := func(r *backends.KafkaRecord) bool { return r.Offset%2 == 0 }
	cnt, err := k.CountReplay(context.Background(), backends.KafkaReplayCountOptions{Topic: "src", Target: "other5", Parts: allParts(n / 3), Keep: keep, RunID: "r"})
	if err != nil || !cnt.Complete || len(cnt.Parts) != 3 || cnt.Parts[0].Read != 100 || cnt.Parts[0].Selected != 50 || cnt.Parts[0].ReadTo != 100 || cnt.Limit <= 0 {
		t.Fatalf("count %+v %v", cnt, err)
	}
	res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "other5", Parts: allParts(n / 3), Keep: keep, RunID: "r",
		Save: func(map[int32]backends.KafkaReplayPosition) error { return nil }})
	if err != nil || res.Replayed != 150 || res.Filtered != 150 || res.Left != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	java := kgo.StickyKeyPartitioner(nil).ForTopic("other5")
	got := readAll(t, k.cfg.Brokers, "other5")
	for _, r := range got {
		if want := java.Partition(&kgo.Record{Key: r.Key}, 5); int(r.Partition) != want {
			t.Errorf("key %q in partition %d, Kafka's partitioner says %d", r.Key, r.Partition, want)
		}
	}
	if len(got) != 150 {
		t.Fatalf("%d records replayed", len(got))
	}
}

// TestReplayCountBound stops the count at MaxRecords and says so.
func TestReplayCountBound(t *testing.T) {
	_, k, _ := replayFake(t, 300)
	cnt, err := k.CountReplay(context.Background(), backends.KafkaReplayCountOptions{Topic: "src", Target: "same3", Parts: allParts(100), MaxRecords: 120})
	read := 0
	for _, p := range cnt.Parts {
		read += p.Read
		if p.ReadTo != int64(p.Read) {
			t.Fatalf("partition %+v", p)
		}
	}
	if err != nil || cnt.Complete || read != 120 {
		t.Fatalf("%+v %v", cnt, err)
	}
}

// TestReplaySaveErrorStops: a save that fails stops the replay with the
// error; what it reports replayed was confirmed.
func TestReplaySaveErrorStops(t *testing.T) {
	_, k, _ := replayFake(t, 300)
	calls := 0
	res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "same3", Parts: allParts(100), SamePartition: true, Window: 10,
		Save: func(map[int32]backends.KafkaReplayPosition) error {
			calls++
			if calls > 2 {
				return fmt.Errorf("disk full")
			}
			return nil
		}})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "saving the replay's positions") || res.StoppedBecause != backends.KafkaStopError || res.Left == 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestReplayRefuses: a missing target, a source into itself, a partition
// the source lacks, same partitioning into fewer partitions.
func TestReplayRefuses(t *testing.T) {
	_, k, _ := replayFake(t, 30)
	save := func(map[int32]backends.KafkaReplayPosition) error { return nil }
	for _, c := range []struct {
		o    backends.KafkaReplayOptions
		want string
	}{
		{backends.KafkaReplayOptions{Topic: "src", Target: "nope", Parts: allParts(10), Save: save}, `unknown target topic "nope"`},
		{backends.KafkaReplayOptions{Topic: "src", Target: "src", Parts: allParts(10), Save: save}, "into itself"},
		{backends.KafkaReplayOptions{Topic: "src", Target: "other5", Parts: []backends.KafkaReplayPart{{Partition: 7, End: 1}}, Save: save}, "has no partition 7"},
		{backends.KafkaReplayOptions{Topic: "nope", Target: "other5", Parts: allParts(10), Save: save}, `unknown topic "nope"`},
		{backends.KafkaReplayOptions{Topic: "other5", Target: "src", SamePartition: true, Parts: []backends.KafkaReplayPart{{Partition: 4, End: 0}}, Save: save}, "cannot go to the same partition"},
	} {
		if _, err := k.Replay(context.Background(), c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}

// TestResolveRange resolves offsets (clamped, with notes, or refused) and
// times (as ListOffsets with a timestamp answers).
func TestResolveRange(t *testing.T) {
	_, k, base := replayFake(t, 300) // 100 records per partition, record i at base+i ms
	ctx := context.Background()
	i64 := func(v int64) *int64 { return &v }
	r, err := k.ResolveRange(ctx, backends.KafkaRangeQuery{Topic: "src", Partitions: []int32{1}, FromOffset: i64(10), ToOffset: i64(500)})
	if err != nil || len(r.Parts) != 1 || r.Parts[0] != (backends.KafkaRangePart{Partition: 1, LogStart: 0, LogEnd: 100, Start: 10, End: 100, Note: r.Parts[0].Note}) ||
		!strings.Contains(r.Parts[0].Note, "--to-offset 500 is past the log end 100") || r.Partitions != 3 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := k.ResolveRange(ctx, backends.KafkaRangeQuery{Topic: "src", FromOffset: i64(101)}); err == nil || !strings.Contains(err.Error(), "--from-offset 101 is past the log end of src partition 0 (log start 0, log end 100)") {
		t.Fatalf("past the end: %v", err)
	}
	if _, err := k.ResolveRange(ctx, backends.KafkaRangeQuery{Topic: "src", Partitions: []int32{3}}); err == nil || !strings.Contains(err.Error(), `topic "src" has no partition 3 (it has 3: 0 to 2)`) {
		t.Fatalf("partition 3: %v", err)
	}
	// record i is in partition i%3 at offset i/3, at base+i ms: from
	// base+30ms, partition 0 starts at record 30 (offset 10), partition 1
	// at record 31 (offset 10), partition 2 at record 32 (offset 10)
	from, to := base.Add(30*time.Millisecond), base.Add(61*time.Millisecond)
	r, err = k.ResolveRange(ctx, backends.KafkaRangeQuery{Topic: "src", FromTime: &from, ToTime: &to})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]int64{{10, 21}, {10, 20}, {10, 20}} // to: records 63, 61 and 62 are the first at or after base+61ms
	for i, p := range r.Parts {
		if p.Start != want[i][0] || p.End != want[i][1] {
			t.Errorf("partition %d: %d to %d, want %v", p.Partition, p.Start, p.End, want[i])
		}
	}
	late := base.Add(time.Hour)
	r, err = k.ResolveRange(ctx, backends.KafkaRangeQuery{Topic: "src", FromTime: &late})
	if err != nil || r.Parts[0].Start != 100 || r.Parts[0].End != 100 {
		t.Fatalf("a time after every record: %+v %v", r, err)
	}
}

// TestReplayRecordSizeExact: the size a replay measures a record by
// (alone in a batch, with the two headers a replay adds) is the exact size
// of that batch (recordBatchSize, checked against the broker by
// TestRecordBatchSizeAsTheBroker), whatever its key, value, headers
// (empty and null ones too), source and run id.
func TestReplayRecordSizeExact(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	bytesOrNil := func(n int) []byte {
		if n == 0 && rng.Intn(2) == 0 {
			return nil
		}
		return make([]byte, n)
	}
	for i := 0; i < 20000; i++ {
		r := &backends.KafkaRecord{Topic: strings.Repeat("t", 1+rng.Intn(249)), Partition: rng.Int31n(1 << 20), Offset: rng.Int63n(1 << 50),
			Key: bytesOrNil(rng.Intn(300)), Value: bytesOrNil(rng.Intn(70000))}
		var hs []sarama.RecordHeader
		for j := rng.Intn(20); j > 0; j-- {
			h := backends.KafkaHeader{Key: strings.Repeat("h", rng.Intn(300)), Value: bytesOrNil(rng.Intn(300))}
			r.Headers = append(r.Headers, h)
			hs = append(hs, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		runID := strings.Repeat("r", rng.Intn(128))
		hs = append(hs, sarama.RecordHeader{Key: []byte(HeaderReplayRun), Value: []byte(runID)},
			sarama.RecordHeader{Key: []byte(HeaderReplaySource), Value: []byte(fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset))})
		if got, want := replayRecordSize(replayFixedBytes(r, runID)), recordBatchSize(r.Key, r.Value, hs); got != want {
			t.Fatalf("record %d: measured %d bytes, its batch is %d", i, got, want)
		}
	}
}

// TestReplayRecordsTheTargetCannotTake: the count lists the records
// larger than the target's max.message.bytes; the replay stops each
// partition before its first, or skips them all.
func TestReplayRecordsTheTargetCannotTake(t *testing.T) {
	cl, k := fake(t, map[string]int32{"src": 2, "small": 2, "small2": 2})
	v := "3000"
	if _, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, "small", "small2"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 40 {
		size := 100
		if i == 10 || i == 11 || i == 25 { // partition 0 offset 5, partition 1 offsets 5 and 12
			size = 4000
		}
		recs = append(recs, &kgo.Record{Topic: "src", Partition: int32(i % 2), Value: make([]byte, size)})
	}
	produce(t, cl, recs...)
	parts := []backends.KafkaReplayPart{{Partition: 0, End: 20}, {Partition: 1, End: 20}}
	cnt, err := k.CountReplay(context.Background(), backends.KafkaReplayCountOptions{Topic: "src", Target: "small", Parts: parts, RunID: "r"})
	if err != nil || cnt.OversizedCount != 3 || cnt.Limit != 3000 || cnt.Oversized[0].Partition != 0 || cnt.Oversized[0].Offset != 5 || cnt.Oversized[2].Offset != 12 {
		t.Fatalf("count %+v %v", cnt, err)
	}
	save := func(map[int32]backends.KafkaReplayPosition) error { return nil }
	res, err := k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "small", Parts: parts, SamePartition: true, Save: save})
	if err == nil || res.StoppedBecause != backends.KafkaStopOversized || res.Replayed != 10 || res.Left != 30 {
		t.Fatalf("stop: %+v %v", res, err)
	}
	res, err = k.Replay(context.Background(), backends.KafkaReplayOptions{Topic: "src", Target: "small2", Parts: parts, SamePartition: true, SkipOversized: true, Save: save})
	if err != nil || res.Replayed != 37 || res.OversizedCount != 3 || res.Left != 0 {
		t.Fatalf("skip: %+v %v", res, err)
	}
}
