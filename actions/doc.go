// Package actions holds the operations that change something on a cluster:
// drain, replay, resend, reset-offsets. Actions know nothing of the
// console: the TUI and the CLI both call them, through one Runner.
//
// # One shape for every action
//
// An action is a type that implements Action (runner.go):
//
//	Kind() string                       // "drain", "reset-offsets"…: the audit log's action
//	Validate() error                    // every number finite and in range (validate.go), read-only refused; fills defaults and the run id; no I/O
//	                                    // (but ResetOffsets reads its --from-file CSV there, once: a bounded regular file; call it in a command)
//	Describe() Subject                  // context, source, target, run id, and Args: its part of the equivalent command line
//	Plan(ctx) (Plan, error)             // a dry run: exactly what Execute would change, changing nothing
//	Execute(ctx, Plan, progress) (Result, error) // the confirmed plan, rate-limited (Limiter), cancellable, reporting Progress
//
// Its plan and result are its own types (the drains' *DrainPlan and
// *DrainResult, the reset's *ResetPlan and *ResetResult, the replay's
// *ReplayPlan and *ReplayResult), which callers show as they like; each
// has an Audit method giving the typed counts the audit log keeps (AuditPlan: summary,
// selected, skipped, total, bytes, problems, bounded details; AuditResult:
// done, skipped, failed, left, seen, stopped_because, bounded details).
// A refusal found while planning or executing (the source is not what the
// action is for, a group is not empty) is returned wrapped with refused(),
// a *RefusedError.
//
// Actions never write the audit log: the Runner does, once per outcome
// (refused, dry-run, executed, failed, cancelled), with the typed fields
// and the equivalent headless command (Runner.Command: "mqops", the
// flags that select the context — Runner.Globals, given by the caller —
// and Subject.Args, shell-quoted, secrets redacted, without --yes).
//
// # Adopting the runner (a cobra command)
//
//	run := &actions.Runner{Audit: actions.NewAuditLog(path), Globals: g.contextArgs(c)}
//	a := &actions.ResetOffsets{…options from the flags…}
//	if err := run.Validate(a); err != nil { return err }   // refused: recorded
//	p, err := run.Plan(ctx, a)                              // checks the audit log first; a failed plan is recorded
//	if err != nil { return err }
//	if dryRun { show(p); return run.DryRun(a, p, actions.DryRunFlag) }
//	show(p)
//	if problems && !yes { _ = run.Refuse(a, p, err); return err }   // also: no terminal to confirm on
//	if answeredNo { _ = run.DryRun(a, p, actions.DryRunNotConfirmed); return errNotConfirmed }
//	res, err := run.Execute(ctx, a, p, bar)                 // executed | failed | cancelled, one entry
//
// The console does the same from commands (never in Update): Plan in one,
// Execute in another (a goroutine reporting progress through a channel),
// and a plan previewed and not confirmed is recorded with
// DryRun(a, p, DryRunNotConfirmed), once.
package actions
