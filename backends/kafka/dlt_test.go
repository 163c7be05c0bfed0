package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/embedded"
)

// fake starts a one-broker kfake cluster with the given topics (name →
// partitions), a franz-go client to write test data with (an independent
// client: it is also the oracle), and our Client.
func fake(t *testing.T, topics map[string]int32) (*kgo.Client, *Client) {
	t.Helper()
	cl, k, _ := fakeWithCluster(t, topics)
	return cl, k
}

// fakeCluster is fake with the kfake cluster, for tests that inject
// broker responses.
func fakeWithCluster(t *testing.T, topics map[string]int32) (*kgo.Client, *Client, *kfake.Cluster) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(16<<20), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	k, err := New(Config{Brokers: c.ListenAddrs(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return cl, k, c
}

func produce(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func be64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// springDLT is a dead letter as Spring's DeadLetterPublishingRecoverer
// writes it; binary chooses the header encoding of partition and offset
// (binary since Spring Kafka 2.x, decimal text before).
func springDLT(topic string, p int32, origin string, op int32, oo int64, exc string, binary bool) *kgo.Record {
	part, off := []byte(fmt.Sprint(op)), []byte(fmt.Sprint(oo))
	if binary {
		part, off = be32(op), be64(oo)
	}
	return &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf("k-%d", oo)), Value: []byte(fmt.Sprintf(`{"n":%d}`, oo)),
		Headers: []kgo.RecordHeader{
			{Key: "trace-id", Value: []byte(fmt.Sprintf("t-%d", oo))},
			{Key: "kafka_dlt-original-topic", Value: []byte(origin)},
			{Key: "kafka_dlt-original-partition", Value: part},
			{Key: "kafka_dlt-original-offset", Value: off},
			{Key: "kafka_dlt-exception-fqcn", Value: []byte(exc)},
			{Key: "kafka_dlt-exception-message", Value: []byte("failed " + fmt.Sprint(oo))},
		}}
}

func connectDLT(topic string, p int32, origin string, op int32, oo int64) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: p, Value: []byte("bad"), Headers: []kgo.RecordHeader{
		{Key: "__connect.errors.topic", Value: []byte(origin)},
		{Key: "__connect.errors.partition", Value: []byte(fmt.Sprint(op))},
		{Key: "__connect.errors.offset", Value: []byte(fmt.Sprint(oo))},
		{Key: "__connect.errors.exception.class.name", Value: []byte("org.apache.kafka.connect.errors.DataException")},
		{Key: "__connect.errors.exception.message", Value: []byte("Converting byte[] to Kafka Connect data failed")},
	}}
}

func TestIsDLTNameRules(t *testing.T) {
	for name, want := range map[string]bool{
		"orders.DLT": true, "orders.dlt": true, "orders-dlt": true, "ORDERS-DLT": true, "orders.dlq": true, "orders-DLQ": true,
		"dlq.orders": true, "DLQ.orders": true, "orders_error": true, "orders_ERROR": true,
		"orders": false, "dltx": false, "orders.dltx": false, "dlq": false, ".dlt": false, "dlq.": false, "my-dlt-consumer": false,
	} {
		if IsDLTName(name) != want {
			t.Errorf("IsDLTName(%q) = %v, want %v", name, !want, want)
		}
	}
}

func hdrs(kv ...any) []backends.KafkaHeader {
	var out []backends.KafkaHeader
	for i := 0; i < len(kv); i += 2 {
		var v []byte
		switch x := kv[i+1].(type) {
		case string:
			v = []byte(x)
		case []byte:
			v = x
		}
		out = append(out, backends.KafkaHeader{Key: kv[i].(string), Value: v})
	}
	return out
}

