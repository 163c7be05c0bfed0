// Package storetest is test support for backends/store: real application
// schemas created by the applications' own code, with rows put there by the
// applications themselves. It is imported only by _test files and has no
// init side effects.
//
// River (github.com/riverqueue/river, the Go job queue on PostgreSQL):
// RiverSchema runs river's own migrations (rivermigrate) into a fresh
// schema, RiverFailingJobs has a real river Client work jobs whose worker
// really fails, StartRiver runs a Client whose workers report each attempt
// they see. Nothing here writes river_job by hand.
//
// What river itself does to the rows mqops lists and changes (read in
// river v0.51.2, riverdriver/riverpgxv5/internal/dbsqlc/river_job.sql and
// internal/jobexecutor/job_executor.go):
//
//   - A worker's error (attempt < max_attempts): the executor appends
//     {"at","attempt","error","trace"} to errors (a jsonb[], one entry per
//     failed attempt, oldest first) and sets state 'retryable' with
//     scheduled_at = the retry policy's next time (or 'available' when that
//     is within the scheduler's interval); attempt was incremented when the
//     job was fetched; finalized_at stays NULL.
//   - A worker's error at attempt >= max_attempts: state 'discarded',
//     finalized_at = now, the error appended.
//   - river.JobCancel(err) returned by a worker: state 'cancelled' (not
//     'discarded'), finalized_at = now, the error appended as
//     "JobCancelError: ...".
//   - Client.JobRetry (query JobRetry): under FOR UPDATE of the row, unless
//     it is 'running' or already 'available' with scheduled_at in the past:
//     state = 'available', scheduled_at = now, finalized_at = NULL,
//     max_attempts = max_attempts+1 only when attempt = max_attempts (so the
//     job gets one more attempt), metadata minus 'cancel_attempted_at';
//     attempt and errors are kept (the next run is attempt+1). It does not
//     notify: producers find the job at their next fetch poll. Any state
//     but running is retried, completed and cancelled included.
//   - Client.JobCancel (query JobCancel): a queued job (available,
//     scheduled, retryable) becomes 'cancelled' with finalized_at = now; a
//     running one only gets metadata.cancel_attempted_at and a notification,
//     and is cancelled by its client when the work returns. River has no
//     call that discards a queued job: only the executor (max attempts) and
//     the scheduler (a unique-key conflict, with
//     metadata.unique_key_conflict) set 'discarded'.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// PostgresDSN is the DSN of the test PostgreSQL (POSTGRES_DSN from
// scripts/testenv). The test is skipped when it is unset, and fails instead
// when MQOPS_REQUIRE_INTEGRATION=1.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("MQOPS_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("POSTGRES_DSN is not set: source /tmp/testenv.env (scripts/testenv)")
		}
		t.Skipf("POSTGRES_DSN not set: integration test skipped")
	}
	return dsn
}

// RiverMigrationVersion is the last migration of river's "main" line in the
// river version these fixtures run (v0.51.2).
const RiverMigrationVersion = 8

// RiverSchema creates a fresh PostgreSQL schema with a unique name and runs
// river's own migrations (rivermigrate, line "main", all the way up) into
// it. The schema is dropped when the test ends.
func RiverSchema(ctx context.Context, t testing.TB, dsn string) string {
	t.Helper()
	return RiverSchemaAt(ctx, t, dsn, 0)
}

// RiverSchemaAt is RiverSchema migrated up to version only (0: all the
// way), for schemas of an older river.
func RiverSchemaAt(ctx context.Context, t testing.TB, dsn string, version int) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random schema name: %v", err)
	}
	schema := "river_it_" + hex.EncodeToString(b[:])
	pool := RiverPool(ctx, t, dsn)
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("rivermigrate: %v", err)
	}
	opts := &rivermigrate.MigrateOpts{TargetVersion: version}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, opts); err != nil {
		t.Fatalf("rivermigrate up in %s: %v", schema, err)
	}
	return schema
}

