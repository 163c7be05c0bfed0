package store

import (
	"context"

	"github.com/mqops/mqops/backends"
)

// A preset is a schema mqops knows: its default mapping of the three
// tables, and hooks for what a column mapping cannot say (CAP's message
// envelope in Content, river's errors array and its own retry SQL). Each
// preset lives in its own file (preset_mqops.go, preset_cap.go,
// preset_river.go) and registers itself from init with registerPreset.
//
// A hook left nil means the generic mapping does the work.
type preset struct {
	name string
	// drivers the preset supports; nil: all. driverNote ends the error
	// for another driver (" — CAP has no SQLite storage").
	drivers    []string
	driverNote string
	// messageIDHeader is the header a resend carries the message id in.
	messageIDHeader string
	// tables is the default mapping for a driver and Options.Schema; a nil
	// table is a kind the preset does not have.
	tables func(driver, schema string) presetTables
	// schemaInName: Options.Schema is already part of the table names
	// tables returns (cap on MySQL: the prefix of `cap.published`), so it
	// is not also a schema qualifier.
	schemaInName bool
	// validate runs after the tables were validated (versions, extras).
	validate func(ctx context.Context, s *Store) error
	// explain may add what the preset knows to the error of a table that
	// failed validation (river: the schema's migration version, when the
	// table is older than the preset needs). schema is Options.Schema.
	explain func(ctx context.Context, s *Store, schema string, err error) error
	// extraClasses widens the SQL types a logical column may have, by
	// "kind.key" ("retry.error": river's errors is a jsonb[]).
	extraClasses map[string][]colClass

	// Outbox hooks.

	// decodeOutbox fills a row's MessageID, Key, Headers, Payload and
	// LastError from the raw payload column when the message is an
	// envelope (cap's Content). full: raw is the whole column (a resend
	// reads it); otherwise a bounded prefix (envelopePrefix bytes).
	decodeOutbox func(r *backends.OutboxRow, raw []byte, full bool) error
	// sentSet adds SET clauses to MarkSent (cap: ExpiresAt, as CAP sets
	// it after a successful send).
	sentSet func(s *Store, b *sqlb) []string
	// markFailed replaces the generic MarkFailed (cap: the exception in
	// Content's headers and StatusName Failed, as CAP records a failure).
	markFailed func(ctx context.Context, s *Store, rows []backends.OutboxRow, msg string) error

	// Retry hooks.

	// retryErrorExpr is the SQL expression of a row's last error text
	// from the error column (river: the last element of errors[]).
	retryErrorExpr func(s *Store, col string) string
	// retryNow, giveUp replace the generic statements (river: its own
	// JobRetry / discard semantics).
	retryNow func(ctx context.Context, s *Store, ids []string) (int, error)
	giveUp   func(ctx context.Context, s *Store, ids []string) (int, error)

	// Idempotency hooks.

	// idemMessageIDExpr is the SQL expression of the message id in the
	// idempotency table's message_id column (cap: cap-msg-id inside the
	// received row's Content).
	idemMessageIDExpr func(s *Store, col string) string
}

// presetTables is a preset's default mapping.
type presetTables struct {
	Outbox, Retry, Idempotency *Table
}

// envelopePrefix is how much of an envelope column a listing reads to find
// the message's headers (CAP writes Headers before Value).
const envelopePrefix = 64 << 10

var presets = map[string]*preset{}

// registerPreset adds a preset; a second one of a name is a bug.
func registerPreset(p *preset) {
	if _, dup := presets[p.name]; dup {
		panic("store: preset " + p.name + " registered twice")
	}
	presets[p.name] = p
}
