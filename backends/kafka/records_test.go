package kafka

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
)

func TestWaterFill(t *testing.T) {
	for _, c := range []struct {
		limit int
		avail []int64
		want  []int
	}{
		{4, []int64{10, 5, 0}, []int{2, 2, 0}},
		{10, []int64{10, 5, 0}, []int{5, 5, 0}},
		{100, []int64{10, 5, 0}, []int{10, 5, 0}},
		{7, []int64{1, 100, 100}, []int{1, 3, 3}},
		{5, []int64{3, 3}, []int{3, 2}},
		{0, []int64{3, 3}, []int{0, 0}},
	} {
		got := waterFill(c.limit, c.avail)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("waterFill(%d, %v) = %v, want %v", c.limit, c.avail, got, c.want)
		}
	}
}

// TestReadRecordsPaging pages through a topic with uneven partitions: each
// page is spread over the partitions, and the pages together hold every
// record exactly once, in offset order per partition.
func TestReadRecordsPaging(t *testing.T) {
	cl, k := fake(t, map[string]int32{"t": 3})
	ctx := context.Background()
	var recs []*kgo.Record
	for p, n := range []int{10, 5, 0} {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(p), Value: []byte(fmt.Sprintf("%d-%d", p, i))})
		}
	}
	produce(t, cl, recs...)

	first, err := k.ReadRecords(ctx, "t", nil, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := pageString(first); got != "0/0 0/1 1/0 1/1" {
		t.Fatalf("first page = %s", got)
	}
	seen := map[string]int{}
	var from map[int32]int64
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("paging does not end")
		}
		got, err := k.ReadRecords(ctx, "t", from, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		if len(got) > 4 {
			t.Fatalf("page of %d records", len(got))
		}
		for _, r := range got {
			seen[string(r.Value)]++
			if want := fmt.Sprintf("%d-%d", r.Partition, r.Offset); string(r.Value) != want {
				t.Fatalf("record %d/%d holds %q", r.Partition, r.Offset, r.Value)
			}
		}
		from = backends.KafkaNextOffsets(from, got)
	}
	if len(seen) != 15 {
		t.Fatalf("read %d distinct records, want 15", len(seen))
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("record %s read %d times", v, n)
		}
	}

	mid, err := k.ReadRecords(ctx, "t", map[int32]int64{0: 8}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := pageString(mid); got != "0/8 0/9 1/0 1/1 1/2 1/3 1/4" {
		t.Fatalf("from {0: 8}: %s", got)
	}
}

func pageString(recs []backends.KafkaRecord) string {
	var s []string
	for _, r := range recs {
		s = append(s, fmt.Sprintf("%d/%d", r.Partition, r.Offset))
	}
	return strings.Join(s, " ")
}

func TestReadRecordsErrors(t *testing.T) {
	cl, k := fake(t, map[string]int32{"t": 2})
	produce(t, cl, &kgo.Record{Topic: "t", Partition: 0, Value: []byte("a")}, &kgo.Record{Topic: "t", Partition: 0, Value: []byte("b")})
	ctx := context.Background()
	for _, c := range []struct {
		topic string
		from  map[int32]int64
		limit int
		want  string
	}{
		{"nope", nil, 10, `unknown topic "nope"`},
		{"evil\x1b]0;x\x07", nil, 10, `unknown topic "evil\x1b]0;x\x07"`},
		{"t", map[int32]int64{0: 3}, 10, "offset 3 is out of range for t partition 0 (log start 0, log end 2)"},
		{"t", map[int32]int64{0: -1}, 10, "offset -1 is out of range"},
		{"t", map[int32]int64{5: 0}, 10, "has no partition 5"},
		{"t", nil, 0, "limit must be positive"},
	} {
		_, err := k.ReadRecords(ctx, c.topic, c.from, c.limit)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadRecords(%q, %v, %d) error = %v, want %q", c.topic, c.from, c.limit, err, c.want)
		}
	}
	// the log end itself is a valid position: nothing left to read
	recs, err := k.ReadRecords(ctx, "t", map[int32]int64{0: 2}, 10)
	if err != nil || len(recs) != 0 {
		t.Fatalf("from the log end: %d records, %v", len(recs), err)
	}
}

