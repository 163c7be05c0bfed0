package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"github.com/mqops/mqops/backends/store/storetest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// integrationEnv returns the environment variables an integration test
// needs: the test skips when they are unset, and fails when
// MQOPS_REQUIRE_INTEGRATION=1 (make test, scripts/testenv).
func integrationEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s is not set: run the tests through `make test` (scripts/testenv up)", n)
			}
			t.Skipf("%s not set: integration test skipped (run `make test`)", n)
		}
		out[n] = v
	}
	return out
}

func suffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testDB is a fresh, empty database namespace of one driver: a PostgreSQL
// schema (on the DSN's search_path), a MariaDB database, or a SQLite file.
// It is dropped when the test ends.
type testDB struct {
	t      *testing.T
	driver string
	dsn    string // reaches the namespace by default
	name   string // the schema / database name ("" for sqlite)
	raw    *sql.DB
}

var allDrivers = []string{"postgres", "mysql", "sqlite"}

func newTestDB(t *testing.T, driver string) *testDB {
	t.Helper()
	db := &testDB{t: t, driver: driver}
	ctx := context.Background()
	switch driver {
	case "postgres":
		env := integrationEnv(t, "POSTGRES_DSN")
		db.name = "store_" + suffix()
		admin, err := sql.Open("pgx", env["POSTGRES_DSN"])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+db.name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+db.name+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", db.name, err)
			}
			admin.Close()
		})
		u, err := url.Parse(env["POSTGRES_DSN"])
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", db.name)
		u.RawQuery = q.Encode()
		db.dsn = u.String()
	case "mysql":
		env := integrationEnv(t, "MYSQL_DSN")
		db.name = "store_" + suffix()
		admin, err := sql.Open("mysql", env["MYSQL_DSN"])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+db.name+" CHARACTER SET utf8mb4"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+db.name); err != nil {
				t.Errorf("drop database %s: %v", db.name, err)
			}
			admin.Close()
		})
		cfg, err := mysql.ParseDSN(env["MYSQL_DSN"])
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = db.name
		db.dsn = cfg.FormatDSN()
	case "sqlite":
		db.dsn = filepath.Join(t.TempDir(), "app.db")
		f, err := os.Create(db.dsn)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	rawDriver := map[string]string{"postgres": "pgx", "mysql": "mysql", "sqlite": "sqlite"}[driver]
	raw, err := sql.Open(rawDriver, db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	db.raw = raw
	return db
}

// exec runs statements (one per call: MariaDB runs one at a time).
func (db *testDB) exec(stmts ...string) {
	db.t.Helper()
	for _, s := range stmts {
		if _, err := db.raw.Exec(s); err != nil {
			db.t.Fatalf("%s\n%v", s, err)
		}
	}
}

// script runs a DDL script statement by statement.
func (db *testDB) script(ddl string) {
	db.t.Helper()
	db.exec(storetest.Statements(ddl)...)
}

// ph is the i-th placeholder (1-based) of the driver.
func (db *testDB) ph(i int) string {
	if db.driver == "postgres" {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// ago is an SQL expression: the database's now minus d, as the mqops
// preset's time columns store it.
func (db *testDB) ago(d time.Duration) string {
	secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	switch db.driver {
	case "postgres":
		return "now() - make_interval(secs => " + secs + ")"
	case "mysql":
		return "NOW(6) - INTERVAL " + strconv.FormatInt(d.Microseconds(), 10) + " MICROSECOND"
	}
	return "strftime('%Y-%m-%d %H:%M:%f','now','" + strconv.FormatFloat(-d.Seconds(), 'f', 3, 64) + " seconds')"
}

// insert inserts a row; vals holding an sqlExpr are written as SQL.
type sqlExpr string

func (db *testDB) insert(table string, cols []string, vals ...any) {
	db.t.Helper()
	var ps []string
	var args []any
	for _, v := range vals {
		if e, ok := v.(sqlExpr); ok {
			ps = append(ps, string(e))
			continue
		}
		args = append(args, v)
		ps = append(ps, db.ph(len(args)))
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "), strings.Join(ps, ", "))
	if _, err := db.raw.Exec(q, args...); err != nil {
		db.t.Fatalf("%s: %v", q, err)
	}
}

// open opens a Store on the namespace.
func (db *testDB) open(o Options) *Store {
	db.t.Helper()
	s, err := db.openErr(o)
	if err != nil {
		db.t.Fatal(err)
	}
	return s
}

func (db *testDB) openErr(o Options) (*Store, error) {
	o.Driver = db.driver
	if o.DSN == "" {
		o.DSN = db.dsn
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	s, err := Open(context.Background(), o)
	if err == nil {
		db.t.Cleanup(func() { s.Close() })
	}
	return s, err
}

func forEachDriver(t *testing.T, drivers []string, fn func(t *testing.T, db *testDB)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) { fn(t, newTestDB(t, d)) })
	}
}
