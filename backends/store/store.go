// Package store reads and changes the application's own messaging tables
// (DESIGN.md §5): the sending table (outbox), the retry table and the
// idempotency table, on PostgreSQL, MySQL/MariaDB or SQLite, over
// database/sql. No driver type leaves the package: errors are plain text,
// redacted (the DSN never appears), and rows are backends' domain types.
//
// A schema is a preset (mqops, cap, river, see preset.go) plus optional
// overrides of its mapping (table, logical column → real column, logical
// status → stored values). Open validates the mapping against the live
// tables, so a missing or mistyped column is an error at start naming it.
//
// Every statement is bounded by Options.Timeout, every read by
// Options.MaxRows and by per-column size bounds (payloads 16 MiB, headers
// 1 MiB, error texts 8 KiB, other text 64 KiB); the pool holds at most 4
// connections so that the console never becomes the database's load.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// Options says which database and schema to open.
type Options struct {
	Driver string // "postgres" | "mysql" | "sqlite"
	// DSN is a secret: it never appears in an error, a log or an output.
	DSN    string
	Preset string // "mqops" (default) | "cap" | "river"
	// Schema overrides the preset's SQL schema (PostgreSQL), database
	// (MySQL) or attached database (SQLite); for cap on MySQL it is CAP's
	// TableNamePrefix (tables `cap.published`, `cap.received`). "" is the
	// preset's default (cap: "cap"; mqops: the connection's default).
	Schema string
	// Outbox, Retry and Idempotency override the preset's mapping; nil
	// keeps the preset's.
	Outbox, Retry, Idempotency *Table
	PendingAfter               time.Duration // default 5m
	Timeout                    time.Duration // bounds EACH statement; default 10s
	MaxRows                    int           // bound on the rows one query returns; default 10000
}

// Table maps one application table onto the logical columns and statuses.
// Overrides merge key by key over the preset's mapping; a column mapped to
// "" is unmapped (optional columns only).
type Table struct {
	// Name is "outbox" or "schema.outbox"; a name in double quotes or
	// backquotes is taken whole (`cap.published` is one MySQL table).
	// NoTable ("-") says the application has no table of this kind.
	Name     string
	Columns  map[string]string   // logical → real column name
	Statuses map[string][]string // logical → stored values ("pending" may have several)
}

// NoTable as a Table's Name says the application has no table of that kind.
const NoTable = "-"

// Defaults of Options.
const (
	DefaultPendingAfter = 5 * time.Minute
	DefaultTimeout      = 10 * time.Second
	DefaultMaxRows      = 10000
)

// Read bounds (bytes). A payload, key or headers value over its bound is
// an error for that row (a truncated message must never be resent); an
// error text over its bound is cut.
const (
	MaxPayload    = 16 << 20
	MaxHeaders    = 1 << 20
	MaxErrorText  = 8 << 10
	MaxShortText  = 64 << 10
	maxWriteError = 2 << 10 // MarkFailed stores at most this much of a message
	maxOpenConns  = 4
	chunkSize     = 500 // ids per statement
)

// The bounds in force; tests lower them to prove them on every database
// (MariaDB's max_allowed_packet forbids writing 16 MiB values).
var (
	maxPayload   = MaxPayload
	maxHeaders   = MaxHeaders
	maxErrorText = MaxErrorText
)

// Store is an open database with its validated mapping. It is safe for
// concurrent use.
type Store struct {
	db           *sql.DB
	d            dialect
	name         string
	preset       *preset
	outbox       *mapped
	retry        *mapped
	idem         *mapped
	pendingAfter time.Duration
	timeout      time.Duration
	maxRows      int
}

