package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

var outboxCols = []string{"message_id", "destination", "message_key", "payload", "headers", "status", "attempts", "created_at", "last_error"}

// seedOutbox writes the rows of the pending tests and returns their ids by
// name: four pending rows older than 5 minutes in two destinations, one
// too young, one already sent.
func seedOutbox(t *testing.T, db *testDB) map[string]string {
	t.Helper()
	type row struct {
		name, dest, status string
		age                time.Duration
		attempts           int
		lastErr            any
	}
	rows := []row{
		{"r1", "orders", "pending", 10 * time.Minute, 0, nil},
		{"r2", "orders", "pending", 20 * time.Minute, 0, nil},
		{"r3", "payments", "pending", 30 * time.Minute, 0, nil},
		{"r4", "orders", "pending", time.Minute, 0, nil},
		{"r5", "orders", "sent", 40 * time.Minute, 1, nil},
		{"r6", "payments", "pending", 15 * time.Minute, 2, "timeout after 3000ms"},
	}
	for _, r := range rows {
		db.insert("mqops_outbox", outboxCols, "msg-"+r.name, r.dest, "key-"+r.name, []byte("payload of "+r.name),
			`[{"key":"a","value":"1"},{"key":"a","value":"2"},{"key":"trace","value":"`+r.name+`"}]`,
			r.status, r.attempts, sqlExpr(db.ago(r.age)), r.lastErr)
	}
	return idsByName(t, db, "mqops_outbox")
}

// idsByName maps the seeded rows' names (message ids "msg-NAME") to their ids.
func idsByName(t *testing.T, db *testDB, table string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	rs, err := db.raw.Query("SELECT id, message_id FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var id int64
		var mid string
		if err := rs.Scan(&id, &mid); err != nil {
			t.Fatal(err)
		}
		ids[mid[len("msg-"):]] = fmt.Sprint(id)
	}
	return ids
}

func rowIDs(rows []backends.OutboxRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func named(ids map[string]string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ids[n]
	}
	return out
}

