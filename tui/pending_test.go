package tui

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
	"github.com/mqops/mqops/backends/store"
)

// pendingConsole is the console opened on :pending over an SQLite
// database with the fixture's rows, its route to Kafka, and the synthetic
// cluster (whose snapshot has consumer groups on orders and payments).
func pendingConsole(t *testing.T, o Options) (*harness, *appDB, *int) {
	t.Helper()
	if o.Kafka == nil {
		src := &cannedSource{}
		for k := 0; k < 3; k++ {
			src.push(cluster(k), nil)
		}
		o.Kafka = src
	}
	opens := new(int)
	h, db := storeHarness(t, o, "pending", pendingFixture, opens)
	return h, db, opens
}

// TestPendingGroupsPerDestinationBesideTheLag: one refresh reads the
// database once and the snapshot beside it; each destination has its
// pending count, its oldest's age and the lag of its topic's consumers;
// the rows of the destination selected are under it, oldest first.
func TestPendingGroupsPerDestinationBesideTheLag(t *testing.T) {
	h, _, opens := pendingConsole(t, Options{})
	v, ok := h.m.top().(*pendingView)
	if !ok || !v.loaded {
		t.Fatalf("the pending view did not load:\n%s", h.screen())
	}
	if *opens != 1 || h.src.callCount() != 1 {
		t.Fatalf("%d opens, %d snapshots", *opens, h.src.callCount())
	}
	// destinations, oldest first: ghost (42m), hostile (11m), orders (9m03s), payments (5m30s)
	want := []string{"ghost.topic", hostileDest, "orders", "payments"}
	if got := v.dests.VisibleIDs(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("destinations %q, want %q", got, want)
	}
	cells := func(id string) []string {
		for _, r := range v.dests.Rows() {
			if r.ID == id {
				return r.Cells
			}
		}
		t.Fatalf("no destination %q", id)
		return nil
	}
	// orders: billing's lag on orders in cluster(0) is 1,000+500+1,250 =
	// 2,750, shipping's 20,000+19,500+20,250 = 59,750: the worst of 2;
	// payments: analytics' 13,000 (one partition committed), evil's 0
	if c := cells("orders"); c[pdPending] != "3" || c[pdOldest] != "9m03s" || c[pdLag] != "59,750" || c[pdBeside] != "worst group shipping of 2" {
		t.Errorf("orders: %q", c)
	}
	if c := cells("payments"); c[pdPending] != "1" || c[pdLag] != "13,000" || c[pdBeside] != "worst group analytics of 2" {
		t.Errorf("payments: %q", c)
	}
	if c := cells("ghost.topic"); c[pdLag] != "-" || !strings.Contains(c[pdBeside], "no such topic") {
		t.Errorf("ghost.topic: %q", c)
	}
	s := h.screen()
	for _, w := range []string{"pending sends", "6 pending rows", "oldest 42m00s", "published to kafka:{destination}", "lag of the snapshot of 09:30:00"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q is not on screen:\n%s", w, s)
		}
	}
	// the young row and the sent one are not pending
	if _, ok := v.byID["601"]; ok {
		t.Error("a row younger than pending-after is listed")
	}
	if _, ok := v.byID["501"]; ok {
		t.Error("a sent row is listed")
	}
	// enter: the rows of orders, oldest first
	h.selectRow("orders")
	h.keys("enter")
	if !v.onLower {
		t.Fatal("enter on a destination did not focus its rows")
	}
	if got := strings.Join(v.rows.VisibleIDs(), ","); got != "102,103,101" {
		t.Errorf("rows of orders %s, want oldest first 102,103,101", got)
	}
	s = h.screen()
	for _, w := range []string{"PENDING ROWS OF orders", "NOT_ENOUGH_REPLICAS", "ord-1002", "msg-102"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q is not on screen:\n%s", w, s)
		}
	}
	// sort by age: S reverses (youngest first)
	h.keys("S")
	if got := strings.Join(v.rows.VisibleIDs(), ","); got != "101,103,102" {
		t.Errorf("reversed: %s", got)
	}
	// filter in the rows of the destination
	h.keys("/")
	h.typeText("1003")
	h.keys("enter")
	if got := strings.Join(v.rows.VisibleIDs(), ","); got != "103" {
		t.Errorf("filtered: %s", got)
	}
	h.keys("esc")
}

