package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/store/storetest"
)

// The river preset on schemas made by river's own migrations, with jobs
// that really failed in river workers (backends/store/storetest).

func riverEnv(t *testing.T) (context.Context, string) {
	t.Helper()
	dsn := integrationEnv(t, "POSTGRES_DSN")["POSTGRES_DSN"]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx, dsn
}

func openRiver(t *testing.T, ctx context.Context, dsn, schema string, mod func(*Options)) *Store {
	t.Helper()
	s, err := openRiverErr(ctx, dsn, schema, mod)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openRiverErr(ctx context.Context, dsn, schema string, mod func(*Options)) (*Store, error) {
	o := Options{Driver: "postgres", DSN: dsn, Preset: "river", Schema: schema, Timeout: 10 * time.Second}
	if mod != nil {
		mod(&o)
	}
	return Open(ctx, o)
}

// riverJob is a river_job row read with plain SQL.
type riverJob struct {
	State          string
	Attempt, Max   int
	ScheduledAt    time.Time
	FinalizedAt    time.Time // zero: NULL
	Errors         int
	Metadata       map[string]any
	ScheduledAhead bool
}

func readJob(t *testing.T, ctx context.Context, dsn, schema string, id int64) riverJob {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var j riverJob
	var meta []byte
	var fin sql.NullTime
	err = db.QueryRowContext(ctx, `SELECT state::text, attempt, max_attempts, scheduled_at, finalized_at, coalesce(array_length(errors, 1), 0), metadata, scheduled_at > now()
		FROM "`+schema+`".river_job WHERE id = $1`, id).Scan(&j.State, &j.Attempt, &j.Max, &j.ScheduledAt, &fin, &j.Errors, &meta, &j.ScheduledAhead)
	if err != nil {
		t.Fatalf("read job %d: %v", id, err)
	}
	if err := json.Unmarshal(meta, &j.Metadata); err != nil {
		t.Fatal(err)
	}
	j.FinalizedAt = fin.Time
	return j
}

func riverDriver(t *testing.T, ctx context.Context, dsn string) *riverpgxv5.Driver {
	return riverpgxv5.New(storetest.RiverPool(ctx, t, dsn))
}

func execSQL(t *testing.T, ctx context.Context, dsn string, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func ids(xs ...int64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.FormatInt(x, 10)
	}
	return out
}

// TestRiverRetries: the retryable and discarded jobs of real river workers
// are the retry rows, with river's fields and the last attempt's error,
// grouped by the two kinds of error; cancelled jobs are not retry rows
// unless the mapping counts them dead.
func TestRiverRetries(t *testing.T) {
	ctx, dsn := riverEnv(t)
	schema := storetest.RiverSchema(ctx, t, dsn)
	const n = 3
	jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, n)
	s := openRiver(t, ctx, dsn, schema, nil)
	if s.Preset() != "river" || !s.HasRetry() || s.HasOutbox() || s.HasIdempotency() || s.CanRepublishRetries() || s.MessageIDHeader() != "" {
		t.Fatalf("river store capabilities: retry %v outbox %v idem %v republish %v header %q",
			s.HasRetry(), s.HasOutbox(), s.HasIdempotency(), s.CanRepublishRetries(), s.MessageIDHeader())
	}
	page, err := s.Retries(ctx, backends.RetryQuery{WithPayload: true})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 4*n || len(page.Rows) != 4*n || page.More {
		t.Fatalf("Retries: total %d rows %d more %v, want %d", page.Total, len(page.Rows), page.More, 4*n)
	}
	byID := map[string]backends.RetryRow{}
	for _, r := range page.Rows {
		byID[r.ID] = r
	}
	lastError := func(id int64, attempt int) string {
		switch a := jobs.Args[id].(type) {
		case storetest.ChargeArgs:
			return storetest.TimeoutError(a, attempt)
		case storetest.ReserveArgs:
			se := &storetest.StockError{SKU: a.SKU, Warehouse: a.Warehouse, Want: a.Qty, Have: attempt - 1}
			return fmt.Sprintf("reserve %d of %s: %s", a.Qty, a.SKU, se)
		}
		return "?"
	}
	for _, id := range append(slices.Clone(jobs.Retryable), jobs.Discarded...) {
		r, ok := byID[strconv.FormatInt(id, 10)]
		if !ok {
			t.Errorf("job %d is not a retry row", id)
			continue
		}
		j := readJob(t, ctx, dsn, schema, id)
		dead := j.State == "discarded"
		wantKind := (storetest.ChargeArgs{}).Kind()
		if _, ok := jobs.Args[id].(storetest.ReserveArgs); ok {
			wantKind = (storetest.ReserveArgs{}).Kind()
		}
		if r.Status != j.State || r.Dead != dead || r.Attempts != j.Attempt || r.MaxAttempts != j.Max || r.Kind != wantKind ||
			r.Destination != "" || r.CreatedAt.IsZero() {
			t.Errorf("job %d: row %+v, river_job %+v", id, r, j)
		}
		if want := lastError(id, j.Attempt); r.LastError != want {
			t.Errorf("job %d: last error %q, want the last attempt's %q", id, r.LastError, want)
		}
		if dead != r.NextRetryAt.IsZero() || (!dead && !r.NextRetryAt.Equal(j.ScheduledAt)) {
			t.Errorf("job %d (%s): next retry %v, scheduled_at %v", id, j.State, r.NextRetryAt, j.ScheduledAt)
		}
		var args map[string]any
		if err := json.Unmarshal(r.Payload, &args); err != nil || len(args) == 0 {
			t.Errorf("job %d: payload %q is not its args: %v", id, r.Payload, err)
		}
	}
	for _, id := range jobs.Cancelled {
		if _, ok := byID[strconv.FormatInt(id, 10)]; ok {
			t.Errorf("cancelled job %d listed as a retry row", id)
		}
	}

	// two groups, one per kind of error, counted with first and last
	if len(page.Groups) != 2 {
		t.Fatalf("groups: %+v", page.Groups)
	}
	for _, g := range page.Groups {
		var want []int64
		switch {
		case strings.HasPrefix(g.Error, "payment gateway timeout after"):
			want = jobs.Timeout
		case strings.Contains(g.Error, "stock: sku"):
			want = jobs.Stock
		default:
			t.Errorf("unexpected group %q", g.Error)
			continue
		}
		var first, last time.Time
		for _, id := range want {
			c := byID[strconv.FormatInt(id, 10)].CreatedAt
			if first.IsZero() || c.Before(first) {
				first = c
			}
			if c.After(last) {
				last = c
			}
			if got := byID[strconv.FormatInt(id, 10)].ErrorGroup; got != g.Error {
				t.Errorf("job %d: group %q, want %q", id, got, g.Error)
			}
		}
		if g.Count != len(want) || !g.First.Equal(first) || !g.Last.Equal(last) || !first.Before(last) {
			t.Errorf("group %q: count %d first %v last %v, want %d %v %v", g.Error, g.Count, g.First, g.Last, len(want), first, last)
		}
		sel, err := s.Retries(ctx, backends.RetryQuery{ErrorGroup: g.Error})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range sel.Rows {
			id, _ := strconv.ParseInt(r.ID, 10, 64)
			got = append(got, id)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("group %q selects %v, want %v", g.Error, got, want)
		}
	}
	dead := true
	dp, err := s.Retries(ctx, backends.RetryQuery{Dead: &dead})
	if err != nil {
		t.Fatal(err)
	}
	if len(dp.Rows) != len(jobs.Discarded) {
		t.Errorf("dead rows: %d, want %d", len(dp.Rows), len(jobs.Discarded))
	}

	// a mapping counts cancelled jobs dead too
	sc := openRiver(t, ctx, dsn, schema, func(o *Options) {
		o.Retry = &Table{Statuses: map[string][]string{"dead": {"discarded", "cancelled"}}}
	})
	pc, err := sc.Retries(ctx, backends.RetryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if pc.Total != 5*n || len(pc.Groups) != 3 {
		t.Fatalf("with cancelled: total %d groups %+v", pc.Total, pc.Groups)
	}
	for _, r := range pc.Rows {
		if r.Status == "cancelled" && (!r.Dead || !strings.HasPrefix(r.ErrorGroup, "JobCancelError: order <n> was refunded")) {
			t.Errorf("cancelled row %+v", r)
		}
	}
}

// TestRiverRetryNowIsJobRetry: RetryNow leaves a retryable and a discarded
// job exactly as river's own Client.JobRetry leaves their twins, and a
// running river client then works them at attempt+1 (the discarded one with
// one more max attempt).
func TestRiverRetryNowIsJobRetry(t *testing.T) {
	ctx, dsn := riverEnv(t)
	schema := storetest.RiverSchema(ctx, t, dsn)
	jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, 1)
	// jobs.Retryable / Discarded: [charge, reserve] each; the charge job
	// gets mqops's RetryNow, the reserve twin river's JobRetry
	s := openRiver(t, ctx, dsn, schema, nil)
	mqRetryable, riverRetryable := jobs.Retryable[0], jobs.Retryable[1]
	mqDiscarded, riverDiscarded := jobs.Discarded[0], jobs.Discarded[1]
	// a cancel attempted earlier must not cancel the next attempt (river
	// clears it too)
	for _, id := range []int64{mqDiscarded, riverDiscarded} {
		execSQL(t, ctx, dsn, `UPDATE "`+schema+`".river_job SET metadata = metadata || '{"cancel_attempted_at":"2026-01-01T00:00:00Z","keep":1}' WHERE id = $1`, id)
	}
	before := map[int64]riverJob{}
	for _, id := range []int64{mqRetryable, riverRetryable, mqDiscarded, riverDiscarded} {
		before[id] = readJob(t, ctx, dsn, schema, id)
	}
	start := time.Now()
	got, err := s.RetryNow(ctx, ids(mqRetryable, mqDiscarded, jobs.Cancelled[0], 999999))
	if err != nil || got != 2 {
		t.Fatalf("RetryNow: %d, %v; want 2 (the cancelled job and an unknown id are not retry rows)", got, err)
	}
	// river's own JobRetry on the twins, by a client that is not started
	rc, err := river.NewClient(riverDriver(t, ctx, dsn), &river.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{riverRetryable, riverDiscarded} {
		if _, err := rc.JobRetry(ctx, id); err != nil {
			t.Fatalf("river JobRetry %d: %v", id, err)
		}
	}
	for _, pair := range [][2]int64{{mqRetryable, riverRetryable}, {mqDiscarded, riverDiscarded}} {
		mq, rv := readJob(t, ctx, dsn, schema, pair[0]), readJob(t, ctx, dsn, schema, pair[1])
		b := before[pair[0]]
		if mq.State != "available" || !mq.FinalizedAt.IsZero() || mq.ScheduledAhead || mq.ScheduledAt.Before(start.Add(-time.Minute)) ||
			mq.Attempt != b.Attempt || mq.Errors != b.Errors {
			t.Errorf("job %d after RetryNow: %+v (before %+v)", pair[0], mq, b)
		}
		// the same as river's JobRetry, but for the twin's own times
		mq.ScheduledAt, rv.ScheduledAt = time.Time{}, time.Time{}
		if fmt.Sprint(mq) != fmt.Sprint(rv) {
			t.Errorf("RetryNow left job %d as %+v; river's JobRetry left its twin %d as %+v", pair[0], mq, pair[1], rv)
		}
	}
	if j := readJob(t, ctx, dsn, schema, mqDiscarded); j.Max != storetest.DiscardAttempts+1 || j.Metadata["keep"] != float64(1) || j.Metadata["cancel_attempted_at"] != nil {
		t.Errorf("discarded job after RetryNow: %+v", j)
	}
	if j := readJob(t, ctx, dsn, schema, jobs.Cancelled[0]); j.State != "cancelled" {
		t.Errorf("cancelled job %d changed by RetryNow: %+v", jobs.Cancelled[0], j)
	}
	// the next RetryNow of the same jobs changes nothing: they are no
	// longer retry rows (river's JobRetry would leave them alone too)
	if again, err := s.RetryNow(ctx, ids(mqRetryable, mqDiscarded)); err != nil || again != 0 {
		t.Errorf("second RetryNow: %d, %v", again, err)
	}

	// a running river client picks the four up at its next fetch
	c := storetest.StartRiver(ctx, t, dsn, schema, false)
	all := []int64{mqRetryable, riverRetryable, mqDiscarded, riverDiscarded}
	c.WaitStates(ctx, all, rivertype.JobStateCompleted)
	seen := map[int64]storetest.RiverWork{}
	for len(seen) < len(all) {
		select {
		case w := <-c.Worked:
			if _, dup := seen[w.ID]; dup {
				t.Errorf("job %d worked twice", w.ID)
			}
			seen[w.ID] = w
		case <-ctx.Done():
			t.Fatalf("worked: %v", seen)
		}
	}
	for _, id := range all {
		b, w := before[id], seen[id]
		wantMax := b.Max
		if b.Attempt == b.Max {
			wantMax++
		}
		if w.Attempt != b.Attempt+1 || w.MaxAttempts != wantMax {
			t.Errorf("job %d (was %s, attempt %d of %d): worked at attempt %d of %d", id, b.State, b.Attempt, b.Max, w.Attempt, w.MaxAttempts)
		}
	}
}

// TestRiverGiveUp: given-up jobs are discarded as river discards them and
// river's scheduler never runs them, while a job due at the same time runs.
func TestRiverGiveUp(t *testing.T) {
	ctx, dsn := riverEnv(t)
	schema := storetest.RiverSchema(ctx, t, dsn)
	jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, 2)
	s := openRiver(t, ctx, dsn, schema, nil)
	// an hour passes: every retryable job is due (scheduled_at in the past)
	execSQL(t, ctx, dsn, `UPDATE "`+schema+`".river_job SET scheduled_at = now() - interval '1 minute' WHERE state = 'retryable'`)
	giveUp, control := jobs.Retryable[:3], jobs.Retryable[3]
	n, err := s.GiveUp(ctx, ids(append(slices.Clone(giveUp), jobs.Discarded[0], jobs.Cancelled[0])...))
	if err != nil || n != len(giveUp) {
		t.Fatalf("GiveUp: %d, %v; want %d (discarded and cancelled jobs are not waiting)", n, err, len(giveUp))
	}
	before := map[int64]riverJob{}
	for _, id := range giveUp {
		j := readJob(t, ctx, dsn, schema, id)
		if j.State != "discarded" || j.FinalizedAt.IsZero() || j.Attempt != 1 || j.Max != storetest.RetryAttempts || j.Errors != 1 {
			t.Errorf("given-up job %d: %+v", id, j)
		}
		before[id] = j
	}
	page, err := s.Retries(ctx, backends.RetryQuery{IDs: ids(giveUp...)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Rows {
		if !r.Dead || r.Status != "discarded" || !r.NextRetryAt.IsZero() {
			t.Errorf("given-up row %+v", r)
		}
	}
	// river's scheduler makes the due control job available and a worker
	// runs it; the given-up jobs, due as well, stay discarded
	c := storetest.StartRiver(ctx, t, dsn, schema, false)
	c.WaitStates(ctx, []int64{control}, rivertype.JobStateCompleted)
	c.Stop()
	for worked := true; worked; {
		select {
		case w := <-c.Worked:
			if slices.Contains(giveUp, w.ID) {
				t.Errorf("river ran given-up job %d", w.ID)
			}
		default:
			worked = false
		}
	}
	for _, id := range giveUp {
		if j := readJob(t, ctx, dsn, schema, id); fmt.Sprint(j) != fmt.Sprint(before[id]) {
			t.Errorf("given-up job %d changed: %+v, was %+v", id, j, before[id])
		}
	}
}

// TestRiverConcurrent: two stores (their own pools) acting on the same jobs
// at once leave each job in one consistent state, each change counted once.
func TestRiverConcurrent(t *testing.T) {
	ctx, dsn := riverEnv(t)
	schema := storetest.RiverSchema(ctx, t, dsn)
	jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, 4)
	a := openRiver(t, ctx, dsn, schema, nil)
	b := openRiver(t, ctx, dsn, schema, nil)
	race := func(fa, fb func(ctx context.Context, ids []string) (int, error), id int64) (int, int) {
		var wg sync.WaitGroup
		var na, nb int
		var ea, eb error
		wg.Add(2)
		go func() { defer wg.Done(); na, ea = fa(ctx, ids(id)) }()
		go func() { defer wg.Done(); nb, eb = fb(ctx, ids(id)) }()
		wg.Wait()
		if ea != nil || eb != nil {
			t.Fatalf("job %d: %v / %v", id, ea, eb)
		}
		return na, nb
	}
	// RetryNow by both on a discarded job: one retries it, max_attempts
	// goes up once
	for _, id := range jobs.Discarded {
		na, nb := race(a.RetryNow, b.RetryNow, id)
		j := readJob(t, ctx, dsn, schema, id)
		if na+nb != 1 || j.State != "available" || j.Max != storetest.DiscardAttempts+1 || !j.FinalizedAt.IsZero() {
			t.Errorf("discarded job %d, RetryNow twice at once: counts %d+%d, job %+v", id, na, nb, j)
		}
	}
	// GiveUp by both: one discards it
	for _, id := range jobs.Retryable[:4] {
		na, nb := race(a.GiveUp, b.GiveUp, id)
		j := readJob(t, ctx, dsn, schema, id)
		if na+nb != 1 || j.State != "discarded" || j.FinalizedAt.IsZero() {
			t.Errorf("retryable job %d, GiveUp twice at once: counts %d+%d, job %+v", id, na, nb, j)
		}
	}
	// RetryNow against GiveUp: whichever runs first, the job ends available
	// (a discarded job is retried too), max_attempts untouched, and the
	// counts say which ran first
	for _, id := range jobs.Retryable[4:] {
		nr, ng := race(a.RetryNow, b.GiveUp, id)
		j := readJob(t, ctx, dsn, schema, id)
		if nr != 1 || ng > 1 || j.State != "available" || j.Max != storetest.RetryAttempts || !j.FinalizedAt.IsZero() {
			t.Errorf("retryable job %d, RetryNow against GiveUp: counts %d/%d, job %+v", id, nr, ng, j)
		}
	}
}

// TestRiverUniqueConflict: a discarded unique job whose key another job
// now holds cannot be retried, by river's JobRetry nor by RetryNow, which
// says so and still retries the others.
func TestRiverUniqueConflict(t *testing.T) {
	ctx, dsn := riverEnv(t)
	schema := storetest.RiverSchema(ctx, t, dsn)
	unique := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	old := storetest.FailJobs(ctx, t, dsn, schema,
		river.InsertManyParams{Args: storetest.ChargeArgs{Order: 7, Outcome: storetest.OutcomeDiscard}, InsertOpts: unique},
		river.InsertManyParams{Args: storetest.ChargeArgs{Order: 8, Outcome: storetest.OutcomeDiscard}})
	// a discarded job frees its unique key: a new job of order 7 holds it
	holder := storetest.FailJobs(ctx, t, dsn, schema,
		river.InsertManyParams{Args: storetest.ChargeArgs{Order: 7, Outcome: storetest.OutcomeRetry}, InsertOpts: unique})
	rc, err := river.NewClient(riverDriver(t, ctx, dsn), &river.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.JobRetry(ctx, old[0]); err == nil {
		t.Fatalf("river's JobRetry retried job %d whose unique key job %d holds", old[0], holder[0])
	}
	s := openRiver(t, ctx, dsn, schema, nil)
	n, err := s.RetryNow(ctx, ids(old[0], old[1]))
	if n != 1 || err == nil || !strings.Contains(err.Error(), "1 river jobs not retried") || !strings.Contains(err.Error(), strconv.FormatInt(old[0], 10)) ||
		!strings.Contains(err.Error(), "unique key") {
		t.Fatalf("RetryNow: %d, %v", n, err)
	}
	if j := readJob(t, ctx, dsn, schema, old[0]); j.State != "discarded" || j.Max != storetest.DiscardAttempts {
		t.Errorf("conflicting job %d changed: %+v", old[0], j)
	}
	if j := readJob(t, ctx, dsn, schema, old[1]); j.State != "available" {
		t.Errorf("job %d not retried: %+v", old[1], j)
	}
	if j := readJob(t, ctx, dsn, schema, holder[0]); j.State != "retryable" {
		t.Errorf("holder job %d: %+v", holder[0], j)
	}
}

// TestRiverOpenErrors: what Open says about river schemas it cannot use.
func TestRiverOpenErrors(t *testing.T) {
	ctx, dsn := riverEnv(t)
	t.Run("missing column", func(t *testing.T) {
		for _, col := range []string{"errors", "finalized_at", "metadata"} {
			schema := storetest.RiverSchema(ctx, t, dsn)
			execSQL(t, ctx, dsn, `ALTER TABLE "`+schema+`".river_job DROP COLUMN `+col)
			_, err := openRiverErr(ctx, dsn, schema, nil)
			if err == nil || !strings.Contains(err.Error(), "no column "+col) || !strings.Contains(err.Error(), schema+".river_job") {
				t.Errorf("river_job without %s: %v", col, err)
			}
			if col == "errors" && (err == nil || !strings.Contains(err.Error(), "store.retry.columns.error") ||
				!strings.Contains(err.Error(), fmt.Sprintf("river schema is at version %d", storetest.RiverMigrationVersion))) {
				t.Errorf("river_job without errors: %v", err)
			}
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		schema := storetest.RiverSchema(ctx, t, dsn)
		execSQL(t, ctx, dsn, `ALTER TABLE "`+schema+`".river_job ALTER COLUMN finalized_at TYPE timestamp`)
		_, err := openRiverErr(ctx, dsn, schema, nil)
		if err == nil || !strings.Contains(err.Error(), "river_job.finalized_at is timestamp without time zone; river's is timestamp with time zone") {
			t.Errorf("finalized_at without time zone: %v", err)
		}
	})
	t.Run("too old", func(t *testing.T) {
		schema := storetest.RiverSchemaAt(ctx, t, dsn, 1)
		_, err := openRiverErr(ctx, dsn, schema, nil)
		if err == nil || !strings.Contains(err.Error(), "river_job does not exist") || !strings.Contains(err.Error(), "version 1, too old") {
			t.Errorf("river schema at version 1: %v", err)
		}
	})
	t.Run("no schema", func(t *testing.T) {
		_, err := openRiverErr(ctx, dsn, "river_it_absent", nil)
		if err == nil || !strings.Contains(err.Error(), "river_job does not exist") || !strings.Contains(err.Error(), "migrate-up") {
			t.Errorf("absent schema: %v", err)
		}
	})
	t.Run("too new", func(t *testing.T) {
		schema := storetest.RiverSchema(ctx, t, dsn)
		jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, 1)
		execSQL(t, ctx, dsn, `INSERT INTO "`+schema+`".river_migration (line, version) VALUES ('main', $1)`, storetest.RiverMigrationVersion+1)
		s := openRiver(t, ctx, dsn, schema, nil)
		if p, err := s.Retries(ctx, backends.RetryQuery{}); err != nil || p.Total != 4 {
			t.Fatalf("Retries on a newer river schema: %v, %v", p, err)
		}
		for name, op := range map[string]func(context.Context, []string) (int, error){"RetryNow": s.RetryNow, "GiveUp": s.GiveUp} {
			n, err := op(ctx, ids(jobs.Retryable[0]))
			if n != 0 || err == nil || !strings.Contains(err.Error(), fmt.Sprintf("version %d, newer", storetest.RiverMigrationVersion+1)) {
				t.Errorf("%s on a newer river schema: %d, %v", name, n, err)
			}
		}
		if j := readJob(t, ctx, dsn, schema, jobs.Retryable[0]); j.State != "retryable" {
			t.Errorf("job changed on a newer schema: %+v", j)
		}
	})
	t.Run("migrated by another tool", func(t *testing.T) {
		schema := storetest.RiverSchema(ctx, t, dsn)
		execSQL(t, ctx, dsn, `DROP TABLE "`+schema+`".river_migration`)
		jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, 1)
		s := openRiver(t, ctx, dsn, schema, nil)
		if n, err := s.GiveUp(ctx, ids(jobs.Retryable[0])); n != 1 || err != nil {
			t.Errorf("GiveUp without river_migration: %d, %v", n, err)
		}
	})
	t.Run("search path", func(t *testing.T) {
		schema := storetest.RiverSchema(ctx, t, dsn)
		jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, 1)
		execSQL(t, ctx, dsn, `INSERT INTO "`+schema+`".river_migration (line, version) VALUES ('main', $1)`, storetest.RiverMigrationVersion+1)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		s := openRiver(t, ctx, u.String(), "", nil)
		if p, err := s.Retries(ctx, backends.RetryQuery{}); err != nil || p.Total != 4 {
			t.Fatalf("Retries through the search path: %v, %v", p, err)
		}
		// the version is read in the schema the search path found
		if n, err := s.GiveUp(ctx, ids(jobs.Retryable[0])); n != 0 || err == nil || !strings.Contains(err.Error(), "newer") {
			t.Errorf("GiveUp on a newer schema found through the search path: %d, %v", n, err)
		}
	})
	t.Run("mapping", func(t *testing.T) {
		schema := storetest.RiverSchema(ctx, t, dsn)
		for _, c := range []struct {
			tab  *Table
			want string
		}{
			{&Table{Columns: map[string]string{"next_retry_at": "attempted_at"}}, "store.retry.columns.next_retry_at: the river preset reads river's own column scheduled_at"},
			{&Table{Statuses: map[string][]string{"waiting": {"running"}}}, `store.retry.statuses.waiting: "running" is not a river state`},
			{&Table{Statuses: map[string][]string{"dead": {"completed"}}}, `store.retry.statuses.dead: "completed" is not a river state`},
			{&Table{Statuses: map[string][]string{"done": {"completed"}}}, "store.retry.statuses.done: river jobs cannot be republished"},
		} {
			_, err := openRiverErr(ctx, dsn, schema, func(o *Options) { o.Retry = c.tab })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("mapping %+v: %v, want %q", c.tab, err, c.want)
			}
		}
		_, err := openRiverErr(ctx, dsn, schema, func(o *Options) { o.Retry = &Table{Name: NoTable} })
		if err == nil || !strings.Contains(err.Error(), "cannot be mapped away") {
			t.Errorf("river without river_job: %v", err)
		}
		_, err = openRiverErr(ctx, dsn, schema, func(o *Options) { o.Outbox = &Table{Name: "x"} })
		if err == nil || !strings.Contains(err.Error(), "the river preset has no outbox table") {
			t.Errorf("river outbox: %v", err)
		}
	})
	t.Run("other drivers", func(t *testing.T) {
		for _, d := range []string{"mysql", "sqlite"} {
			_, err := Open(ctx, Options{Driver: d, DSN: "x", Preset: "river"})
			if err == nil || !strings.Contains(err.Error(), "does not support "+d) {
				t.Errorf("river on %s: %v", d, err)
			}
		}
	})
}

