package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqops/mqops/backends"
)

func TestNormalizeError(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"payment gateway timeout after 3000ms for order 123", "payment gateway timeout after <n>ms for order <n>"},
		{"payment gateway timeout after 5000ms for order 98765", "payment gateway timeout after <n>ms for order <n>"},
		{"order 6f1c2a9e-8a4b-4c1d-9e2f-0123456789ab not found", "order <uuid> not found"},
		{"order 6F1C2A9E-8A4B-4C1D-9E2F-0123456789AB not found", "order <uuid> not found"},
		{"bad checksum 0xDEADBEEF at offset 4096", "bad checksum <hex> at offset <n>"},
		{"commit 3f2a9c1b7e not found", "commit <hex> not found"},
		{`duplicate key value violates unique constraint "orders_pkey"`, `duplicate key value violates unique constraint "…"`},
		{`user 'alice' has no role 'admin'`, `user '…' has no role '…'`},
		{"java.net.SocketTimeoutException: Read timed out after 30000 ms\n\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)",
			"java.net.SocketTimeoutException: Read timed out after <n> ms"},
		{"java.lang.IllegalStateException: order 'A-17' has no customer", "java.lang.IllegalStateException: order '…' has no customer"},
		{"System.InvalidOperationException: Sequence contains no elements", "System.InvalidOperationException: Sequence contains no elements"},
		{"Npgsql.PostgresException (0x80004005): 23505: duplicate key", "Npgsql.PostgresException (<hex>): <n>: duplicate key"},
		{"BrokerUnreachableException-->None of the specified endpoints were reachable", "BrokerUnreachableException: None of the specified endpoints were reachable"},
		{"TimeoutException", "TimeoutException"},
		{"ValueError: invalid literal for int() with base 10: 'x1'", "ValueError: invalid literal for int() with base <n>: '…'"},
		{"process order 123: call payment: dial tcp 10.0.3.7:443: connect: connection refused",
			"process order <n>: call payment: dial tcp <ip>:<n>: connect: connection refused"},
		{"send batch: kafka: topic orders.v2 partition 3: NOT_LEADER_OR_FOLLOWER", "send batch: kafka: topic orders.v<n> partition <n>: NOT_LEADER_OR_FOLLOWER"},
		{"deadline at 2026-12-03T10:00:00.123Z exceeded", "deadline at <time> exceeded"},
		{"  spaced\t\tout   error  ", "spaced out error"},
		{"", ""},
	} {
		if got := NormalizeError(c.in); got != c.want {
			t.Errorf("NormalizeError(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
	}
	if got := NormalizeError(strings.Repeat("word ", 500)); len(got) > maxGroupLen {
		t.Errorf("a long message's group is %d bytes", len(got))
	}
}

func TestParseTableName(t *testing.T) {
	for _, c := range []struct {
		in   string
		want tableRef
		err  bool
	}{
		{"outbox", tableRef{name: "outbox"}, false},
		{"app.outbox", tableRef{"app", "outbox"}, false},
		{"`cap.published`", tableRef{name: "cap.published"}, false},
		{`"cap"."published"`, tableRef{"cap", "published"}, false},
		{`"My Schema"."Out""box"`, tableRef{"My Schema", `Out"box`}, true}, // doubled quotes are not supported: an error, not a wrong table
		{"a.b.c", tableRef{}, true},
		{"", tableRef{}, true},
		{"a.", tableRef{}, true},
		{"`unterminated", tableRef{}, true},
	} {
		got, err := parseTableName(c.in)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("parseTableName(%q) = %+v, %v", c.in, got, err)
		}
	}
	d, _ := dialectOf("mysql")
	if q := d.table(tableRef{name: "cap.published"}); q != "`cap.published`" {
		t.Errorf("mysql quoting: %s", q)
	}
	d, _ = dialectOf("postgres")
	if q := d.table(tableRef{"cap", `we"ird`}); q != `"cap"."we""ird"` {
		t.Errorf("postgres quoting: %s", q)
	}
}

