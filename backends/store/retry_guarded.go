package store

import (
	"context"
	"strings"

	"github.com/mqops/mqops/backends"
)

// retryNowSet is the SET list of RetryNow: status the first "waiting"
// value, next_retry_at now, and one more attempt for a row that used all
// of its (as river's JobRetry). alias qualifies the row's columns read.
func (s *Store) retryNowSet(b *sqlb, alias string) string {
	m, d := s.retry, s.d
	parts := []string{d.quote(m.cols["status"].name) + " = " + b.arg(m.statuses["waiting"][0])}
	if m.has("next_retry_at") {
		parts = append(parts, d.quote(m.cols["next_retry_at"].name)+" = "+d.nowExpr(m.cols["next_retry_at"]))
	}
	if m.has("max_attempts") {
		att, max := m.c(d, "attempts", alias), m.c(d, "max_attempts", alias)
		parts = append(parts, d.quote(m.cols["max_attempts"].name)+" = CASE WHEN COALESCE("+att+", 0) >= "+max+" THEN COALESCE("+att+", 0) + 1 ELSE "+max+" END")
	}
	return strings.Join(parts, ", ")
}

// giveUpSet is the SET list of GiveUp: status the first "dead" value.
func (s *Store) giveUpSet(b *sqlb, _ string) string {
	return s.d.quote(s.retry.cols["status"].name) + " = " + b.arg(s.retry.statuses["dead"][0])
}

// RetryNowRows is RetryNow guarded by what was read: a row changes only
// where it still has the attempts of rows[i] (and is waiting or dead) —
// the application's job did not take it since. River's jobs: its own
// statement, which re-checks each job's state under a row lock (a job
// river took is running, and left alone). It returns how many rows
// changed.
func (s *Store) RetryNowRows(ctx context.Context, rows []backends.RetryRow) (int, error) {
	if s.retry != nil && s.preset.retryNow != nil {
		return s.preset.retryNow(ctx, s, retryRowIDs(rows))
	}
	return s.updateRetryRows(ctx, "retry rows now", rows, s.retryNowSet, "waiting", "dead")
}

// GiveUpRows is GiveUp guarded by what was read, as RetryNowRows.
func (s *Store) GiveUpRows(ctx context.Context, rows []backends.RetryRow) (int, error) {
	if s.retry != nil && s.preset.giveUp != nil {
		return s.preset.giveUp(ctx, s, retryRowIDs(rows))
	}
	return s.updateRetryRows(ctx, "give rows up", rows, s.giveUpSet, "waiting")
}

// updateRetryRows sets set on rows that still have the attempts read and
// one of the statuses.
func (s *Store) updateRetryRows(ctx context.Context, op string, rows []backends.RetryRow, set func(b *sqlb, alias string) string, statuses ...string) (int, error) {
	m := s.retry
	if m == nil {
		return 0, s.noTable("retry")
	}
	if err := s.checkIDs(make([]string, len(rows))); err != nil {
		return 0, err
	}
	ids, atts := retryRowIDs(rows), make([]int, len(rows))
	for i, r := range rows {
		atts[i] = r.Attempts
	}
	cond := func(b *sqlb, alias string) string { return statusIn(b, m, alias, statuses...) }
	return s.updateGuarded(ctx, op, m, s.guard(m, ids, atts), set, cond, nil, nil)
}

func retryRowIDs(rows []backends.RetryRow) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}
