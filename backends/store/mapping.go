package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// colClass is what the store can do with a column's SQL type.
type colClass int

const (
	clsUnknown colClass = iota
	clsInt
	clsText // text, varchar, char, enum
	clsUUID
	clsBinary
	clsJSON
	clsTime
	clsAny   // sqlite's untyped column
	clsArray // a PostgreSQL array (river's errors jsonb[]); usable only where a preset allows it
)

func (c colClass) String() string {
	return [...]string{"an unusable type", "an integer", "text", "a uuid", "binary", "json", "a timestamp", "untyped", "an array"}[c]
}

// timeKind is how a time column stores time.
type timeKind int

const (
	timeTZ    timeKind = iota // timestamptz
	timeNoTZ                  // timestamp without time zone, datetime: a wall clock
	timeText                  // sqlite text
	timeEpoch                 // sqlite integer: unix seconds
)

// colSpec is a logical column of a table kind.
type colSpec struct {
	key      string
	required bool
	classes  []colClass // the SQL types it may have
	want     string     // what the error says it needs
}

// tableSpec is one kind of table: its logical columns and statuses.
type tableSpec struct {
	kind     string // outbox | retry | idempotency (the mapping key)
	cols     []colSpec
	statuses []statusSpec
	// statusCol is the logical column the statuses are stored in.
	statusCol string
}

type statusSpec struct {
	key      string
	required bool
}

var (
	idClasses   = []colClass{clsInt, clsText, clsUUID}
	textClasses = []colClass{clsText}
	intClasses  = []colClass{clsInt}
	timeClasses = []colClass{clsTime}
	blobClasses = []colClass{clsText, clsBinary, clsJSON}
	jsonClasses = []colClass{clsText, clsJSON}
)

var outboxSpec = tableSpec{
	kind: "outbox",
	cols: []colSpec{
		{"id", true, idClasses, "an integer, text or uuid"},
		{"message_id", false, idClasses, "an integer, text or uuid"},
		{"destination", true, textClasses, "text"},
		{"message_key", false, []colClass{clsText, clsBinary}, "text or binary"},
		{"payload", true, blobClasses, "text, binary or json"},
		{"headers", false, jsonClasses, "text or json (a JSON object or [{key,value}] array)"},
		{"status", true, []colClass{clsText, clsInt}, "text or an integer (status codes)"},
		{"attempts", true, intClasses, "an integer"},
		{"created_at", true, timeClasses, "a timestamp"},
		{"last_attempt_at", false, timeClasses, "a timestamp"},
		{"last_error", false, textClasses, "text"},
	},
	statuses:  []statusSpec{{"pending", true}, {"sent", true}, {"confirmed", false}, {"failed", false}},
	statusCol: "status",
}

var retrySpec = tableSpec{
	kind: "retry",
	cols: []colSpec{
		{"id", true, idClasses, "an integer, text or uuid"},
		{"message_id", false, idClasses, "an integer, text or uuid"},
		{"kind", false, textClasses, "text"},
		{"source", false, textClasses, "text"},
		{"destination", false, textClasses, "text"},
		{"payload", false, blobClasses, "text, binary or json"},
		{"headers", false, jsonClasses, "text or json"},
		{"error", true, jsonClasses, "text"},
		{"attempts", true, intClasses, "an integer"},
		{"max_attempts", false, intClasses, "an integer"},
		{"next_retry_at", false, timeClasses, "a timestamp"},
		{"status", true, []colClass{clsText, clsInt}, "text or an integer (status codes)"},
		{"created_at", true, timeClasses, "a timestamp"},
	},
	statuses:  []statusSpec{{"waiting", true}, {"dead", true}, {"done", false}},
	statusCol: "status",
}

var idemSpec = tableSpec{
	kind: "idempotency",
	cols: []colSpec{
		{"message_id", true, idClasses, "an integer, text or uuid"},
		{"consumer", false, textClasses, "text"},
		{"consumed_at", false, timeClasses, "a timestamp"},
		{"status", false, []colClass{clsText, clsInt}, "text or an integer"},
	},
	statuses:  []statusSpec{{"consumed", false}},
	statusCol: "status",
}

func (ts *tableSpec) col(key string) *colSpec {
	for i := range ts.cols {
		if ts.cols[i].key == key {
			return &ts.cols[i]
		}
	}
	return nil
}

