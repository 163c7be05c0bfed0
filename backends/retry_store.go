package backends

import "context"

// RetryStore is what the retry actions need of the application's retry
// table (backends/store implements it): its rows, and the three changes an
// operator makes to them.
type RetryStore interface {
	// Name names the database, without a secret.
	Name() string
	HasRetry() bool
	// CanRepublishRetries says the rows carry a destination and a payload.
	CanRepublishRetries() bool
	// MessageIDHeader is the header a message id travels under.
	MessageIDHeader() string
	Retries(ctx context.Context, q RetryQuery) (*RetryPage, error)
	// RetryNowRows makes waiting or dead rows due now for the
	// application's job; GiveUpRows marks waiting rows dead;
	// MarkRepublished marks rows done after the broker confirmed their
	// republish. Each changes a row only where it still has the attempts
	// read (the application's job did not take it since), and returns how
	// many rows it changed.
	RetryNowRows(ctx context.Context, rows []RetryRow) (int, error)
	GiveUpRows(ctx context.Context, rows []RetryRow) (int, error)
	MarkRepublished(ctx context.Context, rows []RetryRow) (int, error)
}

// MessageStore is what a trace asks the application's tables about one
// message id: its rows in the sending and retry tables, and whether it was
// consumed. A table the store lacks is not asked (Has…).
type MessageStore interface {
	Name() string
	HasOutbox() bool
	HasRetry() bool
	HasIdempotency() bool
	MessageIDHeader() string
	// OutboxRowsOf reads the sending table's rows of a message id, any
	// status, newest first (bounded).
	OutboxRowsOf(ctx context.Context, messageID string) ([]OutboxRow, error)
	// Retries with RetryQuery.MessageID set reads the retry rows of a
	// message id (ErrNoMessageID: the table has no message id column).
	Retries(ctx context.Context, q RetryQuery) (*RetryPage, error)
	Consumed(ctx context.Context, messageID string) ([]Consumption, error)
}
