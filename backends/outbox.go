package backends

import "context"

// The capabilities actions need of the application's tables and of a
// broker that publishes their rows (backends/store and the brokers'
// Publish implement them); actions and the console depend on these, the
// command wires the concrete ones.

// ConsumedIndex answers which message ids the application already
// consumed (its idempotency table). HasIdempotency false: the store has
// no such table, and ConsumedAmong is not to be called.
type ConsumedIndex interface {
	HasIdempotency() bool
	// ConsumedAmong says which of ids were consumed (batched).
	ConsumedAmong(ctx context.Context, ids []string) (map[string]bool, error)
	// MessageIDHeader is the header a message id travels under.
	MessageIDHeader() string
}

// OutboxStore is what a resend needs of the sending table: the pending
// rows, an optimistic claim, and the marks after the broker's answer.
type OutboxStore interface {
	ConsumedIndex
	// Name names the database, without a secret.
	Name() string
	Pending(ctx context.Context, q OutboxQuery) (*OutboxPage, error)
	// Claim claims rows at the attempts they carry (attempts+1 where the
	// row is still pending at that count); it returns the rows it
	// claimed, with their new attempts.
	Claim(ctx context.Context, rows []OutboxRow) ([]OutboxRow, error)
	// MarkSent marks claimed rows sent (only after a confirm), at their
	// claimed attempts; it returns how many it marked.
	MarkSent(ctx context.Context, rows []OutboxRow) (int, error)
	// MarkFailed records msg as the last error of claimed rows, which
	// stay pending.
	MarkFailed(ctx context.Context, rows []OutboxRow, msg string) error
}

// Publisher publishes messages with the broker's confirms: one result
// per message, in order, Err nil only for those the broker confirmed.
type Publisher interface {
	Publish(ctx context.Context, msgs []OutgoingMessage) []PublishResult
}

// RouteBacklog is what waits where a RabbitMQ publish to Exchange with
// RoutingKey goes: the queues its bindings reach (in vhost) and their
// ready and unacknowledged messages. Predictable is false when the
// bindings alone cannot say (a headers exchange, a plugin's type):
// Queues is then what could be worked out. More counts queues reached but
// not read (a bound on one answer).
type RouteBacklog struct {
	Vhost       string         `json:"vhost"`
	Exchange    string         `json:"exchange"`
	RoutingKey  string         `json:"routing_key"`
	Queues      []QueueBacklog `json:"queues"`
	Messages    int64          `json:"messages"` // ready + unacked, summed
	Predictable bool           `json:"predictable"`
	More        int            `json:"more,omitempty"`
}

// QueueBacklog is one queue's depth. Invalid names the counts the
// management API sent out of range (read as 0).
type QueueBacklog struct {
	Queue   string            `json:"queue"`
	Ready   int64             `json:"ready"`
	Unacked int64             `json:"unacked"`
	Invalid map[string]string `json:"invalid,omitempty"`
}
