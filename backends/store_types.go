package backends

import (
	"errors"
	"time"
)

// The application's own tables (DESIGN.md §5): the sending table (outbox),
// the retry table and the idempotency table, read and changed by
// backends/store over SQL. Nothing of a database driver appears here.
//
// Row ids are strings whatever the column's type (bigint, uuid, text): the
// store writes them back as the database reads them. Strings are raw, as
// stored: pass them through SafeText before they reach a terminal.

// StoreHeader is one header of a stored message, in the order stored.
type StoreHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// OutboxRow is one row of the sending table.
type OutboxRow struct {
	ID          string `json:"id"`
	MessageID   string `json:"message_id"`
	Destination string `json:"destination"`
	Key         string `json:"key"`
	// Status is the value stored (a preset's "Scheduled", a mapping's "0").
	Status        string    `json:"status"`
	Attempts      int       `json:"attempts"`
	CreatedAt     time.Time `json:"created_at"`
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
	LastError     string    `json:"last_error"`
	// Payload and Headers are what a resend publishes; they are read only
	// when OutboxQuery.WithPayload asks for them.
	Payload []byte        `json:"-"`
	Headers []StoreHeader `json:"-"`
}

// Age is how long ago the row was created, at now.
func (r *OutboxRow) Age(now time.Time) time.Duration { return now.Sub(r.CreatedAt) }

// OutboxQuery selects rows of the sending table still pending (a status
// the mapping counts as pending) and created at least OlderThan ago.
type OutboxQuery struct {
	OlderThan   time.Duration // 0: the store's pending-after (default 5m)
	Destination string        // "": every destination
	IDs         []string      // nil: any row
	Limit       int           // at most this many rows, oldest first; 0: the store's bound
	WithPayload bool
}

// OutboxPage is the answer to an OutboxQuery: the rows (oldest first) and,
// per destination, how many match and the oldest (counted over every
// matching row, not only those returned). More says rows were left out by
// the limit.
type OutboxPage struct {
	Rows         []OutboxRow       `json:"pending"`
	Destinations []PendingByTarget `json:"destinations"`
	Total        int               `json:"total"`
	More         bool              `json:"more"`
	Now          time.Time         `json:"now"` // the database's clock when read
}

// PendingByTarget counts the pending rows of one destination.
type PendingByTarget struct {
	Destination string    `json:"destination"`
	Pending     int       `json:"pending"`
	Oldest      time.Time `json:"oldest"`
}

// RetryRow is one row of the retry table (a river job that is retryable
// or discarded, with the preset river).
type RetryRow struct {
	ID          string    `json:"id"`
	MessageID   string    `json:"message_id"`
	Kind        string    `json:"kind,omitempty"` // river's job kind
	Source      string    `json:"source,omitempty"`
	Destination string    `json:"destination"` // "": the row cannot be republished
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"max_attempts"` // 0: the table has no maximum
	NextRetryAt time.Time `json:"next_retry_at,omitzero"`
	LastError   string    `json:"last_error"`
	// ErrorGroup is LastError normalised (numbers, ids, quoted values
	// replaced; an exception class kept): rows that failed for one reason
	// share it.
	ErrorGroup string        `json:"error_group"`
	CreatedAt  time.Time     `json:"created_at"`
	Dead       bool          `json:"dead"` // given up: discarded, dead
	Payload    []byte        `json:"-"`
	Headers    []StoreHeader `json:"-"`
}

// RetryQuery selects rows of the retry table.
type RetryQuery struct {
	IDs         []string // nil: any row
	ErrorGroup  string   // "": any error
	Dead        *bool    // nil: both
	Limit       int      // 0: the store's bound
	WithPayload bool
	// MessageID, when set, selects the rows of that message id whatever
	// their status (done too; Dead is ignored): where a message is. A
	// table without a message id column answers ErrNoMessageID.
	MessageID string
}

// ErrNoMessageID says a table has no message id column: a message cannot
// be looked up in it.
var ErrNoMessageID = errors.New("the table has no message id column")

// RetryGroup counts the retry rows of one error group.
type RetryGroup struct {
	Error string    `json:"error"`
	Count int       `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// RetryPage is the answer to a RetryQuery.
type RetryPage struct {
	Rows   []RetryRow   `json:"retries"`
	Groups []RetryGroup `json:"groups"`
	Total  int          `json:"total"`
	More   bool         `json:"more"`
	Now    time.Time    `json:"now"`
}

// Consumption is one row of the idempotency table: a message id consumed.
type Consumption struct {
	MessageID  string    `json:"message_id"`
	Consumer   string    `json:"consumer"`
	ConsumedAt time.Time `json:"consumed_at"`
}
