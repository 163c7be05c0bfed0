package store

import (
	"context"
	"testing"

	"github.com/mqops/mqops/backends"
)

// TestRetryRowsGuarded: on PostgreSQL, MariaDB and SQLite, RetryNowRows
// and GiveUpRows change a row only where it still has the attempts read:
// a row the application's job took since (attempts + 1) is left as it
// is; the others change as RetryNow and GiveUp change them.
func TestRetryRowsGuarded(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		seedRetry(t, db) // a, b, e waiting; c dead (5 of 5); d done
		s := db.open(Options{})
		page, err := s.Retries(ctx, backends.RetryQuery{})
		if err != nil || len(page.Rows) != 4 {
			t.Fatalf("%v %+v", err, page)
		}
		byMsg := map[string]backends.RetryRow{}
		for _, r := range page.Rows {
			byMsg[r.MessageID] = r
		}
		db.exec("UPDATE mqops_retry SET attempts = attempts + 1 WHERE message_id = 'msg-b'")
		n, err := s.RetryNowRows(ctx, []backends.RetryRow{byMsg["msg-a"], byMsg["msg-b"], byMsg["msg-c"]})
		if err != nil || n != 2 {
			t.Fatalf("retry now: %d %v", n, err)
		}
		type state struct {
			status        string
			attempts, max int
			due           bool
		}
		states := func() map[string]state {
			due := "next_retry_at <= " + map[string]string{"postgres": "now()", "mysql": "NOW(6)", "sqlite": "strftime('%Y-%m-%d %H:%M:%f','now')"}[db.driver]
			rs, err := db.raw.Query("SELECT message_id, status, attempts, max_attempts, CASE WHEN " + due + " THEN 1 ELSE 0 END FROM mqops_retry")
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			out := map[string]state{}
			for rs.Next() {
				var id string
				var st state
				var d int
				if err := rs.Scan(&id, &st.status, &st.attempts, &st.max, &d); err != nil {
					t.Fatal(err)
				}
				st.due = d == 1
				out[id] = st
			}
			return out
		}
		got := states()
		if got["msg-a"] != (state{"waiting", 1, 5, true}) || got["msg-b"] != (state{"waiting", 3, 5, false}) || got["msg-c"] != (state{"waiting", 5, 6, true}) {
			t.Fatalf("after retry now: %+v", got)
		}
		db.exec("UPDATE mqops_retry SET attempts = attempts + 1 WHERE message_id = 'msg-e'")
		n, err = s.GiveUpRows(ctx, []backends.RetryRow{byMsg["msg-e"], byMsg["msg-b"]})
		if err != nil || n != 0 {
			t.Fatalf("give up stale rows: %d %v", n, err)
		}
		fresh := byMsg["msg-b"]
		fresh.Attempts = 3
		if n, err = s.GiveUpRows(ctx, []backends.RetryRow{fresh}); err != nil || n != 1 {
			t.Fatalf("give up: %d %v", n, err)
		}
		got = states()
		if got["msg-b"].status != "dead" || got["msg-e"].status != "waiting" || got["msg-d"].status != "done" {
			t.Fatalf("after give up: %+v", got)
		}
	})
}
