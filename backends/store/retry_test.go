package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

var retryCols = []string{"message_id", "source", "destination", "payload", "headers", "error", "attempts", "max_attempts", "next_retry_at", "status", "created_at"}

func seedRetry(t *testing.T, db *testDB) map[string]string {
	t.Helper()
	type row struct {
		name, status, err string
		attempts          int
		age               time.Duration
	}
	rows := []row{
		{"a", "waiting", "payment gateway timeout after 3000ms for order 123", 1, 10 * time.Minute},
		{"b", "waiting", "payment gateway timeout after 5000ms for order 456", 2, 5 * time.Minute},
		{"c", "dead", "java.lang.IllegalStateException: order 'A-17' has no customer\n\tat com.shop.Orders.check(Orders.java:42)", 5, 8 * time.Minute},
		{"d", "done", "payment gateway timeout after 1ms for order 1", 1, 9 * time.Minute},
		{"e", "waiting", "java.lang.IllegalStateException: order 'B-99' has no customer", 3, time.Minute},
	}
	for _, r := range rows {
		db.insert("mqops_retry", retryCols, "msg-"+r.name, "orders.in", "orders", []byte("body "+r.name), `{"k":"`+r.name+`"}`,
			r.err, r.attempts, 5, sqlExpr(db.ago(-time.Hour)), r.status, sqlExpr(db.ago(r.age)))
	}
	return idsByName(t, db, "mqops_retry")
}

