package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

// TestRowsOfMessage: on PostgreSQL, MariaDB and SQLite (preset mqops), the
// outbox and retry rows of a message id are found whatever their status
// and age (sent and done too), newest first; an id of no row finds none;
// a mapping without a message id column finds outbox rows by their id
// (what a resend sends as the message id) and says a retry table cannot
// be asked (backends.ErrNoMessageID).
func TestRowsOfMessage(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		cols := []string{"message_id", "destination", "message_key", "payload", "status", "attempts", "created_at"}
		db.insert("mqops_outbox", cols, "msg-o1", "orders", "k1", []byte("p"), "sent", 1, sqlExpr(db.ago(time.Hour)))
		db.insert("mqops_outbox", cols, "msg-o1", "orders", "k1", []byte("p"), "pending", 0, sqlExpr(db.ago(time.Second)))
		db.insert("mqops_outbox", cols, "msg-o2", "orders", "k2", []byte("p"), "pending", 0, sqlExpr(db.ago(time.Hour)))
		seedRetry(t, db) // msg-a … msg-e, msg-d done
		s := db.open(Options{})

		rows, err := s.OutboxRowsOf(ctx, "msg-o1")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].Status != "pending" || rows[1].Status != "sent" || rows[1].Attempts != 1 || rows[0].Key != "k1" || rows[0].Destination != "orders" || rows[0].MessageID != "msg-o1" {
			t.Fatalf("outbox rows %+v", rows)
		}
		if rows, err := s.OutboxRowsOf(ctx, "msg-404"); err != nil || len(rows) != 0 {
			t.Fatalf("msg-404: %v %+v", err, rows)
		}
		page, err := s.Retries(ctx, backends.RetryQuery{MessageID: "msg-d"})
		if err != nil || len(page.Rows) != 1 || page.Rows[0].Status != "done" || page.Rows[0].MessageID != "msg-d" {
			t.Fatalf("retry rows of a done row: %v %+v", err, page)
		}
		if page, err := s.Retries(ctx, backends.RetryQuery{MessageID: "msg-c"}); err != nil || len(page.Rows) != 1 || !page.Rows[0].Dead {
			t.Fatalf("msg-c: %v %+v", err, page)
		}

		// a mapping without message ids
		m := db.open(Options{Outbox: &Table{Columns: map[string]string{"message_id": ""}}, Retry: &Table{Columns: map[string]string{"message_id": ""}}})
		any := idsByName(t, db, "mqops_outbox")["o2"]
		if rows, err := m.OutboxRowsOf(ctx, any); err != nil || len(rows) != 1 || rows[0].ID != any || rows[0].MessageID != any {
			t.Fatalf("by id %s: %v %+v", any, err, rows)
		}
		if _, err := m.Retries(ctx, backends.RetryQuery{MessageID: "msg-a"}); !errors.Is(err, backends.ErrNoMessageID) || !strings.Contains(err.Error(), "store.retry.columns.message_id") {
			t.Fatalf("no message id column: %v", err)
		}
	})
}

// TestCAPRowsOfMessage: the cap preset finds a published row by the
// cap-msg-id inside its Content, whatever its StatusName.
func TestCAPRowsOfMessage(t *testing.T) {
	forEachDriver(t, capDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		schema, published, _ := capDB(t, db)
		cols := capPublishedCols(db)
		db.insert(published, cols, int64(9001), "v1", "orders.created", capContent(capHeaders("1800000000000000001", "orders.created"), `{}`), 0, sqlExpr(db.ago(time.Hour)), nil, "Succeeded")
		db.insert(published, cols, int64(9002), "v1", "orders.created", capContent(capHeaders("1800000000000000002", "orders.created"), `{}`), 2, sqlExpr(db.ago(time.Hour)), nil, "Failed")
		s := db.open(Options{Preset: "cap", Schema: schema})
		for id, want := range map[string]string{"1800000000000000001": "Succeeded", "1800000000000000002": "Failed"} {
			rows, err := s.OutboxRowsOf(ctx, id)
			if err != nil || len(rows) != 1 || rows[0].Status != want || rows[0].MessageID != id || rows[0].Destination != "orders.created" {
				t.Fatalf("%s: %v %+v", id, err, rows)
			}
		}
		if rows, err := s.OutboxRowsOf(ctx, "9001"); err != nil || len(rows) != 0 {
			t.Fatalf("the row id is not the message id: %v %+v", err, rows)
		}
	})
}

// capPublishedCols are the columns of CAP's published table, quoted for
// the driver.
func capPublishedCols(db *testDB) []string {
	cols := []string{`"Id"`, `"Version"`, `"Name"`, `"Content"`, `"Retries"`, `"Added"`, `"ExpiresAt"`, `"StatusName"`}
	if db.driver == "mysql" {
		for i, c := range cols {
			cols[i] = "`" + strings.Trim(c, `"`) + "`"
		}
	}
	return cols
}