func TestParseDeadLetterFormats(t *testing.T) {
	bin := parseDeadLetter(hdrs("kafka_dlt-original-topic", "orders", "kafka_dlt-original-partition", be32(5),
		"kafka_dlt-original-offset", be64(1<<40), "kafka_dlt-exception-fqcn", "java.lang.IllegalStateException", "kafka_dlt-exception-message", "boom"))
	if bin == nil || bin.Format != "spring" || bin.OriginalTopic != "orders" || *bin.OriginalPartition != 5 || *bin.OriginalOffset != 1<<40 ||
		bin.ExceptionClass != "java.lang.IllegalStateException" || bin.ExceptionMessage != "boom" {
		t.Fatalf("spring binary: %+v", bin)
	}
	text := parseDeadLetter(hdrs("kafka_dlt-original-topic", "orders", "kafka_dlt-original-partition", "12", "kafka_dlt-original-offset", "98765432"))
	if text == nil || *text.OriginalPartition != 12 || *text.OriginalOffset != 98765432 {
		t.Fatalf("spring text: %+v", text)
	}
	// a partition "1234" in text is 4 bytes, like a binary int32: digits win
	if d := parseDeadLetter(hdrs("kafka_dlt-original-topic", "o", "kafka_dlt-original-partition", "1234")); *d.OriginalPartition != 1234 {
		t.Fatalf("4-digit text partition read as %d", *d.OriginalPartition)
	}
	// unreadable partition and offset: nil, not zero
	if d := parseDeadLetter(hdrs("kafka_dlt-original-topic", "o", "kafka_dlt-original-partition", []byte{1, 2, 3}, "kafka_dlt-original-offset", "x")); d.OriginalPartition != nil || d.OriginalOffset != nil {
		t.Fatalf("garbage partition/offset parsed: %+v", d)
	}
	// failed twice: Spring appended a second set of headers; the last counts
	twice := parseDeadLetter(hdrs("kafka_dlt-original-topic", "first", "kafka_dlt-original-partition", be32(1),
		"kafka_dlt-original-topic", "orders", "kafka_dlt-original-partition", be32(2)))
	if twice.OriginalTopic != "orders" || *twice.OriginalPartition != 2 {
		t.Fatalf("repeated headers: %+v", twice)
	}
	// Spring wraps the listener's exception; the cause is what matters
	wrapped := parseDeadLetter(hdrs("kafka_dlt-original-topic", "orders",
		"kafka_dlt-exception-fqcn", "org.springframework.kafka.listener.ListenerExecutionFailedException",
		"kafka_dlt-exception-cause-fqcn", "com.example.InvoiceExistsException"))
	if wrapped.ExceptionClass != "com.example.InvoiceExistsException" {
		t.Fatalf("wrapped exception: %q", wrapped.ExceptionClass)
	}
	conn := parseDeadLetter(hdrs("__connect.errors.topic", "pay", "__connect.errors.partition", "1", "__connect.errors.offset", "77",
		"__connect.errors.exception.class.name", "org.apache.kafka.connect.errors.DataException"))
	if conn == nil || conn.Format != "connect" || conn.OriginalTopic != "pay" || *conn.OriginalPartition != 1 || *conn.OriginalOffset != 77 ||
		conn.ExceptionClass != "org.apache.kafka.connect.errors.DataException" {
		t.Fatalf("connect: %+v", conn)
	}
	gen := parseDeadLetter(hdrs("x-original-topic", "audit", "x-original-partition", "3", "x-exception-class", "Timeout"))
	if gen == nil || gen.Format != "generic" || gen.OriginalTopic != "audit" || *gen.OriginalPartition != 3 || gen.OriginalOffset != nil || gen.ExceptionClass != "Timeout" {
		t.Fatalf("generic: %+v", gen)
	}
	if parseDeadLetter(hdrs("trace-id", "x")) != nil || parseDeadLetter(nil) != nil {
		t.Fatal("no dead-letter header must give nil")
	}
}

func TestOriginTarget(t *testing.T) {
	p := int32(4)
	topic, part, err := OriginTarget(&backends.KafkaRecord{DeadLetter: &backends.KafkaDeadLetterInfo{OriginalTopic: "orders", OriginalPartition: &p}})
	if topic != "orders" || part != 4 || err != nil {
		t.Fatalf("OriginTarget = %q %d %v", topic, part, err)
	}
	if _, part, _ := OriginTarget(&backends.KafkaRecord{DeadLetter: &backends.KafkaDeadLetterInfo{OriginalTopic: "orders"}}); part != -1 {
		t.Fatalf("no partition header: %d, want -1 (by key)", part)
	}
	if _, _, err := OriginTarget(&backends.KafkaRecord{}); !errors.Is(err, ErrNoOrigin) {
		t.Fatalf("no headers: %v", err)
	}
}