func (ts *tableSpec) keys() []string {
	out := make([]string, len(ts.cols))
	for i, c := range ts.cols {
		out[i] = c.key
	}
	return out
}

// merge lays the overrides over the preset's table and checks the keys.
func merge(spec *tableSpec, base, over *Table) (*Table, error) {
	t := &Table{Columns: map[string]string{}, Statuses: map[string][]string{}}
	for _, src := range []*Table{base, over} {
		if src == nil {
			continue
		}
		if src.Name != "" {
			t.Name = src.Name
		}
		for k, v := range src.Columns {
			if spec.col(k) == nil {
				return nil, fmt.Errorf("store.%s.columns.%s: unknown column (known: %s)", spec.kind, k, strings.Join(spec.keys(), ", "))
			}
			t.Columns[k] = v
		}
		for k, v := range src.Statuses {
			known := false
			for _, s := range spec.statuses {
				known = known || s.key == k
			}
			if !known {
				var names []string
				for _, s := range spec.statuses {
					names = append(names, s.key)
				}
				return nil, fmt.Errorf("store.%s.statuses.%s: unknown status (known: %s)", spec.kind, k, strings.Join(names, ", "))
			}
			t.Statuses[k] = append([]string(nil), v...)
		}
	}
	if t.Name == "" {
		return nil, fmt.Errorf("store.%s.table: no table name", spec.kind)
	}
	return t, nil
}

// column is one mapped column as the database has it.
type column struct {
	key      string // logical
	name     string // real
	class    colClass
	timeKind timeKind
	pgType   string // for casts in VALUES lists (postgres)
	dbType   string // as the database names it, for errors
}

// mapped is a validated table.
type mapped struct {
	kind string
	ref  tableRef
	cols map[string]*column
	// statuses: logical → the values as stored, typed for the column
	// (int64 for an integer status column).
	statuses map[string][]any
	raw      map[string][]string
}

func (m *mapped) has(key string) bool { return m.cols[key] != nil }

// c is the quoted column name, qualified by alias when alias != "".
func (m *mapped) c(d dialect, key, alias string) string {
	col := m.cols[key]
	if col == nil {
		panic("store: unmapped column " + key) // a bug: callers check has()
	}
	if alias != "" {
		return alias + "." + d.quote(col.name)
	}
	return d.quote(col.name)
}

// idArg converts a row id to the id column's type: an integer column takes
// int64 (false: the id cannot be in the table).
func (m *mapped) idArg(key, id string) (any, bool) {
	if m.cols[key].class == clsInt {
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		return n, err == nil
	}
	return id, true
}

// liveColumn is a column of the live table.
type liveColumn struct {
	name     string
	dataType string // information_schema data_type / sqlite declared type
	udtName  string // postgres udt_name
}

