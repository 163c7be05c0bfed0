package backends

import (
	"errors"
	"time"
)

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
	// Invalid names the numeric fields (by their JSON name here: ready,
	// unacked, messages, consumers, publish_rate, deliver_rate, ack_rate)
	// that the management API sent out of range — a count that is not an
	// integer in [0, 2^63), a rate that is not a finite number ≥ 0 — with
	// the raw text it sent. Such a field is 0 here: show the raw text
	// flagged, and never count, sum or sort by it.
	Invalid map[string]string `json:"invalid,omitempty"`
	// NoStats says the listing carried no statistics (a quick listing,
	// RabbitSource.QueueTotals): Consumers and the rates are unknown, not 0.
	NoStats bool `json:"-"`
}

// ErrNoQueueTotals: the management API does not list the queues' depths
// without statistics (an API before enable_queue_totals), or the user may
// not read the policies that listing needs; list with statistics instead.
var ErrNoQueueTotals = errors.New("the management API lists no queue totals without statistics")

// Valid reports whether the numeric field named (by its JSON name) came
// in range from the management API.
func (q *Queue) Valid(field string) bool {
	_, bad := q.Invalid[field]
	return !bad
}

// Depth is what the queue holds (messages, else ready + unacked); ok is
// false when the management API sent none of them in range.
func (q *Queue) Depth() (n int64, ok bool) {
	switch {
	case q.Valid("messages") && q.Valid("ready") && q.Valid("unacked"):
		return max(q.Messages, q.Ready+q.Unacked), true
	case q.Valid("messages"):
		return q.Messages, true
	case q.Valid("ready") && q.Valid("unacked"):
		return q.Ready + q.Unacked, true
	}
	return 0, false
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
	// Invalid: as Queue.Invalid (messages, ready, unacked, queues,
	// consumers, connections).
	Invalid map[string]string `json:"invalid,omitempty"`
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
	// NotSampled, when set, says why the messages were not read (Sampled
	// is 0 and Groups empty): peeking would have changed the queue.
	NotSampled *PeekRisk `json:"not_sampled,omitempty"`
	// LeftToDrain (Kafka only): the records after mqops's drain group's
	// committed offsets (see KafkaDLT.LeftToDrain).
	LeftToDrain *int64 `json:"left_to_drain,omitempty"`
}

// Peek risk kinds.
const (
	// RiskDeliveryLimit: every message a peek reads loses one of its
	// delivery attempts (a quorum queue with a delivery limit, on a
	// RabbitMQ that counts requeues); a message out of attempts is dropped
	// or dead-lettered onward. A peek happens only when the operator
	// accepts that cost for that queue.
	RiskDeliveryLimit = "delivery_limit"
	// RiskOrder: a peek cannot keep the queue's order (a quorum queue
	// without a delivery limit puts requeued messages at its back, so a
	// peek reads the whole queue, and this one is deeper than a peek
	// reads). No peek is done.
	RiskOrder = "order"
)

// PeekRisk says why reading a queue's messages (get, then requeue) would
// change the queue, in numbers. A nil *PeekRisk means a peek changes
// nothing.
type PeekRisk struct {
	Kind string `json:"kind"` // RiskDeliveryLimit or RiskOrder
	// Reason is one sentence for an operator, with the numbers.
	Reason string `json:"reason"`
	// Depth is the number of messages ready when the risk was assessed.
	Depth int64 `json:"depth"`
	// DeliveryLimit is the queue's effective delivery limit (a message
	// requeued more than that many times is dropped or dead-lettered), and
	// LimitSource where it comes from: "argument x-delivery-limit",
	// "policy NAME", "the default of RabbitMQ 4".
	DeliveryLimit int64  `json:"delivery_limit,omitempty"`
	LimitSource   string `json:"limit_source,omitempty"`
	// OverLimit is what happens to a message requeued more than
	// DeliveryLimit times: "dropped" or "dead-lettered to exchange X".
	OverLimit string `json:"over_limit,omitempty"`
	// CountsShown says the broker shows each message's requeues so far
	// in its x-delivery-count header (RabbitMQ 3.x); RabbitMQ 4.0 to 4.2
	// counts them where a client cannot see.
	CountsShown bool   `json:"counts_shown,omitempty"`
	Version     string `json:"rabbitmq_version,omitempty"`
}

// AttemptsLeft is how many more times m can be requeued after the peek
// that read it requeued it once, before RabbitMQ drops or dead-letters it
// (negative: that requeue was past the limit, and m is gone from the
// queue); ok is false when the broker does not show the count.
func (r *PeekRisk) AttemptsLeft(m *Message) (left int64, ok bool) {
	if r == nil || r.Kind != RiskDeliveryLimit || !r.CountsShown {
		return 0, false
	}
	return r.DeliveryLimit - (max(m.DeliveryCount(), 0) + 1), true
}

// DeliveryCount is the x-delivery-count header of a message read from a
// quorum queue (the requeues before this delivery, on RabbitMQ 3.x); -1
// when it has none.
func (m *Message) DeliveryCount() int64 {
	switch v := m.Headers["x-delivery-count"].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return -1
}

// PeekRiskError is the error of a peek that was not done because it would
// have changed the queue; errors.As finds it.
type PeekRiskError struct {
	Vhost, Queue string
	Risk         *PeekRisk
}

func (e *PeekRiskError) Error() string {
	return "not peeked at queue " + SafeText(e.Queue) + ": " + e.Risk.Reason
}

// PeekOptions select the messages a peek reads.
type PeekOptions struct {
	Offset, Limit int
	// AcceptRisk peeks even a queue whose PeekRisk is of kind
	// RiskDeliveryLimit: the operator asked for that queue and accepts
	// that every message read loses one delivery attempt.
	AcceptRisk bool
	// Match, when set, keeps only the messages of Offset..Offset+Limit-1
	// it matches (a search: the others are read and requeued, not held).
	Match func(*Message) bool
}

// PeekResult is what a peek read.
type PeekResult struct {
	// Messages are messages Offset.. of the queue (at most Limit).
	Messages []Message `json:"messages"`
	// Depth is the number of messages ready when the peek started.
	Depth int64 `json:"depth"`
	// Read is how many messages the peek read and requeued: at least
	// Offset+len(Messages), more where keeping the queue's order needs it
	// (the requeued messages at the head of a quorum queue, or a whole
	// quorum queue without a delivery limit).
	Read int `json:"read"`
	// Risk is the cost the operator accepted (AcceptRisk); nil: the peek
	// changed nothing.
	Risk *PeekRisk `json:"risk,omitempty"`
	// Warning tells what the peek could not keep (e.g. the order of
	// messages published while it ran).
	Warning string `json:"warning,omitempty"`
}
