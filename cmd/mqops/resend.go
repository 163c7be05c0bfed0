package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/config"
)

func newResendCmd(g *globals) *cobra.Command {
	var (
		o             actions.ResendOptions
		dryRun, yes   bool
		output, audit string
	)
	cmd := &cobra.Command{
		Use:   "resend",
		Short: "Publish again the rows of the application's sending table (outbox) still pending, safely (preview, confirm, claim, confirms, audit)",
		Long: `Publishes again the rows of the sending table (outbox) still pending after
--older-than (default: the store's pending-after, 5m), oldest first, to where
the context's store.route sends their destination (a Kafka topic, or a
RabbitMQ exchange and routing key), and marks them sent once the broker
confirmed them.

Each row is claimed before it is published, with an optimistic update
(attempts + 1 where the row is still pending at the attempts the plan read):
two resends started at once publish each row once, the other one skips it.
A row attempted less than --claim-lease ago (default 1m) may be in flight in
another run and is passed over, with the later rows of its key. Rows are
published with the broker's confirms (Kafka: an idempotent producer,
acks=all, partitioned by the row's key with murmur2 as the Java client does,
a key's rows in order; RabbitMQ: publisher confirms and mandatory) and
marked sent only once confirmed; a row the broker refuses stays pending with
its error (last_error), and the later rows of its key wait for the next run.
Each message carries its headers, and its message id under the store's
message-id header (mqops-message-id; cap: cap-msg-id) unless it has one.

A run goes --batch rows at a time (default 500): at most that many rows are
published and not yet marked sent at any moment, what a kill can make the
next run publish twice. Nothing is lost: a killed run leaves each row
untouched, or claimed and published, or claimed and failed; the next run
(after --claim-lease) publishes those not marked sent.

The plan (--dry-run shows it and changes nothing) lists the rows, per
destination their count and target, those whose destination does not route,
and the message ids the idempotency table says were consumed already
(--skip-consumed passes them over). The run publishes only the rows of the
plan. Every outcome is written to the audit log (mqops audit) with the
equivalent command.`,
		Example: `  mqops resend --older-than 10m --dry-run
  mqops resend --destination orders --limit 1000 --rate 200 --yes
  mqops resend --id 4711 --id 4712 --skip-consumed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := explicitZero(cmd, "limit", "rate", "batch", "older-than", "claim-lease"); err != nil {
				return err
			}
			return runResendCmd(g, cmd.Context(), o, dryRun, yes, output, audit)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.OlderThan, "older-than", 0, "only rows created at least this long ago (default: the store's pending-after, 5m)")
	f.StringVar(&o.Destination, "destination", "", "only rows of this destination")
	f.StringArrayVar(&o.IDs, "id", nil, "only this row (repeatable)")
	f.IntVar(&o.Limit, "limit", 0, "at most N rows, oldest first (default: the store's bound on one read, 10,000)")
	f.Float64Var(&o.Rate, "rate", 0, "at most N rows per second (default: unlimited)")
	f.BoolVar(&o.SkipConsumed, "skip-consumed", false, "pass over the rows whose message id the idempotency table says was consumed already")
	f.IntVar(&o.Batch, "batch", 0, "rows claimed, published and marked at a time: the most a kill can make the next run publish twice (default 500)")
	f.DurationVar(&o.ClaimLease, "claim-lease", 0, "rows attempted less than this long ago may be in flight in another run: pass them over (default 1m)")
	f.BoolVar(&dryRun, "dry-run", false, "show the plan and change nothing")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.StringVar(&audit, "audit-file", "", "audit log (default $XDG_STATE_HOME/mqops/audit.jsonl)")
	outputFlag(cmd, &output)
	return cmd
}

// runResendCmd takes a resend through the action runner: validate, plan,
// the plan shown (--dry-run stops there), confirmed, run, the result
// printed; each outcome audited once.
func runResendCmd(g *globals, ctx context.Context, o actions.ResendOptions, dryRun, yes bool, output, audit string) error {
	_, c, err := g.loadContext()
	if err != nil {
		return err
	}
	o.Context, o.ReadOnly = c.Name, c.ReadOnly
	o.Route = routeOf(c)
	run := g.runner(c, audit)
	a := &actions.Resend{Options: o}
	if err := startAction(run, a); err != nil {
		return err
	}
	if !dryRun { // a plan that is run needs the broker: said before it is shown
		pub, closePub, err := g.publisherOf(c, o.Route)
		if err != nil {
			return err
		}
		defer closePub()
		a.Publisher = pub
	}
	st, err := g.storeOf(c)
	if err != nil {
		return err
	}
	defer st.Close()
	if !st.HasOutbox() {
		return fmt.Errorf("the application database (%s, preset %s) has no sending table: nothing to resend", st.Name(), st.Preset())
	}
	a.Store = st
	done := readProgress(g, "planning: reading the pending rows of "+storeName(st)+" (changes nothing)")
	p, err := run.Plan(ctx, a) // every call to the database is bounded by --timeout
	done()
	if err != nil {
		return err
	}
	plan := p.(*actions.ResendPlan)
	if dryRun {
		return recordDryRun(g, run, a, plan, output, map[string]any{"dry_run": true, "plan": plan, "command": run.Command(a)}, func(w io.Writer) { printResendPlan(w, plan) })
	}
	printResendPlan(g.stderr, plan)
	if plan.Selected == 0 {
		nothing := "nothing to resend: no pending row of the selection can be resent"
		if len(plan.Rows) == 0 {
			nothing = "nothing to resend: no pending row matches"
		}
		fmt.Fprintln(g.stderr, nothing)
		_ = run.DryRun(a, plan, nothing)
		if output == "json" {
			return writeJSON(g.stdout, resendJSON{&actions.ResendResult{RunID: plan.RunID, StoppedBecause: actions.ResendStopEnd}, run.Command(a)})
		}
		return nil
	}
	if len(plan.Problems) > 0 && !yes {
		return refuse(run, a, plan, errors.New("the plan has problems (above): fix them, or pass --yes to resend the other rows"))
	}
	if !yes {
		if err := confirm(g, run, a, plan, c.ProdLike(), c.Name, fmt.Sprintf("Resend %s?", plan.Summary())); err != nil {
			return err
		}
	}
	bar, endBar := progressBar(g)
	r, err := run.Execute(ctx, a, plan, bar)
	endBar()
	if res, ok := r.(*actions.ResendResult); ok {
		printResendResult(g, output, res, run.Command(a))
		if err == nil && res.Failed > 0 {
			err = fmt.Errorf("%d row(s) were not confirmed by the broker: they stay pending with their error (first: %s)", res.Failed, firstOf(res.Errors))
		}
	}
	return err
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return s[0]
}

// publisherOf is the broker client route publishes with, and what closes
// it; it does no I/O.
func (g *globals) publisherOf(c *config.Context, route backends.Route) (backends.Publisher, func(), error) {
	switch route.Broker {
	case "kafka":
		kc, err := g.kafkaClient(c)
		if err != nil {
			return nil, nil, err
		}
		return kc, func() { kc.Close() }, nil
	case "rabbitmq":
		rc, err := g.rabbitClient(c)
		if err != nil {
			return nil, nil, err
		}
		return rc, func() { rc.Close() }, nil
	}
	_, err := route.Resolve("x")
	return nil, nil, err
}

// resendJSON is the -o json output of a resend's run.
type resendJSON struct {
	*actions.ResendResult
	Command string `json:"command"`
}

func printResendPlan(w io.Writer, p *actions.ResendPlan) {
	age := "the store's pending-after"
	if p.OlderThan != "" {
		age = p.OlderThan
	}
	fmt.Fprintf(w, "plan: resend %d of %d pending row(s) (older than %s) of %s → %s, %d at a time\n", p.Selected, p.Pending, age, backends.SafeText(p.Store), cutName(actions.RouteText(p.Route)), p.Batch)
	fmt.Fprintf(w, "  run %s; message id header %s\n", p.RunID, cutName(p.MessageIDHeader))
	t := newTable(w, "  DESTINATION", "TARGET", "ROWS", "RESENT", "CONSUMED", "OLDEST", "PROBLEM")
	for i, d := range p.Destinations {
		if i == maxPlanLines {
			break
		}
		consumed := "-"
		if p.ConsumedChecked {
			consumed = fmt.Sprint(d.Consumed)
		}
		t.row("  "+cutName(d.Destination), cutName(d.Target), fmt.Sprint(d.Rows), fmt.Sprint(d.Selected), consumed, ageCell(d.OldestAgeSeconds), cutText(d.Problem, maxNameShown))
	}
	_ = t.flush()
	if len(p.Destinations) > maxPlanLines {
		fmt.Fprintf(w, "  … and %d more destinations (-o json lists them all)\n", len(p.Destinations)-maxPlanLines)
	}
	t = newTable(w, "  ID", "DESTINATION", "KEY", "MESSAGE ID", "ATTEMPTS", "AGE", "SKIP")
	for i, r := range p.Rows {
		if i == maxPlanLines {
			break
		}
		t.row("  "+cutName(r.ID), cutName(r.Destination), cutName(r.Key), cutName(r.MessageID), fmt.Sprint(r.Attempts), ageCell(r.AgeSeconds), r.Skip)
	}
	_ = t.flush()
	if len(p.Rows) > maxPlanLines {
		fmt.Fprintf(w, "  … and %d more rows (-o json lists them all)\n", len(p.Rows)-maxPlanLines)
	}
	printPlanTail(w, p.Rate, "rows", p.Problems, p.Notes)
}

func printResendResult(g *globals, output string, res *actions.ResendResult, command string) {
	if output == "json" {
		_ = writeJSON(g.stdout, resendJSON{res, command})
		return
	}
	fmt.Fprintf(g.stdout, "run %s: resent %d, failed %d, skipped %d (claimed by another run %d, no longer pending %d, held behind a failed row of their key %d, consumed %d), left %d (%.1f rows/s) — stopped: %s\n",
		res.RunID, res.Resent, res.Failed, res.Skipped, res.SkippedClaimed, res.SkippedGone, res.SkippedHeld, res.SkippedConsumed, res.Left, res.Rate, res.StoppedBecause)
	if res.Unmarked > 0 {
		fmt.Fprintf(g.stdout, "  %d row(s) confirmed by the broker could not be marked sent: they stay pending, and a later resend publishes them again\n", res.Unmarked)
	}
	for _, e := range res.Errors {
		fmt.Fprintln(g.stdout, "  error: "+cutText(strings.ReplaceAll(e, "\n", " "), 4*maxNameShown))
	}
}