// TestPendingRefreshOneReadAPeriod: the database is read once a refresh,
// on the schedule; the snapshot beside is taken only when the one at hand
// is a period old, so the console's load on Kafka is what the Kafka views
// make.
func TestPendingRefreshOneReadAPeriod(t *testing.T) {
	h, db, _ := pendingConsole(t, Options{})
	v := h.m.top().(*pendingView)
	if ds := h.refreshTicks(); len(ds) != 1 || ds[0] != DefaultRefresh {
		t.Fatalf("next refresh %v", ds)
	}
	db.outbox(outboxRow{id: "202", messageID: "msg-202", dest: "payments", created: t0.Add(-20 * time.Minute)})
	fire[refreshTickMsg](h)
	if _, ok := v.byID["202"]; !ok {
		t.Fatal("the refresh did not read the new row")
	}
	if n := h.src.callCount(); n != 2 {
		t.Errorf("%d snapshots after a period", n)
	}
	// r within the period: the rows again, not the snapshot
	h.keys("r")
	if n := h.src.callCount(); n != 2 {
		t.Errorf("r within the period took a snapshot (%d)", n)
	}
	// the groups view shows the snapshot the pending view took
	h.command("groups")
	if !h.m.snap.loaded || !strings.Contains(h.screen(), "shipping") {
		t.Errorf("the shared snapshot is not the groups view's:\n%s", h.screen())
	}
}

// TestPendingHostileStrings: control characters, bidi overrides and NULs
// in destinations, keys, message ids and errors are drawn as visible
// escapes.
func TestPendingHostileStrings(t *testing.T) {
	h, _, _ := pendingConsole(t, Options{})
	h.selectRow(hostileDest)
	h.keys("tab")
	raw := h.m.View().Content
	for _, bad := range []string{"\x1b[31m", "\x1b]0;", "\x07", "\u202e", "\u2066", "\x00", "\x1b[2J"} {
		if strings.Contains(raw, bad) {
			t.Errorf("the frame carries %q", bad)
		}
	}
	if !strings.Contains(h.screen(), "PENDING ROWS OF evil") {
		t.Errorf("the hostile destination's rows are not shown:\n%s", h.screen())
	}
}

// TestPendingWithoutStore: a context without a database says how to
// configure one, as the RabbitMQ views do without RabbitMQ; no resend key.
func TestPendingWithoutStore(t *testing.T) {
	h := newHarness(t, Options{StartView: "pending", Audit: auditFixture(t)}, nil)
	s := h.screen()
	if !strings.Contains(s, "no application database configured") || !strings.Contains(s, "--store postgres|mysql|sqlite") {
		t.Errorf("no advice:\n%s", s)
	}
	if !strings.Contains(s, "no database configured") {
		t.Errorf("the header does not say there is no database:\n%s", s)
	}
	if h.m.keys.Resend.Bound() {
		t.Error("E is bound without a database")
	}
	h.keys("r")
	if !strings.Contains(h.m.flash.Text, "no application database configured") {
		t.Errorf("r: %q", h.m.flash.Text)
	}
	h = newHarness(t, Options{StartView: "pending", NoStore: "store: the DSN env var APP_DSN is not set"}, nil)
	if !strings.Contains(h.screen(), "APP_DSN is not set") {
		t.Errorf("the reason is not shown:\n%s", h.screen())
	}
}

// hungStore is a database that accepts the connection and never answers:
// every read waits for its context.
type hungStore struct {
	StoreSource
	started chan struct{}
	calls   atomic.Int32
}

