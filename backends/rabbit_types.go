package backends

import "time"

// Queue is one RabbitMQ queue as the management API reports it.
type Queue struct {
	Vhost       string  `json:"vhost"`
	Name        string  `json:"name"`
	Type        string  `json:"type"` // classic, quorum, stream
	Durable     bool    `json:"durable"`
	State       string  `json:"state"`
	Ready       int64   `json:"ready"`
	Unacked     int64   `json:"unacked"`
	Messages    int64   `json:"messages"`
	Consumers   int64   `json:"consumers"`
	PublishRate float64 `json:"publish_rate"`
	DeliverRate float64 `json:"deliver_rate"`
	AckRate     float64 `json:"ack_rate"`
	// Arguments are the queue's x- arguments (values as JSON decoded them).
	Arguments        map[string]any `json:"arguments"`
	Policy           string         `json:"policy"`
	PolicyDefinition map[string]any `json:"policy_definition,omitempty"`
	// DeadLetterExchange is set when the queue dead-letters (from its
	// x-dead-letter-exchange argument or its effective policy); "" with
	// HasDeadLetterExchange means the default exchange.
	HasDeadLetterExchange bool   `json:"has_dead_letter_exchange"`
	DeadLetterExchange    string `json:"dead_letter_exchange"`
	DeadLetterRoutingKey  string `json:"dead_letter_routing_key,omitempty"`
	DeliveryLimit         *int64 `json:"delivery_limit,omitempty"`
	// IsDLQ says the queue holds dead letters; DLQReason says how that was
	// detected.
	IsDLQ     bool   `json:"is_dlq"`
	DLQReason string `json:"dlq_reason,omitempty"`
}

// RabbitOverview is the broker-wide summary.
type RabbitOverview struct {
	ClusterName     string `json:"cluster_name"`
	RabbitMQVersion string `json:"rabbitmq_version"`
	ErlangVersion   string `json:"erlang_version"`
	Messages        int64  `json:"messages"`
	Ready           int64  `json:"ready"`
	Unacked         int64  `json:"unacked"`
	Queues          int64  `json:"queues"`
	Consumers       int64  `json:"consumers"`
	Connections     int64  `json:"connections"`
}

// Binding routes from an exchange to a queue or exchange.
type Binding struct {
	Source          string         `json:"source"`
	Destination     string         `json:"destination"`
	DestinationType string         `json:"destination_type"`
	RoutingKey      string         `json:"routing_key"`
	Arguments       map[string]any `json:"arguments,omitempty"`
}

// QueueConsumer is one consumer of a queue.
type QueueConsumer struct {
	Tag         string `json:"consumer_tag"`
	Connection  string `json:"connection"`
	Channel     string `json:"channel"`
	AckRequired bool   `json:"ack_required"`
	Prefetch    int64  `json:"prefetch_count"`
}

// QueueDetail is a queue with its bindings and consumers.
type QueueDetail struct {
	Queue     Queue           `json:"queue"`
	Bindings  []Binding       `json:"bindings"`
	Consumers []QueueConsumer `json:"consumers"`
}

// Death is one entry of a RabbitMQ x-death header (most recent first).
type Death struct {
	Queue       string    `json:"queue"`
	Reason      string    `json:"reason"`
	Exchange    string    `json:"exchange"`
	RoutingKeys []string  `json:"routing_keys"`
	Count       int64     `json:"count"`
	Time        time.Time `json:"time"`
}

// Message is a message peeked from (or moved out of) a queue. Body and
// header values are raw: sanitize them when displaying.
type Message struct {
	Index         int       `json:"index"`
	Exchange      string    `json:"exchange"`
	RoutingKey    string    `json:"routing_key"`
	Redelivered   bool      `json:"redelivered"`
	ContentType   string    `json:"content_type,omitempty"`
	Encoding      string    `json:"content_encoding,omitempty"`
	MessageID     string    `json:"message_id,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	Timestamp     time.Time `json:"timestamp,omitzero"`
	AppID         string    `json:"app_id,omitempty"`
	Type          string    `json:"type,omitempty"`
	DeliveryMode  uint8     `json:"delivery_mode"`
	Priority      uint8     `json:"priority,omitempty"`
	Expiration    string    `json:"expiration,omitempty"`
	ReplyTo       string    `json:"reply_to,omitempty"`
	UserID        string    `json:"user_id,omitempty"`
	// Headers hold plain Go values: string, int64, float64, bool,
	// time.Time (UTC), []byte, nil, []any and map[string]any.
	Headers map[string]any `json:"headers,omitempty"`
	// Body is at most 1 MiB of a peeked message (Truncated then), the
	// whole body of a moved one; Size is the real size.
	Body      []byte `json:"body"`
	Size      int    `json:"size"`
	Truncated bool   `json:"truncated,omitempty"`
	// Deaths is the parsed x-death header, most recent first.
	Deaths []Death `json:"deaths,omitempty"`
	// FirstDeath is x-first-death-queue, -reason and -exchange (Queue,
	// Reason and Exchange only); nil without them.
	FirstDeath *Death `json:"first_death,omitempty"`
}

// Origin is where a dead letter came from: the first-death queue and
// reason (x-first-death-*), else the queue and reason of its most recent
// x-death entry; "" when it has no death history.
func (m *Message) Origin() (queue, reason string) {
	if m.FirstDeath != nil && m.FirstDeath.Queue != "" {
		return m.FirstDeath.Queue, m.FirstDeath.Reason
	}
	if len(m.Deaths) > 0 {
		return m.Deaths[0].Queue, m.Deaths[0].Reason
	}
	return "", ""
}

// DeadLetterGroup counts dead letters of one origin, reason and exception.
type DeadLetterGroup struct {
	Origin    string    `json:"origin"`
	Reason    string    `json:"reason"`
	Exception string    `json:"exception"`
	Count     int       `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
}

// DeadLetterSummary groups the dead letters of one DLQ (or dead-letter
// topic), sampled from its first Sampled messages.
type DeadLetterSummary struct {
	Backend  string            `json:"backend"` // rabbitmq or kafka
	Vhost    string            `json:"vhost,omitempty"`
	Queue    string            `json:"queue,omitempty"`
	Topic    string            `json:"topic,omitempty"`
	Messages int64             `json:"messages"`
	Sampled  int               `json:"sampled"`
	Groups   []DeadLetterGroup `json:"groups"`
	Warning  string            `json:"warning,omitempty"`
	// LeftToDrain (Kafka only): the records after mqops's drain group's
	// committed offsets (see KafkaDLT.LeftToDrain).
	LeftToDrain *int64 `json:"left_to_drain,omitempty"`
}
