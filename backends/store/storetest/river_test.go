package storetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/mqops/mqops/backends/store/storetest"
)

// riverRow is a river_job row as the database holds it, read with SQL
// independently of river.
type riverRow struct {
	state                 string
	attempt, maxAttempts  int
	errors                []string
	attempts              []int
	scheduledAt           time.Time
	finalized             bool
	kind                  string
	args                  map[string]any
	scheduledInTheFuture  bool
	metadataCancelAttempt bool
}

func readRiverJobs(ctx context.Context, t *testing.T, dsn, schema string) map[int64]riverRow {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id, state::text, attempt, max_attempts, coalesce(errors, '{}')::text[], scheduled_at,
		finalized_at IS NOT NULL, kind, args, scheduled_at > now(), metadata ? 'cancel_attempted_at'
		FROM `+pgx.Identifier{schema, "river_job"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]riverRow{}
	for rows.Next() {
		var (
			id   int64
			r    riverRow
			errs []string
			args []byte
		)
		if err := rows.Scan(&id, &r.state, &r.attempt, &r.maxAttempts, &errs, &r.scheduledAt, &r.finalized, &r.kind, &args, &r.scheduledInTheFuture, &r.metadataCancelAttempt); err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			var ae struct {
				At      time.Time `json:"at"`
				Attempt int       `json:"attempt"`
				Error   string    `json:"error"`
			}
			if err := json.Unmarshal([]byte(e), &ae); err != nil {
				t.Fatalf("job %d: errors entry %q: %v", id, e, err)
			}
			r.errors = append(r.errors, ae.Error)
			r.attempts = append(r.attempts, ae.Attempt)
		}
		if err := json.Unmarshal(args, &r.args); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRiverFailingJobs: river's own migrations and a real river client with
// failing workers leave retryable, discarded and cancelled jobs in river_job,
// each with the errors its worker really returned, one entry per attempt.
func TestRiverFailingJobs(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	schema := storetest.RiverSchema(ctx, t, dsn)
	const n = 3
	jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, n)
	if len(jobs.Retryable) != 2*n || len(jobs.Discarded) != 2*n || len(jobs.Cancelled) != n ||
		len(jobs.Timeout) != 2*n || len(jobs.Stock) != 2*n {
		t.Fatalf("fixture ids: %+v", jobs)
	}
	got := readRiverJobs(ctx, t, dsn, schema)
	if len(got) != 5*n {
		t.Fatalf("%d rows in river_job, want %d", len(got), 5*n)
	}
	for _, id := range jobs.Retryable {
		r := got[id]
		if r.state != "retryable" || r.attempt != 1 || r.maxAttempts != storetest.RetryAttempts ||
			!r.scheduledInTheFuture || r.finalized || len(r.errors) != 1 || r.attempts[0] != 1 {
			t.Errorf("retryable job %d: %+v", id, r)
		}
	}
	for _, id := range jobs.Discarded {
		r := got[id]
		if r.state != "discarded" || r.attempt != storetest.DiscardAttempts || r.maxAttempts != storetest.DiscardAttempts ||
			!r.finalized || len(r.errors) != storetest.DiscardAttempts {
			t.Errorf("discarded job %d: %+v", id, r)
			continue
		}
		for i, a := range r.attempts {
			if a != i+1 {
				t.Errorf("discarded job %d: errors[%d] is of attempt %d", id, i, a)
			}
		}
		if r.errors[0] == r.errors[len(r.errors)-1] {
			t.Errorf("discarded job %d: the attempts' errors do not differ: %q", id, r.errors)
		}
	}
	for _, id := range jobs.Cancelled {
		r := got[id]
		if r.state != "cancelled" || r.attempt != 1 || !r.finalized || len(r.errors) != 1 ||
			!strings.Contains(r.errors[0], "was refunded before it was charged") {
			t.Errorf("cancelled job %d: %+v", id, r)
		}
	}
	for _, id := range jobs.Timeout {
		r := got[id]
		a := jobs.Args[id].(storetest.ChargeArgs)
		if r.kind != "mqops_charge_card" || r.args["order"] != float64(a.Order) {
			t.Errorf("charge job %d: kind %q args %v", id, r.kind, r.args)
		}
		for i, e := range r.errors {
			if want := storetest.TimeoutError(a, i+1); e != want {
				t.Errorf("charge job %d: errors[%d] = %q, want %q", id, i, e, want)
			}
		}
	}
	for _, id := range jobs.Stock {
		r := got[id]
		a := jobs.Args[id].(storetest.ReserveArgs)
		if r.kind != "mqops_reserve_stock" || r.args["sku"] != a.SKU {
			t.Errorf("reserve job %d: kind %q args %v", id, r.kind, r.args)
		}
		for i, e := range r.errors {
			se := &storetest.StockError{SKU: a.SKU, Warehouse: a.Warehouse, Want: a.Qty, Have: i}
			if want := fmt.Sprintf("reserve %d of %s: %s", a.Qty, a.SKU, se); e != want {
				t.Errorf("reserve job %d: errors[%d] = %q, want %q", id, i, e, want)
			}
		}
	}
}

// TestRiverJobRetry pins river's own JobRetry on the fixture's rows (what
// the preset river must do the same way): a discarded job at max attempts
// gets one more attempt, a retryable one keeps its max; both become
// available now and a running client works them at attempt+1.
func TestRiverJobRetry(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	schema := storetest.RiverSchema(ctx, t, dsn)
	jobs := storetest.RiverFailingJobs(ctx, t, dsn, schema, 1)
	c := storetest.StartRiver(ctx, t, dsn, schema, false)
	retryable, discarded := jobs.Retryable[0], jobs.Discarded[0]
	for _, id := range []int64{retryable, discarded} {
		j, err := c.Client.JobRetry(ctx, id)
		if err != nil {
			t.Fatalf("JobRetry %d: %v", id, err)
		}
		if j.State != rivertype.JobStateAvailable && j.State != rivertype.JobStateRunning && j.State != rivertype.JobStateCompleted {
			t.Errorf("job %d after JobRetry: %s", id, j.State)
		}
	}
	c.WaitStates(ctx, []int64{retryable, discarded}, rivertype.JobStateCompleted)
	seen := map[int64]storetest.RiverWork{}
	for len(seen) < 2 {
		select {
		case w := <-c.Worked:
			seen[w.ID] = w
		case <-ctx.Done():
			t.Fatalf("workers saw %v", seen)
		}
	}
	if w := seen[retryable]; w.Attempt != 2 || w.MaxAttempts != storetest.RetryAttempts {
		t.Errorf("retried retryable job: %+v", w)
	}
	if w := seen[discarded]; w.Attempt != storetest.DiscardAttempts+1 || w.MaxAttempts != storetest.DiscardAttempts+1 {
		t.Errorf("retried discarded job: %+v", w)
	}
	c.Stop()
	got := readRiverJobs(ctx, t, dsn, schema)
	if r := got[discarded]; len(r.errors) != storetest.DiscardAttempts {
		t.Errorf("JobRetry changed the errors of job %d: %q", discarded, r.errors)
	}
}
