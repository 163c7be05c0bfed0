package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/mqops/mqops/backends/store" // the drivers: pgx, mysql, sqlite
	"github.com/mqops/mqops/backends/store/storetest"
)

// appDB is a fresh, empty namespace of the application database for one
// test: a PostgreSQL schema (on the DSN's search_path), a MariaDB
// database, or a SQLite file; dropped at the end. dsn reaches it.
type appDB struct {
	t      *testing.T
	driver string
	dsn    string
	raw    *sql.DB
}

func hexSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newAppDB(t *testing.T, driver string) *appDB {
	t.Helper()
	db := &appDB{t: t, driver: driver}
	ctx := context.Background()
	name := "hxresend_" + hexSuffix()
	switch driver {
	case "postgres":
		env := requireEnv(t, "POSTGRES_DSN")
		admin, err := sql.Open("pgx", env["POSTGRES_DSN"])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", name, err)
			}
			admin.Close()
		})
		u, err := url.Parse(env["POSTGRES_DSN"])
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", name)
		u.RawQuery = q.Encode()
		db.dsn = u.String()
	case "mysql":
		env := requireEnv(t, "MYSQL_DSN")
		admin, err := sql.Open("mysql", env["MYSQL_DSN"])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name); err != nil {
				t.Errorf("drop database %s: %v", name, err)
			}
			admin.Close()
		})
		cfg, err := mysql.ParseDSN(env["MYSQL_DSN"])
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = name
		db.dsn = cfg.FormatDSN()
	case "sqlite":
		db.dsn = filepath.Join(t.TempDir(), "app.db")
	default:
		t.Fatalf("driver %s", driver)
	}
	raw, err := sql.Open(map[string]string{"postgres": "pgx", "mysql": "mysql", "sqlite": "sqlite"}[driver], db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	db.raw = raw
	return db
}

// exec runs statements one at a time.
func (db *appDB) exec(stmts ...string) {
	db.t.Helper()
	for _, s := range stmts {
		if _, err := db.raw.Exec(s); err != nil {
			db.t.Fatalf("%s\n%v", s, err)
		}
	}
}

// script runs a DDL script statement by statement.
func (db *appDB) script(ddl string) {
	db.t.Helper()
	db.exec(storetest.Statements(ddl)...)
}

// schema creates mqops' reference tables from `mqops schema print`.
func (db *appDB) schema() {
	db.t.Helper()
	out, stderr, err := run(db.t, 30*time.Second, nil, mqopsBin(db.t), "schema", "print", "--driver", db.driver)
	if err != nil {
		db.t.Fatalf("schema print: %v %s", err, stderr)
	}
	db.script(out)
}

func (db *appDB) ph(i int) string {
	if db.driver == "postgres" {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// ago is an SQL expression: the database's now minus d (0: now).
func (db *appDB) ago(d time.Duration) string {
	secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	switch db.driver {
	case "postgres":
		return "now() - make_interval(secs => " + secs + ")"
	case "mysql":
		return "NOW(6) - INTERVAL " + strconv.FormatInt(d.Microseconds(), 10) + " MICROSECOND"
	}
	return "strftime('%Y-%m-%d %H:%M:%f','now','-" + secs + " seconds')"
}

// outboxRow is a row to insert into mqops_outbox.
type outboxRow struct {
	msgID, dest, key string
	age              time.Duration
	headers          [][2]string
	payload          []byte
}

// insert adds rows (pending, attempts 0), many per statement.
func (db *appDB) insert(rows ...outboxRow) {
	db.t.Helper()
	const per = 200
	for len(rows) > 0 {
		n := min(len(rows), per)
		var vals []string
		var args []any
		for _, r := range rows[:n] {
			hs := make([]map[string]string, 0, len(r.headers))
			for _, h := range r.headers {
				hs = append(hs, map[string]string{"key": h[0], "value": h[1]})
			}
			hj, _ := json.Marshal(hs)
			var key any = r.key
			if r.key == "" {
				key = nil
			}
			payload := r.payload
			if payload == nil {
				payload = []byte("payload of " + r.msgID)
			}
			i := len(args)
			args = append(args, r.msgID, r.dest, key, payload, string(hj))
			vals = append(vals, fmt.Sprintf("(%s,%s,%s,%s,%s,%s)", db.ph(i+1), db.ph(i+2), db.ph(i+3), db.ph(i+4), db.ph(i+5), db.ago(r.age)))
		}
		q := "INSERT INTO mqops_outbox (message_id, destination, message_key, payload, headers, created_at) VALUES " + strings.Join(vals, ",")
		if _, err := db.raw.Exec(q, args...); err != nil {
			db.t.Fatalf("insert: %v", err)
		}
		rows = rows[n:]
	}
}

type rowState struct {
	Status    string
	Attempts  int
	LastError string
}

// states is every outbox row's status, attempts and last error, by
// message id.
func (db *appDB) states() map[string]rowState {
	db.t.Helper()
	rs, err := db.raw.Query("SELECT message_id, status, attempts, COALESCE(last_error, '') FROM mqops_outbox")
	if err != nil {
		db.t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]rowState{}
	for rs.Next() {
		var id string
		var s rowState
		if err := rs.Scan(&id, &s.Status, &s.Attempts, &s.LastError); err != nil {
			db.t.Fatal(err)
		}
		out[id] = s
	}
	if err := rs.Err(); err != nil {
		db.t.Fatal(err)
	}
	return out
}

// records reads every record of topic (up to its end offsets now).
func (w *replayWorld) records(topic string) []*kgo.Record {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := w.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		w.t.Fatal(err)
	}
	want := int64(0)
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	if want == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		w.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			w.t.Fatalf("read %d of %d records of %s", len(out), want, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// headerOf is the value of a record's last header named key.
func headerOf(r *kgo.Record, key string) string {
	v := ""
	for _, h := range r.Headers {
		if h.Key == key {
			v = string(h.Value)
		}
	}
	return v
}

// storeContext writes a config file with context t: Kafka (when brokers
// are given), RabbitMQ (its YAML block, when given), and the store
// (driver, dsn-env APPDB_DSN, route given as YAML flow, and storeExtra:
// more lines of the store block), and returns its path.
func storeContext(t *testing.T, brokers []string, rabbit string, db *appDB, route string, storeExtra string) string {
	t.Helper()
	cfg := "current-context: t\ncontexts:\n  t:\n"
	if len(brokers) > 0 {
		cfg += fmt.Sprintf("    kafka:\n      brokers: [%s]\n", strings.Join(brokers, ","))
	}
	cfg += rabbit
	cfg += fmt.Sprintf("    store:\n      driver: %s\n      dsn-env: APPDB_DSN\n      route: %s\n", db.driver, route) + storeExtra
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
