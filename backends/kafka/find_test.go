package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

func init() {
	// a search, and the dead-letter topics of a topic: bounded as the others
	kafkaOps["FindRecords"] = func(ctx context.Context, k *Client) error {
		_, err := k.FindRecords(ctx, backends.KafkaFindQuery{Topic: "orders", Depth: 10, Match: func(*backends.KafkaRecord) bool { return true }})
		return err
	}
	kafkaOps["DeadLetterTopicsOf"] = func(ctx context.Context, k *Client) error {
		_, err := k.DeadLetterTopicsOf(ctx, "orders")
		return err
	}
}

func idHeader(id string) func(*backends.KafkaRecord) bool {
	return func(r *backends.KafkaRecord) bool {
		v, ok := r.Header("mqops-message-id")
		return ok && string(v) == id
	}
}

// TestRealFindRecords: on the real Kafka, a search by key reads only the
// last records of the partition murmur2 gives the key (franz-go's
// partitioner as the oracle), at most Depth of them: a record Depth+1
// records back is not found, Depth+1 deep it is, with its partition,
// offset, key and headers and without its value; without a key every
// partition is searched, the depth shared; matches stop at MaxMatches;
// the dead-letter topics of a topic are found by name.
func TestRealFindRecords(t *testing.T) {
	const parts = 4
	k, brokers := realClient(t)
	topic := newPublishTopic(t, k, brokers, parts, nil)
	dlt := topic + ".DLT"
	kafkatest.CreateTopic(t, brokers, dlt, 1, nil)
	var msgs []backends.OutgoingMessage
	for i := range 200 {
		msgs = append(msgs, backends.OutgoingMessage{ID: fmt.Sprint(i), Target: backends.RouteTarget{Broker: "kafka", Topic: topic}, Key: fmt.Appendf(nil, "key-%d", i%5),
			Value: []byte(strings.Repeat("v", 1000)), Headers: []backends.StoreHeader{{Key: "mqops-message-id", Value: fmt.Sprintf("m-%d", i)}}})
	}
	confirmedAll(t, k.Publish(context.Background(), msgs), msgs)
	part := int32(kgo.StickyKeyPartitioner(nil).ForTopic(topic).Partition(&kgo.Record{Key: []byte("key-3")}, parts))
	if p, err := KeyPartition([]byte("key-3"), parts); err != nil || p != part {
		t.Fatalf("KeyPartition %d %v, murmur2 gives %d", p, err, part)
	}
	ctx := context.Background()
	// m-103 is the 21st message of key-3; 19 more of its key follow it (its
	// partition may hold other keys' too)
	r, err := k.FindRecords(ctx, backends.KafkaFindQuery{Topic: topic, Key: []byte("key-3"), Depth: 1_000, Match: idHeader("m-103")})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Searched) != 1 || r.Searched[0].Partition != part || r.Partitions != parts || len(r.Matches) != 1 {
		t.Fatalf("%+v", r)
	}
	m := r.Matches[0]
	after := r.Searched[0].End - m.Offset // records from it to the end
	if m.Partition != part || string(m.Key) != "key-3" || m.Value != nil || len(m.Headers) != 1 || m.Timestamp.IsZero() {
		t.Fatalf("match %+v", m)
	}
	r, err = k.FindRecords(ctx, backends.KafkaFindQuery{Topic: topic, Key: []byte("key-3"), Depth: int(after - 1), Match: idHeader("m-103")})
	if err != nil || len(r.Matches) != 0 || r.Read != int(after-1) || r.Searched[0].From != m.Offset+1 {
		t.Fatalf("depth %d: %v %+v", after-1, err, r)
	}
	r, err = k.FindRecords(ctx, backends.KafkaFindQuery{Topic: topic, Key: []byte("key-3"), Depth: int(after), Match: idHeader("m-103")})
	if err != nil || len(r.Matches) != 1 || r.Matches[0].Offset != m.Offset {
		t.Fatalf("depth %d: %v %+v", after, err, r)
	}
	// no key: every partition, 200 records in all
	r, err = k.FindRecords(ctx, backends.KafkaFindQuery{Topic: topic, Depth: 1_000, Match: idHeader("m-0")})
	if err != nil || len(r.Searched) != parts || r.Read != 200 || len(r.Matches) != 1 {
		t.Fatalf("no key: %v %+v", err, r)
	}
	r, err = k.FindRecords(ctx, backends.KafkaFindQuery{Topic: topic, Depth: 100, Match: func(*backends.KafkaRecord) bool { return true }, MaxMatches: 7})
	if err != nil || len(r.Matches) != 7 || r.Read > 100 {
		t.Fatalf("max matches: %v %d matches, %d read", err, len(r.Matches), r.Read)
	}
	if _, err := k.FindRecords(ctx, backends.KafkaFindQuery{Topic: topic + ".nope", Depth: 10, Match: idHeader("x")}); err == nil || !strings.Contains(err.Error(), "unknown topic") {
		t.Fatalf("unknown topic: %v", err)
	}
	for _, d := range []int{0, -1, MaxFindDepth + 1} {
		if _, err := k.FindRecords(ctx, backends.KafkaFindQuery{Topic: topic, Depth: d, Match: idHeader("x")}); err == nil {
			t.Fatalf("depth %d accepted", d)
		}
	}
	dlts, err := k.DeadLetterTopicsOf(ctx, topic)
	if err != nil || len(dlts) != 1 || dlts[0] != dlt {
		t.Fatalf("dead-letter topics of %s: %v %v", topic, dlts, err)
	}
}

func TestDLTOf(t *testing.T) {
	for name, want := range map[string]bool{"orders.DLT": true, "orders-dlt": true, "dlq.orders": true, "ORDERS_error": true, "orders": false, "orders.retry": false,
		"payments.DLT": false, "orders.v2.DLT": false} {
		if got := dltOf(name, "orders"); got != want {
			t.Errorf("dltOf(%q, orders) = %v", name, got)
		}
	}
}
