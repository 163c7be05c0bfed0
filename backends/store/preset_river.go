package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// The river preset: the river_job table of river, the Go job queue on
// PostgreSQL (github.com/riverqueue/river), as river's own migrations
// (rivermigrate, line "main", versions 2 to 8 in river v0.51.2) create it.
// River has no outbox and no idempotency table: only the retry table.
//
// Retry rows are the jobs in state 'retryable' (waiting: they failed and
// have attempts left; river's scheduler makes them available at
// scheduled_at) and 'discarded' (dead: they failed max_attempts times).
// Jobs a worker or an operator cancelled ('cancelled', river.JobCancel) are
// not retry rows by default: cancelling is a decision, not a failure that
// ran out of attempts. A mapping adds them: statuses: {dead: [discarded,
// cancelled]}.
//
//	ID = id, Kind = kind, Status = state, Attempts = attempt,
//	MaxAttempts = max_attempts, NextRetryAt = scheduled_at (waiting rows),
//	LastError = the "error" of the last element of errors (a jsonb[] of
//	{"at","attempt","error","trace"}, one per failed attempt, oldest
//	first), CreatedAt = created_at, Payload = args (JSON). No destination:
//	river jobs are not messages, they cannot be republished.
//
// RetryNow does what river's Client.JobRetry does (riverpgxv5's JobRetry
// query), to the retry rows only: under a row lock, state = 'available',
// scheduled_at = now, finalized_at = NULL, max_attempts + 1 when attempt =
// max_attempts (one more attempt for a job that used them all), metadata
// without 'cancel_attempted_at'; attempt and errors are kept, so the next
// run is attempt + 1. Like JobRetry it sends no notification: river's
// producers find the job at their next fetch poll, exactly as after
// JobRetry. A job whose unique key another job holds meanwhile cannot
// become available (river_job_unique_idx): river's JobRetry fails on it,
// and RetryNow reports it and retries the others.
//
// GiveUp discards waiting jobs as river's executor does when a job has
// used its attempts: state = 'discarded', finalized_at = now; attempt,
// errors and metadata are kept. River has no client call for this (its
// JobCancel sets 'cancelled'). A job river is running is never touched.
//
// Both lock the rows in id order (SELECT … ORDER BY id FOR UPDATE, as
// river's queries lock theirs) and re-check the state under the lock, so
// two operators (or an operator and river) racing on a job leave it in one
// consistent state, each change counted once. A river schema newer than
// the one mqops knows (river_migration above version 8) is listed but not
// changed.
const (
	riverMinVersion = 2 // river_job is created by migration 2
	riverMaxVersion = 8 // the last migration of river v0.51.2's "main" line
	riverVersionOf  = "river v0.51.2"
)

// riverColumns is the preset's mapping: logical → river_job's column.
var riverColumns = map[string]string{
	"id": "id", "kind": "kind", "status": "state", "attempts": "attempt", "max_attempts": "max_attempts",
	"next_retry_at": "scheduled_at", "error": "errors", "created_at": "created_at", "payload": "args",
}

// riverTypes are the types river's migrations give the columns the
// preset's statements use (information_schema data_type, or udt_name for
// user-defined and array types).
var riverTypes = []struct{ col, typ string }{
	{"id", "bigint"}, {"state", "river_job_state"}, {"attempt", "smallint"}, {"max_attempts", "smallint"},
	{"scheduled_at", "timestamp with time zone"}, {"created_at", "timestamp with time zone"},
	{"finalized_at", "timestamp with time zone"}, {"errors", "_jsonb"}, {"args", "jsonb"},
	{"metadata", "jsonb"}, {"kind", "text"},
}

// The states a mapping may count as waiting (queued, not running) and as
// dead (finalized without success).
var (
	riverWaitingStates = []string{"retryable", "available", "scheduled"}
	riverDeadStates    = []string{"discarded", "cancelled"}
)

func init() {
	registerPreset(&preset{
		name:       "river",
		drivers:    []string{"postgres"},
		driverNote: ": the river preset reads river on PostgreSQL (river's SQLite driver is not supported)",
		tables: func(driver, schema string) presetTables {
			cols := make(map[string]string, len(riverColumns))
			for k, v := range riverColumns {
				cols[k] = v
			}
			return presetTables{Retry: &Table{
				Name:     "river_job",
				Columns:  cols,
				Statuses: map[string][]string{"waiting": {"retryable"}, "dead": {"discarded"}},
			}}
		},
		validate:       riverValidate,
		explain:        riverExplain,
		extraClasses:   map[string][]colClass{"retry.error": {clsArray}},
		retryErrorExpr: riverLastError,
		retryNow:       riverRetryNow,
		giveUp:         riverGiveUp,
	})
}