func (s *hungStore) Name() string         { return "postgres app@10.9.9.9:5432" }
func (s *hungStore) Preset() string       { return "mqops" }
func (s *hungStore) HasOutbox() bool      { return true }
func (s *hungStore) HasRetry() bool       { return true }
func (s *hungStore) HasIdempotency() bool { return false }
func (s *hungStore) PendingAfter() time.Duration {
	return 5 * time.Minute
}
func (s *hungStore) Close() error { return nil }
func (s *hungStore) Pending(ctx context.Context, _ backends.OutboxQuery) (*backends.OutboxPage, error) {
	s.calls.Add(1)
	s.started <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestHungStoreNeverBlocksUpdate: the read runs in a command on another
// goroutine against a database that never answers; the view shows its
// spinner, keys are handled, a failure within the timeout is flashed with
// the data of the last success kept, and q quits at once.
func TestHungStoreNeverBlocksUpdate(t *testing.T) {
	st := &hungStore{started: make(chan struct{}, 4)}
	m := New(Options{StartView: "pending", OpenStore: opener(st, nil), Now: (&testClock{t: t0}).Now, StoreRoute: backends.Route{Broker: "kafka"}})
	m.after = func(time.Duration, tea.Msg) tea.Cmd { return nil }
	m.Update(teaWindow(100, 24))
	_, cmd := m.Update(execCmd(m.Init())[0])
	results := make(chan []tea.Msg, 1)
	go func() { results <- execCmd(cmd) }()
	<-st.started // the read is in flight and hangs
	if s := stripANSI(m.View().Content); !strings.Contains(s, "loading pending sends from postgres app@10.9.9.9:5432") {
		t.Fatalf("no spinner while the database does not answer:\n%s", s)
	}
	m.Update(keyPress("r"))
	if !strings.Contains(m.flash.Text, "already in progress") {
		t.Fatalf("r during a hung read: %q", m.flash.Text)
	}
	for _, k := range []string{"tab", "j", "/", "x", "esc", "?", "esc", "s", "space", "E"} {
		m.Update(keyPress(k))
	}
	_, cmd = m.Update(keyPress("q"))
	if !isQuit(cmd) {
		t.Fatal("q did not quit at once")
	}
	select {
	case <-results: // q cancelled the read
	case <-time.After(10 * time.Second):
		t.Fatal("the read was not cancelled by q")
	}
}

// TestStoreFailureKeepsStaleData: a read that fails (the database went
// down) is flashed, the rows of the last success stay on screen marked
// stale, and the next try backs off; the store is opened once.
func TestStoreFailureKeepsStaleData(t *testing.T) {
	db := newAppDB(t)
	pendingFixture(db)
	st := &flakyStore{clockedStore: clockedStore{Store: db.open(5 * time.Minute), now: (&testClock{t: t0}).Now}}
	opens := 0
	h := newHarness(t, Options{StartView: "pending", OpenStore: opener(st, &opens), StoreRoute: backends.Route{Broker: "kafka"}}, nil)
	if !strings.Contains(h.screen(), "orders") {
		t.Fatalf("no rows:\n%s", h.screen())
	}
	st.err = errors.New("dial tcp 127.0.0.1:15432: connect: connection refused (password=hunter2)")
	backends.RegisterSecret("hunter2")
	fire[refreshTickMsg](h)
	s := h.screen()
	if !strings.Contains(s, "orders") || !strings.Contains(s, "STALE") && !strings.Contains(s, "stale") {
		t.Errorf("the rows of the last success are not kept, marked stale:\n%s", s)
	}
	if !strings.Contains(h.m.flash.Text, "connection refused") || strings.Contains(h.m.flash.Text, "hunter2") {
		t.Errorf("flash %q", h.m.flash.Text)
	}
	if ds := h.refreshTicks(); len(ds) != 1 || ds[0] != DefaultRefresh {
		t.Errorf("backoff %v", ds)
	}
	if opens != 1 {
		t.Errorf("%d opens", opens)
	}
	// an open that fails is tried again on the next refresh
	failing := 0
	h2 := newHarness(t, Options{StartView: "pending", OpenStore: func(context.Context) (StoreSource, error) {
		failing++
		return nil, errors.New("store.outbox.columns.status: column status of table mqops_outbox is missing")
	}}, nil)
	if s := h2.screen(); !strings.Contains(s, "Cannot load pending sends") || !strings.Contains(s, "column status of table mqops_outbox is missing") {
		t.Errorf("the open's error is not shown:\n%s", s)
	}
	fire[refreshTickMsg](h2)
	if failing != 2 {
		t.Errorf("%d opens after a failure and a retry", failing)
	}
}

// flakyStore fails its reads while err is set.
type flakyStore struct {
	clockedStore
	err error
}

func (f *flakyStore) Pending(ctx context.Context, q backends.OutboxQuery) (*backends.OutboxPage, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.clockedStore.Pending(ctx, q)
}

// TestPendingRabbitBacklog: with a RabbitMQ route, each destination has
// beside it the depth (ready + unacked) of the queues its exchange and
// routing key reach, from the queues list read with the rows; the
// bindings are looked up once a minute, not on every refresh.
func TestPendingRabbitBacklog(t *testing.T) {
	r := newRoutedRabbit()
	h, _, _ := pendingConsole(t, Options{Rabbit: r, StoreRoute: backends.Route{Broker: "rabbitmq", Exchange: "orders.x"}})
	v := h.m.top().(*pendingView)
	cells := map[string][]string{}
	for _, row := range v.dests.Rows() {
		cells[row.ID] = row.Cells
	}
	// queuesAt(0): orders 1,200 ready + 30 unacked, orders.dlq 1,500
	if c := cells["orders"]; c[pdTarget] != "rabbitmq:orders.x/orders" || c[pdLag] != "2,730" || c[pdBeside] != "orders 1,230, orders.dlq 1,500" {
		t.Errorf("orders: %q", c)
	}
	if c := cells["payments"]; c[pdLag] != "40" || c[pdBeside] != "payments 40" {
		t.Errorf("payments: %q", c)
	}
	if c := cells["ghost.topic"]; c[pdLag] != "-" || !strings.Contains(c[pdBeside], "reaches no queue") {
		t.Errorf("ghost.topic: %q", c)
	}
	lookups := r.lookups
	if lookups != 4 {
		t.Errorf("%d route lookups for 4 destinations", lookups)
	}
	fire[refreshTickMsg](h)
	if r.lookups != lookups {
		t.Errorf("a refresh within the minute looked the routes up again (%d)", r.lookups-lookups)
	}
	if c := v.dests.Rows(); len(c) != 4 {
		t.Fatalf("%d destinations after a refresh", len(c))
	}
	// the default exchange: the queue the routing key names, no lookup
	r2 := newRoutedRabbit()
	h2, _, _ := pendingConsole(t, Options{Rabbit: r2, StoreRoute: backends.Route{Broker: "rabbitmq"}})
	v2 := h2.m.top().(*pendingView)
	for _, row := range v2.dests.Rows() {
		if row.ID == "orders" && (row.Cells[pdLag] != "1,230" || row.Cells[pdTarget] != "rabbitmq:(default)/orders") {
			t.Errorf("orders on the default exchange: %q", row.Cells)
		}
		if row.ID == "ghost.topic" && !strings.Contains(row.Cells[pdBeside], "no queue named ghost.topic") {
			t.Errorf("ghost.topic on the default exchange: %q", row.Cells)
		}
	}
	if r2.lookups != 0 {
		t.Errorf("%d lookups for the default exchange", r2.lookups)
	}
}

// countingStore counts the database calls.
type countingStore struct {
	clockedStore
	calls atomic.Int32
}

func (c *countingStore) Pending(ctx context.Context, q backends.OutboxQuery) (*backends.OutboxPage, error) {
	c.calls.Add(1)
	return c.clockedStore.Pending(ctx, q)
}

func (c *countingStore) Retries(ctx context.Context, q backends.RetryQuery) (*backends.RetryPage, error) {
	c.calls.Add(1)
	return c.clockedStore.Retries(ctx, q)
}

// TestStoreKeysDoNoIO: in :pending and :retry, no key calls the database
// inside Update: the reads, the plans and the traces are commands.
func TestStoreKeysDoNoIO(t *testing.T) {
	db := newAppDB(t)
	pendingFixture(db)
	retryFixture(db, "orders")
	st := &countingStore{clockedStore: clockedStore{Store: db.open(5 * time.Minute), now: func() time.Time { return t0 }}}
	for _, view := range []string{"pending", "retry"} {
		h := newHarness(t, Options{StartView: view, OpenStore: opener(st, nil), StoreRoute: backends.Route{Broker: "kafka"},
			KafkaPublisher: nopPublisher{}, Audit: auditFixture(t)}, nil)
		calls := st.calls.Load()
		var cmds int
		for _, k := range []string{"j", "k", "tab", "space", "j", "space", "s", "S", "enter", "esc", "tab", "enter", "esc", "r", "E", "esc", "T", "esc", "X", "esc", "/", "x", "esc", "?", "esc"} {
			_, cmd := h.m.Update(keyPress(k))
			if n := st.calls.Load(); n != calls {
				t.Fatalf("%s: key %q called the database inside Update", view, k)
			}
			if cmd != nil {
				cmds++
			}
		}
		if cmds == 0 {
			t.Errorf("%s: no command at all (r reloads)", view)
		}
	}
}

// TestSilentDatabaseFailsTheLoad: a database that accepts the connection
// and never answers fails the load within the store's timeout: the view
// says it cannot load, and retries.
func TestSilentDatabaseFailsTheLoad(t *testing.T) {
	addr := kafkatest.Silent(t)
	dsn := "postgres://app:hunter3@" + addr + "/appdb?sslmode=disable"
	h := newHarness(t, Options{StartView: "pending", StoreName: "postgres (mqops)", OpenStore: func(ctx context.Context) (StoreSource, error) {
		st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: dsn, Timeout: 300 * time.Millisecond})
		if err != nil {
			return nil, err
		}
		return st, nil
	}}, nil)
	s := h.screen()
	if !strings.Contains(s, "Cannot load pending sends from postgres (mqops)") || !strings.Contains(s, "retrying in") {
		t.Errorf("the silent database's failure:\n%s", s)
	}
	if strings.Contains(h.m.View().Content, "hunter3") || strings.Contains(h.m.flash.Text, "hunter3") {
		t.Error("the password is on screen")
	}
}