// ChargeArgs is a job of kind "mqops_charge_card". Its worker fails with a
// plain error: "payment gateway timeout after <ms>ms for order <order>".
// With river.UniqueOpts{ByArgs: true}, jobs are unique by Order only.
type ChargeArgs struct {
	Order   int    `json:"order" river:"unique"`
	Cents   int    `json:"amount_cents"`
	Outcome string `json:"outcome"` // OutcomeRetry, OutcomeDiscard or OutcomeCancel
	// Fail, when set, is the error the worker fails with instead (hostile
	// or huge texts).
	Fail string `json:"fail,omitempty"`
}

// Kind is river's job kind.
func (ChargeArgs) Kind() string { return "mqops_charge_card" }

// ReserveArgs is a job of kind "mqops_reserve_stock". Its worker fails with
// a *StockError.
type ReserveArgs struct {
	SKU       string `json:"sku"`
	Qty       int    `json:"qty"`
	Warehouse string `json:"warehouse"`
	Outcome   string `json:"outcome"`
}

// Kind is river's job kind.
func (ReserveArgs) Kind() string { return "mqops_reserve_stock" }

// The outcomes a failing worker gives a job.
const (
	// OutcomeRetry: the job fails once and is retryable, its next attempt
	// an hour ahead (attempts left).
	OutcomeRetry = "retry"
	// OutcomeDiscard: the job fails max_attempts (3) times, retried at once
	// each time, and is discarded; each attempt's error differs.
	OutcomeDiscard = "discard"
	// OutcomeCancel: the worker returns river.JobCancel: the job is
	// cancelled.
	OutcomeCancel = "cancel"
)

// DiscardAttempts is the max_attempts of the jobs that end discarded.
const DiscardAttempts = 3

// RetryAttempts is the max_attempts of the jobs left retryable.
const RetryAttempts = 5

// StockError is the typed error of the reserve worker.
type StockError struct {
	SKU       string
	Warehouse string
	Want      int
	Have      int
}

func (e *StockError) Error() string {
	return fmt.Sprintf("stock: sku %q unavailable in warehouse %q (want %d, have %d)", e.SKU, e.Warehouse, e.Want, e.Have)
}

// TimeoutError returns the error the charge worker fails with at attempt.
func TimeoutError(a ChargeArgs, attempt int) string {
	return fmt.Sprintf("payment gateway timeout after %dms for order %d", 3000*attempt, a.Order)
}

// RiverWork is one attempt a fixture worker ran.
type RiverWork struct {
	ID          int64
	Kind        string
	Attempt     int // river's attempt number of this run (1 for the first)
	MaxAttempts int
}

// RiverClient is a started river Client on one schema with the fixture's
// two workers registered.
type RiverClient struct {
	Client *river.Client[pgx.Tx]
	// Worked receives every attempt the workers run, in order.
	Worked <-chan RiverWork

	t       testing.TB
	stopped bool
	mu      sync.Mutex
}