// riverValidate checks what the generic validation cannot: the columns are
// river's own, of river's types, the extra columns the statements set
// exist, and the statuses are river states a retry row can be in.
func riverValidate(ctx context.Context, s *Store) error {
	m := s.retry
	if m == nil {
		return errors.New("store.retry.table: river_job is the river preset's only table; it cannot be mapped away")
	}
	for _, key := range slices.Sorted(maps.Keys(riverColumns)) {
		if c := m.cols[key]; c == nil || c.name != riverColumns[key] {
			got := "unmapped"
			if c != nil {
				got = strconv.Quote(c.name)
			}
			return fmt.Errorf("store.retry.columns.%s: the river preset reads river's own column %s (mapped to %s); map only the table and the statuses", key, riverColumns[key], got)
		}
	}
	ref := m.ref
	live, err := s.liveColumns(ctx, &ref)
	if err != nil {
		return err
	}
	for _, want := range riverTypes {
		lc := findColumn(live, want.col, false)
		if lc == nil {
			return fmt.Errorf("store.retry.table: table %s has no column %s, which the river preset needs (river_job as river's migrations %d to %d create it)",
				ref, want.col, riverMinVersion, riverMaxVersion)
		}
		got := lc.dataType
		if got == "USER-DEFINED" || got == "ARRAY" {
			got = lc.udtName
		}
		if got != want.typ {
			return fmt.Errorf("store.retry.table: column %s.%s is %s; river's is %s (is %s river's river_job?)",
				ref, want.col, pgTypeName(got), pgTypeName(want.typ), ref)
		}
	}
	if len(m.raw["done"]) > 0 {
		return errors.New("store.retry.statuses.done: river jobs cannot be republished, so the river preset has no done status")
	}
	for key, allowed := range map[string][]string{"waiting": riverWaitingStates, "dead": riverDeadStates} {
		for _, v := range m.raw[key] {
			if !slices.Contains(allowed, v) {
				return fmt.Errorf("store.retry.statuses.%s: %q is not a river state a %s job can be in (%s)", key, v, key, strings.Join(allowed, ", "))
			}
		}
	}
	_, _, err = riverVersion(ctx, s, ref.schema)
	return err
}

func pgTypeName(t string) string {
	if strings.HasPrefix(t, "_") {
		return t[1:] + "[]"
	}
	return t
}

// riverExplain adds the schema's river migration version to the error of
// a river_job that is missing or lacks a column.
func riverExplain(ctx context.Context, s *Store, schema string, err error) error {
	v, ok, verr := riverVersion(ctx, s, schema)
	switch {
	case verr != nil || !ok:
		return fmt.Errorf("%w (the river preset reads river_job as river's own migrations create it: run river's migrate-up, or set the schema river uses)", err)
	case v < riverMinVersion:
		return fmt.Errorf("%w (the river schema is at version %d, too old: river_job comes with migration %d; run river's migrate-up)", err, v, riverMinVersion)
	case v > riverMaxVersion:
		return fmt.Errorf("%w (the river schema is at version %d, newer than the %s mqops knows, migrations %d to %d)", err, v, riverVersionOf, riverMinVersion, riverMaxVersion)
	}
	return fmt.Errorf("%w (the river schema is at version %d, which has it: was river_job changed by hand?)", err, v)
}

// riverVersion reads the last migration of river's "main" line from
// river_migration in schema (the search path's when ""); ok false: the
// table is absent (river migrated by another tool).
func riverVersion(ctx context.Context, s *Store, schema string) (version int, ok bool, err error) {
	name := s.d.quote("river_migration")
	if schema != "" {
		name = s.d.quote(schema) + "." + name
	}
	var ns *string
	var hasLine bool
	err = s.queryRow(ctx, "find river_migration", func(scan func(...any) error) error { return scan(&ns, &hasLine) },
		`SELECT n.nspname, EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'line' AND NOT a.attisdropped)
		 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`, name)
	if err != nil || ns == nil {
		return 0, false, err
	}
	q := "SELECT COALESCE(max(version), 0) FROM " + s.d.table(tableRef{schema: *ns, name: "river_migration"})
	if hasLine { // river_migration is keyed by (line, version) since migration 5
		q += " WHERE line = 'main'"
	}
	var v int64
	if err := s.queryRow(ctx, "read the river schema version", func(scan func(...any) error) error { return scan(&v) }, q); err != nil {
		return 0, false, err
	}
	return int(v), true, nil
}

// riverWritable refuses to change the jobs of a river schema newer than
// the one mqops knows: its retry and discard may work otherwise.
func riverWritable(ctx context.Context, s *Store) error {
	v, ok, err := riverVersion(ctx, s, s.retry.ref.schema)
	if err != nil {
		return err
	}
	if ok && v > riverMaxVersion {
		return fmt.Errorf("%s: the river schema is at version %d, newer than the %s mqops knows (migrations up to %d): mqops lists its jobs but does not change them; use river's own client or a newer mqops",
			s.name, v, riverVersionOf, riverMaxVersion)
	}
	return nil
}

