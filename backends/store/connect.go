package store

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // driver "sqlite", pure Go

	"github.com/mqops/mqops/backends"
)

// Drivers the store opens.
var Drivers = []string{"postgres", "mysql", "sqlite"}

func init() {
	// The MySQL driver logs connection trouble to stderr by default, which
	// would draw over the console; its errors reach the caller anyway.
	_ = mysql.SetLogger(&mysql.NopLogger{})
}

// connect opens the pool (lazily: the caller pings) and names the database
// without any secret.
func connect(d dialect, dsn string, timeout time.Duration) (*sql.DB, string, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, "", fmt.Errorf("store: no DSN for the %s database (store.dsn-env or store.dsn-file)", d.driver)
	}
	switch d.driver {
	case "postgres":
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, "", fmt.Errorf("store: the postgres DSN does not parse: %s", cleanDriverText(err.Error()))
		}
		if cfg.Password != "" {
			backends.RegisterSecret(cfg.Password)
		}
		if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > timeout {
			cfg.ConnectTimeout = timeout
		}
		name := "postgres " + cfg.Database + "@" + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
		if strings.HasPrefix(cfg.Host, "/") {
			name = "postgres " + cfg.Database + "@" + cfg.Host
		}
		return stdlib.OpenDB(*cfg), name, nil
	case "mysql":
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, "", fmt.Errorf("store: the mysql DSN does not parse: %s", cleanDriverText(err.Error()))
		}
		if cfg.Passwd != "" {
			backends.RegisterSecret(cfg.Passwd)
		}
		// Times are read as time.Time in UTC whatever the DSN says: the
		// store compares them with the server's NOW() read the same way.
		cfg.ParseTime = true
		cfg.Loc = time.UTC
		// I/O deadlines only back up the per-statement contexts (which
		// fire first and say so): a driver timeout reads "invalid
		// connection".
		backstop := timeout + timeout/4
		for _, t := range []*time.Duration{&cfg.Timeout, &cfg.ReadTimeout, &cfg.WriteTimeout} {
			if *t == 0 || *t > backstop {
				*t = backstop
			}
		}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, "", fmt.Errorf("store: the mysql DSN: %s", cleanDriverText(err.Error()))
		}
		return sql.OpenDB(conn), "mysql " + cfg.DBName + "@" + cfg.Addr, nil
	case "sqlite":
		path, q, err := sqlitePath(dsn)
		if err != nil {
			return nil, "", err
		}
		if !q.Has("_busy_timeout") && !q.Has("_timeout") {
			q.Set("_busy_timeout", strconv.FormatInt(timeout.Milliseconds(), 10))
		}
		if !q.Has("_txlock") {
			q.Set("_txlock", "immediate")
		}
		base := dsn
		if i := strings.IndexByte(base, '?'); i >= 0 {
			base = base[:i]
		}
		db, err := sql.Open("sqlite", base+"?"+q.Encode())
		if err != nil {
			return nil, "", fmt.Errorf("store: sqlite: %s", cleanDriverText(err.Error()))
		}
		return db, "sqlite " + path, nil
	}
	return nil, "", fmt.Errorf("store: unknown driver %q", d.driver)
}

// sqlitePath returns the database file of a SQLite DSN ("path/app.db",
// "file:app.db?..."), refusing a file that does not exist: opening one
// would create an empty database and report every table missing.
func sqlitePath(dsn string) (string, url.Values, error) {
	path, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, fmt.Errorf("store: the sqlite DSN's parameters do not parse: %s", cleanDriverText(err.Error()))
	}
	path = strings.TrimPrefix(path, "file:")
	if path == ":memory:" || path == "" || q.Get("mode") == "memory" {
		return ":memory:", q, nil
	}
	if strings.HasPrefix(path, "//") { // file:///abs/path
		path = strings.TrimPrefix(path, "//")
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil, fmt.Errorf("store: sqlite database %q does not exist", backends.SafeText(path))
	case err != nil:
		return "", nil, fmt.Errorf("store: sqlite database: %s", cleanDriverText(err.Error()))
	case !fi.Mode().IsRegular():
		return "", nil, fmt.Errorf("store: sqlite database %q is not a regular file", backends.SafeText(path))
	}
	return path, q, nil
}

// connectToRE is pgx's "failed to connect to `user=u database=d`: ".
var connectToRE = regexp.MustCompile("failed to connect to `[^`]*`: ")

// connSettingsRE matches a backquoted list of connection settings or a
// DSN in a driver's message (pgx: failed to connect to `user=u database=d`,
// cannot parse `postgres://u:xxxxx@h/d`).
var connSettingsRE = regexp.MustCompile("`[^`]*(?:=|://|@)[^`]*`")

// cleanDriverText removes secrets, user-info and echoed connection
// settings from a driver's message.
func cleanDriverText(s string) string {
	s = backends.Redact(s)
	s = connectToRE.ReplaceAllString(s, "")
	return connSettingsRE.ReplaceAllString(s, "(connection settings)")
}

// isDeadlock says the database chose the statement as a deadlock or
// serialization victim: it was rolled back and can run again.
func isDeadlock(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213
	}
	return false
}
