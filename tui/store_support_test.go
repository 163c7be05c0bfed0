package tui

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/store"
	"github.com/mqops/mqops/backends/store/storetest"
)

// appDB is an application database on SQLite (the demo's driver) with the
// mqops preset's three tables, created from store.Schema: the store the
// console opens, and a raw connection the test writes rows with.
type appDB struct {
	t    testing.TB
	path string
	raw  *sql.DB
}

func newAppDB(t testing.TB) *appDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.db")
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ddl, err := store.Schema("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	execDDL(t, raw, ddl)
	return &appDB{t: t, path: path, raw: raw}
}

// execDDL runs a DDL script (store.Schema's) statement by statement.
func execDDL(t testing.TB, db *sql.DB, ddl string) {
	t.Helper()
	for _, stmt := range storetest.Statements(ddl) {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// storeHarness is the console opened on view over an SQLite database
// holding what fill writes (opens counts its opens, when not nil), its
// pages on the harness's clock, routed to Kafka unless o says otherwise.
func storeHarness(t *testing.T, o Options, view string, fill func(*appDB), opens *int) (*harness, *appDB) {
	t.Helper()
	db := newAppDB(t)
	fill(db)
	var h *harness
	now := func() time.Time { // the harness's clock, once there is one
		if h == nil {
			return t0
		}
		return h.clock.t
	}
	o.StartView = view
	o.OpenStore = opener(&clockedStore{Store: db.open(5 * time.Minute), now: now}, opens)
	if o.StoreRoute.Broker == "" {
		o.StoreRoute = backends.Route{Broker: "kafka"}
	}
	src, _ := o.Kafka.(*cannedSource) // the harness's, when canned
	h = newHarness(t, o, src)
	return h, db
}

// sqliteTime is t as the mqops preset's SQLite columns store it.
func sqliteTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

// outboxRow is a row of the sending table to insert.
type outboxRow struct {
	id, messageID, dest, key, status, lastErr string
	attempts                                  int
	created                                   time.Time
	payload                                   string
}

func (d *appDB) outbox(rows ...outboxRow) {
	d.t.Helper()
	for _, r := range rows {
		if r.status == "" {
			r.status = "pending"
		}
		if r.payload == "" {
			r.payload = `{"order":"` + r.id + `"}`
		}
		var lastErr any
		if r.lastErr != "" {
			lastErr = r.lastErr
		}
		if _, err := d.raw.Exec(`INSERT INTO mqops_outbox (id, message_id, destination, message_key, payload, status, attempts, created_at, last_error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.id, r.messageID, r.dest, r.key, []byte(r.payload), r.status, r.attempts, sqliteTime(r.created), lastErr); err != nil {
			d.t.Fatal(err)
		}
	}
}

// retryRow is a row of the retry table to insert.
type retryFixtureRow struct {
	id, messageID, dest, errText, status string
	attempts, max                        int
	next, created                        time.Time
}

func (d *appDB) retry(rows ...retryFixtureRow) {
	d.t.Helper()
	for _, r := range rows {
		if r.status == "" {
			r.status = "waiting"
		}
		var next any
		if !r.next.IsZero() {
			next = sqliteTime(r.next)
		}
		var dest any
		if r.dest != "" {
			dest = r.dest
		}
		if _, err := d.raw.Exec(`INSERT INTO mqops_retry (id, message_id, destination, payload, error, attempts, max_attempts, next_retry_at, status, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.id, r.messageID, dest, []byte(`{"retry":"`+r.id+`"}`), r.errText, r.attempts, r.max, next, r.status, sqliteTime(r.created)); err != nil {
			d.t.Fatal(err)
		}
	}
}

// consumed records message ids in the idempotency table.
func (d *appDB) consumed(consumer string, at time.Time, ids ...string) {
	d.t.Helper()
	for _, id := range ids {
		if _, err := d.raw.Exec(`INSERT INTO mqops_consumed (message_id, consumer, consumed_at) VALUES (?, ?, ?)`, id, consumer, sqliteTime(at)); err != nil {
			d.t.Fatal(err)
		}
	}
}

// status is a sending-table row's status and attempts.
func (d *appDB) status(id string) (string, int) {
	d.t.Helper()
	var s string
	var n int
	if err := d.raw.QueryRow(`SELECT status, attempts FROM mqops_outbox WHERE id = ?`, id).Scan(&s, &n); err != nil {
		d.t.Fatal(err)
	}
	return s, n
}

// open opens the database as the console does (cmd's storeOf: Open, which
// validates the tables).
func (d *appDB) open(pendingAfter time.Duration) *store.Store {
	d.t.Helper()
	st, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: d.path, PendingAfter: pendingAfter, Timeout: 10 * time.Second})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { st.Close() })
	return st
}

