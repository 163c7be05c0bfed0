package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

func (s *Store) noTable(kind string) error {
	return fmt.Errorf("%s: the %s preset has no %s table", s.name, s.preset.name, kind)
}

// maxIDs bounds the ids one call takes (they become statement parameters).
func (s *Store) checkIDs(ids []string) error {
	if len(ids) > s.maxRows {
		return fmt.Errorf("store: %d ids at once; at most %d", len(ids), s.maxRows)
	}
	return nil
}

// limit is a query's row limit within the store's bound (0: the bound).
func (s *Store) limit(n int) int {
	if n <= 0 || n > s.maxRows {
		return s.maxRows
	}
	return n
}

// idArgs converts ids to the id column's type, dropping those that cannot
// be in it (text in an integer column).
func idArgs(m *mapped, key string, ids []string) []any {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if v, ok := m.idArg(key, id); ok {
			out = append(out, v)
		}
	}
	return out
}

// statusIn is "col IN (values)" for the logical statuses given.
func statusIn(b *sqlb, m *mapped, alias string, keys ...string) string {
	var vals []any
	for _, k := range keys {
		vals = append(vals, m.statuses[k]...)
	}
	return m.c(b.d, "status", alias) + " IN (" + b.list(vals) + ")"
}

// Pending reads the sending table's rows still pending and created at
// least q.OlderThan ago (the store's pending-after by default), oldest
// first, with per-destination counts over every matching row.
func (s *Store) Pending(ctx context.Context, q backends.OutboxQuery) (*backends.OutboxPage, error) {
	m := s.outbox
	if m == nil {
		return nil, s.noTable("outbox")
	}
	older := q.OlderThan
	if older == 0 {
		older = s.pendingAfter
	}
	if older < 0 {
		return nil, errors.New("store: the age of a pending row must not be negative")
	}
	if err := s.checkIDs(q.IDs); err != nil {
		return nil, err
	}
	limit := s.limit(q.Limit)
	d := s.d
	page := &backends.OutboxPage{Rows: []backends.OutboxRow{}, Destinations: []backends.PendingByTarget{}}
	created := m.cols["created_at"]
	var err error
	if page.Now, err = s.clock(ctx, created); err != nil {
		return nil, err
	}
	where := func(b *sqlb) (string, bool) {
		conds := []string{statusIn(b, m, "", "pending"), d.olderThan(b, m.c(d, "created_at", ""), created, older.Seconds())}
		if q.Destination != "" {
			conds = append(conds, m.c(d, "destination", "")+" = "+b.arg(q.Destination))
		}
		if q.IDs != nil {
			args := idArgs(m, "id", q.IDs)
			if len(args) == 0 {
				return "", false
			}
			conds = append(conds, m.c(d, "id", "")+" IN ("+b.list(args)+")")
		}
		return strings.Join(conds, " AND "), true
	}
	tbl := d.table(m.ref)

	// per destination, over every matching row
	b := &sqlb{d: d}
	w, ok := where(b)
	if !ok {
		return page, nil
	}
	dest := m.c(d, "destination", "")
	b.w("SELECT ", d.bounded(dest, m.cols["destination"], MaxShortText), ", COUNT(*), MIN(", m.c(d, "created_at", ""), ") FROM ", tbl,
		" WHERE ", w, " GROUP BY ", dest, " ORDER BY 3, 1 LIMIT ", strconv.Itoa(s.maxRows))
	err = s.query(ctx, "count pending rows", b.String(), b.args, func(scan func(...any) error) error {
		var name, n, oldest any
		if err := scan(&name, &n, &oldest); err != nil {
			return err
		}
		p := backends.PendingByTarget{Destination: asString(name)}
		var err error
		if p.Pending, err = asInt(n); err != nil {
			return err
		}
		if p.Oldest, err = asTime(oldest); err != nil {
			return err
		}
		page.Total += p.Pending
		page.Destinations = append(page.Destinations, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if page.Total == 0 {
		return page, nil
	}

	// the rows, oldest first
	b = &sqlb{d: d}
	w, _ = where(b)
	cols, read := s.outboxSelect(q.WithPayload)
	b.w("SELECT ", strings.Join(cols, ", "), " FROM ", tbl, " WHERE ", w,
		" ORDER BY ", m.c(d, "created_at", ""), ", ", m.c(d, "id", ""), " LIMIT ", strconv.Itoa(limit+1))
	var oversized []string
	err = s.query(ctx, "read pending rows", b.String(), b.args, func(scan func(...any) error) error {
		r, over, err := read(scan)
		if err != nil {
			return err
		}
		if over != "" {
			oversized = append(oversized, over)
		}
		page.Rows = append(page.Rows, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(page.Rows) > limit {
		page.Rows = page.Rows[:limit]
		page.More = true
	}
	if len(oversized) > 0 {
		return nil, &rowError{fmt.Sprintf("%s: %d pending rows cannot be resent whole: %s", s.name, len(oversized), strings.Join(firstN(oversized, 5), "; "))}
	}
	page.More = page.More || page.Total > len(page.Rows)
	return page, nil
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
}

// outboxSelect is the select list of an outbox row and its reader. The
// reader reports a row whose payload, key or headers exceed their bound
// (only read whole with payload): such a row must not be resent cut.
func (s *Store) outboxSelect(withPayload bool) ([]string, func(scan func(...any) error) (backends.OutboxRow, string, error)) {
	d, m := s.d, s.outbox
	type R = backends.OutboxRow
	var fs []field[R]
	add := func(key, expr string, set func(*R, any) error) { fs = append(fs, field[R]{key, expr, set}) }
	col := func(key string) string { return m.c(d, key, "") }
	short := MaxShortText
	add("id", d.text(col("id"), m.cols["id"]), setText(func(r *R) *string { return &r.ID }))
	if m.has("message_id") {
		add("message_id", d.text(col("message_id"), m.cols["message_id"]), setText(func(r *R) *string { return &r.MessageID }))
	}
	add("destination", d.bounded(col("destination"), m.cols["destination"], MaxShortText), setText(func(r *R) *string { return &r.Destination }))
	if m.has("message_key") {
		// a key is whole for a resend (it picks the partition), cut in a listing
		set := setCut(func(r *R) *string { return &r.Key }, &short)
		if withPayload {
			set = func(r *R, v any) error {
				var key []byte
				err := setBounded("key", func(*R) *[]byte { return &key }, &short)(r, v)
				r.Key = string(key)
				return err
			}
		}
		add("message_key", d.bounded(col("message_key"), m.cols["message_key"], MaxShortText+1), set)
	}
	add("status", d.text(col("status"), m.cols["status"]), setText(func(r *R) *string { return &r.Status }))
	add("attempts", "COALESCE("+col("attempts")+", 0)", setInt(func(r *R) *int { return &r.Attempts }))
	add("created_at", col("created_at"), setTime(func(r *R) *time.Time { return &r.CreatedAt }))
	if m.has("last_attempt_at") {
		add("last_attempt_at", col("last_attempt_at"), setTime(func(r *R) *time.Time { return &r.LastAttemptAt }))
	}
	if m.has("last_error") {
		add("last_error", d.bounded(col("last_error"), m.cols["last_error"], maxErrorText), setCut(func(r *R) *string { return &r.LastError }, &maxErrorText))
	}
	envelope := s.preset.decodeOutbox != nil
	payload := func(r *R) *[]byte { return &r.Payload }
	switch {
	case withPayload:
		add("payload", d.bounded(col("payload"), m.cols["payload"], maxPayload+1), setBounded("payload", payload, &maxPayload))
		if m.has("headers") {
			add("headers", d.bounded(col("headers"), m.cols["headers"], maxHeaders+1), func(r *R, v any) error {
				var raw []byte
				if err := setBounded("headers", func(*R) *[]byte { return &raw }, &maxHeaders)(r, v); err != nil {
					return err
				}
				var err error
				r.Headers, err = decodeHeaders(raw)
				return err
			})
		}
	case envelope:
		prefix := envelopePrefix
		add("payload", d.bounded(col("payload"), m.cols["payload"], envelopePrefix), setBounded("payload", payload, &prefix))
	}
	read := func(scan func(...any) error) (R, string, error) {
		var r R
		over, key, err := readFields(scan, fs, &r)
		if err != nil {
			if key == "" {
				return r, "", err
			}
			return r, "", &rowError{fmt.Sprintf("%s: row %s: %s: %v", s.name, backends.SafeText(r.ID), key, err)}
		}
		if envelope && len(over) == 0 {
			if err := s.preset.decodeOutbox(&r, r.Payload, withPayload); err != nil {
				return r, "", &rowError{fmt.Sprintf("%s: row %s: %v", s.name, backends.SafeText(r.ID), err)}
			}
			if !withPayload {
				r.Payload, r.Headers = nil, nil
			}
		}
		if r.MessageID == "" && !m.has("message_id") && !envelope {
			r.MessageID = r.ID
		}
		if len(over) > 0 {
			return r, joinOver(backends.SafeText(r.ID), over), nil
		}
		return r, "", nil
	}
	return exprsOf(fs), read
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// guarded is one row of an optimistic update: its id and the attempts
// value it must still have.
type guarded struct {
	id       any
	key      string // the id as compared with what the database returns
	attempts int
	index    int // in the caller's slice
}

func (s *Store) guard(m *mapped, ids []string, attempts []int) []guarded {
	out := make([]guarded, 0, len(ids))
	for i, id := range ids {
		v, ok := m.idArg("id", id)
		if !ok {
			continue
		}
		out = append(out, guarded{id: v, key: idKey(m, asString(v)), attempts: attempts[i], index: i})
	}
	// one lock order for every caller: concurrent claimers never deadlock
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if x, ok := a.id.(int64); ok {
			return x < b.id.(int64)
		}
		return a.key < b.key
	})
	return out
}

// idKey normalises an id for matching what RETURNING gives back.
func idKey(m *mapped, id string) string {
	if m.cols["id"].class == clsUUID {
		return strings.ToLower(id)
	}
	return id
}

// updateGuarded runs "UPDATE m SET <set> WHERE id = g.id AND attempts =
// g.attempts AND <cond>" for every row: on PostgreSQL and SQLite one
// UPDATE … FROM (VALUES …) RETURNING per chunk, on MySQL/MariaDB (no
// UPDATE … RETURNING) one statement per row in a transaction, checking
// the rows affected. It returns the rows that matched, with the returned
// columns (ret: select expressions on alias "x"; nil on MySQL, where the
// caller knows the values).
func (s *Store) updateGuarded(ctx context.Context, op string, m *mapped, rows []guarded,
	set func(b *sqlb, alias string) string, cond func(b *sqlb, alias string) string,
	ret []string, got func(g guarded, vals []any) error) (int, error) {
	d := s.d
	n := 0
	for _, ch := range chunks(len(rows), chunkSize) {
		part := rows[ch[0]:ch[1]]
		err := s.retryDeadlock(ctx, func() error {
			matched := 0
			var err error
			if d.returning() {
				matched, err = s.updateJoined(ctx, op, m, part, set, cond, ret, got)
			} else {
				matched, err = s.updateEach(ctx, op, m, part, set, cond, got)
			}
			if err == nil {
				n += matched
			}
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *Store) updateJoined(ctx context.Context, op string, m *mapped, part []guarded,
	set func(b *sqlb, alias string) string, cond func(b *sqlb, alias string) string,
	ret []string, got func(g guarded, vals []any) error) (int, error) {
	d := s.d
	b := &sqlb{d: d}
	idc, attc := m.cols["id"], m.cols["attempts"]
	b.w("UPDATE ", d.table(m.ref), " AS x SET ", set(b, "x"), " FROM (VALUES ")
	for i, g := range part {
		if i > 0 {
			b.w(", ")
		}
		b.w("(", d.castParam(b.arg(g.id), idc), ", ", d.castParam(b.arg(int64(g.attempts)), attc), ")")
	}
	vid, vatt := "v.id", "v.att"
	if d.driver == "sqlite" {
		b.w(") AS v")
		vid, vatt = "v.column1", "v.column2"
	} else {
		b.w(") AS v(id, att)")
	}
	b.w(" WHERE ", m.c(d, "id", "x"), " = ", vid, " AND COALESCE(", m.c(d, "attempts", "x"), ", 0) = ", vatt)
	if cond != nil {
		b.w(" AND ", cond(b, "x"))
	}
	byKey := make(map[string]guarded, len(part))
	for _, g := range part {
		byKey[g.key] = g
	}
	b.w(" RETURNING ")
	for i, r := range append([]string{d.text(m.c(d, "id", retAlias(d)), idc)}, ret...) {
		if i > 0 {
			b.w(", ")
		}
		b.w(r)
	}
	// RETURNING rows stream as the statement runs: they count only once
	// it has completed (a deadlock victim returns some, then rolls back).
	type match struct {
		g    guarded
		vals []any
	}
	var matched []match
	err := s.query(ctx, op, b.String(), b.args, func(scan func(...any) error) error {
		vals, err := scanValues(scan, 1+len(ret))
		if err != nil {
			return err
		}
		g, ok := byKey[idKey(m, asString(vals[0]))]
		if !ok {
			return &rowError{fmt.Sprintf("%s: %s: the database returned row %s, not asked for", s.name, op, backends.SafeText(asString(vals[0])))}
		}
		matched = append(matched, match{g, vals[1:]})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, mt := range matched {
		if got != nil {
			if err := got(mt.g, mt.vals); err != nil {
				return 0, err
			}
		}
	}
	return len(matched), nil
}

// retAlias is how RETURNING names the updated table's columns: SQLite
// takes bare column names only.
func retAlias(d dialect) string {
	if d.driver == "sqlite" {
		return ""
	}
	return "x"
}

func (s *Store) updateEach(ctx context.Context, op string, m *mapped, part []guarded,
	set func(b *sqlb, alias string) string, cond func(b *sqlb, alias string) string,
	got func(g guarded, vals []any) error) (int, error) {
	d := s.d
	var matched []guarded
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		matched = matched[:0]
		for _, g := range part {
			b := &sqlb{d: d}
			b.w("UPDATE ", d.table(m.ref), " SET ", set(b, ""), " WHERE ", m.c(d, "id", ""), " = ", b.arg(g.id),
				" AND COALESCE(", m.c(d, "attempts", ""), ", 0) = ", b.arg(int64(g.attempts)))
			if cond != nil {
				b.w(" AND ", cond(b, ""))
			}
			n, err := s.exec(ctx, tx, op, b.String(), b.args)
			if err != nil {
				return err
			}
			if n == 1 {
				matched = append(matched, g)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, g := range matched {
		if got != nil {
			if err := got(g, nil); err != nil {
				return 0, err
			}
		}
	}
	return len(matched), nil
}

// retryDeadlock runs fn again (twice at most) when the database chose it
// as a deadlock victim: the failed attempt was rolled back whole.
func (s *Store) retryDeadlock(ctx context.Context, fn func() error) error {
	var err error
	for i := 0; i < 3; i++ {
		err = fn()
		var de *dbError
		if err == nil || !errors.As(err, &de) || !de.deadlock || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(10*(i+1)) * time.Millisecond)
	}
	return err
}

// Claim claims rows before a resend: in one optimistic update per row,
// attempts = attempts + 1 and last_attempt_at = now, where the row still
// has the attempts value read and a pending status. It returns the rows
// claimed, with their new attempts: of two claimers of one row exactly one
// wins. On an error, the rows returned were claimed (committed) too.
func (s *Store) Claim(ctx context.Context, rows []backends.OutboxRow) ([]backends.OutboxRow, error) {
	m := s.outbox
	if m == nil {
		return nil, s.noTable("outbox")
	}
	if err := s.checkIDs(make([]string, len(rows))); err != nil {
		return nil, err
	}
	d := s.d
	ids, atts := outboxGuards(rows)
	gs := s.guard(m, ids, atts)
	var now time.Time
	if !d.returning() && m.has("last_attempt_at") {
		// MySQL: no RETURNING; the claim time is the server's clock read
		// just before (NOW(6) in the statements is within milliseconds).
		var err error
		if now, err = s.clock(ctx, m.cols["last_attempt_at"]); err != nil {
			return nil, err
		}
	}
	set := func(b *sqlb, alias string) string {
		out := d.quote(m.cols["attempts"].name) + " = COALESCE(" + m.c(d, "attempts", alias) + ", 0) + 1"
		if m.has("last_attempt_at") {
			out += ", " + d.quote(m.cols["last_attempt_at"].name) + " = " + d.nowExpr(m.cols["last_attempt_at"])
		}
		return out
	}
	cond := func(b *sqlb, alias string) string { return statusIn(b, m, alias, "pending") }
	var ret []string
	if m.has("last_attempt_at") {
		ret = []string{m.c(d, "last_attempt_at", retAlias(d))}
	}
	claimed := make([]bool, len(rows))
	last := make([]time.Time, len(rows))
	_, err := s.updateGuarded(ctx, "claim rows", m, gs, set, cond, ret, func(g guarded, vals []any) error {
		claimed[g.index] = true
		last[g.index] = now
		if len(vals) > 0 {
			t, err := asTime(vals[0])
			if err != nil {
				return &rowError{fmt.Sprintf("%s: claim: last_attempt_at: %v", s.name, err)}
			}
			last[g.index] = t
		}
		return nil
	})
	var out []backends.OutboxRow
	for i, r := range rows {
		if claimed[i] {
			r.Attempts++
			if m.has("last_attempt_at") {
				r.LastAttemptAt = last[i]
			}
			out = append(out, r)
		}
	}
	return out, err
}

func outboxGuards(rows []backends.OutboxRow) ([]string, []int) {
	ids := make([]string, len(rows))
	atts := make([]int, len(rows))
	for i, r := range rows {
		ids[i], atts[i] = r.ID, r.Attempts
	}
	return ids, atts
}

// MarkSent marks claimed rows sent, only after the broker confirmed them:
// status = the "sent" value where the row still has the claimed attempts
// and a pending status. It returns how many rows were marked.
func (s *Store) MarkSent(ctx context.Context, rows []backends.OutboxRow) (int, error) {
	m := s.outbox
	if m == nil {
		return 0, s.noTable("outbox")
	}
	d := s.d
	ids, atts := outboxGuards(rows)
	set := func(b *sqlb, alias string) string {
		out := d.quote(m.cols["status"].name) + " = " + b.arg(m.statuses["sent"][0])
		if s.preset.sentSet != nil {
			for _, x := range s.preset.sentSet(s, b) {
				out += ", " + x
			}
		}
		return out
	}
	cond := func(b *sqlb, alias string) string { return statusIn(b, m, alias, "pending") }
	return s.updateGuarded(ctx, "mark rows sent", m, s.guard(m, ids, atts), set, cond, nil, nil)
}

// MarkFailed records the error of a failed resend on claimed rows
// (last_error, at most 2 KiB); their status stays pending, so the next run
// takes them again.
func (s *Store) MarkFailed(ctx context.Context, rows []backends.OutboxRow, msg string) error {
	m := s.outbox
	if m == nil {
		return s.noTable("outbox")
	}
	msg = truncate(msg, maxWriteError)
	if s.preset.markFailed != nil {
		return s.preset.markFailed(ctx, s, rows, msg)
	}
	if !m.has("last_error") {
		return nil
	}
	d := s.d
	ids, atts := outboxGuards(rows)
	set := func(b *sqlb, alias string) string {
		return d.quote(m.cols["last_error"].name) + " = " + b.arg(msg)
	}
	cond := func(b *sqlb, alias string) string { return statusIn(b, m, alias, "pending") }
	_, err := s.updateGuarded(ctx, "record the error", m, s.guard(m, ids, atts), set, cond, nil, nil)
	return err
}