// riverLastError is the "error" of the last element of errors (a JSON
// string element is taken as the message, as river's lenient decoding
// does), bounded.
func riverLastError(s *Store, col string) string {
	e := col + "[array_upper(" + col + ", 1)]"
	return "left(COALESCE(CASE jsonb_typeof(" + e + ") WHEN 'object' THEN " + e + " ->> 'error' WHEN 'string' THEN " + e +
		" #>> '{}' ELSE " + e + "::text END, ''), " + strconv.Itoa(MaxErrorText) + ")"
}

// riverRetryNow: river's JobRetry on the retry rows (waiting or dead).
func riverRetryNow(ctx context.Context, s *Store, ids []string) (int, error) {
	m := s.retry
	states := append(slices.Clone(m.raw["waiting"]), m.raw["dead"]...)
	const set = `state = 'available',
		max_attempts = CASE WHEN j.attempt = j.max_attempts THEN j.max_attempts + 1 ELSE j.max_attempts END,
		finalized_at = NULL,
		metadata = j.metadata - 'cancel_attempted_at',
		scheduled_at = now()`
	n, conflicts, err := riverUpdate(ctx, s, "retry river jobs now", ids, states, set)
	if err == nil && len(conflicts) > 0 {
		err = fmt.Errorf("%s: %d river jobs not retried: another job with the same unique key is already queued, running or completed (river_job_unique_idx; river's JobRetry refuses them too): %s",
			s.name, len(conflicts), strings.Join(firstN(conflicts, 20), ", "))
	}
	return n, err
}

// riverGiveUp: discard waiting jobs as river's executor discards a job out
// of attempts.
func riverGiveUp(ctx context.Context, s *Store, ids []string) (int, error) {
	n, _, err := riverUpdate(ctx, s, "discard river jobs", ids, s.retry.raw["waiting"], `state = 'discarded', finalized_at = now()`)
	return n, err
}

// riverUpdate sets set on the jobs of ids whose state is one of states,
// locking them in id order, a chunk per statement. A chunk that a unique
// key conflict fails is run job by job; the jobs in conflict are
// returned, not changed.
func riverUpdate(ctx context.Context, s *Store, op string, ids []string, states []string, set string) (int, []string, error) {
	if err := s.checkIDs(ids); err != nil {
		return 0, nil, err
	}
	if err := riverWritable(ctx, s); err != nil {
		return 0, nil, err
	}
	var nums []int64
	for _, a := range idArgs(s.retry, "id", ids) {
		nums = append(nums, a.(int64))
	}
	slices.Sort(nums)
	nums = slices.Compact(nums)
	n := 0
	var conflicts []string
	for _, ch := range chunks(len(nums), chunkSize) {
		k, unique, err := riverExec(ctx, s, op, nums[ch[0]:ch[1]], states, set)
		if err != nil {
			return n, conflicts, err
		}
		if !unique {
			n += k
			continue
		}
		for _, id := range nums[ch[0]:ch[1]] {
			k, unique, err := riverExec(ctx, s, op, []int64{id}, states, set)
			if err != nil {
				return n, conflicts, err
			}
			if unique {
				conflicts = append(conflicts, strconv.FormatInt(id, 10))
			}
			n += k
		}
	}
	return n, conflicts, nil
}

// riverExec runs one locked update of ids; unique: a unique key conflict
// rolled it back (nothing changed).
func riverExec(ctx context.Context, s *Store, op string, ids []int64, states []string, set string) (n int, unique bool, err error) {
	m := s.retry
	b := &sqlb{d: s.d}
	idList := make([]any, len(ids))
	for i, id := range ids {
		idList[i] = id
	}
	stateList := make([]any, len(states))
	for i, st := range states {
		stateList[i] = st
	}
	t := s.d.table(m.ref)
	b.w("WITH locked AS (SELECT id FROM ", t, " WHERE id IN (", b.list(idList), ") AND state IN (", b.list(stateList),
		") ORDER BY id FOR UPDATE) UPDATE ", t, " AS j SET ", set, " FROM locked WHERE j.id = locked.id")
	err = s.retryDeadlock(ctx, func() error {
		c, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		res, err := s.db.ExecContext(c, b.String(), b.args...)
		if err == nil {
			var k int64
			k, err = res.RowsAffected()
			n = int(k)
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			unique = true
			return nil
		}
		if err != nil {
			return s.errf(c, op, err)
		}
		return nil
	})
	return n, unique, err
}
