package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/kafka/kafkatest"
)

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not say %q", err, p)
		}
	}
}

// TestOpenValidatesMapping: a missing column of each table kind, a
// column of an unusable type, a missing table, an unknown key: each a
// clear error at Open naming the mapping key, the table and the column.
func TestOpenValidatesMapping(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		_, err := db.openErr(Options{Outbox: &Table{Columns: map[string]string{"status": "state"}}})
		wantErr(t, err, "store.outbox.columns.status", "mqops_outbox has no column state")
		_, err = db.openErr(Options{Retry: &Table{Columns: map[string]string{"error": "err_text"}}})
		wantErr(t, err, "store.retry.columns.error", "mqops_retry has no column err_text")
		_, err = db.openErr(Options{Idempotency: &Table{Columns: map[string]string{"consumer": "who"}}})
		wantErr(t, err, "store.idempotency.columns.consumer", "mqops_consumed has no column who")
		_, err = db.openErr(Options{Outbox: &Table{Name: "message_send_log"}})
		wantErr(t, err, "store.outbox.table", "message_send_log does not exist")
		_, err = db.openErr(Options{Outbox: &Table{Columns: map[string]string{"colour": "x"}}})
		wantErr(t, err, "store.outbox.columns.colour: unknown column (known: id, message_id")
		_, err = db.openErr(Options{Outbox: &Table{Columns: map[string]string{"attempts": ""}}})
		wantErr(t, err, "store.outbox.columns.attempts: not mapped")
		_, err = db.openErr(Options{Retry: &Table{Statuses: map[string][]string{"waiting": nil}}})
		wantErr(t, err, "store.retry.statuses.waiting: no value")
		_, err = db.openErr(Options{Outbox: &Table{Statuses: map[string][]string{"stuck": {"x"}}}})
		wantErr(t, err, "store.outbox.statuses.stuck: unknown status")
		_, err = db.openErr(Options{Outbox: &Table{Name: "a.b.c"}})
		wantErr(t, err, "store.outbox.table")

		// unusable types
		attempts := "TEXT"
		created := "TEXT"
		if db.driver == "sqlite" {
			created = "BLOB"
		}
		db.exec(fmt.Sprintf("CREATE TABLE bad_outbox (id INTEGER PRIMARY KEY, destination TEXT, payload TEXT, status INTEGER, attempts %s, created_at %s)", attempts, created))
		_, err = db.openErr(Options{Outbox: &Table{Name: "bad_outbox"}})
		wantErr(t, err, "store.outbox.columns.message_id", "bad_outbox has no column message_id")
		cols := map[string]string{"message_id": "", "message_key": "", "headers": "", "last_attempt_at": "", "last_error": ""}
		_, err = db.openErr(Options{Outbox: &Table{Name: "bad_outbox", Columns: cols}})
		wantErr(t, err, "store.outbox.columns.attempts: column ", "bad_outbox.attempts is text", "it needs an integer")
		cols["attempts"] = "id"
		_, err = db.openErr(Options{Outbox: &Table{Name: "bad_outbox", Columns: cols}})
		wantErr(t, err, "store.outbox.columns.created_at: column ", "bad_outbox.created_at is", "it needs a timestamp")
		cols["created_at"] = "id"
		cols["attempts"] = "id"
		if db.driver == "sqlite" {
			// sqlite: an INTEGER column holds unix seconds; the status is an integer column
			_, err = db.openErr(Options{Outbox: &Table{Name: "bad_outbox", Columns: cols}})
			wantErr(t, err, `store.outbox.statuses.pending: "pending" is not a number, but bad_outbox.status is an integer column`)
		}
		if db.driver == "postgres" {
			_, err = db.openErr(Options{Outbox: &Table{Columns: map[string]string{"status": "Status"}}})
			wantErr(t, err, `did you mean "status"?`)
		}
	})
}

