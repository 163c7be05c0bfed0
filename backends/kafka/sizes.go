package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/IBM/sarama"

	"github.com/mqops/mqops/backends"
)

// How Kafka and sarama measure a record against their limits.
//
// The broker checks each record batch it receives (magic v2) against the
// topic's max.message.bytes (which defaults to the broker's
// message.max.bytes, 1,048,588): the batch's whole size, its 61-byte header
// included, as sent (a move produces uncompressed). A record that the
// broker refuses alone can never be moved to that topic.
//
// sarama's producer first refuses a message whose estimate
// (ProducerMessage.ByteSize: 36 bytes of record overhead, 10 per header,
// plus key, value and header bytes; never less than the record's encoded
// size) exceeds Producer.MaxMessageBytes, and then batches messages per
// partition while 49 + the sum of their estimates stays below
// MaxMessageBytes. A batch is at most 12 bytes (61 − 49) larger than that
// sum: with MaxMessageBytes = limit − 12, no batch sarama builds is larger
// than the limit. A move therefore uses one producer per distinct limit of
// its target topics, and a record moves only when both its batch size and
// its estimate fit.
const (
	batchHeaderBytes = 61 // a v2 record batch's header
	// saramaBatchSlack is what sarama's batch estimate leaves out of the
	// real batch size (the v2 header is 61 bytes, sarama counts 49).
	saramaBatchSlack = 12
	// defaultMaxMessageBytes is Kafka's default message.max.bytes.
	defaultMaxMessageBytes = 1048588
	// maxProducerBytes caps a producer's MaxMessageBytes below sarama's
	// MaxRequestSize, and with it the largest record mqops produces.
	maxProducerBytes = 100<<20 - 64<<10
	// maxOversizedListed bounds the oversized records a plan or a result
	// names one by one (all are counted).
	maxOversizedListed = 100
)

// varintLen is the size of v as a zigzag varint (Kafka's varint/varlong).
func varintLen(v int64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutVarint(b[:], v)
}

// bytesLen is the size of a varint-length-prefixed byte field (-1: null).
func bytesLen(b []byte) int {
	if b == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(b))) + len(b)
}

// recordBatchSize is the exact size, as the broker measures it against
// max.message.bytes, of an uncompressed v2 record batch holding only this
// record (offset and timestamp deltas 0).
func recordBatchSize(key, value []byte, headers []sarama.RecordHeader) int {
	body := 1 + varintLen(0) + varintLen(0) + bytesLen(key) + bytesLen(value) + varintLen(int64(len(headers)))
	for _, h := range headers {
		body += bytesLen(h.Key) + bytesLen(h.Value)
	}
	return batchHeaderBytes + varintLen(int64(body)) + body
}

// producerMax is the Producer.MaxMessageBytes of the producer that moves
// records to topics of max.message.bytes limit: no batch it builds exceeds
// the limit.
func producerMax(limit int) int {
	return max(1, min(limit-saramaBatchSlack, maxProducerBytes))
}

// sizeCheck measures msg, the record r as it will be produced to topic
// (headers the move adds included), against the topic's limit; nil when it
// fits.
func sizeCheck(r *backends.KafkaRecord, msg *sarama.ProducerMessage, topic string, limit int) *backends.KafkaOversized {
	var key, value []byte
	if k, ok := msg.Key.(sarama.ByteEncoder); ok {
		key = k
	}
	if v, ok := msg.Value.(sarama.ByteEncoder); ok {
		value = v
	}
	size := recordBatchSize(key, value, msg.Headers)
	ov := &backends.KafkaOversized{Partition: r.Partition, Offset: r.Offset, Size: size, Limit: limit, Target: topic}
	switch {
	case size > limit:
		ov.RefusedBy = backends.RefusedByTopic
	case msg.ByteSize(2) > producerMax(limit):
		ov.RefusedBy = backends.RefusedByProducer
	default:
		return nil
	}
	return ov
}

// limits reads and keeps the max.message.bytes of target topics.
type limits struct {
	ad     sarama.ClusterAdmin
	known  map[string]int // topic → limit; -1 when the topic does not exist
	notes  []string       // limits that could not be read, and assumed
	byName map[string]int // the limits read, for the plan
}

func newLimits(ad sarama.ClusterAdmin) *limits {
	return &limits{ad: ad, known: map[string]int{}, byName: map[string]int{}}
}

// of returns topic's limit (DescribeConfigs; the broker reports the
// effective value, message.max.bytes when the topic does not set it), and
// false when the topic does not exist. When it cannot be read, it is
// Kafka's default, and a note says so.
func (l *limits) of(topic string) (int, bool) {
	if n, ok := l.known[topic]; ok {
		return n, n > 0
	}
	n, err := readLimit(l.ad, topic)
	switch {
	case errors.Is(err, sarama.ErrUnknownTopicOrPartition):
		l.known[topic] = -1
		return -1, false
	case err != nil:
		n = defaultMaxMessageBytes
		l.notes = append(l.notes, fmt.Sprintf("could not read max.message.bytes of topic \"%s\" (%s): assuming Kafka's default of %d bytes",
			backends.SafeText(topic), backends.SafeText(err.Error()), defaultMaxMessageBytes))
	}
	l.known[topic], l.byName[topic] = n, n
	return n, true
}

func readLimit(ad sarama.ClusterAdmin, topic string) (int, error) {
	entries, err := ad.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"max.message.bytes"}})
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Name == "max.message.bytes" {
			n, err := strconv.Atoi(e.Value)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("unreadable value %q", e.Value)
			}
			return n, nil
		}
	}
	return 0, errors.New("not reported")
}
