package actions

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Action is one operation that changes something on a cluster (a drain;
// later reset-offsets, replay, resend). The Runner takes every action
// through the same steps: Validate → Plan (a dry run: changes nothing) →
// the caller confirms → Execute → one audit entry. An action never writes
// the audit log itself.
type Action interface {
	// Kind names the action in the audit log: "drain", "reset-offsets"…
	Kind() string
	// Validate checks every option (numbers finite and in range, a
	// read-only context refused) and fills the defaults, the run id
	// included. It does no I/O and may be called more than once.
	Validate() error
	// Describe says what the action acts on and its command line. It is
	// called on valid and invalid actions alike (a refusal is described
	// too), and reads only the options.
	Describe() Subject
	// Plan previews exactly what Execute would change, changing nothing.
	// A refusal found while planning (the source is not what the action is
	// for) is a *RefusedError.
	Plan(ctx context.Context) (Plan, error)
	// Execute carries out a plan the operator confirmed (nil: the action
	// measures its scope itself when it starts), rate-limited, reporting
	// progress (which may be nil), until done, failed or ctx is cancelled.
	// It returns what it did even when it fails.
	Execute(ctx context.Context, p Plan, progress func(Progress)) (Result, error)
}

// Subject is what an action acts on, as the audit log records it.
type Subject struct {
	Context string // the context's name
	Source  string // e.g. rabbitmq:orders.dlq, kafka:orders.DLT
	Target  string // e.g. origin, topic:orders-retry
	RunID   string // set by Validate
	// Args is the action's own part of the equivalent headless command,
	// after "mqops" and the flags that select the context (Runner.Globals):
	// {"drain", "rabbitmq:orders.dlq", "--to", "origin", "--rate", "200"}.
	// Never a flag that carries a secret; never --yes, --dry-run or -o.
	Args []string
}

// Plan is an action's preview. Each action has its own plan type (the
// drains' *DrainPlan) that callers show; the runner only records it.
type Plan interface {
	Audit() AuditPlan
}

// Result is how an action's run ended. Each action has its own result
// type (*DrainResult); the runner only records it.
type Result interface {
	Audit() AuditResult
}

// Outcomes of an audit entry.
const (
	OutcomeRefused   = "refused"   // not started: invalid, read-only, refused by its source, not confirmed
	OutcomeDryRun    = "dry-run"   // planned and shown, not executed
	OutcomeExecuted  = "executed"  // ran to its end
	OutcomeFailed    = "failed"    // the plan or the run failed
	OutcomeCancelled = "cancelled" // the run was cancelled (what it did is in the result)
)

// Why a plan was recorded as a dry run.
const (
	DryRunFlag         = "--dry-run"
	DryRunNotConfirmed = "previewed, not confirmed"
)

// RefusedError is an action refused before it changed anything: invalid
// options, a read-only context, a source that is not what the action is
// for, no confirmation. The runner records it with outcome refused.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// refused wraps err as a refusal (nil stays nil, a refusal stays one).
func refused(err error) error {
	var r *RefusedError
	if err == nil || errors.As(err, &r) {
		return err
	}
	return &RefusedError{Err: err}
}

// IsRefused says whether err is a refusal.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// Runner takes actions through validate → plan → (the caller confirms) →
// execute, and writes each one's audit entry, exactly one per outcome:
//
//   - Validate: an invalid action is refused (recorded).
//   - Plan: validates (refusals recorded), checks the audit log can be
//     written, plans; a plan that fails is recorded (refused or failed),
//     one cancelled by ctx is not. A plan that succeeds is not recorded
//     yet: the caller then calls DryRun, Refuse or Execute with it.
//   - DryRun: a plan shown and not executed (--dry-run; a plan previewed
//     in the console and not confirmed).
//   - Refuse: a plan not executed for want of a confirmation.
//   - Execute: checks the audit log, validates, executes, records
//     executed, failed or cancelled.
type Runner struct {
	// Audit is the log; nil: no action starts.
	Audit *AuditLog
	// Globals are the flags that select the context on a command line
	// ({"--context", "prod"}, or the --brokers… of a context given by
	// flags), put between "mqops" and the action's Args in its equivalent
	// command. Secrets are never in them (Command redacts them as a last
	// guard).
	Globals []string
}

// Command is the equivalent headless command of a: shell-quoted, one
// line, secrets redacted, without --yes. Run with --dry-run it plans
// what the console or the script planned.
func (r *Runner) Command(a Action) string {
	args := append([]string{"mqops"}, r.Globals...)
	return commandLine(append(args, a.Describe().Args...))
}

// Validate checks a; an invalid action is recorded as refused.
func (r *Runner) Validate(a Action) error {
	if err := a.Validate(); err != nil {
		err = refused(err)
		r.record(a, OutcomeRefused, nil, nil, err, 0)
		return err
	}
	return nil
}

// Plan validates a and previews it. An action that cannot be audited is
// not planned either.
func (r *Runner) Plan(ctx context.Context, a Action) (Plan, error) {
	if err := r.Validate(a); err != nil {
		return nil, err
	}
	if err := r.Audit.Check(); err != nil {
		return nil, err
	}
	p, err := a.Plan(ctx)
	if err == nil && isNil(p) {
		err = errors.New("the plan is empty")
	}
	switch {
	case err == nil:
		return p, nil
	case IsRefused(err):
		r.record(a, OutcomeRefused, nil, nil, err, 0)
	case ctx.Err() == nil: // a plan the operator cancelled did nothing and showed nothing
		r.record(a, OutcomeFailed, nil, nil, fmt.Errorf("the plan failed: %w", err), 0)
	}
	return nil, err
}

// DryRun records p, shown and not executed; why says how (DryRunFlag,
// DryRunNotConfirmed).
func (r *Runner) DryRun(a Action, p Plan, why string) error {
	return r.recordReason(a, OutcomeDryRun, p, why)
}

// Refuse records that a was not executed and why (no terminal to confirm
// on, the plan has problems); p is the plan shown, if any.
func (r *Runner) Refuse(a Action, p Plan, why error) error {
	return r.record(a, OutcomeRefused, p, nil, refused(why), 0)
}

// Execute runs a on the plan the operator confirmed (nil: the action
// measures its scope at start). The audit log is checked first: an action
// that cannot be audited does not start. Whatever happens, one entry is
// written: executed, failed, cancelled (ctx cancelled) or refused.
func (r *Runner) Execute(ctx context.Context, a Action, p Plan, progress func(Progress)) (Result, error) {
	if err := r.Audit.Check(); err != nil {
		return nil, err
	}
	if err := r.Validate(a); err != nil {
		return nil, err
	}
	start := time.Now()
	res, err := a.Execute(ctx, p, progress)
	outcome := OutcomeExecuted
	switch {
	case err == nil:
	case IsRefused(err):
		outcome = OutcomeRefused
	case errors.Is(ctx.Err(), context.Canceled):
		outcome = OutcomeCancelled
	default:
		outcome = OutcomeFailed
	}
	if aerr := r.record(a, outcome, p, res, err, time.Since(start)); aerr != nil && err == nil {
		err = fmt.Errorf("%s done but the audit log could not be written: %w", a.Kind(), aerr)
	}
	return res, err
}

// recordReason writes an entry without an error: a dry run.
func (r *Runner) recordReason(a Action, outcome string, p Plan, why string) error {
	e := r.entry(a, outcome, p, nil, 0)
	e.Reason = why
	return r.Audit.Append(e)
}

// record writes the entry of an outcome: a refusal's error is its
// reason; any other error is the entry's error.
func (r *Runner) record(a Action, outcome string, p Plan, res Result, err error, d time.Duration) error {
	e := r.entry(a, outcome, p, res, d)
	if err != nil {
		if outcome == OutcomeRefused {
			e.Reason = err.Error()
		} else {
			e.Error = err.Error()
		}
	}
	return r.Audit.Append(e)
}

func (r *Runner) entry(a Action, outcome string, p Plan, res Result, d time.Duration) AuditEntry {
	s := a.Describe()
	e := AuditEntry{Context: s.Context, Action: a.Kind(), RunID: s.RunID, Outcome: outcome,
		Source: s.Source, Target: s.Target, Command: r.Command(a), DurationMS: d.Milliseconds()}
	if !isNil(p) {
		ap := p.Audit()
		e.Plan = &ap
	}
	if !isNil(res) {
		ar := res.Audit()
		e.Result = &ar
	}
	return e
}

// isNil says whether v is nil or holds a nil pointer (a *DrainPlan(nil)
// is a non-nil Plan).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