// StartRiver starts a river Client on schema whose workers either fail as
// their args' Outcome says (fail true) or succeed (fail false). Every
// attempt is reported on Worked. The client is stopped when the test ends
// if Stop was not called.
func StartRiver(ctx context.Context, t testing.TB, dsn, schema string, fail bool) *RiverClient {
	t.Helper()
	worked := make(chan RiverWork, 4096)
	report := func(ctx context.Context, r *rivertype.JobRow) error {
		select {
		case worked <- RiverWork{ID: r.ID, Kind: r.Kind, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &chargeWorker{fail: fail, report: report})
	river.AddWorker(workers, &reserveWorker{fail: fail, report: report})
	client, err := river.NewClient(riverpgxv5.New(RiverPool(ctx, t, dsn)), &river.Config{
		Schema:            schema,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
		Logger:            testLogger(t),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatalf("river.NewClient: %v", err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatalf("river client start: %v", err)
	}
	c := &RiverClient{Client: client, Worked: worked, t: t}
	t.Cleanup(c.Stop)
	return c
}

// Stop stops the client, letting running jobs finish (bounded to 30s).
func (c *RiverClient) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Client.Stop(ctx); err != nil {
		c.t.Errorf("river client stop: %v", err)
	}
}

// WaitStates waits until every job of ids is in one of states (river's
// Client.JobGet), failing the test after 60s.
func (c *RiverClient) WaitStates(ctx context.Context, ids []int64, states ...rivertype.JobState) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		var waiting []string
		for _, id := range ids {
			j, err := c.Client.JobGet(ctx, id)
			if err != nil {
				c.t.Fatalf("river JobGet %d: %v", id, err)
			}
			if !slices.Contains(states, j.State) {
				waiting = append(waiting, fmt.Sprintf("%d:%s(attempt %d)", id, j.State, j.Attempt))
			}
		}
		if len(waiting) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("jobs not in %v: %s", states, strings.Join(waiting, " "))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RiverJobs are the ids of the jobs RiverFailingJobs left, by final state
// and by error kind.
type RiverJobs struct {
	Retryable []int64 // failed once, attempt 1 of RetryAttempts, next attempt an hour ahead
	Discarded []int64 // failed DiscardAttempts times
	Cancelled []int64 // river.JobCancel from the worker (charge jobs)
	Timeout   []int64 // charge jobs retryable or discarded: the gateway timeout error
	Stock     []int64 // reserve jobs retryable or discarded: the *StockError
	Args      map[int64]any
}

// RiverFailingJobs inserts jobs with river's Client.Insert, has a real
// river Client work them with workers that fail, waits until each job is in
// its final state and stops the client. Per kind (charge, reserve): n jobs
// left retryable and n discarded; and n charge jobs cancelled by the worker.
func RiverFailingJobs(ctx context.Context, t testing.TB, dsn, schema string, n int) RiverJobs {
	t.Helper()
	var params []river.InsertManyParams
	for i := range n {
		for _, outcome := range []string{OutcomeRetry, OutcomeDiscard} {
			params = append(params,
				river.InsertManyParams{Args: ChargeArgs{Order: 1000 + len(params), Cents: 100 * (i + 1), Outcome: outcome}},
				river.InsertManyParams{Args: ReserveArgs{SKU: fmt.Sprintf("SKU-%05d", 40+len(params)), Qty: i + 2, Warehouse: fmt.Sprintf("AMS-%d", i%3+1), Outcome: outcome}})
		}
		params = append(params, river.InsertManyParams{Args: ChargeArgs{Order: 1000 + len(params), Cents: 999, Outcome: OutcomeCancel}})
	}
	ids := FailJobs(ctx, t, dsn, schema, params...)
	jobs := RiverJobs{Args: map[int64]any{}}
	for i, id := range ids {
		jobs.Args[id] = params[i].Args
		var outcome string
		switch a := params[i].Args.(type) {
		case ChargeArgs:
			outcome = a.Outcome
			if outcome != OutcomeCancel {
				jobs.Timeout = append(jobs.Timeout, id)
			}
		case ReserveArgs:
			outcome = a.Outcome
			jobs.Stock = append(jobs.Stock, id)
		}
		switch outcome {
		case OutcomeRetry:
			jobs.Retryable = append(jobs.Retryable, id)
		case OutcomeDiscard:
			jobs.Discarded = append(jobs.Discarded, id)
		case OutcomeCancel:
			jobs.Cancelled = append(jobs.Cancelled, id)
		}
	}
	return jobs
}

// FailJobs inserts jobs (ChargeArgs or ReserveArgs) with river's
// Client.Insert, one at a time, has a river Client with failing workers work them
// until each is in the state of its args' Outcome (retryable, discarded,
// cancelled), stops the client and returns the ids in the order given.
// InsertOpts.MaxAttempts defaults to RetryAttempts, or DiscardAttempts for
// OutcomeDiscard.
func FailJobs(ctx context.Context, t testing.TB, dsn, schema string, params ...river.InsertManyParams) []int64 {
	t.Helper()
	c := StartRiver(ctx, t, dsn, schema, true)
	defer c.Stop()
	byState := map[rivertype.JobState][]int64{}
	params = slices.Clone(params)
	outcomes := make([]string, len(params))
	for i := range params {
		switch a := params[i].Args.(type) {
		case ChargeArgs:
			outcomes[i] = a.Outcome
		case ReserveArgs:
			outcomes[i] = a.Outcome
		default:
			t.Fatalf("FailJobs: args %T are not the fixture's", a)
		}
		opts := river.InsertOpts{}
		if params[i].InsertOpts != nil {
			opts = *params[i].InsertOpts
		}
		if opts.MaxAttempts == 0 {
			opts.MaxAttempts = RetryAttempts
			if outcomes[i] == OutcomeDiscard {
				opts.MaxAttempts = DiscardAttempts
			}
		}
		params[i].InsertOpts = &opts
	}
	// one Insert (one transaction) per job: each job has its own created_at
	res := make([]*rivertype.JobInsertResult, len(params))
	for i, p := range params {
		r, err := c.Client.Insert(ctx, p.Args, p.InsertOpts)
		if err != nil {
			t.Fatalf("river Insert %+v: %v", p.Args, err)
		}
		res[i] = r
	}
	ids := make([]int64, len(res))
	for i, r := range res {
		if r.UniqueSkippedAsDuplicate {
			t.Fatalf("FailJobs: job %d (%+v) skipped as a duplicate of job %d", i, params[i].Args, r.Job.ID)
		}
		ids[i] = r.Job.ID
		state := map[string]rivertype.JobState{"": rivertype.JobStateRetryable, OutcomeRetry: rivertype.JobStateRetryable,
			OutcomeDiscard: rivertype.JobStateDiscarded, OutcomeCancel: rivertype.JobStateCancelled}[outcomes[i]]
		byState[state] = append(byState[state], r.Job.ID)
	}
	for state, ids := range byState {
		c.WaitStates(ctx, ids, state)
	}
	return ids
}

type chargeWorker struct {
	river.WorkerDefaults[ChargeArgs]
	fail   bool
	report func(context.Context, *rivertype.JobRow) error
}

func (w *chargeWorker) Work(ctx context.Context, j *river.Job[ChargeArgs]) error {
	if err := w.report(ctx, j.JobRow); err != nil {
		return err
	}
	if !w.fail {
		return nil
	}
	if j.Args.Outcome == OutcomeCancel {
		return river.JobCancel(fmt.Errorf("order %d was refunded before it was charged", j.Args.Order))
	}
	if j.Args.Fail != "" {
		return errors.New(j.Args.Fail)
	}
	return errors.New(TimeoutError(j.Args, j.Attempt))
}

// NextRetry: discard-bound jobs are retried at once, the others in an hour.
func (w *chargeWorker) NextRetry(j *river.Job[ChargeArgs]) time.Time {
	return nextRetry(j.Args.Outcome)
}

type reserveWorker struct {
	river.WorkerDefaults[ReserveArgs]
	fail   bool
	report func(context.Context, *rivertype.JobRow) error
}

func (w *reserveWorker) Work(ctx context.Context, j *river.Job[ReserveArgs]) error {
	if err := w.report(ctx, j.JobRow); err != nil {
		return err
	}
	if !w.fail {
		return nil
	}
	return fmt.Errorf("reserve %d of %s: %w", j.Args.Qty, j.Args.SKU,
		&StockError{SKU: j.Args.SKU, Warehouse: j.Args.Warehouse, Want: j.Args.Qty, Have: j.Attempt - 1})
}

func (w *reserveWorker) NextRetry(j *river.Job[ReserveArgs]) time.Time {
	return nextRetry(j.Args.Outcome)
}

func nextRetry(outcome string) time.Time {
	if outcome == OutcomeDiscard {
		return time.Now()
	}
	return time.Now().Add(time.Hour)
}

// RiverPool is a pgx pool on dsn (at most 6 connections), closed when the
// test ends: for river clients and migrators.
func RiverPool(ctx context.Context, t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("postgres DSN: %v", err)
	}
	cfg.MaxConns = 6
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("postgres pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// testLogger logs river's warnings and errors into the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
