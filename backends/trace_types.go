package backends

import "context"

// Looking for one message in the brokers (a trace): the last records of a
// Kafka topic's partitions, and RabbitMQ queues through the peek that
// leaves them as they were.

// KafkaFindQuery asks for the records of a topic that match, among the
// last ones of the partitions searched. Nothing is committed: no consumer
// group is used.
type KafkaFindQuery struct {
	Topic string
	// Key, when not nil, searches only the partition Kafka's default
	// partitioner (murmur2, as the Java client) puts the key in; nil:
	// every partition.
	Key []byte
	// Depth bounds the records read: the last ones of the partitions
	// searched, Depth in all, shared as evenly as their sizes allow.
	Depth int
	// Match says whether a record is one looked for.
	Match func(*KafkaRecord) bool
	// MaxMatches bounds the records returned (default 10): the search
	// stops at that many.
	MaxMatches int
}

// KafkaFindResult is what a search read and found. Matches carry their
// key, headers, partition, offset and timestamp, not their value.
type KafkaFindResult struct {
	Topic      string          `json:"topic"`
	Partitions int32           `json:"partitions"` // the topic's partition count
	Searched   []KafkaFindPart `json:"searched"`
	Read       int             `json:"read"`
	Matches    []KafkaRecord   `json:"matches"`
}

// KafkaFindPart is one partition searched: the offsets [From, End) were
// to be read (End the last stable offset), Read records were.
type KafkaFindPart struct {
	Partition int32 `json:"partition"`
	LogStart  int64 `json:"log_start"`
	From      int64 `json:"from"`
	End       int64 `json:"end"`
	Read      int   `json:"read"`
}

// KafkaMessageFinder finds records by their headers (backends/kafka).
type KafkaMessageFinder interface {
	FindRecords(ctx context.Context, q KafkaFindQuery) (*KafkaFindResult, error)
	// DeadLetterTopicsOf names the dead-letter topics of topic that exist
	// (by name: orders.DLT, orders-dlt, dlq.orders…).
	DeadLetterTopicsOf(ctx context.Context, topic string) ([]string, error)
}

// RabbitMessageFinder finds messages in RabbitMQ queues (backends/rabbitmq):
// the queues a publish reaches, where a queue's dead letters go, and the
// peek that leaves a queue as it was (PeekOptions.Match keeps only the
// messages looked for).
type RabbitMessageFinder interface {
	Routes(ctx context.Context, vhost, exchange, routingKey string) (queues []string, predictable bool, err error)
	// DeadLetterQueuesOf names the queues queue's dead-letter exchange
	// routes its dead letters to (published with routingKeys).
	DeadLetterQueuesOf(ctx context.Context, vhost, queue string, routingKeys []string) ([]string, error)
	PeekQueue(ctx context.Context, vhost, queue string, o PeekOptions) (*PeekResult, error)
}