// validate checks a merged table against the live database.
func (s *Store) validate(ctx context.Context, spec *tableSpec, t *Table, schema string) (*mapped, error) {
	ref, err := parseTableName(t.Name)
	if err != nil {
		return nil, fmt.Errorf("store.%s.table: %q: %v", spec.kind, t.Name, err)
	}
	if ref.schema == "" && schema != "" && !s.preset.schemaInName {
		ref.schema = schema
	}
	live, err := s.liveColumns(ctx, &ref)
	if err != nil {
		return nil, err
	}
	if len(live) == 0 {
		return nil, fmt.Errorf("store.%s.table: table %s does not exist in %s (or has no columns this user can see; \"-\" says the application has no %s table)", spec.kind, ref, s.name, spec.kind)
	}
	m := &mapped{kind: spec.kind, ref: ref, cols: map[string]*column{}, statuses: map[string][]any{}, raw: map[string][]string{}}
	for _, cs := range spec.cols {
		name, ok := t.Columns[cs.key]
		if !ok || name == "" {
			if cs.required {
				return nil, fmt.Errorf("store.%s.columns.%s: not mapped (the %s table needs it)", spec.kind, cs.key, spec.kind)
			}
			continue
		}
		lc := findColumn(live, name, s.d.driver != "postgres")
		if lc == nil {
			hint := ""
			if alt := findColumn(live, name, true); alt != nil {
				hint = fmt.Sprintf(" (did you mean %q? names are case-sensitive on postgres)", alt.name)
			}
			return nil, fmt.Errorf("store.%s.columns.%s: table %s has no column %s%s", spec.kind, cs.key, ref, name, hint)
		}
		col := s.classify(lc)
		col.key = cs.key
		usable := slices.Contains(cs.classes, col.class) || slices.Contains(s.preset.extraClasses[spec.kind+"."+cs.key], col.class)
		if col.class == clsAny { // sqlite's untyped column holds anything
			usable, col.class, col.timeKind = true, cs.classes[0], timeText
		}
		if !usable && s.d.driver == "sqlite" && slices.Contains(cs.classes, clsTime) {
			// sqlite stores times as text or integers whatever it declares
			switch col.class {
			case clsText:
				usable, col.class, col.timeKind = true, clsTime, timeText
			case clsInt:
				usable, col.class, col.timeKind = true, clsTime, timeEpoch
			}
		}
		if !usable {
			return nil, fmt.Errorf("store.%s.columns.%s: column %s.%s is %s (%s); it needs %s", spec.kind, cs.key, ref, lc.name, col.class, lc.dataType, cs.want)
		}
		if col.class == clsTime && col.timeKind == timeText {
			if err := s.checkSQLiteTimes(ctx, spec.kind, cs.key, ref, col); err != nil {
				return nil, err
			}
		}
		m.cols[cs.key] = col
	}
	statusCol := m.cols[spec.statusCol]
	for _, ss := range spec.statuses {
		vals := t.Statuses[ss.key]
		if len(vals) == 0 {
			if ss.required {
				return nil, fmt.Errorf("store.%s.statuses.%s: no value (the %s table needs it)", spec.kind, ss.key, spec.kind)
			}
			continue
		}
		if statusCol == nil {
			return nil, fmt.Errorf("store.%s.statuses.%s: the %s table has no status column mapped", spec.kind, ss.key, spec.kind)
		}
		for _, v := range vals {
			if statusCol.class == clsInt {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("store.%s.statuses.%s: %q is not a number, but %s.%s is an integer column", spec.kind, ss.key, v, ref, statusCol.name)
				}
				m.statuses[ss.key] = append(m.statuses[ss.key], n)
			} else {
				m.statuses[ss.key] = append(m.statuses[ss.key], v)
			}
		}
		m.raw[ss.key] = vals
	}
	return m, nil
}

// checkSQLiteTimes refuses a SQLite text time column whose values SQLite's
// date functions cannot read (Go's time.String() form, which
// modernc.org/sqlite writes by default): the store compares times with
// julianday(), and such rows would silently never be pending. It samples
// the first 1000 rows, so that Open stays cheap on a big table.
func (s *Store) checkSQLiteTimes(ctx context.Context, kind, key string, ref tableRef, col *column) error {
	c := s.d.quote(col.name)
	q := "SELECT CAST(" + c + " AS TEXT) FROM (SELECT " + c + " FROM " + s.d.table(ref) + " LIMIT 1000) WHERE " + c + " IS NOT NULL AND julianday(" + c + ") IS NULL LIMIT 1"
	var bad string
	err := s.queryRow(ctx, "check the times in "+ref.String(), func(scan func(...any) error) error {
		var v any
		if err := scan(&v); err != nil {
			return err
		}
		bad = truncate(asString(v), 60)
		if bad == "" {
			bad = "(empty)"
		}
		return nil
	}, q)
	if err != nil {
		return err
	}
	if bad != "" {
		return fmt.Errorf("store.%s.columns.%s: %s.%s holds times SQLite's date functions cannot read (e.g. %q): write ISO-8601 text (strftime, CURRENT_TIMESTAMP; modernc.org/sqlite: _time_format=sqlite) or unix seconds in an INTEGER column",
			kind, key, ref, col.name, bad)
	}
	return nil
}

func findColumn(live []liveColumn, name string, fold bool) *liveColumn {
	for i := range live {
		if live[i].name == name {
			return &live[i]
		}
	}
	if fold {
		for i := range live {
			if strings.EqualFold(live[i].name, name) {
				return &live[i]
			}
		}
	}
	return nil
}