func TestDecodeHeaders(t *testing.T) {
	got, err := decodeHeaders([]byte(`{"b":"2","a":1,"n":null,"o":{"x":[1, 2]}}`))
	want := []backends.StoreHeader{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}, {Key: "n"}, {Key: "o", Value: `{"x":[1,2]}`}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("object: %+v %v", got, err)
	}
	got, err = decodeHeaders([]byte(`[{"key":"a","value":"1"},{"key":"a","value":"\u001b[2J"}]`))
	want = []backends.StoreHeader{{Key: "a", Value: "1"}, {Key: "a", Value: "\x1b[2J"}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("array: %+v %v", got, err)
	}
	for _, bad := range []string{`"x"`, `[{"value":"1"}]`, `{"a":`, `[1]`} {
		if _, err := decodeHeaders([]byte(bad)); err == nil {
			t.Errorf("headers %s: no error", bad)
		}
	}
	if got, err := decodeHeaders(nil); err != nil || got != nil {
		t.Fatalf("no headers: %+v %v", got, err)
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Driver: "oracle", DSN: "x"}, `store.driver: unknown driver "oracle"`},
		{Options{DSN: "x"}, "store.driver: no driver"},
		{Options{Driver: "postgres", DSN: "x", Preset: "django"}, `store.preset: unknown preset "django" (cap, mqops`},
		{Options{Driver: "postgres"}, "no DSN"},
		{Options{Driver: "postgres", DSN: "postgres://u:pw-secret-1@h:notaport/db"}, "the postgres DSN does not parse"},
		{Options{Driver: "mysql", DSN: "u:pw-secret-2@tcp(h:3306/db"}, "the mysql DSN does not parse"},
		{Options{Driver: "postgres", DSN: "x", Timeout: -1}, "must not be negative"},
	} {
		_, err := Open(ctx, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("%+v: the error shows the password: %v", c.o, err)
		}
	}
	if _, err := Schema("oracle"); err == nil {
		t.Error("Schema(oracle): no error")
	}
}

// TestSchemaApplies: the reference DDL applies cleanly, twice (IF NOT
// EXISTS), and Open validates it, found through the search path / the
// DSN's database, and through Options.Schema from another default.
func TestSchemaApplies(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ddl, err := Schema(db.driver)
		if err != nil {
			t.Fatal(err)
		}
		db.script(ddl)
		db.script(ddl)
		s := db.open(Options{})
		if !s.HasOutbox() || !s.HasRetry() || !s.HasIdempotency() {
			t.Fatal("tables missing")
		}
		var other string
		schema := db.name
		switch db.driver {
		case "postgres":
			other = integrationEnv(t, "POSTGRES_DSN")["POSTGRES_DSN"]
		case "mysql":
			other = integrationEnv(t, "MYSQL_DSN")["MYSQL_DSN"]
		case "sqlite":
			other, schema = db.dsn, "main"
		}
		s = db.open(Options{DSN: other, Schema: schema})
		if _, err := s.Pending(context.Background(), backends.OutboxQuery{}); err != nil {
			t.Fatalf("through Options.Schema: %v", err)
		}
		if !strings.Contains(s.outbox.ref.String(), "mqops_outbox") || s.outbox.ref.schema != schema {
			t.Fatalf("table %s", s.outbox.ref)
		}
	})
}

// TestSQLiteUnreadableTimes: times in Go's time.String() form (what
// modernc.org/sqlite writes by default) would never compare as pending:
// Open says so instead.
func TestSQLiteUnreadableTimes(t *testing.T) {
	db := newTestDB(t, "sqlite")
	ddl, _ := Schema("sqlite")
	db.script(ddl)
	db.insert("mqops_outbox", outboxCols, "m1", "orders", nil, []byte("x"), nil, "pending", 0, "2026-12-03 10:00:00.123456789 +0100 CET", nil)
	_, err := db.openErr(Options{})
	wantErr(t, err, "store.outbox.columns.created_at", "cannot read", "2026-12-03 10:00:00.123456789 +0100 CET", "_time_format=sqlite")
	db.exec("UPDATE mqops_outbox SET created_at = '2026-12-03 10:00:00.123456789+01:00'")
	s := db.open(Options{})
	page, err := s.Pending(context.Background(), backends.OutboxQuery{})
	if err != nil || len(page.Rows) != 1 || page.Rows[0].CreatedAt.UTC().Format(time.RFC3339) != "2026-12-03T09:00:00Z" {
		t.Fatalf("ISO-8601 with an offset: %+v %v", page, err)
	}
}
