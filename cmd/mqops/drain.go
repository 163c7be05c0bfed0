package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/mqops/mqops/actions"
	"github.com/mqops/mqops/backends"
	"github.com/mqops/mqops/backends/rabbitmq"
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
		Use:   "drain rabbitmq:<queue>|kafka:<dead-letter-topic> --to <target>",
		Short: "Move dead letters back where they came from, safely (preview, confirm, rate limit, audit)",
		Long: `Moves the messages of a RabbitMQ dead-letter queue:
  --to origin                       back to the queue each message died in (from x-death)
  --to exchange:<name>[:<key>]      to an exchange (the message's routing key unless <key> is given)
  --to file:<path.jsonl>            to a file, one JSON line per message, fsynced before each ack

The source is acknowledged only after the target confirmed the message; an
unroutable message, a nack, a deleted target or a lost connection stops the
drain with every unconfirmed message requeued in the DLQ. A crash duplicates
at most --prefetch messages and loses none.

Or the records of a Kafka dead-letter topic:
  --to origin                       back to the topic each record came from (Spring kafka_dlt-original-*,
                                    Kafka Connect __connect.errors.*, x-original-*), at its original
                                    partition when known, else partitioned by key
  --to topic:<name>                 to one topic, partitioned by key

Key, value, headers and timestamp are kept; mqops-replay-source and
mqops-run-id headers are added. The dead-letter topic is read with the
consumer group mqops-drain.<topic>, produced with acks=all by an idempotent
producer, and the group is committed only up to acknowledged records: a
second run continues where the first stopped, and a crash moves at most 1,000
records twice and loses none. A record larger than its target topic's
max.message.bytes (as it will be produced) is listed by the plan; the drain
stops each partition before its first such record, or skips them with
--skip-oversized (naming each). A topic that is not a dead-letter topic (by
its name or its records' headers) is refused unless --not-dead-letters is
given. --reason, --origin, --vhost, --prefetch and --sample are for RabbitMQ
only.

Every outcome — refused, dry run (--dry-run, or a plan not confirmed at the
prompt), executed, failed, cancelled — is written to the audit log (mqops
audit) with the equivalent command line, which the dry run prints too.`,
		Example: `  mqops drain rabbitmq:orders.dlq --to origin --dry-run
  mqops drain rabbitmq:orders.dlq --to origin --reason rejected --rate 200 --yes
  mqops drain kafka:orders.DLT --to origin --dry-run
  mqops drain kafka:orders.DLT --to topic:orders-retry --limit 500 --rate 100 --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := explicitZero(cmd, "limit", "rate", "prefetch", "sample"); err != nil {
				return err
			}
			src := args[0]
			switch {
			case strings.HasPrefix(src, "rabbitmq:"):
				o.Queue = strings.TrimPrefix(src, "rabbitmq:")
				if cmd.Flags().Changed("skip-oversized") {
					return fmt.Errorf("--skip-oversized is for Kafka sources only: a RabbitMQ drain stops at the first message its target refuses, with that message still in the dead-letter queue")
				}
				oneProcessor()
			case strings.HasPrefix(src, "kafka:"):
				return drainKafka(g, cmd, strings.TrimPrefix(src, "kafka:"), o, dryRun, yes, output, audit)
			default:
				return fmt.Errorf("invalid source %q: want rabbitmq:<queue> or kafka:<dead-letter-topic>", src)
			}
			_, c, err := g.loadContext()
			if err != nil {
				return err
			}
			o.Context, o.ReadOnly = c.Name, c.ReadOnly
			run := g.runner(c, audit)
			a := &actions.RabbitDrain{Options: o}
			if err := startAction(run, a); err != nil {
				return err
			}
			rc, err := g.rabbitClient(c)
			if err != nil {
				return err
			}
			defer rc.Close()
			a.Broker = rc
			// every call to the broker is bounded by --timeout (the client's)
			ctx := cmd.Context()
			p, err := run.Plan(ctx, a)
			if err != nil {
				return err
			}
			plan := p.(*actions.DrainPlan)
			if dryRun {
				return showDryRun(g, run, a, output, plan)
			}
			printPlan(g.stderr, plan)
			if len(plan.Problems) > 0 && !yes {
				return refuse(run, a, plan, errors.New("the plan has problems (above): fix them, or pass --yes to drain anyway (the drain stops at the first message it cannot deliver)"))
			}
			if plan.Selected == 0 && plan.NotSampled == nil {
				return refuse(run, a, plan, errors.New("nothing to drain: no message in the sample passes the filters"))
			}
			if !yes {
				if err := confirm(g, run, a, plan, c.ProdLike(), o.Queue, fmt.Sprintf("Drain %s?", plan.Summary())); err != nil {
					return err
				}
			}
			// the run moves what the plan showed, and is audited with it
			bar, endBar := progressBar(g)
			res, err := run.Execute(ctx, a, plan, bar)
			endBar()
			if res, ok := res.(*actions.DrainResult); ok {
				if output == "json" {
					_ = writeJSON(g.stdout, res)
				} else {
					left := "unknown" // -1: the depth could not be read at the end
					if res.Left >= 0 {
						left = fmt.Sprint(res.Left)
					}
					fmt.Fprintf(g.stdout, "run %s: seen %d, moved %d, skipped by filter %d, failed %d, left in %s %s (%.1f msg/s) — %s\n",
						res.RunID, res.Seen, res.Moved, res.Skipped, res.Failed, backends.SafeText(o.Queue), left, res.Rate, backends.SafeText(res.StoppedBecause))
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "", "target: origin, exchange:<name>[:<routing-key>] or file:<path.jsonl>; for a Kafka source origin or topic:<name> (required)")
	f.StringVar(&o.Vhost, "vhost", "/", "vhost of the dead-letter queue")
	f.StringVar(&o.Reason, "reason", "", "only dead letters of this reason: rejected, expired, maxlen, delivery_limit")
	f.StringVar(&o.Origin, "origin", "", "only dead letters from this origin queue")
	f.IntVar(&o.Limit, "limit", 0, "move at most N messages (default: the depth, or the log end, at start)")
	f.Float64Var(&o.Rate, "rate", 0, "at most N messages per second (default: unlimited)")
	f.IntVar(&o.Prefetch, "prefetch", rabbitmq.DefaultPrefetch, "messages in flight (published, not yet confirmed); the most a crash can duplicate")
	f.IntVar(&o.Sample, "sample", 1000, "messages the preview peeks at")
	f.BoolVar(&o.NotDeadLetters, "not-dead-letters", false, "the source is not a dead-letter queue or topic: drain it anyway")
	f.Bool("skip-oversized", false, "Kafka: skip the records their target cannot take (larger than its max.message.bytes), naming each in the result and the audit log; without it a partition stops before its first")
	f.BoolVar(&dryRun, "dry-run", false, "show the plan and change nothing")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.StringVar(&audit, "audit-file", "", "audit log (default $XDG_STATE_HOME/mqops/audit.jsonl)")
	outputFlag(cmd, &output)
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// A plan's printout stays readable whatever the dead letters name: at most
// maxPlanLines routes (the largest) and problems, each name cut to
// maxNameShown characters with its length kept (-o json has them whole).
const (
	maxPlanLines = 20
	maxNameShown = 120
)

// cutName is a name for the terminal: sanitized, cut with its length said.
func cutName(s string) string { return cutText(s, maxNameShown) }

func cutText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return backends.SafeText(s)
	}
	return backends.SafeText(string(r[:n])) + fmt.Sprintf("…(%d characters)", len(r))
}

// cutError is an error text for a table cell: its first line (a stack
// trace's frames stay in -o json), cut like cutText, saying how many lines
// were left out.
func cutError(s string, n int) string {
	s = strings.TrimRight(s, "\r\n")
	first, rest, more := strings.Cut(s, "\n")
	if !more {
		return cutText(s, n)
	}
	return cutText(strings.TrimRight(first, "\r"), n) + fmt.Sprintf(" (+%d lines)", strings.Count(rest, "\n")+1)
}

// printMoreRoutes sums up the routes a plan's printout leaves out.
func printMoreRoutes(w io.Writer, rest []actions.PlanRoute) {
	n, problems := 0, 0
	for _, r := range rest {
		n += r.Count
		if r.Problem != "" {
			problems++
		}
	}
	line := fmt.Sprintf("  … and %d more routes (%d messages", len(rest), n)
	if problems > 0 {
		line += fmt.Sprintf(", %d of these routes with a problem", problems)
	}
	fmt.Fprintln(w, line+"; -o json lists them all)")
}

func printPlan(w io.Writer, p *actions.DrainPlan) {
	scope := fmt.Sprintf("%d sampled", p.Sampled)
	if p.Complete {
		scope = "all"
	}
	// A RabbitMQ plan of part of a queue says its depth, and scales the
	// sample to it (about …); one that could not read the queue says so.
	estimated := !p.Complete && p.Depth > 0 && p.NotSampled == nil
	switch {
	case strings.HasPrefix(p.Source, "kafka:"): // no filters
		fmt.Fprintf(w, "plan: %s → %s (%s): %d to move\n", backends.SafeText(p.Source), backends.SafeText(p.To), scope, p.Selected)
	case p.NotSampled != nil:
		fmt.Fprintf(w, "plan: %s → %s (depth %d; not sampled): up to %d to move\n", backends.SafeText(p.Source), backends.SafeText(p.To), p.Depth, p.Estimate)
	case estimated:
		fmt.Fprintf(w, "plan: %s → %s (depth %d; %d sampled, %d of them pass the filters): about %d to move, about %d skipped by filter\n",
			backends.SafeText(p.Source), backends.SafeText(p.To), p.Depth, p.Sampled, p.Selected, p.Estimate, max(p.Depth-p.Estimate, 0))
	default:
		fmt.Fprintf(w, "plan: %s → %s (%s): %d to move, %d skipped by filter\n", backends.SafeText(p.Source), backends.SafeText(p.To), scope, p.Selected, p.Skipped)
	}
	for i, r := range p.Routes {
		if i == maxPlanLines {
			printMoreRoutes(w, p.Routes[i:])
			break
		}
		line := fmt.Sprintf("  %6d → %s", r.Count, cutName(r.Target))
		switch {
		case p.NotSampled != nil:
			line = fmt.Sprintf("  %6s → %s", "", backends.SafeText(r.Target))
		case estimated:
			line += fmt.Sprintf("  (about %d of the depth)", r.Estimate)
		}
		if r.Problem != "" {
			line += "  !! " + backends.SafeText(r.Problem)
		}
		fmt.Fprintln(w, line)
	}
	for i, pr := range p.Problems {
		if i == maxPlanLines {
			fmt.Fprintf(w, "  … and %d more problems\n", len(p.Problems)-i)
			break
		}
		fmt.Fprintln(w, "  problem: "+cutText(pr, 4*maxNameShown))
	}
	if p.NotSampled != nil {
		fmt.Fprintln(w, "  not sampled: "+backends.SafeText(p.NotSampled.Reason))
	}
	for _, n := range p.Notes {
		fmt.Fprintln(w, "  note: "+backends.SafeText(n))
	}
	printOversized(w, p)
	if p.Warning != "" {
		fmt.Fprintln(w, "  warning: "+backends.SafeText(p.Warning))
	}
}

// printOversized lists the records of a Kafka plan that their target
// cannot take, and what the drain does with them.
func printOversized(w io.Writer, p *actions.DrainPlan) {
	if p.OversizedCount == 0 {
		return
	}
	then := "each partition stops before its first (--skip-oversized skips them)"
	if p.SkipOversized {
		then = "skipped (--skip-oversized)"
	}
	fmt.Fprintf(w, "  %d record(s) too large for their target, %s:\n", p.OversizedCount, then)
	printOversizedList(w, p.Oversized, p.OversizedCount)
}

// printOversizedList prints records too large for their target, one a
// line: where, size, limit, target.
func printOversizedList(w io.Writer, list []backends.KafkaOversized, count int) {
	for _, ov := range list {
		by := ""
		if ov.RefusedBy == backends.RefusedByProducer {
			by = " (within the producer's margin)"
		}
		fmt.Fprintf(w, "    partition %d offset %d: %d bytes > %d (max.message.bytes of topic %s)%s\n", ov.Partition, ov.Offset, ov.Size, ov.Limit, backends.SafeText(ov.Target), by)
	}
	if count > len(list) {
		fmt.Fprintf(w, "    … and %d more\n", count-len(list))
	}
}

// showDryRun prints the plan of a drain's --dry-run, which changes
// nothing, and records it.
func showDryRun(g *globals, run *actions.Runner, a actions.Action, output string, plan *actions.DrainPlan) error {
	return recordDryRun(g, run, a, plan, output, map[string]any{"dry_run": true, "plan": plan, "command": run.Command(a)}, func(w io.Writer) { printPlan(w, plan) })
}

// recordDryRun prints the plan of an action's --dry-run — asJSON with -o
// json, else show's lines and the equivalent command — and records it.
func recordDryRun(g *globals, run *actions.Runner, a actions.Action, plan actions.Plan, output string, asJSON any, show func(io.Writer)) error {
	var err error
	if output == "json" {
		err = writeJSON(g.stdout, asJSON)
	} else {
		show(g.stdout)
		fmt.Fprintln(g.stdout, "  command: "+run.Command(a))
	}
	if aerr := run.DryRun(a, plan, actions.DryRunFlag); aerr != nil && err == nil {
		err = fmt.Errorf("the dry run could not be recorded in the audit log: %w", aerr)
	}
	return err
}

// refuse records that a was not executed, and returns why.
func refuse(run *actions.Runner, a actions.Action, plan actions.Plan, why error) error {
	_ = run.Refuse(a, plan, why)
	return why
}

// progressBar draws the drain's progress on stderr when it is a terminal;
// end finishes the line.
func progressBar(g *globals) (bar func(actions.Progress), end func()) {
	if !isTerminal(os.Stderr) {
		return nil, func() {}
	}
	return func(p actions.Progress) { fmt.Fprint(g.stderr, "\r"+progressLine(p)) }, func() { fmt.Fprintln(g.stderr) }
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
// context the operator types the name of what the action changes (the
// queue, the consumer group). No terminal to ask on is a
// refusal; a plan the operator saw and did not confirm is a dry run (each
// recorded).
func confirm(g *globals, run *actions.Runner, a actions.Action, plan actions.Plan, prodLike bool, name, question string) error {
	if !isTerminal(os.Stdin) {
		return refuse(run, a, plan, fmt.Errorf("refusing to %s without confirmation: no terminal to ask on (pass --yes in scripts)", strings.ReplaceAll(a.Kind(), "-", " ")))
	}
	ok := false
	if prodLike {
		fmt.Fprintf(g.stderr, "%s\nThis is a production context: type its name (%s) to confirm: ", backends.SafeText(question), backends.SafeText(name))
		ans, err := readAnswer(g.ctx, os.Stdin)
		if err != nil { // interrupted at the question: nothing changed, the plan was seen
			_ = run.DryRun(a, plan, actions.DryRunNotConfirmed)
			return err
		}
		ok = strings.TrimSpace(ans) == name
	} else {
		fmt.Fprintf(g.stderr, "%s [y/N] ", backends.SafeText(question))
		ans, err := readAnswer(g.ctx, os.Stdin)
		if err != nil {
			_ = run.DryRun(a, plan, actions.DryRunNotConfirmed)
			return err
		}
		yes := strings.ToLower(strings.TrimSpace(ans))
		ok = yes == "y" || yes == "yes"
	}
	if !ok {
		_ = run.DryRun(a, plan, actions.DryRunNotConfirmed)
		return errors.New("not confirmed: nothing was changed")
	}
	return nil
}

// isTerminal says whether f is a terminal (not merely a character device:
// /dev/null is one too).
func isTerminal(f *os.File) bool {
	return term.IsTerminal(f.Fd())
}

// oneProcessor runs a RabbitMQ drain on one processor (GOMAXPROCS=1),
// unless GOMAXPROCS is set. amqp091 hands every delivery and every confirm
// from goroutine to goroutine; with more processors each hand-over wakes an
// idle thread, which spins, finds little and sleeps again. On one
// processor the same hand-overs are plain switches: a drain then spends
// about 40% less CPU and moves 20-30% faster when it shares the machine with
// the broker (docs/BENCHMARKS.md), and its one core moves far more than a
// broker confirms (about 50 µs per message).
func oneProcessor() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// rabbitOnlyDrainFlags do not apply to a Kafka source.
var rabbitOnlyDrainFlags = []string{"reason", "origin", "vhost", "prefetch", "sample"}

// drainKafka drains a Kafka dead-letter topic: plan, confirmation, move,
// result, each step as for a RabbitMQ queue.
func drainKafka(g *globals, cmd *cobra.Command, topic string, ro actions.DrainOptions, dryRun, yes bool, output, audit string) error {
	for _, name := range rabbitOnlyDrainFlags {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s is for RabbitMQ sources only: a Kafka drain moves every record of the topic (use --limit to move fewer)", name)
		}
	}
	src := "kafka:" + topic
	_, c, err := g.loadContext()
	if err != nil {
		return err
	}
	o := actions.KafkaDrainOptions{Context: c.Name, ReadOnly: c.ReadOnly, Topic: topic, To: ro.To, Limit: ro.Limit, Rate: ro.Rate}
	o.NotDeadLetters, _ = cmd.Flags().GetBool("not-dead-letters")
	o.SkipOversized, _ = cmd.Flags().GetBool("skip-oversized")
	run := g.runner(c, audit)
	a := &actions.KafkaDrain{Options: o}
	if err := startAction(run, a); err != nil {
		return err
	}
	kc, err := g.kafkaClient(c)
	if err != nil {
		return err
	}
	defer kc.Close()
	a.Broker = kc
	ctx := cmd.Context()
	// The plan reads every record the drain would move (Ctrl-C stops it);
	// each request is bounded by the client's timeout, not the whole read.
	done := readProgress(g, "planning: reading "+backends.SafeText(src)+" (changes nothing)")
	p, err := run.Plan(ctx, a)
	done()
	if err != nil {
		return err
	}
	plan := p.(*actions.DrainPlan)
	if dryRun {
		return showDryRun(g, run, a, output, plan)
	}
	printPlan(g.stderr, plan)
	if plan.Sampled == 0 {
		fmt.Fprintf(g.stderr, "nothing to drain: %s has no record that consumer group %s has not moved yet\n", backends.SafeText(src), backends.SafeText(a.Options.Group))
		_ = run.DryRun(a, plan, "nothing to drain")
		if output == "json" {
			return writeJSON(g.stdout, &actions.DrainResult{RunID: a.Options.RunID, StoppedBecause: "end"})
		}
		return nil
	}
	if len(plan.Problems) > 0 && !yes {
		return refuse(run, a, plan, errors.New("the plan has problems (above): fix them, or pass --yes to drain anyway (the drain stops at the first record it cannot move)"))
	}
	if plan.Selected == 0 && !(plan.SkipOversized && plan.OversizedCount > 0) { // skipping still commits past them
		return refuse(run, a, plan, fmt.Errorf("nothing to drain: no record of %s can be moved (see the problems above)", backends.SafeText(src)))
	}
	if !yes {
		if err := confirm(g, run, a, plan, c.ProdLike(), topic, fmt.Sprintf("Drain %s?", plan.Summary())); err != nil {
			return err
		}
	}
	bar, endBar := progressBar(g)
	r, err := run.Execute(ctx, a, plan, bar)
	endBar()
	if res, ok := r.(*actions.DrainResult); ok {
		if output == "json" {
			_ = writeJSON(g.stdout, res)
		} else {
			fmt.Fprintf(g.stdout, "run %s: moved %d, failed %d, left %d in %s (%.1f msg/s) — stopped because %s\n",
				res.RunID, res.Moved, res.Failed, res.Left, backends.SafeText(src), res.Rate, actions.KafkaStopText(res.StoppedBecause))
			switch {
			case res.SkippedOversized > 0:
				fmt.Fprintf(g.stdout, "skipped %d record(s) too large for their target:\n", res.SkippedOversized)
				printOversizedList(g.stdout, res.Oversized, res.SkippedOversized)
			case len(res.Oversized) > 0:
				fmt.Fprintf(g.stdout, "stopped before %d record(s) too large for their target:\n", len(res.Oversized))
				printOversizedList(g.stdout, res.Oversized, len(res.Oversized))
			}
		}
	}
	return err
}
