package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/store"
)

// retriesJSON is the -o json output of mqops retries: the shape
// (retries, groups), then what it adds.
type retriesJSON struct {
	Retries []retryRowJSON   `json:"retries"`
	Groups  []retryGroupJSON `json:"groups"`
	// Total counts the rows that match (More: some were not listed).
	Total int  `json:"total"`
	More  bool `json:"more"`
}

type retryRowJSON struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	MaxAttempts int        `json:"max_attempts"`
	NextRetryAt *time.Time `json:"next_retry_at"`
	LastError   string     `json:"last_error"`
	Destination string     `json:"destination"`
	// then what mqops adds: the group to select by (--error), the message
	// id to trace, when the row was created
	ErrorGroup string    `json:"error_group"`
	MessageID  string    `json:"message_id"`
	CreatedAt  time.Time `json:"created_at"`
}

type retryGroupJSON struct {
	Error string    `json:"error"`
	Count int       `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func newRetriesCmd(g *globals) *cobra.Command {
	var (
		q             backends.RetryQuery
		dead, waiting bool
		output        string
	)
	cmd := &cobra.Command{
		Use:   "retries",
		Short: "Rows of the application's retry table, grouped by error (normalised message or exception class)",
		Long: `Lists the rows of the retry table waiting for the application's job or dead
(given up), oldest first — status, attempts of max, next retry, last error,
destination — and groups them by error: the last error normalised (numbers,
ids, hex and quoted values replaced; an exception class kept), with per group
the rows and the first and last created. The groups count every row read;
--error GROUP lists the rows of one group (as the groups show it, or as
-o json's error_group gives it). Nothing is changed: mqops retry now,
republish or give-up act on the rows.

With the river preset the rows are river_job's retryable (waiting) and
discarded (dead) jobs, their last error the last entry of errors[].`,
		Example: `  mqops retries
  mqops retries --dead -o json
  mqops retries --error 'payment gateway timeout after <n>ms for order <n>'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := explicitZero(cmd, "limit"); err != nil {
				return err
			}
			if err := actions.CheckCount("limit", q.Limit, 1, actions.MaxLimit, true); err != nil {
				return err
			}
			if dead && waiting {
				return errors.New("--dead and --waiting: give one of them (neither lists both)")
			}
			if dead || waiting {
				q.Dead = &dead
			}
			_, st, err := g.contextStore((*store.Store).HasRetry, "no retry table")
			if err != nil {
				return err
			}
			defer st.Close()
			done := readProgress(g, "reading the retry rows of "+storeName(st))
			page, err := st.Retries(cmd.Context(), q)
			done()
			if err != nil {
				return err
			}
			out := retriesOutput(page)
			if output == "json" {
				if err := writeJSON(g.stdout, out); err != nil {
					return err
				}
			} else {
				printRetries(g.stdout, out)
			}
			if page.More {
				fmt.Fprintf(g.stderr, "note: %d row(s) match; %d listed (the oldest: --limit, or the store's bound on one read)\n", page.Total, len(page.Rows))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.ErrorGroup, "error", "", "only the rows of this error group")
	f.BoolVar(&dead, "dead", false, "only the rows given up (dead; river: discarded)")
	f.BoolVar(&waiting, "waiting", false, "only the rows waiting for the application's job (river: retryable)")
	f.IntVar(&q.Limit, "limit", 0, "list at most N rows, oldest first (default: the store's bound on one read, 10,000)")
	outputFlag(cmd, &output)
	return cmd
}

// retriesOutput is the page as mqops retries prints it.
func retriesOutput(page *backends.RetryPage) retriesJSON {
	out := retriesJSON{Retries: []retryRowJSON{}, Groups: []retryGroupJSON{}, Total: page.Total, More: page.More}
	for _, r := range page.Rows {
		row := retryRowJSON{ID: r.ID, Status: r.Status, Attempts: r.Attempts, MaxAttempts: r.MaxAttempts, LastError: r.LastError, Destination: r.Destination,
			ErrorGroup: r.ErrorGroup, MessageID: r.MessageID, CreatedAt: r.CreatedAt}
		if !r.NextRetryAt.IsZero() {
			t := r.NextRetryAt
			row.NextRetryAt = &t
		}
		out.Retries = append(out.Retries, row)
	}
	for _, gr := range page.Groups {
		out.Groups = append(out.Groups, retryGroupJSON(gr))
	}
	return out
}

// timeCell is a time for a table cell ("-" for none).
func timeCell(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// printRetries prints the groups (count, first, last, error), then the
// rows.
func printRetries(w io.Writer, out retriesJSON) {
	if len(out.Retries) == 0 && len(out.Groups) == 0 {
		fmt.Fprintln(w, "no retry rows")
		return
	}
	t := newTable(w, "COUNT", "FIRST", "LAST", "ERROR")
	for _, gr := range out.Groups {
		t.row(fmt.Sprint(gr.Count), timeCell(gr.First), timeCell(gr.Last), cutError(gr.Error, 2*maxNameShown))
	}
	_ = t.flush()
	fmt.Fprintln(w)
	t = newTable(w, "ID", "STATUS", "ATTEMPTS", "NEXT RETRY", "DESTINATION", "LAST ERROR")
	for _, r := range out.Retries {
		att := fmt.Sprint(r.Attempts)
		if r.MaxAttempts > 0 {
			att += "/" + fmt.Sprint(r.MaxAttempts)
		}
		next := "-"
		if r.NextRetryAt != nil {
			next = timeCell(*r.NextRetryAt)
		}
		t.row(cutName(r.ID), cutName(r.Status), att, next, cutName(r.Destination), cutError(r.LastError, maxNameShown))
	}
	_ = t.flush()
}

func newRetryCmd(g *globals) *cobra.Command {
	var (
		o             actions.RetryOptions
		dryRun, yes   bool
		output, audit string
	)
	cmd := &cobra.Command{
		Use:   "retry now|republish|give-up (--id ID ... | --error GROUP)",
		Short: "Act on rows of the application's retry table: retry now, republish, give up (preview, confirm, audit)",
		Long: `Acts on rows of the retry table, selected by --id (repeatable) or by
--error GROUP (an error group as mqops retries lists it), or both, at most
--limit of them, oldest first:

  now        due now for the application's job: status waiting, next retry
             now, and one more attempt where a row used all of its (river:
             what river's JobRetry does: state available, scheduled now)
  republish  publish each row's payload and headers to its destination
             (store.route: a Kafka topic, or a RabbitMQ exchange and routing
             key) with the broker's confirms, and mark it done only once
             the broker confirmed it; rows without a destination are not
             republished (the plan lists them as problems)
  give-up    dead (river: discarded): the application's job no longer
             takes them

The plan (--dry-run shows it and changes nothing) lists exactly the rows the
run changes: id, status, attempts, error, and for a republish its target.
The run changes only those, --batch at a time (default 500), at most --rate
rows per second: each batch is read again first, and a row the application
changed since the plan (status, attempts, next retry) is left alone and
counted. A republish the broker does not confirm leaves its row as it was,
its error counted; its message id travels under the store's message-id
header (mqops-message-id; cap: cap-msg-id). Every outcome is written to the
audit log (mqops audit) with the equivalent command.`,
		Example: `  mqops retry now --error 'payment gateway timeout after <n>ms for order <n>' --dry-run
  mqops retry republish --id 4711 --id 4712 --yes
  mqops retry give-up --error 'StockError: <q>' --limit 100 --rate 50`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: actions.RetryOps,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := explicitZero(cmd, "limit", "rate", "batch"); err != nil {
				return err
			}
			o.Op = args[0]
			return runRetryCmd(g, cmd.Context(), o, dryRun, yes, output, audit)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.IDs, "id", nil, "this row (repeatable)")
	f.StringVar(&o.ErrorGroup, "error", "", "the rows of this error group (as mqops retries lists it)")
	f.IntVar(&o.Limit, "limit", 0, "at most N rows, oldest first (default: the store's bound on one read, 10,000)")
	f.Float64Var(&o.Rate, "rate", 0, "at most N rows per second (default: unlimited)")
	f.IntVar(&o.Batch, "batch", 0, "rows changed at a time; for a republish, the most published and not yet marked done (default 500)")
	f.BoolVar(&dryRun, "dry-run", false, "show the plan and change nothing")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.StringVar(&audit, "audit-file", "", "audit log (default $XDG_STATE_HOME/mqops/audit.jsonl)")
	outputFlag(cmd, &output)
	return cmd
}

// runRetryCmd takes a retry action through the action runner: validate,
// plan, the plan shown (--dry-run stops there), confirmed, run, the result
// printed; each outcome audited once.
func runRetryCmd(g *globals, ctx context.Context, o actions.RetryOptions, dryRun, yes bool, output, audit string) error {
	_, c, err := g.loadContext()
	if err != nil {
		return err
	}
	o.Context, o.ReadOnly = c.Name, c.ReadOnly
	if o.Op == actions.RetryOpRepublish {
		o.Route = routeOf(c)
	}
	run := g.runner(c, audit)
	a := &actions.RetryRows{Options: o}
	if err := startAction(run, a); err != nil {
		return err
	}
	if !dryRun && o.Op == actions.RetryOpRepublish { // a plan that is run needs the broker: said before it is shown
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
	if !st.HasRetry() {
		return fmt.Errorf("the application database (%s, preset %s) has no retry table", storeName(st), st.Preset())
	}
	a.Store = st
	done := readProgress(g, "planning: reading the retry rows of "+storeName(st)+" (changes nothing)")
	p, err := run.Plan(ctx, a) // every call to the database is bounded by --timeout
	done()
	if err != nil {
		return err
	}
	plan := p.(*actions.RetryPlan)
	if dryRun {
		return recordDryRun(g, run, a, plan, output, map[string]any{"dry_run": true, "plan": plan, "command": run.Command(a)}, func(w io.Writer) { printRetryPlan(w, plan) })
	}
	printRetryPlan(g.stderr, plan)
	if plan.Selected == 0 {
		nothing := "nothing to change: no row of the selection can be changed"
		if plan.Matched == 0 {
			nothing = "nothing to change: no retry row matches"
		}
		fmt.Fprintln(g.stderr, nothing)
		_ = run.DryRun(a, plan, nothing)
		if output == "json" {
			return writeJSON(g.stdout, retryJSON{&actions.RetryResult{RunID: plan.RunID, Op: plan.Op, StoppedBecause: actions.ResendStopEnd}, run.Command(a)})
		}
		return nil
	}
	if len(plan.Problems) > 0 && !yes {
		return refuse(run, a, plan, errors.New("the plan has problems (above): fix them, or pass --yes to change the other rows"))
	}
	if !yes {
		q := plan.Summary()
		if err := confirm(g, run, a, plan, c.ProdLike(), c.Name, strings.ToUpper(q[:1])+q[1:]+"?"); err != nil {
			return err
		}
	}
	bar, endBar := progressBar(g)
	r, err := run.Execute(ctx, a, plan, bar)
	endBar()
	if res, ok := r.(*actions.RetryResult); ok {
		printRetryResult(g, output, res, run.Command(a))
		if err == nil && res.Failed > 0 {
			err = fmt.Errorf("%d row(s) were not confirmed by the broker: they are left as they were (first error: %s)", res.Failed, firstOf(res.Errors))
		}
	}
	return err
}

// retryJSON is the -o json output of a retry action's run.
type retryJSON struct {
	*actions.RetryResult
	Command string `json:"command"`
}

func printRetryPlan(w io.Writer, p *actions.RetryPlan) {
	fmt.Fprintf(w, "plan: %s\n", backends.SafeText(p.Summary()))
	fmt.Fprintf(w, "  run %s; %s; %d row(s) match, %d change, %d at a time\n", p.RunID, backends.SafeText(p.Store), p.Matched, p.Selected, p.Batch)
	if p.ErrorGroup != "" {
		fmt.Fprintln(w, "  error group: "+cutText(p.ErrorGroup, 2*maxNameShown))
	}
	if len(p.Groups) > 1 || (len(p.Groups) == 1 && p.ErrorGroup == "") {
		t := newTable(w, "  COUNT", "ERROR")
		for i, gr := range p.Groups {
			if i == maxPlanLines {
				break
			}
			t.row(fmt.Sprintf("  %d", gr.Count), cutError(gr.Error, 2*maxNameShown))
		}
		_ = t.flush()
	}
	cols := []string{"  ID", "STATUS", "ATTEMPTS", "NEXT RETRY", "LAST ERROR"}
	if p.Op == actions.RetryOpRepublish {
		cols = append(cols, "TARGET")
	}
	t := newTable(w, cols...)
	for i, r := range p.Rows {
		if i == maxPlanLines {
			break
		}
		att := fmt.Sprint(r.Attempts)
		if r.MaxAttempts > 0 {
			att += "/" + fmt.Sprint(r.MaxAttempts)
		}
		cells := []string{"  " + cutName(r.ID), cutName(r.Status), att, timeCell(r.NextRetryAt), cutError(r.LastError, maxNameShown)}
		if p.Op == actions.RetryOpRepublish {
			cells = append(cells, cutName(r.Target))
		}
		t.row(cells...)
	}
	_ = t.flush()
	if len(p.Rows) > maxPlanLines {
		fmt.Fprintf(w, "  … and %d more rows (-o json lists them all)\n", len(p.Rows)-maxPlanLines)
	}
	printPlanTail(w, p.Rate, "rows", p.Problems, p.Notes)
}

func printRetryResult(g *globals, output string, res *actions.RetryResult, command string) {
	if output == "json" {
		_ = writeJSON(g.stdout, retryJSON{res, command})
		return
	}
	what := map[string]string{actions.RetryOpNow: "made due now", actions.RetryOpRepublish: "republished and marked done", actions.RetryOpGiveUp: "given up"}[res.Op]
	fmt.Fprintf(g.stdout, "run %s: %s %d, failed %d, skipped %d (changed by the application since the plan %d, no longer waiting or dead %d), left %d (%.1f rows/s) — stopped: %s\n",
		res.RunID, what, res.Changed, res.Failed, res.Skipped, res.SkippedChanged, res.SkippedGone, res.Left, res.Rate, res.StoppedBecause)
	if res.Unmarked > 0 {
		fmt.Fprintf(g.stdout, "  %d row(s) republished (the broker confirmed) could not be marked done: the application changed them meanwhile, and may handle their message twice\n", res.Unmarked)
	}
	for _, e := range res.Errors {
		fmt.Fprintln(g.stdout, "  error: "+cutText(strings.ReplaceAll(e, "\n", " "), 4*maxNameShown))
	}
}

// printPlanTail ends a plan's printout: its rate (of what, per second),
// its problems (the first maxPlanLines) and its notes.
func printPlanTail(w io.Writer, rate float64, what string, problems, notes []string) {
	if rate > 0 {
		fmt.Fprintf(w, "  rate: at most %g %s/s\n", rate, what)
	}
	for i, pr := range problems {
		if i == maxPlanLines {
			fmt.Fprintf(w, "  … and %d more problems\n", len(problems)-i)
			break
		}
		fmt.Fprintln(w, "  problem: "+cutText(pr, 4*maxNameShown))
	}
	for _, n := range notes {
		fmt.Fprintln(w, "  note: "+cutText(n, 4*maxNameShown))
	}
}