// TestLocalMessageTable: an existing "local message table" with other
// names and status codes 0..3 (0 new, 1 sent, 2 confirmed, 3 failed —
// failed rows are retried too), described by a mapping over the mqops
// preset.
func TestLocalMessageTable(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ts := map[string]string{"postgres": "TIMESTAMP", "mysql": "DATETIME(6)", "sqlite": "INTEGER"}[db.driver]
		text := map[string]string{"postgres": "VARCHAR(64)", "mysql": "VARCHAR(64)", "sqlite": "TEXT"}[db.driver]
		db.exec(fmt.Sprintf(`CREATE TABLE msg_log (msg_id %s PRIMARY KEY, topic %s NOT NULL, body TEXT, state SMALLINT NOT NULL, retry_count INT NOT NULL, create_time %s NOT NULL)`, text, text, ts))
		ago := func(d time.Duration) sqlExpr {
			if db.driver == "sqlite" {
				return sqlExpr(fmt.Sprintf("CAST(strftime('%%s','now') AS INTEGER) - %d", int(d.Seconds())))
			}
			if db.driver == "postgres" {
				return sqlExpr(fmt.Sprintf("LOCALTIMESTAMP - interval '%d seconds'", int(d.Seconds())))
			}
			return sqlExpr(db.ago(d))
		}
		for i, st := range []int{0, 1, 2, 3, 0} {
			db.insert("msg_log", []string{"msg_id", "topic", "body", "state", "retry_count", "create_time"},
				fmt.Sprintf("uuid-%d", i), "orders", "{}", st, i, ago(time.Duration(10+i)*time.Minute))
		}
		s := db.open(Options{Outbox: &Table{
			Name: "msg_log",
			Columns: map[string]string{"id": "msg_id", "message_id": "", "destination": "topic", "payload": "body", "status": "state",
				"attempts": "retry_count", "created_at": "create_time", "message_key": "", "headers": "", "last_attempt_at": "", "last_error": ""},
			Statuses: map[string][]string{"pending": {"0", "3"}, "sent": {"1"}, "confirmed": {"2"}, "failed": {"3"}},
		}, Retry: &Table{Name: "-"}, Idempotency: &Table{Name: "-"}})
		if s.HasRetry() || s.HasIdempotency() {
			t.Fatal("tables mapped to \"-\" are absent")
		}
		page, err := s.Pending(ctx, backends.OutboxQuery{WithPayload: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := rowIDs(page.Rows); strings.Join(got, ",") != "uuid-4,uuid-3,uuid-0" {
			t.Fatalf("pending %v", got)
		}
		if r := page.Rows[1]; r.Status != "3" || r.MessageID != "uuid-3" || r.Attempts != 3 || string(r.Payload) != "{}" {
			t.Fatalf("row uuid-3: %+v (message id = the id when unmapped)", r)
		}
		if age := page.Rows[0].Age(page.Now); age < 13*time.Minute || age > 15*time.Minute {
			t.Fatalf("uuid-4 is %v old, want 14m", age)
		}
		claimed, err := s.Claim(ctx, page.Rows)
		if err != nil || len(claimed) != 3 {
			t.Fatalf("claim %d: %v", len(claimed), err)
		}
		if n, err := s.MarkSent(ctx, claimed); err != nil || n != 3 {
			t.Fatalf("mark sent: %d %v", n, err)
		}
		var state, retries int
		if err := db.raw.QueryRow("SELECT state, retry_count FROM msg_log WHERE msg_id = 'uuid-3'").Scan(&state, &retries); err != nil {
			t.Fatal(err)
		}
		if state != 1 || retries != 4 {
			t.Fatalf("uuid-3: state %d retries %d", state, retries)
		}
	})
}

// freeAddr is an address nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func dsnAt(driver, addr, password string) string {
	host, port, _ := net.SplitHostPort(addr)
	if driver == "postgres" {
		return fmt.Sprintf("postgres://opsuser:%s@%s:%s/appdb?sslmode=disable", password, host, port)
	}
	return fmt.Sprintf("opsuser:%s@tcp(%s)/appdb", password, addr)
}

// TestUnreachableAndSilentDatabases: a closed port and a peer that accepts
// TCP and never answers both fail Open within the timeout (1.5× at most),
// with an error that names the database without the DSN or password.
func TestUnreachableAndSilentDatabases(t *testing.T) {
	const timeout = time.Second
	for _, driver := range []string{"postgres", "mysql"} {
		for _, peer := range []struct {
			name string
			addr func(*testing.T) string
			says string
		}{{"closed", freeAddr, "refused"}, {"silent", func(t *testing.T) string { return kafkatest.Silent(t) }, "no answer within 1s"}} {
			t.Run(driver+"/"+peer.name, func(t *testing.T) {
				addr := peer.addr(t)
				dsn := dsnAt(driver, addr, "s3cr3t-pw-unreach")
				start := time.Now()
				_, err := Open(context.Background(), Options{Driver: driver, DSN: dsn, Timeout: timeout})
				took := time.Since(start)
				wantErr(t, err, driver+" appdb@"+addr, peer.says)
				if strings.Contains(err.Error(), "s3cr3t-pw-unreach") || strings.Contains(err.Error(), dsn) || strings.Contains(err.Error(), "opsuser:") {
					t.Fatalf("error shows the DSN: %v", err)
				}
				if took > timeout*3/2 {
					t.Fatalf("took %v with a timeout of %v", took, timeout)
				}
				t.Log(err)
			})
		}
	}
	t.Run("sqlite/missing-file", func(t *testing.T) {
		_, err := Open(context.Background(), Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "nope.db")})
		wantErr(t, err, "nope.db", "does not exist")
	})
	t.Run("sqlite/not-a-database", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "junk.db")
		os.WriteFile(p, []byte(strings.Repeat("not a database ", 100)), 0o600)
		_, err := Open(context.Background(), Options{Driver: "sqlite", DSN: p})
		wantErr(t, err, "sqlite "+p, "not a database")
	})
}

