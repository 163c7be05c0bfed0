package tui

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mqops/mqops/backends"
)

// The application's database (issue 10): its sending table (outbox), retry
// table and idempotency table, read by :pending and :retry and changed by
// their actions. The console opens it lazily, in the first command that
// needs it (Options.OpenStore: cmd's storeOf, which connects, pings and
// validates the mapping), so that the console starts at once whatever the
// database does; a database down or slow is a load that fails or waits
// within the timeout, with its spinner and its error, and is opened again
// on the next refresh.

// StoreSource is what the console needs of the application's database
// (its views read it; a resend, the retry actions and a trace act on it
// through actions); *store.Store satisfies it.
type StoreSource interface {
	backends.OutboxStore
	backends.RetryStore
	backends.MessageStore
	Preset() string
	// PendingAfter is the age after which a row still pending is a
	// pending send (the :pending view's).
	PendingAfter() time.Duration
	Close() error
}

// storeConn is the lazily opened database, shared by the views, their
// actions and their commands: opened once (one open at a time: a second
// command waits for the first, or for its context), closed when the
// console ends.
type storeConn struct {
	open     func(ctx context.Context) (StoreSource, error)
	fallback string        // the database's name before it is open
	gate     chan struct{} // held while opening

	mu     sync.Mutex
	st     StoreSource
	name   string
	closed bool
}

func newStoreConn(open func(ctx context.Context) (StoreSource, error), name string) *storeConn {
	return &storeConn{open: open, fallback: name, gate: make(chan struct{}, 1)}
}

// get is the open database, opening it if need be. It runs in commands
// only: opening connects and reads the tables' columns.
func (c *storeConn) get(ctx context.Context) (StoreSource, error) {
	if st := c.opened(); st != nil {
		return st, nil
	}
	select {
	case c.gate <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.gate }()
	if st := c.opened(); st != nil {
		return st, nil // opened while this one waited
	}
	st, err := c.open(ctx)
	if err == nil && isNil(st) {
		err = errors.New("the application database could not be opened")
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		st.Close()
		return nil, errors.New("the console is closing")
	}
	c.st, c.name = st, st.Name()
	return st, nil
}

// opened is the database if it is open (never blocks).
func (c *storeConn) opened() StoreSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// displayName names the database without a secret: its own name once
// open, the configuration's before.
func (c *storeConn) displayName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.name != "" {
		return backends.Redact(c.name)
	}
	return c.fallback
}

// close closes the database if it was opened; a later get fails.
func (c *storeConn) close() {
	c.mu.Lock()
	st := c.st
	c.st, c.closed = nil, true
	c.mu.Unlock()
	if st != nil {
		st.Close()
	}
}

// noStoreText is what the store's views say when the context configures no
// database.
const noStoreText = "no application database configured: set store: in the context (driver, dsn-env or dsn-file, preset, route), " +
	"or pass --store postgres|mysql|sqlite --store-dsn-env NAME [--store-preset mqops|cap|river] [--route-broker kafka|rabbitmq]"

// storeViewSource is the source of a view reading the application's
// database; fetch makes the calls from the open store.
func (m *Model) storeViewSource(what string, st *loadState, fetch func(*storeConn) fetchFunc) source {
	s := source{what: what, broker: m.storeName(), periodic: true, state: st, unconfigured: noStoreText,
		noSource: []string{"no database configured", "no database", ""}}
	if m.opts.NoStore != "" {
		s.unconfigured = m.opts.NoStore
	}
	if m.store != nil {
		s.fetch = fetch(m.store)
	}
	return s
}

// storeName names the application's database in the header.
func (m *Model) storeName() string {
	if m.store == nil {
		return ""
	}
	return m.store.displayName()
}
