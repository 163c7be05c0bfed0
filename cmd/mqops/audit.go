package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
)

func newAuditCmd(g *globals) *cobra.Command {
	var (
		output string
		limit  int
		path   string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log of actions taken (newest last)",
		Long: `Every action (drain, replay, resend, reset-offsets) appends one JSON line
to $XDG_STATE_HOME/mqops/audit.jsonl per outcome — refused, dry-run,
executed, failed or cancelled —: time, OS user, host, context, action, run
id, source, target, the equivalent headless command, the plan's and the
result's counts, the reason or error, and the duration. No secrets, no
payloads. Lines written by earlier versions are read into the same fields.

The table shows the newest last; -o json gives every field, the command
line included.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if limit < 0 || limit > actions.MaxLimit {
				return &actions.FieldError{Field: "limit", Msg: fmt.Sprintf("%d is out of range: want 1 to %d, or 0 for every entry", limit, actions.MaxLimit)}
			}
			log := actions.NewAuditLog(path)
			es, bad, err := log.Read(limit)
			if err != nil {
				return err
			}
			if bad > 0 {
				fmt.Fprintf(g.stderr, "mqops: warning: %d unreadable line(s) in %s skipped\n", bad, log.Path)
			}
			if output == "json" {
				if es == nil {
					es = []actions.AuditEntry{}
				}
				return writeJSON(g.stdout, map[string]any{"path": log.Path, "entries": es})
			}
			t := newTable(g.stdout, "TIME", "USER", "ACTION", "OUTCOME", "CONTEXT", "SOURCE → TARGET", "COUNTS", "RUN ID", "ERROR / REASON")
			for _, e := range es {
				route := "-"
				if e.Source != "" || e.Target != "" {
					route = orDash(e.Source) + " → " + orDash(e.Target)
				}
				why := e.Error
				if why == "" {
					why = e.Reason
				}
				t.row(e.Time.Local().Format("2006-01-02 15:04:05"), e.User, e.Action, e.Outcome, e.Context, route, auditCounts(e), orDash(e.RunID), strings.Join(strings.Fields(why), " "))
			}
			return t.flush()
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "show the last N entries (0: all)")
	cmd.Flags().StringVar(&path, "file", "", "audit log file (default $XDG_STATE_HOME/mqops/audit.jsonl)")
	return cmd
}

// auditCounts sums up an entry's counts: the result's (and how long the
// run took), else the plan's.
func auditCounts(e actions.AuditEntry) string {
	var parts []string
	add := func(k string, n int64, always bool) {
		if n != 0 || always {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	switch {
	case e.Result != nil:
		r := e.Result
		add("done", r.Done, true)
		add("skipped", r.Skipped, false)
		add("failed", r.Failed, false)
		if r.Left < 0 {
			parts = append(parts, "left ?")
		} else {
			add("left", r.Left, false)
		}
		parts = append(parts, "in "+(time.Duration(e.DurationMS)*time.Millisecond).String())
	case e.Plan != nil:
		p := e.Plan
		plan := fmt.Sprintf("plan %d", p.Selected)
		if p.Total > 0 {
			plan += fmt.Sprintf(" of %d", p.Total)
		}
		parts = append(parts, plan)
		add("skipped", p.Skipped, false)
		add("problems", int64(len(p.Problems)), false)
	default:
		return "-"
	}
	return strings.Join(parts, ", ")
}
