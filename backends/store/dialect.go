package store

import (
	"fmt"
	"strconv"
	"strings"
)

// dialect is what differs between the three databases: placeholders,
// identifier quoting, the clock, RETURNING, bounded reads.
type dialect struct {
	driver string // postgres | mysql | sqlite
}

func dialectOf(driver string) (dialect, error) {
	switch strings.ToLower(driver) {
	case "postgres", "postgresql", "pgx":
		return dialect{"postgres"}, nil
	case "mysql", "mariadb":
		return dialect{"mysql"}, nil
	case "sqlite", "sqlite3":
		return dialect{"sqlite"}, nil
	case "":
		return dialect{}, fmt.Errorf("store.driver: no driver (%s)", strings.Join(Drivers, ", "))
	}
	return dialect{}, fmt.Errorf("store.driver: unknown driver %q (%s)", driver, strings.Join(Drivers, ", "))
}

// returning says UPDATE … RETURNING exists (MariaDB and MySQL have none).
func (d dialect) returning() bool { return d.driver != "mysql" }

// quote quotes an identifier: "x" (postgres, sqlite) or `x` (mysql).
func (d dialect) quote(id string) string {
	if d.driver == "mysql" {
		return "`" + strings.ReplaceAll(id, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
}

// tableRef is a table: an optional schema (postgres schema, mysql
// database, sqlite attached database) and a name, both unquoted.
type tableRef struct {
	schema, name string
}

func (t tableRef) String() string {
	if t.schema == "" {
		return t.name
	}
	return t.schema + "." + t.name
}

// parseTableName splits "schema.table"; a name in double quotes or
// backquotes is one name (`cap.published`), and so is each quoted part of
// "schema"."table".
func parseTableName(s string) (tableRef, error) {
	s = strings.TrimSpace(s)
	var parts []string
	for s != "" {
		if s[0] == '"' || s[0] == '`' {
			q := s[0]
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				return tableRef{}, fmt.Errorf("unterminated quote in table name")
			}
			parts = append(parts, s[1:1+end])
			s = s[end+2:]
		} else {
			i := strings.IndexByte(s, '.')
			if i < 0 {
				i = len(s)
			}
			parts = append(parts, s[:i])
			s = s[i:]
		}
		if s == "" {
			break
		}
		if s[0] != '.' {
			return tableRef{}, fmt.Errorf("unexpected %q in table name", s[:1])
		}
		s = s[1:]
		if s == "" {
			return tableRef{}, fmt.Errorf("table name ends with a dot")
		}
	}
	switch len(parts) {
	case 1:
		if parts[0] == "" {
			return tableRef{}, fmt.Errorf("empty table name")
		}
		return tableRef{name: parts[0]}, nil
	case 2:
		if parts[0] == "" || parts[1] == "" {
			return tableRef{}, fmt.Errorf("empty schema or table name")
		}
		return tableRef{schema: parts[0], name: parts[1]}, nil
	}
	return tableRef{}, fmt.Errorf("a table name is table or schema.table")
}

// table is a table's quoted, qualified name.
func (d dialect) table(t tableRef) string {
	if t.schema == "" {
		return d.quote(t.name)
	}
	return d.quote(t.schema) + "." + d.quote(t.name)
}

// sqlb builds one statement with its arguments.
type sqlb struct {
	d    dialect
	sb   strings.Builder
	args []any
}

func (b *sqlb) w(parts ...string) *sqlb {
	for _, p := range parts {
		b.sb.WriteString(p)
	}
	return b
}

// arg adds an argument and returns its placeholder.
func (b *sqlb) arg(v any) string {
	b.args = append(b.args, v)
	if b.d.driver == "postgres" {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

// list adds the arguments and returns "p1, p2, …".
func (b *sqlb) list(vs []any) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = b.arg(v)
	}
	return strings.Join(ps, ", ")
}

func (b *sqlb) String() string { return b.sb.String() }

// nowExpr is the database's clock as the time column c stores it:
// timestamptz: now(); timestamp without time zone: LOCALTIMESTAMP (the
// session's wall clock, as applications write DateTime.Now); MySQL:
// NOW(6) in the session's time zone; SQLite: UTC text, or unix seconds
// for an INTEGER column.
func (d dialect) nowExpr(c *column) string {
	switch d.driver {
	case "postgres":
		if c != nil && c.timeKind == timeNoTZ {
			return "LOCALTIMESTAMP"
		}
		return "now()"
	case "mysql":
		return "NOW(6)"
	}
	if c != nil && c.timeKind == timeEpoch {
		return "CAST(strftime('%s','now') AS INTEGER)"
	}
	return "strftime('%Y-%m-%d %H:%M:%f','now')"
}

// olderThan is the condition "column c is at least secs seconds before
// the database's now".
func (d dialect) olderThan(b *sqlb, col string, c *column, secs float64) string {
	switch d.driver {
	case "postgres":
		return col + " <= " + d.nowExpr(c) + " - make_interval(secs => " + b.arg(secs) + ")"
	case "mysql":
		return col + " <= NOW(6) - INTERVAL " + b.arg(int64(secs*1e6)) + " MICROSECOND"
	}
	if c.timeKind == timeEpoch {
		return col + " <= CAST(strftime('%s','now') AS INTEGER) - " + b.arg(int64(secs))
	}
	return "julianday(" + col + ") <= julianday('now') - " + b.arg(secs/86400)
}

// nowPlus is "now + secs seconds" in column c's kind.
func (d dialect) nowPlus(c *column, secs int64) string {
	switch d.driver {
	case "postgres":
		return d.nowExpr(c) + " + interval '" + strconv.FormatInt(secs, 10) + " seconds'"
	case "mysql":
		return "NOW(6) + INTERVAL " + strconv.FormatInt(secs, 10) + " SECOND"
	}
	if c.timeKind == timeEpoch {
		return d.nowExpr(c) + " + " + strconv.FormatInt(secs, 10)
	}
	return "strftime('%Y-%m-%d %H:%M:%f','now','+" + strconv.FormatInt(secs, 10) + " seconds')"
}

// bounded is a select expression reading at most n characters (text) or
// bytes (binary) of the column, as text or bytes the scanner accepts.
func (d dialect) bounded(col string, c *column, n int) string {
	ns := strconv.Itoa(n)
	switch d.driver {
	case "postgres":
		if c.class == clsBinary {
			return "substring(" + col + " from 1 for " + ns + ")"
		}
		return "left(" + col + "::text, " + ns + ")"
	case "mysql":
		return "SUBSTRING(" + col + ", 1, " + ns + ")"
	}
	return "substr(" + col + ", 1, " + ns + ")"
}

// text is a select expression of the column as text (ids, statuses,
// uuids, enums), bounded.
func (d dialect) text(col string, c *column) string {
	if c.class == clsInt {
		return col
	}
	return d.bounded(col, c, MaxShortText)
}

// castParam is a placeholder typed as the column (for VALUES lists, whose
// columns postgres cannot infer).
func (d dialect) castParam(p string, c *column) string {
	if d.driver != "postgres" {
		return p
	}
	switch c.class {
	case clsInt:
		return p + "::bigint"
	case clsUUID:
		return p + "::uuid"
	}
	if c.pgType != "" {
		return p + "::" + c.pgType
	}
	return p + "::text"
}

// likeEscape escapes % _ and \ for a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