// liveColumns reads the table's columns; ref.schema is filled in when the
// table was found through the search path. No columns: no table.
func (s *Store) liveColumns(ctx context.Context, ref *tableRef) ([]liveColumn, error) {
	var b sqlb
	b.d = s.d
	switch s.d.driver {
	case "postgres":
		if ref.schema == "" {
			// resolve through search_path, as the application's queries do
			var schema *string
			err := s.queryRow(ctx, "find table "+ref.String(), func(scan func(...any) error) error { return scan(&schema) },
				"SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
				s.d.quote(ref.name))
			if err != nil {
				return nil, err
			}
			if schema == nil {
				return nil, nil
			}
			ref.schema = *schema
		}
		b.w("SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_schema = ", b.arg(ref.schema),
			" AND table_name = ", b.arg(ref.name), " ORDER BY ordinal_position")
	case "mysql":
		b.w("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.columns WHERE TABLE_SCHEMA = ")
		if ref.schema == "" {
			b.w("DATABASE()")
		} else {
			b.w(b.arg(ref.schema))
		}
		b.w(" AND TABLE_NAME = ", b.arg(ref.name), " ORDER BY ORDINAL_POSITION")
	case "sqlite":
		b.w("SELECT name, type, '' FROM pragma_table_info(", b.arg(ref.name))
		if ref.schema != "" {
			b.w(", ", b.arg(ref.schema))
		}
		b.w(")")
	}
	var out []liveColumn
	err := s.query(ctx, "read the columns of "+ref.String(), b.String(), b.args, func(scan func(...any) error) error {
		var c liveColumn
		if err := scan(&c.name, &c.dataType, &c.udtName); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// classify maps a live column's SQL type to a class.
func (s *Store) classify(lc *liveColumn) *column {
	c := &column{name: lc.name, dbType: lc.dataType}
	t := strings.ToLower(strings.TrimSpace(lc.dataType))
	switch s.d.driver {
	case "postgres":
		switch t {
		case "smallint", "integer", "bigint":
			c.class = clsInt
			c.pgType = "bigint"
		case "text", "character varying", "character", "name", "citext":
			c.class, c.pgType = clsText, "text"
		case "uuid":
			c.class, c.pgType = clsUUID, "uuid"
		case "bytea":
			c.class, c.pgType = clsBinary, "bytea"
		case "json", "jsonb":
			c.class, c.pgType = clsJSON, t
		case "timestamp with time zone":
			c.class, c.timeKind = clsTime, timeTZ
		case "timestamp without time zone":
			c.class, c.timeKind = clsTime, timeNoTZ
		case "array":
			c.class, c.pgType = clsArray, quoteIdentPG(lc.udtName)
			c.dbType = strings.TrimPrefix(lc.udtName, "_") + "[]"
		case "user-defined":
			// an enum (river's river_job_state) or a domain: compared as text
			c.class, c.pgType = clsText, quoteIdentPG(lc.udtName)
			c.dbType = lc.udtName
		}
	case "mysql":
		switch t {
		case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
			c.class = clsInt
		case "varchar", "char", "text", "tinytext", "mediumtext", "longtext", "enum":
			c.class = clsText
		case "binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob":
			c.class = clsBinary
		case "json":
			c.class = clsJSON
		case "datetime", "timestamp":
			c.class, c.timeKind = clsTime, timeNoTZ
		}
		if lc.udtName != "" {
			c.dbType = lc.udtName // COLUMN_TYPE: varchar(200), int(11)
		}
	case "sqlite":
		// declared types by SQLite's affinity rules, times by name
		switch {
		case t == "":
			c.class = clsAny
		case strings.Contains(t, "int"):
			c.class = clsInt
		case strings.Contains(t, "date") || strings.Contains(t, "time"):
			c.class, c.timeKind = clsTime, timeText
		case strings.Contains(t, "char") || strings.Contains(t, "clob") || strings.Contains(t, "text"):
			c.class = clsText
		case strings.Contains(t, "blob"):
			c.class = clsBinary
		case strings.Contains(t, "json"):
			c.class = clsJSON
		case strings.Contains(t, "uuid"):
			c.class = clsText
		}
		if c.dbType == "" {
			c.dbType = "no declared type"
		}
	}
	return c
}

func quoteIdentPG(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