// clockedStore is a real store whose pages carry the test's clock instead
// of the database's, so that the ages the views draw are the fixtures'
// (rows are written at times relative to the test clock, t0, long past).
type clockedStore struct {
	*store.Store
	now func() time.Time
}

// Name is fixed: the SQLite file's path (the real name) is a new
// temporary directory on every run, and the goldens draw it.
func (c *clockedStore) Name() string { return "sqlite app.db" }

func (c *clockedStore) Pending(ctx context.Context, q backends.OutboxQuery) (*backends.OutboxPage, error) {
	p, err := c.Store.Pending(ctx, q)
	if p != nil {
		p.Now = c.now()
	}
	return p, err
}

func (c *clockedStore) Retries(ctx context.Context, q backends.RetryQuery) (*backends.RetryPage, error) {
	p, err := c.Store.Retries(ctx, q)
	if p != nil {
		p.Now = c.now()
	}
	return p, err
}

// opener is Options.OpenStore on st, counting the opens.
func opener(st StoreSource, opens *int) func(context.Context) (StoreSource, error) {
	return func(context.Context) (StoreSource, error) {
		if opens != nil {
			*opens++
		}
		return st, nil
	}
}

// hostileDest is a destination as an attacker names it: an escape
// sequence, a bidi override, a C1 control (SQLite ends text at a NUL:
// sanitizing NULs is TestHostileCellsSanitized's).
const hostileDest = "evil\x1b[31m\u202e\x9bdest"

// pendingFixture writes the pending sends of the view tests: orders
// (three rows, one with an error), payments (one), a destination whose
// topic does not exist, a hostile one, a row sent (not pending) and one
// too young to be pending.
func pendingFixture(d *appDB) {
	d.outbox(
		outboxRow{id: "101", messageID: "msg-101", dest: "orders", key: "ord-1001", attempts: 0, created: t0.Add(-6*time.Minute - 12*time.Second)},
		outboxRow{id: "102", messageID: "msg-102", dest: "orders", key: "ord-1002", attempts: 2, created: t0.Add(-9*time.Minute - 3*time.Second),
			lastErr: "kafka: NOT_ENOUGH_REPLICAS on orders/2"},
		outboxRow{id: "103", messageID: "msg-103", dest: "orders", key: "ord-1003", attempts: 1, created: t0.Add(-7 * time.Minute)},
		outboxRow{id: "201", messageID: "msg-201", dest: "payments", key: "pay-77", attempts: 0, created: t0.Add(-5*time.Minute - 30*time.Second)},
		outboxRow{id: "301", messageID: "msg-301", dest: "ghost.topic", key: "", attempts: 4, created: t0.Add(-42 * time.Minute),
			lastErr: "unknown topic ghost.topic"},
		outboxRow{id: "401", messageID: "msg\x1b]0;pwned\x07-401", dest: hostileDest, key: "k\u202eey", attempts: 1, created: t0.Add(-11 * time.Minute),
			lastErr: "boom\x1b[2J\u2066hidden\x00after the NUL"},
		outboxRow{id: "501", messageID: "msg-501", dest: "orders", status: "sent", created: t0.Add(-30 * time.Minute)},
	)
	// young: created after t0 as the database's clock sees it (now), so
	// never older than pending-after
	d.outbox(outboxRow{id: "601", messageID: "msg-601", dest: "orders", created: time.Now().Add(time.Hour)})
}
