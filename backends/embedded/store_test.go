package embedded

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/store"
)

// startApp runs an Env with an application database in a temp dir and
// opens it as the console does: a store of the mqops preset.
func startApp(t *testing.T, o Options) (*Env, *store.Store, *sql.DB) {
	t.Helper()
	o.AppDB = filepath.Join(t.TempDir(), "app.db")
	e := start(t, context.Background(), o)
	if e.AppDB() != o.AppDB {
		t.Fatalf("AppDB() = %q, want %q", e.AppDB(), o.AppDB)
	}
	s, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: o.AppDB, PendingAfter: AppPendingAfter})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	db, err := sql.Open("sqlite", o.AppDB+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return e, s, db
}

// counts is COUNT(*) per key of query (key, count).
func counts(t *testing.T, db *sql.DB, query string, args ...any) map[string]int {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func one(t *testing.T, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n.Int64
}

// TestAppDatabaseSeeded: at Start, before any traffic, each table of the
// application database has rows in each state a view shows (pending sends
// of three destinations past pending-after, confirmed and failed ones;
// retry rows waiting, dead and done with two error groups; consumed ids),
// the store of the mqops preset opens it, and the outbox agrees with the
// orders topic: a row sent is the record (key, value, message id header),
// a row never sent has no record, a consumed id was published.
func TestAppDatabaseSeeded(t *testing.T) {
	e, s, db := startApp(t, Options{Seed: 11})
	ctx := context.Background()
	if !s.HasOutbox() || !s.HasRetry() || !s.HasIdempotency() || s.MessageIDHeader() != messageIDHeader {
		t.Fatalf("store: outbox %v retry %v idempotency %v header %q", s.HasOutbox(), s.HasRetry(), s.HasIdempotency(), s.MessageIDHeader())
	}

	out := counts(t, db, `SELECT destination || ':' || status, COUNT(*) FROM mqops_outbox GROUP BY 1`)
	for _, k := range []string{"orders:pending", "orders:confirmed", "payments:pending", "payments:confirmed", "invoices:pending", "invoices:failed"} {
		if out[k] == 0 {
			t.Errorf("outbox has no %s row: %v", k, out)
		}
	}
	retry := counts(t, db, `SELECT status, COUNT(*) FROM mqops_retry GROUP BY 1`)
	for _, k := range []string{"waiting", "dead", "done"} {
		if retry[k] == 0 {
			t.Errorf("retry table has no %s row: %v", k, retry)
		}
	}
	if n := counts(t, db, `SELECT consumer, COUNT(*) FROM mqops_consumed GROUP BY 1`); len(n) != 1 || n[AppConsumer] == 0 {
		t.Errorf("consumed ids: %v, want billing's only", n)
	}

	page, err := s.Pending(ctx, backends.OutboxQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var dests []string
	for _, d := range page.Destinations {
		dests = append(dests, d.Destination)
		if d.Pending == 0 || page.Now.Sub(d.Oldest) < AppPendingAfter {
			t.Errorf("destination %+v: want pending rows older than %v", d, AppPendingAfter)
		}
	}
	slices.Sort(dests)
	if !slices.Equal(dests, []string{AppMissingDestination, topicOrders, topicPayments}) {
		t.Errorf("pending destinations %v", dests)
	}
	for _, r := range page.Rows {
		if r.Destination == AppMissingDestination && (r.Attempts == 0 || !strings.Contains(r.LastError, "Topic invoices not present in metadata")) {
			t.Errorf("invoice row without its failed attempts: %+v", r)
		}
	}

	rp, err := s.Retries(ctx, backends.RetryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, g := range rp.Groups {
		groups = append(groups, g.Error)
	}
	slices.Sort(groups)
	if want := []string{"java.lang.IllegalStateException: invalid currency XYZ for order <n>", "payment gateway timeout after <n>ms (order <n>)"}; !slices.Equal(groups, want) {
		t.Errorf("error groups %q, want %q", groups, want)
	}
	for _, r := range rp.Rows {
		switch {
		case r.Attempts < 1 || r.Attempts > r.MaxAttempts:
			t.Errorf("row %s: %d attempts of %d", r.ID, r.Attempts, r.MaxAttempts)
		case r.Dead && r.Attempts != r.MaxAttempts:
			t.Errorf("dead row %s after %d attempts of %d", r.ID, r.Attempts, r.MaxAttempts)
		case !r.Dead && !r.NextRetryAt.After(r.CreatedAt):
			t.Errorf("waiting row %s is due at %v, not after its failure at %v", r.ID, r.NextRetryAt, r.CreatedAt)
		}
	}

	c, err := s.Consumed(ctx, e.ConsumedID())
	if err != nil || len(c) != 1 || c[0].Consumer != AppConsumer {
		t.Errorf("Consumed(%q) = %+v, %v", e.ConsumedID(), c, err)
	}

	// The outbox against the orders topic.
	adm := adminFor(t, e)
	recs := readAll(t, e, topicOrders, int(sumEnds(t, adm, topicOrders)))
	inTopic := map[string]*kgo.Record{}
	for _, r := range recs {
		id, ok := header(r, messageIDHeader)
		if !ok {
			t.Fatalf("orders record %s/%d@%d has no %s header", r.Topic, r.Partition, r.Offset, messageIDHeader)
		}
		inTopic[string(id)] = r
	}
	rows, err := db.Query(`SELECT message_id, message_key, payload, attempts FROM mqops_outbox WHERE destination = 'orders'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	sent, unsent := 0, 0
	for rows.Next() {
		var id, key string
		var payload []byte
		var attempts int
		if err := rows.Scan(&id, &key, &payload, &attempts); err != nil {
			t.Fatal(err)
		}
		r := inTopic[id]
		switch {
		case attempts == 0 && r != nil:
			t.Errorf("row %s was never sent but is in the topic", id)
		case attempts == 0:
			unsent++
		case r == nil:
			t.Errorf("row %s was sent but is not in the topic", id)
		case string(r.Key) != key || string(r.Value) != string(payload):
			t.Errorf("row %s: key %q payload %s, record %q %s", id, key, payload, r.Key, r.Value)
		default:
			sent++
		}
	}
	if sent != len(recs) || unsent == 0 {
		t.Errorf("%d rows sent for %d records, %d never sent", sent, len(recs), unsent)
	}
	ids, err := db.Query(`SELECT message_id FROM mqops_consumed`)
	if err != nil {
		t.Fatal(err)
	}
	defer ids.Close()
	for ids.Next() {
		var id string
		if err := ids.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if inTopic[id] == nil {
			t.Fatalf("consumed id %s is not in the orders topic", id)
		}
	}
}

// TestAppDatabaseSeedIsDeterministic: two starts with one seed write the
// same message ids in the same fates; another seed others.
func TestAppDatabaseSeedIsDeterministic(t *testing.T) {
	content := func(seed int64) []string {
		_, _, db := startApp(t, Options{Seed: seed})
		rows, err := db.Query(`SELECT message_id || '|' || destination || '|' || COALESCE(message_key, '') || '|' || attempts FROM mqops_outbox ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	a, b, c := content(4), content(4), content(5)
	if len(a) == 0 || !slices.Equal(a, b) {
		t.Errorf("two starts with seed 4 wrote different outbox rows (%d, %d)", len(a), len(b))
	}
	if slices.Equal(a, c) {
		t.Error("seeds 4 and 5 wrote the same outbox rows")
	}
}

// TestAppDatabaseMoves: with traffic, the application keeps its tables
// moving while the console's store reads and writes them: new sends are
// recorded and confirmed (and a few never are), billing's consumed ids
// grow, new failures land in the retry table, a row an operator retries
// now is taken by the job, a row an operator resent (claimed, published,
// marked sent) is confirmed and its message id consumed, and invoice rows
// keep failing.
func TestAppDatabaseMoves(t *testing.T) {
	e, s, db := startApp(t, Options{Seed: 12, Traffic: true})
	ctx := context.Background()
	maxOutbox := one(t, db, `SELECT MAX(id) FROM mqops_outbox`)
	maxRetry := one(t, db, `SELECT MAX(id) FROM mqops_retry`)
	consumed := one(t, db, `SELECT COUNT(*) FROM mqops_consumed`)

	// The operator's side: retry a dead row now; resend a row never sent.
	dead := true
	rp, err := s.Retries(ctx, backends.RetryQuery{Dead: &dead, Limit: 1})
	if err != nil || len(rp.Rows) != 1 {
		t.Fatalf("a dead row: %+v %v", rp, err)
	}
	retried := rp.Rows[0]
	if n, err := s.RetryNow(ctx, []string{retried.ID}); n != 1 || err != nil {
		t.Fatalf("RetryNow: %d %v", n, err)
	}
	page, err := s.Pending(ctx, backends.OutboxQuery{Destination: topicOrders, WithPayload: true, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var resend *backends.OutboxRow
	for i, r := range page.Rows {
		if r.Attempts == 0 {
			resend = &page.Rows[i]
			break
		}
	}
	if resend == nil {
		t.Fatalf("no pending orders row that was never sent among %d", len(page.Rows))
	}
	claimed, err := s.Claim(ctx, []backends.OutboxRow{*resend})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("Claim: %+v %v", claimed, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: topicOrders, Key: []byte(resend.Key), Value: resend.Payload}
	for _, h := range resend.Headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
	}
	if id, ok := header(rec, messageIDHeader); !ok || string(id) != resend.MessageID {
		t.Fatalf("the row's headers lack its message id: %+v", resend.Headers)
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MarkSent(ctx, claimed); n != 1 || err != nil {
		t.Fatalf("MarkSent: %d %v", n, err)
	}

	eventually(t, 60*time.Second, "the application's tables to move", func() bool {
		return one(t, db, `SELECT COUNT(*) FROM mqops_outbox WHERE id > ? AND status = 'confirmed'`, maxOutbox) > 0 &&
			one(t, db, `SELECT COUNT(*) FROM mqops_outbox WHERE id > ? AND status = 'pending' AND attempts = 0 AND destination != 'invoices'`, maxOutbox) > 0 &&
			one(t, db, `SELECT COUNT(*) FROM mqops_outbox WHERE id > ? AND destination = 'invoices'`, maxOutbox) > 0 &&
			one(t, db, `SELECT COUNT(*) FROM mqops_consumed`) > consumed &&
			one(t, db, `SELECT COUNT(*) FROM mqops_retry WHERE id > ? AND status = 'waiting'`, maxRetry) > 0 &&
			one(t, db, `SELECT COUNT(*) FROM mqops_retry WHERE id = ? AND (attempts > ? OR status = 'done')`, retried.ID, retried.Attempts) > 0 &&
			one(t, db, `SELECT COUNT(*) FROM mqops_outbox WHERE id = ? AND status = 'confirmed'`, resend.ID) > 0 &&
			one(t, db, `SELECT COUNT(*) FROM mqops_consumed WHERE message_id = ?`, resend.MessageID) > 0
	})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAppDatabaseRefusesExistingFile: Start never writes into a file it did
// not create.
func TestAppDatabaseRefusesExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := Start(context.Background(), Options{AppDB: path})
	if err == nil {
		_ = e.Close()
		t.Fatal("Start wrote into an existing file")
	}
	if !strings.Contains(err.Error(), "application database") || !strings.Contains(err.Error(), "exists") {
		t.Errorf("error %q does not say the file exists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Errorf("the file changed: %q", b)
	}
}