func retryIDs(rows []backends.RetryRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func TestRetriesMqops(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		ids := seedRetry(t, db)
		s := db.open(Options{})

		page, err := s.Retries(ctx, backends.RetryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := retryIDs(page.Rows), named(ids, "a", "c", "b", "e"); !slices.Equal(got, want) {
			t.Fatalf("retry rows %v, want %v (oldest first, done excluded)", got, want)
		}
		timeout := "payment gateway timeout after <n>ms for order <n>"
		exc := "java.lang.IllegalStateException: order '…' has no customer"
		if len(page.Groups) != 2 {
			t.Fatalf("groups %+v", page.Groups)
		}
		byRow := map[string]backends.RetryRow{}
		for _, r := range page.Rows {
			byRow[r.ID] = r
		}
		for _, g := range page.Groups {
			var first, last string
			switch g.Error {
			case timeout:
				first, last = "a", "b"
			case exc:
				first, last = "c", "e"
			default:
				t.Fatalf("unexpected group %q", g.Error)
			}
			if g.Count != 2 || !g.First.Equal(byRow[ids[first]].CreatedAt) || !g.Last.Equal(byRow[ids[last]].CreatedAt) {
				t.Errorf("group %q: %+v", g.Error, g)
			}
		}
		c := byRow[ids["c"]]
		if !c.Dead || c.Status != "dead" || c.Attempts != 5 || c.MaxAttempts != 5 || !c.NextRetryAt.IsZero() ||
			c.Destination != "orders" || c.Source != "orders.in" || c.MessageID != "msg-c" || c.ErrorGroup != exc || c.Payload != nil {
			t.Errorf("row c: %+v", c)
		}
		if a := byRow[ids["a"]]; a.Dead || a.NextRetryAt.Before(page.Now) {
			t.Errorf("row a: dead %v, next retry %v (now %v)", a.Dead, a.NextRetryAt, page.Now)
		}

		page, err = s.Retries(ctx, backends.RetryQuery{ErrorGroup: exc, WithPayload: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := retryIDs(page.Rows), named(ids, "c", "e"); !slices.Equal(got, want) || page.Total != 2 || len(page.Groups) != 2 {
			t.Fatalf("group filter: %v total %d groups %d", got, page.Total, len(page.Groups))
		}
		if string(page.Rows[0].Payload) != "body c" || !slices.Equal(page.Rows[0].Headers, []backends.StoreHeader{{Key: "k", Value: "c"}}) {
			t.Errorf("payload %q headers %+v", page.Rows[0].Payload, page.Rows[0].Headers)
		}
		dead := true
		page, err = s.Retries(ctx, backends.RetryQuery{Dead: &dead})
		if err != nil || !slices.Equal(retryIDs(page.Rows), named(ids, "c")) {
			t.Fatalf("dead: %v %v", retryIDs(page.Rows), err)
		}
		dead = false
		page, err = s.Retries(ctx, backends.RetryQuery{Dead: &dead, Limit: 2})
		if err != nil || !slices.Equal(retryIDs(page.Rows), named(ids, "a", "b")) || !page.More || page.Total != 3 {
			t.Fatalf("waiting, limit 2: %v more %v total %d %v", retryIDs(page.Rows), page.More, page.Total, err)
		}

		// retry now: the dead row waits again, due now, with one more attempt allowed
		n, err := s.RetryNow(ctx, named(ids, "c", "d", "nonsense"))
		if err != nil || n != 1 {
			t.Fatalf("retry now c d: %d %v (d is done)", n, err)
		}
		page, err = s.Retries(ctx, backends.RetryQuery{IDs: named(ids, "c")})
		if err != nil {
			t.Fatal(err)
		}
		c = page.Rows[0]
		if c.Dead || c.Status != "waiting" || c.MaxAttempts != 6 || c.NextRetryAt.After(page.Now) || page.Now.Sub(c.NextRetryAt) > time.Minute {
			t.Fatalf("after retry now: %+v (now %v)", c, page.Now)
		}
		// give up: waiting rows only
		n, err = s.GiveUp(ctx, named(ids, "a", "d"))
		if err != nil || n != 1 {
			t.Fatalf("give up a d: %d %v", n, err)
		}
		// republished: guarded by the attempts read
		page, err = s.Retries(ctx, backends.RetryQuery{IDs: named(ids, "a", "b")})
		if err != nil {
			t.Fatal(err)
		}
		stale := page.Rows[1]
		stale.Attempts--
		n, err = s.MarkRepublished(ctx, []backends.RetryRow{page.Rows[0], stale})
		if err != nil || n != 1 {
			t.Fatalf("mark republished a, stale b: %d %v", n, err)
		}
		page, err = s.Retries(ctx, backends.RetryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := retryIDs(page.Rows), named(ids, "c", "b", "e"); !slices.Equal(got, want) {
			t.Fatalf("after the actions: %v, want %v (a done)", got, want)
		}
	})
}

func TestConsumedMqops(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		db.insert("mqops_consumed", []string{"message_id", "consumer", "consumed_at"}, "m1", "billing", sqlExpr(db.ago(time.Minute)))
		db.insert("mqops_consumed", []string{"message_id", "consumer"}, "m2", "shipping")
		for i := 0; i < 600; i++ {
			db.insert("mqops_consumed", []string{"message_id"}, fmt.Sprintf("bulk-%d", i))
		}
		s := db.open(Options{})
		got, err := s.Consumed(ctx, "m1")
		if err != nil || len(got) != 1 || got[0].MessageID != "m1" || got[0].Consumer != "billing" || got[0].ConsumedAt.IsZero() {
			t.Fatalf("consumed m1: %+v %v", got, err)
		}
		got, err = s.Consumed(ctx, "m3")
		if err != nil || len(got) != 0 {
			t.Fatalf("consumed m3: %+v %v", got, err)
		}
		ids := []string{"m1", "m2", "m3", "m1", ""}
		for i := 0; i < 1200; i++ {
			ids = append(ids, fmt.Sprintf("bulk-%d", i))
		}
		among, err := s.ConsumedAmong(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(among) != 1204 || !among["m1"] || !among["m2"] || among["m3"] || among[""] || !among["bulk-599"] || among["bulk-600"] {
			t.Fatalf("consumed among: %d entries, m1 %v m2 %v m3 %v bulk-599 %v bulk-600 %v", len(among), among["m1"], among["m2"], among["m3"], among["bulk-599"], among["bulk-600"])
		}
		n := 0
		for _, v := range among {
			if v {
				n++
			}
		}
		if n != 602 {
			t.Fatalf("%d consumed, want 602", n)
		}
	})
}

// TestMaxRowsBound: no query returns more than MaxRows rows; what was left
// out is said (More), and more ids than MaxRows at once are refused.
func TestMaxRowsBound(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		seedOutbox(t, db)
		seedRetry(t, db)
		s := db.open(Options{MaxRows: 2})
		page, err := s.Pending(ctx, backends.OutboxQuery{Limit: 100})
		if err != nil || len(page.Rows) != 2 || !page.More || page.Total != 4 {
			t.Fatalf("pending with MaxRows 2: %d rows more %v total %d %v", len(page.Rows), page.More, page.Total, err)
		}
		rp, err := s.Retries(ctx, backends.RetryQuery{})
		if err != nil || len(rp.Rows) != 2 || !rp.More {
			t.Fatalf("retries with MaxRows 2: %d rows more %v %v", len(rp.Rows), rp.More, err)
		}
		if _, err := s.Claim(ctx, make([]backends.OutboxRow, 3)); err == nil {
			t.Fatal("3 rows at once with MaxRows 2: no error")
		}
		if _, err := s.ConsumedAmong(ctx, []string{"a", "b", "c"}); err == nil {
			t.Fatal("3 ids at once with MaxRows 2: no error")
		}
	})
}
