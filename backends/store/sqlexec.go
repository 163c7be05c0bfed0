package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// query runs one statement bounded by the store's timeout and calls row
// for each result row.
func (s *Store) query(ctx context.Context, op, q string, args []any, row func(scan func(...any) error) error) error {
	return s.queryOn(ctx, s.db, op, q, args, row)
}

func (s *Store) queryOn(ctx context.Context, on querier, op, q string, args []any, row func(scan func(...any) error) error) error {
	c, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := on.QueryContext(c, q, args...)
	if err != nil {
		return s.errf(c, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			if _, ours := err.(*rowError); ours {
				return err
			}
			return s.errf(c, op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return s.errf(c, op, err)
	}
	if err := rows.Close(); err != nil {
		return s.errf(c, op, err)
	}
	return nil
}

// queryRow scans the first row of a statement into dests; no row leaves
// them unchanged.
func (s *Store) queryRow(ctx context.Context, op string, row func(scan func(...any) error) error, q string, args ...any) error {
	first := true
	return s.query(ctx, op, q, args, func(scan func(...any) error) error {
		if !first {
			return nil
		}
		first = false
		return row(scan)
	})
}

// exec runs one statement bounded by the store's timeout.
func (s *Store) exec(ctx context.Context, on querier, op, q string, args []any) (int64, error) {
	c, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := on.ExecContext(c, q, args...)
	if err != nil {
		return 0, s.errf(c, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.errf(c, op, err)
	}
	return n, nil
}

// inTx runs fn in a transaction, committing when it returns nil. The
// transaction lives as long as ctx; each statement in it is bounded by the
// store's timeout.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	// The transaction is rolled back when its context ends, so BEGIN is
	// bounded by a timer cancelling it rather than by a deadline.
	txCtx, txCancel := context.WithCancel(ctx)
	defer txCancel()
	timer := time.AfterFunc(s.timeout, txCancel)
	tx, err := s.db.BeginTx(txCtx, nil)
	if !timer.Stop() {
		if err == nil {
			_ = tx.Rollback()
		}
		return s.errf(nil, op+" (begin)", context.DeadlineExceeded)
	}
	if err != nil {
		return s.errf(txCtx, op+" (begin)", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	timer = time.AfterFunc(s.timeout, txCancel)
	err = tx.Commit()
	if !timer.Stop() {
		return s.errf(nil, op+" (commit)", context.DeadlineExceeded)
	}
	if err != nil {
		return s.errf(txCtx, op+" (commit)", err)
	}
	return nil
}

// clock reads the database's now as column c stores time (nowExpr).
func (s *Store) clock(ctx context.Context, c *column) (time.Time, error) {
	var now time.Time
	err := s.queryRow(ctx, "read the clock", func(scan func(...any) error) error {
		var v any
		if err := scan(&v); err != nil {
			return err
		}
		t, err := asTime(v)
		now = t
		return err
	}, "SELECT "+s.d.nowExpr(c))
	return now, err
}

// scanValues scans a row of n columns as driver values.
func scanValues(scan func(...any) error, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, scan(ptrs...)
}

// rowError is an error about a row's contents (not the database's): it
// passes through query unchanged.
type rowError struct{ msg string }

func (e *rowError) Error() string { return e.msg }

// asString renders a scanned value as text.
func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case [16]byte: // a uuid from a driver that returns one raw
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	}
	return fmt.Sprint(v)
}

func asBytes(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		return append([]byte(nil), x...)
	case string:
		return []byte(x)
	}
	return []byte(asString(v))
}

// asInt reads an integer (NULL is 0).
func asInt(v any) (int, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return int(x), nil
	case float64:
		return int(x), nil
	case string, []byte:
		n, err := strconv.ParseInt(strings.TrimSpace(asString(x)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not an integer: %q", truncate(asString(x), 40))
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("not an integer: %T", v)
}

// timeFormats are the textual times found in SQLite databases (its own
// date functions, Go drivers' writes) and MySQL without parseTime.
var timeFormats = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// asTime reads a time: a driver's time.Time, text in a known format, unix
// seconds. NULL is the zero time. Times without a zone are UTC.
func asTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x, nil
	case int64:
		return time.Unix(x, 0).UTC(), nil
	case float64:
		sec, frac := math.Modf(x)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	case string, []byte:
		t := strings.TrimSpace(asString(x))
		if i := strings.Index(t, " m="); i > 0 { // Go's monotonic clock suffix
			t = t[:i]
		}
		for _, f := range timeFormats {
			if p, err := time.Parse(f, t); err == nil {
				return p, nil
			}
		}
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
		return time.Time{}, fmt.Errorf("not a time: %q", truncate(t, 40))
	}
	return time.Time{}, fmt.Errorf("not a time: %T", v)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// chunks splits n items into ranges of at most size.
func chunks(n, size int) [][2]int {
	var out [][2]int
	for i := 0; i < n; i += size {
		j := min(i+size, n)
		out = append(out, [2]int{i, j})
	}
	return out
}
