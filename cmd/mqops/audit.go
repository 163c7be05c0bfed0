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
		Long: `Every action (drain, replay, resend, reset-offsets), dry runs included,
appends one JSON line to $XDG_STATE_HOME/mqops/audit.jsonl: time, OS user,
context, action, parameters, plan, result and duration. No secrets, no
payloads.`,
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
			t := newTable(g.stdout, "TIME", "USER", "CONTEXT", "ACTION", "DRY-RUN", "OUTCOME", "DURATION", "SUMMARY")
			for _, e := range es {
				dry := ""
				if e.DryRun {
					dry = "yes"
				}
				t.row(e.Time.Local().Format("2006-01-02 15:04:05"), e.User, e.Context, e.Action, dry, e.Outcome,
					(time.Duration(e.DurationMS) * time.Millisecond).String(), summarize(e))
			}
			return t.flush()
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "show the last N entries (0: all)")
	cmd.Flags().StringVar(&path, "file", "", "audit log file (default $XDG_STATE_HOME/mqops/audit.jsonl)")
	return cmd
}

func summarize(e actions.AuditEntry) string {
	var parts []string
	for _, k := range []string{"source", "target", "moved", "failed", "left"} {
		if v, ok := e.Parameters[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		} else if v, ok := e.Result[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if e.Error != "" {
		parts = append(parts, "error: "+e.Error)
	}
	return strings.Join(parts, " ")
}