// TestReadRecordsKeepsRecordsAsWritten: null and empty keys and values stay
// apart, headers keep their order and repeats, a value larger than the
// per-partition fetch budget comes back whole.
func TestReadRecordsKeepsRecordsAsWritten(t *testing.T) {
	cl, k := fake(t, map[string]int32{"t": 2})
	huge := bytes.Repeat([]byte("0123456789abcdef"), 128<<10) // 2 MiB
	produce(t, cl,
		&kgo.Record{Topic: "t", Partition: 0, Key: nil, Value: nil},
		&kgo.Record{Topic: "t", Partition: 0, Key: []byte{}, Value: []byte{}},
		&kgo.Record{Topic: "t", Partition: 0, Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b"}, {Key: "a", Value: []byte("2")}}},
		&kgo.Record{Topic: "t", Partition: 1, Value: []byte("small")},
		&kgo.Record{Topic: "t", Partition: 1, Value: huge},
	)
	recs, err := k.ReadRecords(context.Background(), "t", nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	if recs[0].Key != nil || recs[0].Value != nil {
		t.Errorf("null key/value read as %q/%q", recs[0].Key, recs[0].Value)
	}
	if recs[1].Key == nil || len(recs[1].Key) != 0 || recs[1].Value == nil || len(recs[1].Value) != 0 {
		t.Errorf("empty key/value read as %#v/%#v", recs[1].Key, recs[1].Value)
	}
	if got := fmt.Sprint(recs[2].Headers); got != "[{a [49]} {b []} {a [50]}]" {
		t.Errorf("headers = %s", got)
	}
	if v, ok := recs[2].Header("a"); !ok || string(v) != "2" {
		t.Errorf("Header(a) = %q %v, want the last one", v, ok)
	}
	if !bytes.Equal(recs[4].Value, huge) {
		t.Errorf("huge value: %d bytes, want %d", len(recs[4].Value), len(huge))
	}
}

// TestReadRecordsSkipsAbortedTransactions reads read_committed: records of
// aborted transactions and the transaction markers are skipped, and the
// read ends at the log end without waiting.
func TestReadRecordsSkipsAbortedTransactions(t *testing.T) {
	_, k := fake(t, map[string]int32{"tx": 1})
	brokers := k.cfg.Brokers
	txn, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("mqops-test"), kgo.DefaultProduceTopic("tx"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	ctx := context.Background()
	batch := func(commit kgo.TransactionEndTry, vals ...string) {
		t.Helper()
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if err := txn.ProduceSync(ctx, &kgo.Record{Topic: "tx", Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	batch(kgo.TryCommit, "c1", "c2")
	batch(kgo.TryAbort, "a1", "a2", "a3")
	batch(kgo.TryCommit, "c3")

	recs, err := k.ReadRecords(ctx, "tx", nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, r := range recs {
		vals = append(vals, string(r.Value))
	}
	if got := strings.Join(vals, ","); got != "c1,c2,c3" {
		t.Fatalf("read_committed read = %s", got)
	}
	// paging past the markers ends
	next := backends.KafkaNextOffsets(nil, recs)
	if more, err := k.ReadRecords(ctx, "tx", next, 100); err != nil || len(more) != 0 {
		t.Fatalf("after the last record: %d records, %v", len(more), err)
	}
}

func TestPartitionCounts(t *testing.T) {
	_, k := fake(t, map[string]int32{"a": 3, "b": 1})
	got, err := k.PartitionCounts(context.Background(), []string{"a", "b", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "map[a:3 b:1]" {
		t.Fatalf("PartitionCounts = %v", got)
	}
}

// TestFetcherGivesUpOnSilentPartition: a partition where the broker keeps
// answering nothing below the stop offset (as with batches emptied by
// compaction, which sarama drops) is given up after a few answers alone,
// instead of being polled forever; what was read is kept.
func TestFetcherGivesUpOnSilentPartition(t *testing.T) {
	cl, k := fake(t, map[string]int32{"t": 1})
	produce(t, cl, &kgo.Record{Topic: "t", Value: []byte("a")}, &kgo.Record{Topic: "t", Value: []byte("b")})
	ctx := context.Background()
	err := k.withClient(ctx, func(scl sarama.Client, _ sarama.ClusterAdmin) error {
		ti, err := k.oneTopic(scl, "t")
		if err != nil {
			return err
		}
		f := k.newFetcher(scl, []*topicInfo{ti}, peekRequestBytes)
		f.maxWait, f.soloWait = 5*time.Millisecond, 5*time.Millisecond
		fp := &fetchPart{topic: "t", p: 0, next: 0, stop: 10, maxBytes: peekPartitionBytes} // the broker has 2
		recs, err := f.readSpread(ctx, []*fetchPart{fp}, 100)
		if err != nil {
			return err
		}
		if len(recs) != 2 || !fp.stuck || fp.next != 2 {
			t.Errorf("read %d records, stuck %v at %d", len(recs), fp.stuck, fp.next)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