// TestListDeadLetterTopics finds dead-letter topics by name and by the
// headers of Spring, Connect and generic dead letters, including one whose
// first record batch is larger than the sampling budget.
func TestListDeadLetterTopics(t *testing.T) {
	cl, k := fake(t, map[string]int32{"orders": 3, "orders.DLT": 2, "empty-dlq": 1, "billing-failures": 2, "sink-errors": 1,
		"audit-rejects": 1, "plain": 2, "big-failures": 1, "returned": 1})
	ctx := context.Background()
	produce(t, cl, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte("o")}, &kgo.Record{Topic: "plain", Partition: 1, Value: []byte("p")},
		springDLT("orders.DLT", 0, "orders", 0, 0, "E", true), springDLT("orders.DLT", 1, "orders", 1, 0, "E", true),
		springDLT("billing-failures", 1, "billing", 2, 9, "E", false), // partition 0 empty: the first non-empty one is sampled
		connectDLT("sink-errors", 0, "payments", 0, 4),
		springDLT("returned", 0, "returned", 0, 7, "E", true), // a dead letter drained back home: not a DLT
		&kgo.Record{Topic: "audit-rejects", Partition: 0, Value: []byte("a"), Headers: []kgo.RecordHeader{{Key: "x-original-topic", Value: []byte("audit")}}})
	// one batch of 40 × 2 KiB: larger than the 32 KiB sampling budget
	var big []*kgo.Record
	for i := range 40 {
		r := springDLT("big-failures", 0, "orders", 0, int64(i), "E", true)
		r.Value = []byte(strings.Repeat("x", 2048))
		big = append(big, r)
	}
	produce(t, cl, big...)

	got, err := k.ListDeadLetterTopics(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	// never drained: everything is left to drain
	want := []backends.KafkaDLT{
		{Topic: "audit-rejects", Messages: 1, Partitions: 1, DetectedBy: "headers", LeftToDrain: new(int64(1))},
		{Topic: "big-failures", Messages: 40, Partitions: 1, DetectedBy: "headers", LeftToDrain: new(int64(40))},
		{Topic: "billing-failures", Messages: 1, Partitions: 2, DetectedBy: "headers", LeftToDrain: new(int64(1))},
		{Topic: "empty-dlq", Messages: 0, Partitions: 1, DetectedBy: "name", LeftToDrain: new(int64(0))},
		{Topic: "orders.DLT", Messages: 2, Partitions: 2, DetectedBy: "name", LeftToDrain: new(int64(2))},
		{Topic: "sink-errors", Messages: 1, Partitions: 1, DetectedBy: "headers", LeftToDrain: new(int64(1))},
	}
	if dltsText(got) != dltsText(want) {
		t.Fatalf("ListDeadLetterTopics(sample headers):\n got %s\nwant %s", dltsText(got), dltsText(want))
	}
	byName, err := k.ListDeadLetterTopics(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if dltsText(byName) != dltsText([]backends.KafkaDLT{want[3], want[4]}) {
		t.Fatalf("ListDeadLetterTopics(names only) = %s", dltsText(byName))
	}
}

// dltsText prints dead-letter topics with the value of LeftToDrain.
func dltsText(ds []backends.KafkaDLT) string {
	var b strings.Builder
	for _, d := range ds {
		left := "nil"
		if d.LeftToDrain != nil {
			left = fmt.Sprint(*d.LeftToDrain)
		}
		fmt.Fprintf(&b, "{%s %d %d %s left %s} ", d.Topic, d.Messages, d.Partitions, d.DetectedBy, left)
	}
	return b.String()
}

// TestDeadLetterSummaryEmbedded groups the demo's 200 Spring dead letters
// (binary partition/offset headers) and checks the counts against a
// grouping made from an independent full read with franz-go.
func TestDeadLetterSummaryEmbedded(t *testing.T) {
	ctx := context.Background()
	e, err := embedded.Start(ctx, embedded.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	k, err := New(Config{Brokers: e.Brokers(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	oracle := map[string]int{}
	origPart := map[string]int32{} // key → original partition from the headers
	for _, r := range readAll(t, e.Brokers(), "orders.DLT") {
		var exc string
		for _, h := range r.Headers {
			if h.Key == "kafka_dlt-exception-fqcn" {
				exc = string(h.Value)
			}
			if h.Key == "kafka_dlt-original-partition" {
				origPart[string(r.Key)] = int32(binary.BigEndian.Uint32(h.Value))
			}
		}
		oracle[exc]++
	}

	sum, err := k.DeadLetterSummary(ctx, "orders.DLT", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Topic != "orders.DLT" || sum.Messages != 200 || sum.Sampled != 200 || len(sum.Groups) != len(oracle) {
		t.Fatalf("summary: %+v (oracle %v)", sum, oracle)
	}
	for i, g := range sum.Groups {
		if g.Origin != "orders" || g.Count != oracle[g.Exception] || g.First.IsZero() || g.Last.Before(g.First) {
			t.Errorf("group %+v (oracle count %d)", g, oracle[g.Exception])
		}
		if i > 0 && g.Count > sum.Groups[i-1].Count {
			t.Errorf("groups not sorted by count: %+v", sum.Groups)
		}
	}
	// the binary headers parse to the partitions Spring wrote
	recs, err := k.ReadRecords(ctx, "orders.DLT", nil, 200)
	if err != nil || len(recs) != 200 {
		t.Fatalf("ReadRecords: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.DeadLetter == nil || r.DeadLetter.OriginalPartition == nil || *r.DeadLetter.OriginalPartition != origPart[string(r.Key)] || r.DeadLetter.OriginalOffset == nil {
			t.Fatalf("record %d/%d: dead letter %+v, want partition %d", r.Partition, r.Offset, r.DeadLetter, origPart[string(r.Key)])
		}
	}

	small, err := k.DeadLetterSummary(ctx, "orders.DLT", 50)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range small.Groups {
		n += g.Count
	}
	if small.Sampled != 50 || n != 50 || small.Messages != 200 {
		t.Fatalf("sample of 50: sampled %d, grouped %d, messages %d", small.Sampled, n, small.Messages)
	}

	if _, err := k.DeadLetterSummary(ctx, "no-such\x1b[31m", 10); err == nil || !strings.Contains(err.Error(), `unknown topic "no-such\x1b[31m"`) {
		t.Fatalf("unknown topic: %v", err)
	}

	// the form `mqops dlq` uses
	all, err := k.DeadLetterTopics(ctx, 1000)
	if err != nil || len(all) != 1 || all[0].Backend != "kafka" || all[0].Topic != "orders.DLT" || all[0].Sampled != 200 || len(all[0].Groups) != len(oracle) {
		t.Fatalf("DeadLetterTopics: %+v, %v", all, err)
	}
}

// readAll reads a whole topic with franz-go, as an oracle. The topic must
// not be transactional (the read stops at the record before the log end).
func readAll(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends := offsetsOf(t, brokers, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	pos := map[int32]int64{}
	done := func() bool {
		for p, e := range ends {
			if e[1] > e[0] && pos[p] < e[1]-1 {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v (%d records)", topic, err, len(out))
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("reading %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			pos[r.Partition] = r.Offset
		})
	}
	return out
}

// offsetsOf returns each partition's log start and log end, with franz-go.
func offsetsOf(t *testing.T, brokers []string, topic string) map[int32][2]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32][2]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, o.Partition, o.Err)
		}
		s, _ := starts.Lookup(topic, o.Partition)
		out[o.Partition] = [2]int64{s.Offset, o.Offset}
	})
	return out
}