func TestPendingMqops(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, err := Schema(db.driver)
		if err != nil {
			t.Fatal(err)
		}
		db.script(ddl)
		ids := seedOutbox(t, db)
		s := db.open(Options{})
		if !s.HasOutbox() || !s.HasRetry() || !s.HasIdempotency() || !s.CanRepublishRetries() || s.MessageIDHeader() != "mqops-message-id" {
			t.Fatalf("capabilities of the mqops preset: %v %v %v %v %q", s.HasOutbox(), s.HasRetry(), s.HasIdempotency(), s.CanRepublishRetries(), s.MessageIDHeader())
		}

		page, err := s.Pending(ctx, backends.OutboxQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowIDs(page.Rows), named(ids, "r3", "r2", "r6", "r1"); !slices.Equal(got, want) {
			t.Fatalf("pending rows %v, want %v (oldest first)", got, want)
		}
		if page.Total != 4 || page.More {
			t.Fatalf("total %d more %v, want 4 false", page.Total, page.More)
		}
		if len(page.Destinations) != 2 {
			t.Fatalf("destinations %+v", page.Destinations)
		}
		for _, d := range page.Destinations {
			oldest := map[string]string{"orders": "r2", "payments": "r3"}[d.Destination]
			if d.Pending != 2 {
				t.Errorf("%s: %d pending, want 2", d.Destination, d.Pending)
			}
			var want time.Time
			for _, r := range page.Rows {
				if r.ID == ids[oldest] {
					want = r.CreatedAt
				}
			}
			if !d.Oldest.Equal(want) {
				t.Errorf("%s: oldest %v, want %v (row %s)", d.Destination, d.Oldest, want, oldest)
			}
		}
		r6 := page.Rows[2]
		if r6.MessageID != "msg-r6" || r6.Destination != "payments" || r6.Key != "key-r6" || r6.Status != "pending" ||
			r6.Attempts != 2 || r6.LastError != "timeout after 3000ms" || r6.Payload != nil || r6.Headers != nil {
			t.Errorf("row r6: %+v", r6)
		}
		if age := r6.Age(page.Now); age < 14*time.Minute || age > 16*time.Minute {
			t.Errorf("row r6 is %v old by the database's clock, want 15m", age)
		}

		// the limit cuts the rows, not the counts
		page, err = s.Pending(ctx, backends.OutboxQuery{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowIDs(page.Rows), named(ids, "r3", "r2"); !slices.Equal(got, want) || !page.More || page.Total != 4 ||
			page.Destinations[0].Pending+page.Destinations[1].Pending != 4 {
			t.Fatalf("limit 2: rows %v more %v total %d dests %+v", got, page.More, page.Total, page.Destinations)
		}
		// filters
		page, err = s.Pending(ctx, backends.OutboxQuery{Destination: "payments"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowIDs(page.Rows), named(ids, "r3", "r6"); !slices.Equal(got, want) || len(page.Destinations) != 1 {
			t.Fatalf("destination payments: %v %+v", got, page.Destinations)
		}
		page, err = s.Pending(ctx, backends.OutboxQuery{OlderThan: 25 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowIDs(page.Rows), named(ids, "r3"); !slices.Equal(got, want) {
			t.Fatalf("older than 25m: %v, want %v", got, want)
		}
		page, err = s.Pending(ctx, backends.OutboxQuery{OlderThan: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 5 {
			t.Fatalf("older than 30s: %d rows, want 5 (r4 included)", page.Total)
		}
		page, err = s.Pending(ctx, backends.OutboxQuery{IDs: []string{ids["r1"], ids["r5"], "not-a-number"}, WithPayload: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowIDs(page.Rows), named(ids, "r1"); !slices.Equal(got, want) {
			t.Fatalf("ids r1 r5: %v, want %v (r5 was sent)", got, want)
		}
		r1 := page.Rows[0]
		wantH := []backends.StoreHeader{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}, {Key: "trace", Value: "r1"}}
		if string(r1.Payload) != "payload of r1" || !slices.Equal(r1.Headers, wantH) {
			t.Fatalf("payload %q headers %+v", r1.Payload, r1.Headers)
		}
		page, err = s.Pending(ctx, backends.OutboxQuery{IDs: []string{"x"}})
		if err != nil || len(page.Rows) != 0 || page.Total != 0 {
			t.Fatalf("ids that cannot exist: %+v %v", page, err)
		}
	})
}

func TestClaimMarkSentFailed(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		ids := seedOutbox(t, db)
		s := db.open(Options{})
		page, err := s.Pending(ctx, backends.OutboxQuery{WithPayload: true})
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := s.Claim(ctx, page.Rows)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) != 4 {
			t.Fatalf("claimed %d of 4", len(claimed))
		}
		for i, c := range claimed {
			if c.Attempts != page.Rows[i].Attempts+1 || c.LastAttemptAt.IsZero() || string(c.Payload) != string(page.Rows[i].Payload) {
				t.Errorf("claimed %+v from %+v", c, page.Rows[i])
			}
		}
		// a second claim with the attempts read before wins nothing
		again, err := s.Claim(ctx, page.Rows)
		if err != nil || len(again) != 0 {
			t.Fatalf("stale claim: %d rows, %v", len(again), err)
		}
		// marking sent needs the claimed attempts
		if n, err := s.MarkSent(ctx, page.Rows[:1]); err != nil || n != 0 {
			t.Fatalf("mark sent with the attempts before the claim: %d %v", n, err)
		}
		n, err := s.MarkSent(ctx, claimed[:2])
		if err != nil || n != 2 {
			t.Fatalf("mark sent: %d %v", n, err)
		}
		if err := s.MarkFailed(ctx, claimed[2:], "broker said \x1b[31mno\x1b[0m"); err != nil {
			t.Fatal(err)
		}
		page, err = s.Pending(ctx, backends.OutboxQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowIDs(page.Rows), named(ids, "r6", "r1"); !slices.Equal(got, want) {
			t.Fatalf("pending after marking r3 r2 sent: %v, want %v", got, want)
		}
		for _, r := range page.Rows {
			if r.LastError != "broker said \x1b[31mno\x1b[0m" {
				t.Errorf("row %s: last error %q (raw, the printer sanitizes)", r.ID, r.LastError)
			}
		}
		var status string
		var attempts int
		if err := db.raw.QueryRow("SELECT status, attempts FROM mqops_outbox WHERE id = "+ids["r3"]).Scan(&status, &attempts); err != nil {
			t.Fatal(err)
		}
		if status != "sent" || attempts != 1 {
			t.Fatalf("r3: %s after %d attempts", status, attempts)
		}
	})
}

// TestConcurrentClaimers: two stores (separate pools) claim the same 300
// rows at once, each in its own shuffled batches: every row is claimed
// exactly once per round and attempts count every claim.
func TestConcurrentClaimers(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		const n = 300
		for i := 0; i < n; i++ {
			db.insert("mqops_outbox", []string{"message_id", "destination", "payload", "created_at"},
				fmt.Sprintf("m%d", i), "orders", []byte("x"), sqlExpr(db.ago(time.Hour)))
		}
		claimRace(t, db.open(Options{}), db.open(Options{}), n, func() int {
			var total int
			if err := db.raw.QueryRow("SELECT SUM(attempts) FROM mqops_outbox").Scan(&total); err != nil {
				t.Fatal(err)
			}
			return total
		})
	})
}

// claimRace runs two rounds of two claimers of every pending row at once,
// and checks that each row was claimed by exactly one of them with its
// attempts counted exactly (sumAttempts: the table's total).
func claimRace(t *testing.T, a, b *Store, n int, sumAttempts func() int) {
	t.Helper()
	ctx := context.Background()
	base := sumAttempts()
	for round := 1; round <= 2; round++ {
		page, err := a.Pending(ctx, backends.OutboxQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Rows) != n {
			t.Fatalf("round %d: %d pending rows", round, len(page.Rows))
		}
		before := map[string]int{}
		for _, r := range page.Rows {
			before[r.ID] = r.Attempts
		}
		wins := make([]map[string]int, 2)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for k, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rows := slices.Clone(page.Rows)
				rand.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
				wins[k] = map[string]int{}
				<-start
				for len(rows) > 0 {
					m := min(len(rows), 1+rand.IntN(20))
					got, err := s.Claim(ctx, rows[:m])
					if err != nil {
						errs[k] = err
						return
					}
					for _, r := range got {
						wins[k][r.ID] = r.Attempts
					}
					rows = rows[m:]
				}
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range page.Rows {
			att0, in0 := wins[0][r.ID]
			att1, in1 := wins[1][r.ID]
			if in0 == in1 {
				t.Fatalf("round %d: row %s claimed by both or neither (%v %v)", round, r.ID, in0, in1)
			}
			if att := max(att0, att1); att != before[r.ID]+1 {
				t.Fatalf("round %d: row %s has attempts %d after its claim, had %d", round, r.ID, att, before[r.ID])
			}
		}
		t.Logf("round %d: claimer A won %d rows, B %d", round, len(wins[0]), len(wins[1]))
		if total := sumAttempts(); total != base+round*n {
			t.Fatalf("round %d: attempts sum to %d, want %d", round, total, base+round*n)
		}
	}
}