// Open connects, pings and validates every mapped table against the live
// database. Errors name the table, column and mapping key at fault, and
// never the DSN.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.DSN != "" {
		backends.RegisterSecret(o.DSN)
	}
	if o.Preset == "" {
		o.Preset = "mqops"
	}
	p, ok := presets[o.Preset]
	if !ok {
		return nil, fmt.Errorf("store.preset: unknown preset %q (%s)", o.Preset, strings.Join(PresetNames(), ", "))
	}
	d, err := dialectOf(o.Driver)
	if err != nil {
		return nil, err
	}
	if len(p.drivers) > 0 && !slices.Contains(p.drivers, d.driver) {
		return nil, fmt.Errorf("store.preset: the %s preset does not support %s (only %s)%s", p.name, d.driver, strings.Join(p.drivers, ", "), p.driverNote)
	}
	if o.PendingAfter == 0 {
		o.PendingAfter = DefaultPendingAfter
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRows == 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.PendingAfter < 0 || o.Timeout < 0 || o.MaxRows < 0 {
		return nil, errors.New("store: pending-after, timeout and max rows must not be negative")
	}
	s := &Store{d: d, preset: p, pendingAfter: o.PendingAfter, timeout: o.Timeout, maxRows: o.MaxRows}
	db, name, err := connect(d, o.DSN, o.Timeout)
	if err != nil {
		return nil, err
	}
	s.db, s.name = db, name
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := s.ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.load(ctx, o); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) ping(ctx context.Context) error {
	c, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.db.PingContext(c); err != nil {
		return s.errf(c, "connect", err)
	}
	return nil
}

// load merges the preset's mapping with the overrides and validates each
// table against the database.
func (s *Store) load(ctx context.Context, o Options) error {
	def := s.preset.tables(s.d.driver, o.Schema)
	kinds := []struct {
		spec *tableSpec
		base *Table
		over *Table
		dst  **mapped
	}{
		{&outboxSpec, def.Outbox, o.Outbox, &s.outbox},
		{&retrySpec, def.Retry, o.Retry, &s.retry},
		{&idemSpec, def.Idempotency, o.Idempotency, &s.idem},
	}
	for _, k := range kinds {
		if k.base == nil && k.over == nil {
			continue
		}
		if k.base == nil && k.over != nil {
			return fmt.Errorf("store.%s: the %s preset has no %s table", k.spec.kind, s.preset.name, k.spec.kind)
		}
		if k.over != nil && k.over.Name == NoTable {
			continue // the application has no table of this kind
		}
		t, err := merge(k.spec, k.base, k.over)
		if err != nil {
			return err
		}
		m, err := s.validate(ctx, k.spec, t, o.Schema)
		if err != nil {
			if s.preset.explain != nil {
				err = s.preset.explain(ctx, s, o.Schema, err)
			}
			return err
		}
		*k.dst = m
	}
	if s.preset.validate != nil {
		if err := s.preset.validate(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Name names the database without any secret: "postgres appdb@127.0.0.1:15432".
func (s *Store) Name() string { return s.name }

// Preset is the name of the preset in use.
func (s *Store) Preset() string { return s.preset.name }

// HasOutbox says the store has a sending table.
func (s *Store) HasOutbox() bool { return s.outbox != nil }

// HasRetry says the store has a retry table.
func (s *Store) HasRetry() bool { return s.retry != nil }

// HasIdempotency says the store has an idempotency table.
func (s *Store) HasIdempotency() bool { return s.idem != nil }

// CanRepublishRetries says the retry table's rows carry a destination and a
// payload, so that they can be published again.
func (s *Store) CanRepublishRetries() bool {
	return s.retry != nil && s.retry.has("destination") && s.retry.has("payload")
}

// MessageIDHeader is the header a resend adds the message id under.
func (s *Store) MessageIDHeader() string { return s.preset.messageIDHeader }

// PendingAfter is the store's default age of a pending send.
func (s *Store) PendingAfter() time.Duration { return s.pendingAfter }

// errf turns a driver error into a plain, redacted error: no driver type
// leaks, no DSN or password is printed. A deadline says so.
func (s *Store) errf(ctx context.Context, op string, err error) error {
	ctxErr := error(nil)
	if ctx != nil {
		ctxErr = ctx.Err()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctxErr, context.DeadlineExceeded):
		return &dbError{msg: fmt.Sprintf("%s: %s: no answer within %s", s.name, op, s.timeout), cause: context.DeadlineExceeded}
	case errors.Is(err, context.Canceled) || errors.Is(ctxErr, context.Canceled):
		return &dbError{msg: fmt.Sprintf("%s: %s: canceled", s.name, op), cause: context.Canceled}
	}
	return &dbError{msg: fmt.Sprintf("%s: %s: %s", s.name, op, cleanDriverText(err.Error())), deadlock: isDeadlock(err)}
}

// dbError is a database error as text; it unwraps to a context error only.
type dbError struct {
	msg      string
	cause    error
	deadlock bool // the database rolled the transaction back to break a deadlock
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.cause }

// PresetNames lists the registered presets, sorted.
func PresetNames() []string {
	var out []string
	for n := range presets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