// TestRiverHostileErrors: a worker's error full of terminal controls and
// far over the read bound is returned raw (the printer sanitizes) and
// bounded; an errors entry river's lenient decoding takes as a bare string
// is read as the message.
func TestRiverHostileErrors(t *testing.T) {
	ctx, dsn := riverEnv(t)
	schema := storetest.RiverSchema(ctx, t, dsn)
	hostile := "\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202egateway\u0085 refused " + strings.Repeat("é\x1b[31m", 40000)
	got := storetest.FailJobs(ctx, t, dsn, schema,
		river.InsertManyParams{Args: storetest.ChargeArgs{Order: 1, Outcome: storetest.OutcomeRetry, Fail: hostile}},
		river.InsertManyParams{Args: storetest.ChargeArgs{Order: 2, Outcome: storetest.OutcomeDiscard}})
	execSQL(t, ctx, dsn, `UPDATE "`+schema+`".river_job SET errors = array_append(errors, '"a bare string"'::jsonb) WHERE id = $1`, got[1])
	s := openRiver(t, ctx, dsn, schema, nil)
	page, err := s.Retries(ctx, backends.RetryQuery{IDs: ids(got...)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Rows) != 2 {
		t.Fatalf("rows: %+v", page.Rows)
	}
	for _, r := range page.Rows {
		switch r.ID {
		case strconv.FormatInt(got[0], 10):
			if len(r.LastError) > MaxErrorText || len(r.LastError) < MaxErrorText/2 || !strings.HasPrefix(hostile, r.LastError) {
				t.Errorf("hostile error: %d bytes, prefix of the worker's: %v", len(r.LastError), strings.HasPrefix(hostile, r.LastError))
			}
			if len(r.ErrorGroup) > maxGroupLen {
				t.Errorf("hostile error group: %d bytes", len(r.ErrorGroup))
			}
		case strconv.FormatInt(got[1], 10):
			if r.LastError != "a bare string" {
				t.Errorf("bare string errors entry read as %q", r.LastError)
			}
		}
	}
}
