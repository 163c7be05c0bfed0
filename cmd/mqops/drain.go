package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
)

func newDrainCmd(g *globals) *cobra.Command {
	var (
		o      actions.DrainOptions
		dryRun bool
		yes    bool
		output string
		audit  string
	)
	cmd := &cobra.Command{
		Use:   "drain rabbitmq:<queue> --to origin|exchange:<name>[:<routing-key>]|file:<path.jsonl>",
		Short: "Move dead letters back where they came from, safely (preview, confirm, rate limit, audit)",
		Long: `Moves the messages of a RabbitMQ dead-letter queue:
  --to origin                       back to the queue each message died in (from x-death)
  --to exchange:<name>[:<key>]      to an exchange (the message's routing key unless <key> is given)
  --to file:<path.jsonl>            to a file, one JSON line per message, fsynced before each ack

The source is acknowledged only after the target confirmed the message; an
unroutable message, a nack, a deleted target or a lost connection stops the
drain with every unconfirmed message requeued in the DLQ. A crash duplicates
at most --prefetch messages and loses none. Every run, dry runs included, is
written to the audit log (mqops audit).`,
		Example: `  mqops drain rabbitmq:orders.dlq --to origin --dry-run
  mqops drain rabbitmq:orders.dlq --to origin --reason rejected --rate 200 --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			src := args[0]
			switch {
			case strings.HasPrefix(src, "rabbitmq:"):
				o.Queue = strings.TrimPrefix(src, "rabbitmq:")
			case strings.HasPrefix(src, "kafka:"):
				return fmt.Errorf("draining Kafka dead-letter topics is not available in this version: only rabbitmq:<queue> sources")
			default:
				return fmt.Errorf("invalid source %q: want rabbitmq:<queue>", src)
			}
			_, c, err := g.loadContext()
			if err != nil {
				return err
			}
			o.Context, o.ReadOnly = c.Name, c.ReadOnly
			log := actions.NewAuditLog(audit)
			if err := o.Validate(); err != nil {
				if o.ReadOnly {
					_ = log.Append(actions.AuditEntry{Context: o.Context, Action: "drain", Parameters: map[string]any{"source": src, "target": o.To}, Outcome: "refused", Error: err.Error()})
				}
				return err
			}
			rc, err := g.rabbitClient(c)
			if err != nil {
				return err
			}
			defer rc.Close()
			ctx := cmd.Context()
			pctx, cancel := context.WithTimeout(ctx, 4*g.timeout)
			plan, err := actions.PlanDrain(pctx, rc, o)
			cancel()
			if dryRun {
				actions.AuditDryRun(log, o, plan, err)
			}
			if err != nil {
				return err
			}
			if dryRun {
				if output == "json" {
					return writeJSON(g.stdout, map[string]any{"dry_run": true, "plan": plan})
				}
				printPlan(g.stdout, plan)
				return nil
			}
			printPlan(g.stderr, plan)
			if len(plan.Problems) > 0 && !yes {
				return fmt.Errorf("the plan has problems (above): fix them, or pass --yes to drain anyway (the drain stops at the first message it cannot deliver)")
			}
			if plan.Selected == 0 {
				return fmt.Errorf("nothing to drain: no message in the sample passes the filters")
			}
			if !yes {
				if err := confirm(g, c.ProdLike(), o.Queue, fmt.Sprintf("Drain %s?", plan.Summary())); err != nil {
					return err
				}
			}
			var bar func(actions.Progress)
			if isTerminal(os.Stderr) {
				bar = func(p actions.Progress) { fmt.Fprint(g.stderr, "\r"+progressLine(p)) }
			}
			res, err := actions.ExecuteDrain(ctx, rc, o, log, bar)
			if bar != nil {
				fmt.Fprintln(g.stderr)
			}
			if res != nil {
				if output == "json" {
					_ = writeJSON(g.stdout, res)
				} else {
					fmt.Fprintf(g.stdout, "run %s: seen %d, moved %d, skipped by filter %d, failed %d, left in %s %d (%.1f msg/s) — %s\n",
						res.RunID, res.Seen, res.Moved, res.Skipped, res.Failed, backends.SafeText(o.Queue), res.Left, res.Rate, backends.SafeText(res.StoppedBecause))
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "", "target: origin, exchange:<name>[:<routing-key>] or file:<path.jsonl> (required)")
	f.StringVar(&o.Vhost, "vhost", "/", "vhost of the dead-letter queue")
	f.StringVar(&o.Reason, "reason", "", "only dead letters of this reason: rejected, expired, maxlen, delivery_limit")
	f.StringVar(&o.Origin, "origin", "", "only dead letters from this origin queue")
	f.IntVar(&o.Limit, "limit", 0, "move at most N messages (default: the depth at start)")
	f.Float64Var(&o.Rate, "rate", 0, "at most N messages per second (default: unlimited)")
	f.IntVar(&o.Prefetch, "prefetch", 100, "messages in flight; the most a crash can duplicate")
	f.IntVar(&o.Sample, "sample", 1000, "messages the preview peeks at")
	f.BoolVar(&dryRun, "dry-run", false, "show the plan and change nothing")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.StringVar(&audit, "audit-file", "", "audit log (default $XDG_STATE_HOME/mqops/audit.jsonl)")
	outputFlag(cmd, &output)
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

func printPlan(w io.Writer, p *actions.DrainPlan) {
	scope := fmt.Sprintf("%d sampled", p.Sampled)
	if p.Complete {
		scope = "all"
	}
	fmt.Fprintf(w, "plan: %s → %s (%s): %d to move, %d skipped by filter\n", backends.SafeText(p.Source), backends.SafeText(p.To), scope, p.Selected, p.Skipped)
	for _, r := range p.Routes {
		line := fmt.Sprintf("  %6d → %s", r.Count, backends.SafeText(r.Target))
		if r.Problem != "" {
			line += "  !! " + r.Problem
		}
		fmt.Fprintln(w, line)
	}
	for _, pr := range p.Problems {
		fmt.Fprintln(w, "  problem: "+backends.SafeText(pr))
	}
	if p.Warning != "" {
		fmt.Fprintln(w, "  warning: "+backends.SafeText(p.Warning))
	}
}

func progressLine(p actions.Progress) string {
	const width = 30
	frac := 0.0
	if p.Total > 0 {
		frac = float64(p.Seen) / float64(p.Total)
	}
	n := int(frac * width)
	if n > width {
		n = width
	}
	return fmt.Sprintf("[%s%s] %d/%d moved %d  %.0f msg/s  ETA %s ", strings.Repeat("█", n), strings.Repeat("░", width-n),
		p.Seen, p.Total, p.Done, p.Rate(), p.ETA().Round(time.Second))
}

// confirm asks on the terminal; the default is No. In a prod-like (red)
// context the operator types the queue name.
func confirm(g *globals, prodLike bool, name, question string) error {
	if !isTerminal(os.Stdin) {
		return fmt.Errorf("refusing to drain without confirmation: no terminal to ask on (pass --yes in scripts)")
	}
	rd := bufio.NewReader(os.Stdin)
	if prodLike {
		fmt.Fprintf(g.stderr, "%s\nThis is a production context: type the queue name (%s) to confirm: ", backends.SafeText(question), backends.SafeText(name))
		ans, _ := rd.ReadString('\n')
		if strings.TrimSpace(ans) != name {
			return fmt.Errorf("not confirmed: nothing was changed")
		}
		return nil
	}
	fmt.Fprintf(g.stderr, "%s [y/N] ", backends.SafeText(question))
	ans, _ := rd.ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(ans)); a != "y" && a != "yes" {
		return fmt.Errorf("not confirmed: nothing was changed")
	}
	return nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
