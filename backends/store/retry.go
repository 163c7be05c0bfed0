package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mqops/mqops/backends"
)

// Retries reads the retry table's rows waiting or dead (not done), oldest
// first, with their error groups (NormalizeError of the last error) counted
// over every row read. The error-group filter applies in Go after the
// groups are counted, so a query reads at most MaxRows rows; More says
// rows were left out (by q.Limit or by that bound).
func (s *Store) Retries(ctx context.Context, q backends.RetryQuery) (*backends.RetryPage, error) {
	m := s.retry
	if m == nil {
		return nil, s.noTable("retry")
	}
	if err := s.checkIDs(q.IDs); err != nil {
		return nil, err
	}
	limit := s.limit(q.Limit)
	d := s.d
	page := &backends.RetryPage{Rows: []backends.RetryRow{}, Groups: []backends.RetryGroup{}}
	var err error
	if page.Now, err = s.clock(ctx, m.cols["created_at"]); err != nil {
		return nil, err
	}

	b := &sqlb{d: d}
	var conds []string
	switch {
	case q.MessageID != "":
		cond, ok, err := s.messageIDCond(b, m, "retry", q.MessageID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return page, nil
		}
		conds = append(conds, cond)
	case q.Dead == nil:
		conds = append(conds, statusIn(b, m, "", "waiting", "dead"))
	case *q.Dead:
		conds = append(conds, statusIn(b, m, "", "dead"))
	default:
		conds = append(conds, statusIn(b, m, "", "waiting"))
	}
	if q.IDs != nil {
		args := idArgs(m, "id", q.IDs)
		if len(args) == 0 {
			return page, nil
		}
		conds = append(conds, m.c(d, "id", "")+" IN ("+b.list(args)+")")
	}
	type R = backends.RetryRow
	col := func(key string) string { return m.c(d, key, "") }
	fs := []field[R]{{"id", d.text(col("id"), m.cols["id"]), setText(func(r *R) *string { return &r.ID })}}
	optional := []struct {
		key string
		get func(*R) *string
	}{
		{"message_id", func(r *R) *string { return &r.MessageID }},
		{"kind", func(r *R) *string { return &r.Kind }},
		{"source", func(r *R) *string { return &r.Source }},
		{"destination", func(r *R) *string { return &r.Destination }},
	}
	for _, o := range optional {
		if m.has(o.key) {
			fs = append(fs, field[R]{o.key, d.bounded(col(o.key), m.cols[o.key], MaxShortText), setText(o.get)})
		}
	}
	fs = append(fs,
		field[R]{"status", d.text(col("status"), m.cols["status"]), setText(func(r *R) *string { return &r.Status })},
		field[R]{"attempts", "COALESCE(" + col("attempts") + ", 0)", setInt(func(r *R) *int { return &r.Attempts })})
	if m.has("max_attempts") {
		fs = append(fs, field[R]{"max_attempts", col("max_attempts"), setInt(func(r *R) *int { return &r.MaxAttempts })})
	}
	if m.has("next_retry_at") {
		fs = append(fs, field[R]{"next_retry_at", col("next_retry_at"), setTime(func(r *R) *time.Time { return &r.NextRetryAt })})
	}
	errExpr := d.bounded(col("error"), m.cols["error"], maxErrorText)
	if s.preset.retryErrorExpr != nil {
		errExpr = s.preset.retryErrorExpr(s, col("error"))
	}
	fs = append(fs,
		field[R]{"error", errExpr, setCut(func(r *R) *string { return &r.LastError }, &maxErrorText)},
		field[R]{"created_at", col("created_at"), setTime(func(r *R) *time.Time { return &r.CreatedAt })})
	b.w("SELECT ", strings.Join(exprsOf(fs), ", "), " FROM ", d.table(m.ref), " WHERE ", strings.Join(conds, " AND "),
		" ORDER BY ", col("created_at"), ", ", col("id"), " LIMIT ", strconv.Itoa(s.maxRows+1))
	dead := map[string]bool{}
	for _, v := range m.raw["dead"] {
		dead[v] = true
	}
	groups := map[string]*backends.RetryGroup{}
	var rows []backends.RetryRow
	scanned := 0
	err = s.query(ctx, "read retry rows", b.String(), b.args, func(scan func(...any) error) error {
		scanned++
		if scanned > s.maxRows {
			return nil
		}
		var r R
		if _, key, err := readFields(scan, fs, &r); err != nil {
			if key == "" {
				return err
			}
			return &rowError{fmt.Sprintf("%s: retry row %s: %s: %v", s.name, backends.SafeText(r.ID), key, err)}
		}
		r.Dead = dead[r.Status]
		if r.Dead {
			r.NextRetryAt = time.Time{}
		}
		r.ErrorGroup = NormalizeError(r.LastError)
		g := groups[r.ErrorGroup]
		if g == nil {
			g = &backends.RetryGroup{Error: r.ErrorGroup, First: r.CreatedAt, Last: r.CreatedAt}
			groups[r.ErrorGroup] = g
		}
		g.Count++
		if r.CreatedAt.Before(g.First) {
			g.First = r.CreatedAt
		}
		if r.CreatedAt.After(g.Last) {
			g.Last = r.CreatedAt
		}
		if q.ErrorGroup == "" || q.ErrorGroup == r.ErrorGroup {
			rows = append(rows, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		page.Groups = append(page.Groups, *g)
	}
	sort.Slice(page.Groups, func(i, j int) bool {
		a, b := page.Groups[i], page.Groups[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Error < b.Error
	})
	page.Total = len(rows)
	if len(rows) > limit {
		rows = rows[:limit]
		page.More = true
	}
	page.More = page.More || scanned > s.maxRows
	page.Rows = rows
	if q.WithPayload && len(rows) > 0 && (m.has("payload") || m.has("headers")) {
		if err := s.retryPayloads(ctx, page.Rows); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// retryPayloads reads the payload and headers of the rows, whole and
// bounded: a row over a bound is an error (it must not be republished cut).
func (s *Store) retryPayloads(ctx context.Context, rows []backends.RetryRow) error {
	m, d := s.retry, s.d
	at := map[string]int{}
	ids := make([]string, len(rows))
	for i, r := range rows {
		at[idKey(m, r.ID)] = i
		ids[i] = r.ID
	}
	var over []string
	for _, ch := range chunks(len(ids), chunkSize) {
		b := &sqlb{d: d}
		exprs := []string{d.text(m.c(d, "id", ""), m.cols["id"])}
		if m.has("payload") {
			exprs = append(exprs, d.bounded(m.c(d, "payload", ""), m.cols["payload"], maxPayload+1))
		} else {
			exprs = append(exprs, "NULL")
		}
		if m.has("headers") {
			exprs = append(exprs, d.bounded(m.c(d, "headers", ""), m.cols["headers"], maxHeaders+1))
		} else {
			exprs = append(exprs, "NULL")
		}
		b.w("SELECT ", strings.Join(exprs, ", "), " FROM ", d.table(m.ref), " WHERE ", m.c(d, "id", ""), " IN (", b.list(idArgs(m, "id", ids[ch[0]:ch[1]])), ")")
		err := s.query(ctx, "read retry payloads", b.String(), b.args, func(scan func(...any) error) error {
			var id, p, h any
			if err := scan(&id, &p, &h); err != nil {
				return err
			}
			i, ok := at[idKey(m, asString(id))]
			if !ok {
				return nil
			}
			r := &rows[i]
			r.Payload = asBytes(p)
			raw := asBytes(h)
			switch {
			case len(r.Payload) > maxPayload:
				over = append(over, "row "+backends.SafeText(r.ID)+": payload over "+byteSize(maxPayload))
			case len(raw) > maxHeaders:
				over = append(over, "row "+backends.SafeText(r.ID)+": headers over "+byteSize(maxHeaders))
			default:
				var err error
				if r.Headers, err = decodeHeaders(raw); err != nil {
					return &rowError{fmt.Sprintf("%s: retry row %s: headers: %v", s.name, backends.SafeText(r.ID), err)}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(over) > 0 {
		return &rowError{fmt.Sprintf("%s: %d retry rows cannot be republished whole: %s", s.name, len(over), strings.Join(firstN(over, 5), "; "))}
	}
	return nil
}

// updateIDs runs "UPDATE m SET <set> WHERE id IN (ids) AND <cond>" in
// chunks and returns the rows changed.
func (s *Store) updateIDs(ctx context.Context, op string, m *mapped, ids []string,
	set func(b *sqlb) string, cond func(b *sqlb) string) (int, error) {
	if err := s.checkIDs(ids); err != nil {
		return 0, err
	}
	args := idArgs(m, "id", ids)
	n := 0
	for _, ch := range chunks(len(args), chunkSize) {
		b := &sqlb{d: s.d}
		b.w("UPDATE ", s.d.table(m.ref), " SET ", set(b), " WHERE ", m.c(s.d, "id", ""), " IN (", b.list(args[ch[0]:ch[1]]), ")")
		if cond != nil {
			b.w(" AND ", cond(b))
		}
		k, err := s.exec(ctx, s.db, op, b.String(), b.args)
		n += int(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// RetryNow makes waiting or dead rows due now for the application's job:
// status = the first "waiting" value, next_retry_at = now, and, where the
// row has used all its attempts, max_attempts = attempts + 1 (as river's
// JobRetry does), so that the job takes it once more. It returns how many
// rows changed.
func (s *Store) RetryNow(ctx context.Context, ids []string) (int, error) {
	m := s.retry
	if m == nil {
		return 0, s.noTable("retry")
	}
	if s.preset.retryNow != nil {
		return s.preset.retryNow(ctx, s, ids)
	}
	set := func(b *sqlb) string { return s.retryNowSet(b, "") }
	cond := func(b *sqlb) string { return statusIn(b, m, "", "waiting", "dead") }
	return s.updateIDs(ctx, "retry rows now", m, ids, set, cond)
}

// GiveUp marks waiting rows dead (the first "dead" value): the
// application's job no longer takes them. It returns how many changed.
func (s *Store) GiveUp(ctx context.Context, ids []string) (int, error) {
	m := s.retry
	if m == nil {
		return 0, s.noTable("retry")
	}
	if s.preset.giveUp != nil {
		return s.preset.giveUp(ctx, s, ids)
	}
	set := func(b *sqlb) string { return s.giveUpSet(b, "") }
	cond := func(b *sqlb) string { return statusIn(b, m, "", "waiting") }
	return s.updateIDs(ctx, "give rows up", m, ids, set, cond)
}

// MarkRepublished marks retry rows done after their republish was
// confirmed by the broker: status = the "done" value where the row is
// still waiting or dead with the attempts read (the application's job did
// not take it meanwhile). It returns how many rows were marked.
func (s *Store) MarkRepublished(ctx context.Context, rows []backends.RetryRow) (int, error) {
	m := s.retry
	if m == nil {
		return 0, s.noTable("retry")
	}
	if len(m.statuses["done"]) == 0 {
		return 0, errors.New("store.retry.statuses.done: no value: a republished row cannot be marked done")
	}
	if err := s.checkIDs(make([]string, len(rows))); err != nil {
		return 0, err
	}
	ids := make([]string, len(rows))
	atts := make([]int, len(rows))
	for i, r := range rows {
		ids[i], atts[i] = r.ID, r.Attempts
	}
	set := func(b *sqlb, alias string) string {
		return s.d.quote(m.cols["status"].name) + " = " + b.arg(m.statuses["done"][0])
	}
	cond := func(b *sqlb, alias string) string { return statusIn(b, m, alias, "waiting", "dead") }
	return s.updateGuarded(ctx, "mark rows republished", m, s.guard(m, ids, atts), set, cond, nil, nil)
}
