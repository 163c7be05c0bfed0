package kafka

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
)

// sizedMessage is a record of topic with the headers a move adds whose
// record batch is exactly size bytes (recordBatchSize), found by growing
// its value.
func sizedMessage(t *testing.T, topic string, size int) *sarama.ProducerMessage {
	t.Helper()
	r := &backends.KafkaRecord{Topic: "x.DLT", Partition: 3, Offset: 12345, Key: []byte("key-1"),
		Headers: []backends.KafkaHeader{{Key: "kafka_dlt-original-topic", Value: []byte(topic)}, {Key: "empty", Value: nil}}}
	for n := max(0, size-2000); n <= size; n++ {
		r.Value = make([]byte, n)
		msg := newMessage(r, topic, "20260101T000000-0123456789ab")
		if got := recordBatchSize(r.Key, r.Value, msg.Headers); got == size {
			return msg
		}
	}
	t.Fatalf("no value length gives a batch of %d bytes", size)
	return nil
}

// checkBatchSizeAsTheBroker produces, on brokers, a record whose batch is
// exactly topic's limit (accepted), and one a byte larger (refused with
// MESSAGE_TOO_LARGE): the size mqops computes is the size the broker
// measures.
func checkBatchSizeAsTheBroker(t *testing.T, brokers []string, cl *kgo.Client, topic string, limit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v := strconv.Itoa(limit)
	if _, err := kadm.NewClient(cl).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, topic); err != nil {
		t.Fatal(err)
	}
	k, _ := New(Config{Brokers: brokers, Timeout: 10 * time.Second})
	defer k.Close()
	cfg := k.produceConfig(newWatch(10*time.Second, false), maxProducerBytes) // the producer's own check out of the way
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := p.SendMessage(sizedMessage(t, topic, limit)); err != nil {
		t.Fatalf("a record batch of exactly max.message.bytes (%d) was refused: %v", limit, err)
	}
	_, _, err = p.SendMessage(sizedMessage(t, topic, limit+1))
	if !errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		t.Fatalf("a record batch one byte over max.message.bytes (%d): %v, want MESSAGE_TOO_LARGE", limit, err)
	}
}

// TestRecordBatchSizeAsTheBroker: on kfake, as on Kafka (the integration
// test), mqops measures a record as the broker does.
func TestRecordBatchSizeAsTheBroker(t *testing.T) {
	cl, k := fake(t, map[string]int32{"sized": 1})
	checkBatchSizeAsTheBroker(t, k.cfg.Brokers, cl, "sized", 5000)
}

// TestSizeCheck: a record fits when its batch fits the topic's limit and
// the producer's estimate fits the producer's; the headers a move adds
// count.
func TestSizeCheck(t *testing.T) {
	const limit = 5000
	for _, tc := range []struct {
		size int
		by   string
	}{{limit + 1, backends.RefusedByTopic}, {limit, backends.RefusedByProducer}, {limit - 200, ""}} {
		msg := sizedMessage(t, "t", tc.size)
		r := &backends.KafkaRecord{Partition: 3, Offset: 12345}
		ov := sizeCheck(r, msg, "t", limit)
		switch {
		case tc.by == "" && ov != nil:
			t.Errorf("a batch of %d bytes under a limit of %d: %+v", tc.size, limit, ov)
		case tc.by != "" && (ov == nil || ov.RefusedBy != tc.by || ov.Size != tc.size || ov.Limit != limit || ov.Target != "t" || ov.Offset != 12345):
			t.Errorf("a batch of %d bytes under a limit of %d: %+v, want refused by %s", tc.size, limit, ov, tc.by)
		}
	}
	// the move's headers are in the size
	r := &backends.KafkaRecord{Topic: "x.DLT", Value: make([]byte, 100)}
	plain := recordBatchSize(nil, r.Value, nil)
	if moved := newMessage(r, "t", "run"); recordBatchSize(nil, r.Value, moved.Headers) <= plain+len(HeaderReplaySource)+len(HeaderRunID) {
		t.Errorf("the added headers are not counted")
	}
	if !strings.Contains(OversizedText("x.DLT", &backends.KafkaOversized{Partition: 1, Offset: 2, Size: 10, Limit: 9, Target: "t", RefusedBy: backends.RefusedByTopic}, "then"),
		`x.DLT partition 1 offset 2 is 10 bytes, more than the 9 bytes topic "t" accepts (max.message.bytes): then`) {
		t.Error("OversizedText")
	}
}