// stallProxy forwards TCP to target until stall is set; from then on it
// forwards nothing in either direction (a database that stops answering
// in the middle of a session).
func stallProxy(t *testing.T, target string) (addr string, stall *atomic.Bool) {
	stall = new(atomic.Bool)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && !stall.Load() {
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	return kafkatest.Peer(t, func(c net.Conn) {
		u, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer u.Close()
		go pipe(c, u)
		pipe(u, c) // ends when the peer closes c at the end of the test
	}), stall
}

// TestStallMidSession: a database that stops answering after Open fails
// every call within the timeout (1.5× at most).
func TestStallMidSession(t *testing.T) {
	const timeout = time.Second
	for _, driver := range []string{"postgres", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			db := newTestDB(t, driver)
			ddl, _ := Schema(driver)
			db.script(ddl)
			seedOutbox(t, db)
			var dsn string
			var target string
			if driver == "postgres" {
				u, _ := url.Parse(db.dsn)
				target = u.Host
				addr, stall := stallProxy(t, target)
				u.Host = addr
				dsn = u.String()
				testStall(t, db, dsn, stall, timeout)
			} else {
				cfg, _ := mysql.ParseDSN(db.dsn)
				addr, stall := stallProxy(t, cfg.Addr)
				cfg.Addr = addr
				dsn = cfg.FormatDSN()
				testStall(t, db, dsn, stall, timeout)
			}
		})
	}
}

func testStall(t *testing.T, db *testDB, dsn string, stall *atomic.Bool, timeout time.Duration) {
	s := db.open(Options{DSN: dsn, Timeout: timeout})
	ctx := context.Background()
	page, err := s.Pending(ctx, backends.OutboxQuery{})
	if err != nil {
		t.Fatal(err)
	}
	stall.Store(true)
	calls := map[string]func() error{
		"Pending": func() error { _, err := s.Pending(ctx, backends.OutboxQuery{}); return err },
		"Claim":   func() error { _, err := s.Claim(ctx, page.Rows); return err },
		"Retries": func() error { _, err := s.Retries(ctx, backends.RetryQuery{}); return err },
		"Consumed": func() error {
			_, err := s.ConsumedAmong(ctx, []string{"a", "b"})
			return err
		},
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "no answer within 1s") {
			t.Fatalf("%s: %v", name, err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: the error does not unwrap to a deadline", name)
		}
		if took > timeout*3/2 {
			t.Fatalf("%s took %v with a timeout of %v", name, took, timeout)
		}
	}
}

// TestBadPassword: the real databases refuse a wrong password with an
// error that says so and shows neither the password nor the DSN.
func TestBadPassword(t *testing.T) {
	for _, driver := range []string{"postgres", "mysql"} {
		t.Run(driver, func(t *testing.T) {
			var dsn string
			const pw = "wrong-Pa55word-xyz"
			if driver == "postgres" {
				env := integrationEnv(t, "POSTGRES_DSN")
				u, _ := url.Parse(env["POSTGRES_DSN"])
				u.User = url.UserPassword(u.User.Username(), pw)
				dsn = u.String()
			} else {
				env := integrationEnv(t, "MYSQL_DSN")
				cfg, _ := mysql.ParseDSN(env["MYSQL_DSN"])
				cfg.Passwd = pw
				dsn = cfg.FormatDSN()
			}
			_, err := Open(context.Background(), Options{Driver: driver, DSN: dsn, Timeout: 5 * time.Second})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, pw) || strings.Contains(msg, dsn) || strings.Contains(msg, url.QueryEscape(pw)) {
				t.Fatalf("error shows the password: %s", msg)
			}
			if !strings.Contains(strings.ToLower(msg), "password") && !strings.Contains(msg, "Access denied") {
				t.Fatalf("error does not say the password was refused: %s", msg)
			}
			t.Log(msg)
		})
	}
}

