package store

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/mqops/mqops/backends/store/storetest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqops/mqops/backends"
)

// BenchmarkClaimSQLite claims and marks sent batches of 500 rows of an
// SQLite sending table of 10,000 pending rows (the demo's database): one
// resend batch's statements. A claim that scanned the table per row (an
// INTEGER PRIMARY KEY compared with text) took 50 times longer.
func BenchmarkClaimSQLite(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "app.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	ddl, _ := Schema("sqlite")
	for _, st := range storetest.Statements(ddl) {
		if _, err := raw.Exec(st); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 10000; i += 500 {
		vals := make([]string, 500)
		for j := range vals {
			vals[j] = fmt.Sprintf("('m%d','d',x'00',strftime('%%Y-%%m-%%d %%H:%%M:%%f','now','-600 seconds'))", i+j)
		}
		if _, err := raw.Exec("INSERT INTO mqops_outbox (message_id, destination, payload, created_at) VALUES " + strings.Join(vals, ",")); err != nil {
			b.Fatal(err)
		}
	}
	s, err := Open(ctx, Options{Driver: "sqlite", DSN: path})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if _, err := raw.Exec("UPDATE mqops_outbox SET status = 'pending', attempts = 0"); err != nil {
			b.Fatal(err)
		}
		page, err := s.Pending(ctx, backends.OutboxQuery{Limit: 500})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		got, err := s.Claim(ctx, page.Rows)
		if err != nil || len(got) != 500 {
			b.Fatalf("claimed %d: %v", len(got), err)
		}
		if n, err := s.MarkSent(ctx, got); err != nil || n != 500 {
			b.Fatalf("marked %d: %v", n, err)
		}
	}
}
