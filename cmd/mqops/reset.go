package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
)

func newResetOffsetsCmd(g *globals) *cobra.Command {
	var (
		o      actions.ResetOffsetsOptions
		dryRun bool
		yes    bool
		output string
		audit  string
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP (--to-earliest | --to-latest | --to-current | --to-offset N | --shift-by N | --to-datetime T | --by-duration D | --from-file F.csv) (--topic T[:P,...]... | --all-topics)",
		Short: "Move a stopped consumer group's offsets, as kafka-consumer-groups --reset-offsets does (preview, confirm, rollback file, audit)",
		Long: `Moves the committed offsets of a Kafka consumer group, with the meaning
Apache Kafka's kafka-consumer-groups --reset-offsets gives each mode:
  --to-earliest        the log start
  --to-latest          the log end
  --to-current         the committed offset (the log end where there is none)
  --to-offset N        offset N
  --shift-by N         the committed offset + N (N < 0 moves back); refused on a
                       partition without a committed offset
  --to-datetime T      the first record at or after T: yyyy-MM-ddTHH:mm:ss.SSS with
                       an optional zone (Z, +hh:mm, -hh:mm, ±hh; UTC without one);
                       the log end where no record is that recent
  --by-duration D      as --to-datetime, for now − D: PnDTnHnMn.nS (PT30M, P1DT2H)
                       or a Go duration (30m, 1h30m)
  --from-file F.csv    the offsets of a CSV, topic,partition,offset per line (or
                       group,topic,partition,offset), as written by --export here
                       or by kafka-consumer-groups
--to-offset, --shift-by and --from-file are clamped into [log start, log end]
as Kafka's tool clamps them; the plan says which were.

Scope: --topic T (every partition of T) or --topic T:0,2,5, repeatable; or
--all-topics: every partition the group has a committed offset on.
--from-file takes its partitions from the file.

The group must be Empty or Dead (no member): otherwise the reset is refused,
naming the state and the members. The plan shows per partition the current and
the new offset, log start and end, lag before and after, and how many records
will be consumed again or skipped; --dry-run stops there and changes nothing.
Otherwise the plan is confirmed (--yes skips the question; without a terminal,
--yes is needed), the previous offsets are written to a new CSV file
(--export, default $XDG_STATE_HOME/mqops/runs/<run id>-previous.csv), the new
offsets are committed, read back and compared with the plan. Roll back with
  mqops reset-offsets GROUP --from-file <that file>

--dry-run also prints the equivalent command line. Every outcome — refused,
dry run (--dry-run, or a plan not confirmed at the prompt), executed, failed —
is written to the audit log (mqops audit) with that command, the plan, the
rollback file and the read-back verdict.`,
		Example: `  mqops reset-offsets billing --to-datetime 2024-05-01T10:32:00.000+02:00 --topic orders --dry-run
  mqops reset-offsets billing --by-duration PT2H --all-topics
  mqops reset-offsets billing --shift-by -100 --topic orders:0,2 --yes
  mqops reset-offsets billing --from-file ~/.local/state/mqops/runs/<run id>-previous.csv --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			o.Group = args[0]
			if err := resetMode(cmd, &o); err != nil {
				return err
			}
			if dryRun && yes {
				return errors.New("--dry-run changes nothing and asks nothing: drop --yes")
			}
			_, c, err := g.loadContext()
			if err != nil {
				return err
			}
			o.Context, o.ReadOnly = c.Name, c.ReadOnly
			run := g.runner(c, audit)
			a := &actions.ResetOffsets{Options: o}
			if err := startAction(run, a); err != nil {
				return err
			}
			kc, err := g.kafkaClient(c)
			if err != nil {
				return err
			}
			defer kc.Close()
			a.Broker = kc
			ctx := cmd.Context()       // every call to the cluster is bounded by --timeout (the client's)
			p, err := run.Plan(ctx, a) // a group with members is refused, and recorded
			if err != nil {
				return err
			}
			plan := p.(*actions.ResetPlan)
			if dryRun {
				return recordDryRun(g, run, a, plan, output, resetOutput(plan, nil, run.Command(a)), func(w io.Writer) { printResetPlan(w, plan) })
			}
			printResetPlan(g.stderr, plan)
			if len(plan.Rows) == 0 {
				return refuse(run, a, plan, fmt.Errorf("nothing to reset: consumer group %q has no committed offset (name the partitions with --topic)", backends.SafeText(o.Group)))
			}
			if plan.Totals.NoCurrent < len(plan.Rows) {
				fmt.Fprintf(g.stderr, "the previous offsets will be written to %s\n", backends.SafeText(a.Options.ExportPath()))
			}
			if !yes {
				if err := confirm(g, run, a, plan, c.ProdLike(), o.Group, fmt.Sprintf("Reset the offsets of %s?", plan.Summary())); err != nil {
					return err
				}
			}
			r, err := run.Execute(ctx, a, plan, nil)
			if res, ok := r.(*actions.ResetResult); ok {
				if output == "json" {
					_ = writeJSON(g.stdout, resetOutput(plan, res, run.Command(a)))
				} else {
					printResetResult(g.stdout, run, &a.Options, res)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.Bool(string(actions.ResetToEarliest), false, "to the log start")
	f.Bool(string(actions.ResetToLatest), false, "to the log end")
	f.Bool(string(actions.ResetToCurrent), false, "to the committed offset (the log end where there is none)")
	f.String(string(actions.ResetToOffset), "", "to offset `N` (clamped into [log start, log end])")
	f.String(string(actions.ResetShiftBy), "", "by `N` records from the committed offset, N < 0 back (clamped)")
	f.String(string(actions.ResetToDatetime), "", "to the first record at or after `T` (yyyy-MM-ddTHH:mm:ss.SSS[Z|±hh:mm])")
	f.String(string(actions.ResetByDuration), "", "to the first record at or after now − `D` (PT30M, P1DT2H, or 30m)")
	f.String(string(actions.ResetFromFile), "", "to the offsets of `F.csv` (topic,partition,offset per line; clamped)")
	f.StringArrayVar(&o.Topics, "topic", nil, "topic `T` or T:0,2,5 (partitions) to reset, repeatable")
	f.BoolVar(&o.AllTopics, "all-topics", false, "every partition the group has a committed offset on")
	f.StringVar(&o.Export, "export", "", "write the previous offsets to this new `file` (default $XDG_STATE_HOME/mqops/runs/<run id>-previous.csv)")
	f.BoolVar(&dryRun, "dry-run", false, "show the plan and change nothing")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.StringVar(&audit, "audit-file", "", "audit log (default $XDG_STATE_HOME/mqops/audit.jsonl)")
	outputFlag(cmd, &output)
	return cmd
}

// resetMode sets the mode and its value from the one mode flag given.
func resetMode(cmd *cobra.Command, o *actions.ResetOffsetsOptions) error {
	var given []string
	for _, m := range actions.ResetModes {
		fl := cmd.Flags().Lookup(string(m))
		if !fl.Changed {
			continue
		}
		given = append(given, "--"+string(m))
		o.Mode = m
		if fl.Value.Type() == "string" {
			o.Value = fl.Value.String()
			if strings.TrimSpace(o.Value) == "" {
				return &actions.FieldError{Field: string(m), Msg: "needs a value"}
			}
		}
	}
	switch len(given) {
	case 0:
		return errors.New("no reset mode: give one of --to-earliest, --to-latest, --to-current, --to-offset N, --shift-by N, --to-datetime T, --by-duration D, --from-file F.csv")
	case 1:
		return nil
	}
	return fmt.Errorf("give one reset mode, not %d: %s", len(given), strings.Join(given, ", "))
}

// resetJSON is the -o json output of reset-offsets.
type resetJSON struct {
	Group    string              `json:"group"`
	State    string              `json:"state"`
	Executed bool                `json:"executed"`
	Plan     []actions.ResetRow  `json:"plan"`
	Mode     actions.ResetMode   `json:"mode"`
	Value    string              `json:"value,omitempty"`
	At       string              `json:"at,omitempty"`
	Totals   actions.ResetTotals `json:"totals"`
	// Command is the equivalent headless command (without --yes).
	Command string `json:"command"`
	*actions.ResetResult
}

func resetOutput(p *actions.ResetPlan, res *actions.ResetResult, command string) resetJSON {
	if res != nil && !readBack(res) && res.Previous == "" {
		res = nil // stopped before its commit: nothing to report but the error
	}
	out := resetJSON{Group: p.Group, State: p.State, Executed: res != nil && res.Committed > 0, Plan: p.Rows, Mode: p.Mode, Value: p.Value, Totals: p.Totals,
		Command: command, ResetResult: res}
	if out.Plan == nil {
		out.Plan = []actions.ResetRow{}
	}
	if p.At != nil {
		out.At = atText(*p.At)
	}
	return out
}

func atText(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }

// printResetPlan prints the plan: a line saying what, the table, the
// totals.
func printResetPlan(w io.Writer, p *actions.ResetPlan) {
	mode := "--" + string(p.Mode)
	if p.Value != "" {
		mode += " " + p.Value
	}
	if p.At != nil {
		mode += " (" + atText(*p.At) + ")"
	}
	typ := ""
	if p.Type != "" {
		typ = ", " + p.Type + " protocol"
	}
	fmt.Fprintf(w, "plan: consumer group %s (%s%s), %s\n", cutName(p.Group), backends.SafeText(p.State), typ, backends.SafeText(mode))
	if len(p.Rows) == 0 {
		fmt.Fprintln(w, "  nothing to reset: no partition in scope (with --all-topics: the group has no committed offset)")
		return
	}
	t := newTable(w, "TOPIC", "PARTITION", "CURRENT", "NEW", "LOG-START", "LOG-END", "LAG-BEFORE", "LAG-AFTER", "CLAMPED")
	for _, r := range p.Rows {
		clamped := "-"
		if r.Clamped {
			bound := "log end"
			if r.New == r.LogStart && *r.Requested < r.LogStart {
				bound = "log start"
			}
			clamped = fmt.Sprintf("to %s (asked %d)", bound, *r.Requested)
		}
		t.row(r.Topic, fmt.Sprint(r.Partition), i64(r.Current), fmt.Sprint(r.New), fmt.Sprint(r.LogStart), fmt.Sprint(r.LogEnd), i64(r.LagBefore), fmt.Sprint(r.LagAfter), clamped)
	}
	_ = t.flush()
	tt := p.Totals
	line := fmt.Sprintf("%d partition(s), %d change, %d clamped: %d record(s) will be consumed again, %d skipped", tt.Partitions, tt.Changed, tt.Clamped, tt.Again, tt.Skipped)
	if tt.NoCurrent > 0 {
		line += fmt.Sprintf("; %d partition(s) had no committed offset (the group would have started there as its auto.offset.reset says)", tt.NoCurrent)
	}
	fmt.Fprintln(w, line)
}

// readBack says whether a reset got as far as reading its offsets back
// after the commit: else it stopped before the commit (the error says
// why), or the commit and the read-back failed and what is committed is
// not known.
func readBack(res *actions.ResetResult) bool { return res.Verified || len(res.Mismatches) > 0 }

// printResetResult says what an executed reset did and how to roll it
// back (the command of a reset --from-file the previous offsets, on the
// same cluster). A reset that was not read back says only where the
// previous offsets are, if it wrote them: the error says what happened.
func printResetResult(w io.Writer, run *actions.Runner, o *actions.ResetOffsetsOptions, res *actions.ResetResult) {
	done := readBack(res)
	if done {
		verified := "read back: as planned"
		if !res.Verified {
			verified = fmt.Sprintf("read back: %d partition(s) differ from the plan", len(res.Mismatches))
		}
		fmt.Fprintf(w, "run %s: committed %d partition(s) of consumer group %s; %s\n", res.RunID, res.Committed, cutName(o.Group), verified)
		if res.CommitAnswer != "" {
			fmt.Fprintf(w, "note: the commit's answer was lost or refused (%s), yet every offset read back is the plan's\n", backends.SafeText(res.CommitAnswer))
		}
	}
	if res.Previous != "" {
		fmt.Fprintf(w, "previous offsets: %s\n", backends.SafeText(res.Previous))
		back := &actions.ResetOffsets{Options: actions.ResetOffsetsOptions{Context: o.Context, Group: o.Group, Mode: actions.ResetFromFile, Value: res.Previous}}
		fmt.Fprintf(w, "roll back with: %s\n", run.Command(back))
	}
	if n := len(res.NoPrevious); done && n > 0 {
		fmt.Fprintf(w, "note: %d partition(s) had no committed offset before (%s): a file cannot give them none back (kafka-consumer-groups --delete-offsets can)\n",
			n, backends.SafeText(cutText(strings.Join(res.NoPrevious, ", "), 4*maxNameShown)))
	}
}