// TestHostileContents: control characters, C1 and bidi controls in a
// destination and an error come back raw (the printer sanitizes); huge
// columns are bounded: an error text is cut, a payload over its bound is
// an error naming the row (a message is never resent cut).
func TestHostileContents(t *testing.T) {
	forEachDriver(t, allDrivers, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		hostile := "\x1b]0;pwn\x07orders\u202e\u0085\x00x"
		if db.driver != "mysql" {
			hostile = strings.ReplaceAll(hostile, "\x00", "") // postgres text cannot hold NUL; sqlite's text functions stop at it
		}
		bigErr := strings.Repeat("é", 30_000) // MariaDB TEXT: 64 KiB
		if db.driver == "mysql" {
			// an application's wider column than the reference VARCHAR(255)
			db.exec("ALTER TABLE mqops_outbox MODIFY destination MEDIUMTEXT NOT NULL")
		}
		db.insert("mqops_outbox", outboxCols, "m1", hostile, "k", []byte("small"), nil, "pending", 0, sqlExpr(db.ago(time.Hour)), hostile+bigErr)
		db.insert("mqops_outbox", outboxCols, "m2", strings.Repeat("d", 100_000), "k", make([]byte, 1<<20+10), `{"h":"`+strings.Repeat("v", 1<<20)+`"}`, "pending", 0, sqlExpr(db.ago(time.Hour)), nil)
		s := db.open(Options{})
		page, err := s.Pending(ctx, backends.OutboxQuery{})
		if err != nil {
			t.Fatal(err)
		}
		r := page.Rows[0]
		if r.Destination != hostile || !strings.HasPrefix(r.LastError, hostile) {
			t.Fatalf("hostile text altered: %q / %q", r.Destination, truncate(r.LastError, 40))
		}
		if len(r.LastError) > MaxErrorText {
			t.Fatalf("last error is %d bytes, over %d", len(r.LastError), MaxErrorText)
		}
		if d := page.Rows[1].Destination; len(d) != MaxShortText {
			t.Fatalf("a 100 KB destination read as %d bytes, want the %d bound", len(d), MaxShortText)
		}
		if backends.SafeText(r.Destination) == r.Destination {
			t.Fatal("the hostile destination is not what SafeText escapes")
		}

		// payloads and headers over their bound (lowered: MariaDB's max_allowed_packet)
		defer func(p, h int) { maxPayload, maxHeaders = p, h }(maxPayload, maxHeaders)
		maxPayload, maxHeaders = 1<<20, 2<<20
		_, err = s.Pending(ctx, backends.OutboxQuery{WithPayload: true})
		wantErr(t, err, "1 pending rows cannot be resent whole", "payload over 1 MiB")
		maxPayload, maxHeaders = 2<<20, 1<<20
		_, err = s.Pending(ctx, backends.OutboxQuery{WithPayload: true})
		wantErr(t, err, "headers over 1 MiB")
		maxPayload, maxHeaders = 2<<20, 2<<20
		page, err = s.Pending(ctx, backends.OutboxQuery{WithPayload: true})
		if err != nil || len(page.Rows[1].Payload) != 1<<20+10 || len(page.Rows[1].Headers[0].Value) != 1<<20 {
			t.Fatalf("under the bounds: %v", err)
		}
	})
}

// TestHugePayloadReal: with the real 16 MiB bound, a 17 MiB payload
// (postgres, sqlite: MariaDB's packet limit keeps it from being written).
func TestHugePayloadReal(t *testing.T) {
	forEachDriver(t, []string{"postgres", "sqlite"}, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		ddl, _ := Schema(db.driver)
		db.script(ddl)
		db.insert("mqops_outbox", outboxCols, "m1", "orders", "k", make([]byte, 17<<20), nil, "pending", 0, sqlExpr(db.ago(time.Hour)), nil)
		s := db.open(Options{})
		page, err := s.Pending(ctx, backends.OutboxQuery{})
		if err != nil || len(page.Rows) != 1 {
			t.Fatalf("a listing does not read payloads: %v", err)
		}
		_, err = s.Pending(ctx, backends.OutboxQuery{WithPayload: true})
		wantErr(t, err, "row "+page.Rows[0].ID+": payload over 16 MiB")
	})
}
